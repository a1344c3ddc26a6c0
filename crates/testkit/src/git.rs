//! Real git servers on loopback and fixture repositories built with the git CLI.
//!
//! - [`GitDaemon`]: `git daemon` serving a directory of bare repositories (git://),
//!   fetch and push.
//! - [`HttpServer`]: lighttpd running `git http-backend` as CGI under three
//!   prefixes: `/anon/` (no auth), `/basic/` (HTTP basic auth) and `/bearer/`
//!   (a fixed `Authorization: Bearer` token, else 403).
//! - [`Fixture`]: a work tree that pushes to a bare repository under the served root;
//!   the bare repository accepts pushes over HTTP too (`http.receivepack`).
//!
//! Ports come from binding 127.0.0.1:0; servers are polled until they accept,
//! with a deadline, and killed on drop.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The user the HTTP servers accept with basic auth.
pub const BASIC_USER: &str = "flux";
/// The password of [`BASIC_USER`].
pub const BASIC_PASSWORD: &str = "s3cret";
/// The token the HTTP servers accept as `Authorization: Bearer`.
pub const BEARER_TOKEN: &str = "tok-123";

/// Run `git` with a fixed identity and dates from the environment; panic on failure.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?} in {dir:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

pub(crate) fn wait_for_port(port: u16, child: &mut Child, what: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        if let Ok(Some(status)) = child.try_wait() {
            eprintln!("{what} exited early with {status}");
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("{what} did not listen on 127.0.0.1:{port} within 10s");
}

/// A fixture: a work tree whose `main` is pushed to `<root>/<name>.git`.
pub struct Fixture {
    /// The work tree commits are made in.
    pub work: PathBuf,
    /// The bare repository the servers serve.
    pub bare: PathBuf,
    /// The repository's name (`<name>.git` under the served root).
    pub name: String,
}

impl Fixture {
    /// A new repository `name` under `root`, with an empty work tree on `main`.
    pub fn new(root: &Path, name: &str) -> Self {
        let bare = root.join(format!("{name}.git"));
        let work = root.join(format!("{name}-work"));
        std::fs::create_dir_all(&work).expect("mkdir work");
        git(
            root,
            &[
                "init",
                "-q",
                "--bare",
                "-b",
                "main",
                bare.to_str().expect("utf8"),
            ],
        );
        // http-backend refuses pushes from anonymous users unless told.
        git(&bare, &["config", "http.receivepack", "true"]);
        git(&work, &["init", "-q", "-b", "main"]);
        git(
            &work,
            &["remote", "add", "origin", bare.to_str().expect("utf8")],
        );
        Fixture {
            work,
            bare,
            name: name.to_owned(),
        }
    }

    /// Writes `content` to `path` in the work tree, creating directories.
    pub fn write(&self, path: &str, content: &str) -> &Self {
        let p = self.work.join(path);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, content).expect("write");
        self
    }

    /// Makes `path` a symbolic link to `target` in the work tree.
    pub fn symlink(&self, path: &str, target: &str) -> &Self {
        let p = self.work.join(path);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::os::unix::fs::symlink(target, p).expect("symlink");
        self
    }

    /// Runs git in the work tree (e.g. `rm`, `revert`).
    pub fn git(&self, args: &[&str]) -> String {
        git(&self.work, args)
    }

    /// Commit everything and push `main` (and tags); returns the commit hash.
    pub fn commit(&self, message: &str) -> String {
        git(&self.work, &["add", "-A"]);
        git(
            &self.work,
            &["commit", "-q", "--allow-empty", "-m", message],
        );
        git(&self.work, &["push", "-q", "origin", "main", "--tags"]);
        git(&self.work, &["rev-parse", "HEAD"])
    }

    /// Tags `HEAD` (annotated or lightweight) and pushes the tag.
    pub fn tag(&self, name: &str, annotated: bool) {
        if annotated {
            git(&self.work, &["tag", "-a", name, "-m", name]);
        } else {
            git(&self.work, &["tag", name]);
        }
        git(&self.work, &["push", "-q", "origin", name]);
    }
}

/// `git daemon` serving a directory of bare repositories on loopback.
pub struct GitDaemon {
    child: Child,
    /// The port it listens on.
    pub port: u16,
}

impl GitDaemon {
    /// Starts `git daemon` for the repositories under `root` on a free port.
    pub fn start(root: &Path) -> Self {
        // Run git-daemon itself: `git daemon` would fork it as a child that
        // killing `git` leaves behind.
        let daemon = format!("{}/git-daemon", git(root, &["--exec-path"]));
        for _ in 0..5 {
            let port = free_port();
            let mut child = Command::new(&daemon)
                .args([
                    "--reuseaddr",
                    "--export-all",
                    "--informative-errors",
                    // Push tests (driftless-gitwrite) write through the daemon too.
                    "--enable=receive-pack",
                    "--listen=127.0.0.1",
                    &format!("--port={port}"),
                    &format!("--base-path={}", root.display()),
                    &root.display().to_string(),
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("git daemon starts");
            if wait_for_port(port, &mut child, "git daemon") {
                return GitDaemon { child, port };
            }
        }
        panic!("git daemon could not start");
    }

    /// `git://` URL of the repository `name`.
    pub fn url(&self, name: &str) -> String {
        format!("git://127.0.0.1:{}/{name}.git", self.port)
    }
}

impl Drop for GitDaemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// lighttpd in front of `git http-backend`, with basic and bearer auth.
pub struct HttpServer {
    child: Child,
    /// The port it listens on.
    pub port: u16,
    _conf_dir: tempfile::TempDir,
}

impl HttpServer {
    /// lighttpd + git http-backend serving the bare repositories under `root`.
    pub fn start(root: &Path) -> Self {
        let exec_path = git(root, &["--exec-path"]);
        let backend = format!("{exec_path}/git-http-backend");
        for _ in 0..5 {
            let conf_dir = tempfile::tempdir().expect("tempdir");
            let port = free_port();
            let users = conf_dir.path().join("users");
            std::fs::write(&users, format!("{BASIC_USER}:{BASIC_PASSWORD}\n")).expect("users file");
            let conf = format!(
                r#"
server.modules = ("mod_access", "mod_alias", "mod_auth", "mod_authn_file", "mod_setenv", "mod_cgi")
server.document-root = "{docroot}"
server.bind = "127.0.0.1"
server.port = {port}
server.errorlog = "{dir}/error.log"
server.pid-file = "{dir}/pid"
setenv.add-environment = ("GIT_PROJECT_ROOT" => "{root}", "GIT_HTTP_EXPORT_ALL" => "1")
alias.url = ("/anon" => "{backend}", "/basic" => "{backend}", "/bearer" => "{backend}")
cgi.assign = ("" => "")
auth.backend = "plain"
auth.backend.plain.userfile = "{users}"
$HTTP["url"] =~ "^/basic/" {{
  auth.require = ("" => ("method" => "basic", "realm" => "git", "require" => "valid-user"))
}}
$HTTP["url"] =~ "^/bearer/" {{
  $REQUEST_HEADER["Authorization"] != "Bearer {BEARER_TOKEN}" {{
    url.access-deny = ("")
  }}
}}
"#,
                docroot = root.display(),
                dir = conf_dir.path().display(),
                root = root.display(),
                users = users.display(),
            );
            let conf_path = conf_dir.path().join("lighttpd.conf");
            std::fs::write(&conf_path, conf).expect("write conf");
            let mut child = Command::new("lighttpd")
                .arg("-D")
                .arg("-f")
                .arg(&conf_path)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("lighttpd starts (apt-get install lighttpd)");
            if wait_for_port(port, &mut child, "lighttpd") {
                return HttpServer {
                    child,
                    port,
                    _conf_dir: conf_dir,
                };
            }
        }
        panic!("lighttpd could not start");
    }

    /// `prefix` is `anon`, `basic` or `bearer`.
    pub fn url(&self, prefix: &str, name: &str) -> String {
        format!("http://127.0.0.1:{}/{prefix}/{name}.git", self.port)
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Paths in a `.tar.gz`, in archive order.
pub fn tar_paths(bytes: impl std::io::Read) -> Vec<String> {
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bytes));
    archive
        .entries()
        .expect("entries")
        .map(|e| {
            let e = e.expect("entry");
            e.path().expect("path").display().to_string()
        })
        .collect()
}

/// Read one file from a `.tar.gz`.
pub fn tar_file(bytes: impl std::io::Read, path: &str) -> Option<String> {
    use std::io::Read;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bytes));
    for e in archive.entries().expect("entries") {
        let mut e = e.expect("entry");
        if e.path().expect("path").display().to_string() == path {
            let mut s = String::new();
            e.read_to_string(&mut s).expect("read");
            return Some(s);
        }
    }
    None
}

/// File names in a directory, sorted (empty if it does not exist).
pub fn list_dir(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// `ssh-keygen` an ed25519 key pair at `path` (and `path.pub`); returns (private, public).
pub fn keygen(path: &Path) -> (String, String) {
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "test", "-f"])
        .arg(path)
        .output()
        .expect("ssh-keygen runs (apt-get install openssh-client)");
    assert!(
        out.status.success(),
        "ssh-keygen: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let private = std::fs::read_to_string(path).expect("private key");
    let public = std::fs::read_to_string(path.with_extension("pub")).expect("public key");
    (private, public.trim().to_owned())
}

/// `sshd` on loopback accepting one client key for the current user.
pub struct SshServer {
    child: Child,
    /// The port it listens on.
    pub port: u16,
    /// The host's public key line (`ssh-ed25519 AAAA... test`).
    pub host_key: String,
    /// The user clients log in as.
    pub user: String,
    _dir: tempfile::TempDir,
}

impl SshServer {
    /// Starts sshd on a free port, accepting `client_public_key` only.
    pub fn start(client_public_key: &str) -> Self {
        // sshd's privilege separation directory.
        std::fs::create_dir_all("/run/sshd").expect("create /run/sshd");
        let user = String::from_utf8(Command::new("id").arg("-un").output().expect("id").stdout)
            .expect("utf8")
            .trim()
            .to_owned();
        for _ in 0..5 {
            let dir = tempfile::tempdir().expect("tempdir");
            let (_, host_key) = keygen(&dir.path().join("host_ed25519"));
            let auth_keys = dir.path().join("authorized_keys");
            std::fs::write(&auth_keys, format!("{client_public_key}\n")).expect("authorized_keys");
            let port = free_port();
            let conf = format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_ed25519\nAuthorizedKeysFile {keys}\n\
                 PidFile {d}/sshd.pid\nStrictModes no\nUsePAM no\nPasswordAuthentication no\n\
                 KbdInteractiveAuthentication no\nPubkeyAuthentication yes\nPermitRootLogin prohibit-password\n\
                 LogLevel ERROR\n",
                d = dir.path().display(),
                keys = auth_keys.display(),
            );
            let conf_path = dir.path().join("sshd_config");
            std::fs::write(&conf_path, conf).expect("sshd_config");
            let mut child = Command::new("/usr/sbin/sshd")
                .arg("-D")
                .arg("-e")
                .arg("-f")
                .arg(&conf_path)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("sshd starts (apt-get install openssh-server)");
            if wait_for_port(port, &mut child, "sshd") {
                return SshServer {
                    child,
                    port,
                    host_key,
                    user,
                    _dir: dir,
                };
            }
        }
        panic!("sshd could not start");
    }

    /// `ssh://` URL of the bare repository at `bare`.
    pub fn url(&self, bare: &Path) -> String {
        format!(
            "ssh://{}@127.0.0.1:{}{}",
            self.user,
            self.port,
            bare.display()
        )
    }

    /// The server's host key, as a `known_hosts` line for this port.
    pub fn known_hosts(&self) -> String {
        format!("[127.0.0.1]:{} {}\n", self.port, self.host_key)
    }
}

impl Drop for SshServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
