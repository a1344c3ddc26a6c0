//! A Helm chart repository on loopback: lighttpd serving a directory of
//! static files (what `helm repo index` writes, plus the packages) under
//! `/anon/` with no auth and under `/basic/` with HTTP basic auth
//! ([`BASIC_USER`]/[`BASIC_PASSWORD`]). lighttpd sends `ETag`s and answers
//! `If-None-Match` with `304`, as the static hosts of real repositories do.
//!
//! [`StaticServer::start_tls`] serves the same over HTTPS with a given
//! certificate, and can require a client certificate signed by a given CA.
//!
//! Also runs the real `helm` to build fixtures ([`helm_package`],
//! [`helm_repo_index`]); callers check [`helm_available`] first and skip
//! (or fail under `DRIFTLESS_REQUIRE_SHARED=1`) without it.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{BASIC_PASSWORD, BASIC_USER};

/// lighttpd serving `root` as static files.
pub struct StaticServer {
    child: Child,
    /// The port it listens on (127.0.0.1).
    pub port: u16,
    scheme: &'static str,
    _conf_dir: tempfile::TempDir,
}

/// HTTPS settings for [`StaticServer::start_tls`]: PEM files.
pub struct ServerTls {
    /// The server's certificate chain.
    pub cert: PathBuf,
    /// The server's private key.
    pub key: PathBuf,
    /// When set, clients must present a certificate signed by this CA.
    pub client_ca: Option<PathBuf>,
}

impl StaticServer {
    /// Serve the files under `root` over HTTP.
    pub fn start(root: &Path) -> Self {
        Self::start_with(root, None)
    }

    /// Serve the files under `root` over HTTPS (`https://127.0.0.1:<port>/…`).
    pub fn start_tls(root: &Path, tls: &ServerTls) -> Self {
        Self::start_with(root, Some(tls))
    }

    fn start_with(root: &Path, tls: Option<&ServerTls>) -> Self {
        let tls_conf = tls.map_or_else(String::new, |t| {
            let mut conf = format!(
                "server.modules += (\"mod_openssl\")\nssl.engine = \"enable\"\nssl.pemfile = \"{}\"\nssl.privkey = \"{}\"\n",
                t.cert.display(),
                t.key.display()
            );
            if let Some(ca) = &t.client_ca {
                conf.push_str(&format!(
                    "ssl.verifyclient.ca-file = \"{}\"\nssl.verifyclient.activate = \"enable\"\nssl.verifyclient.enforce = \"enable\"\n",
                    ca.display()
                ));
            }
            conf
        });
        for _ in 0..5 {
            let conf_dir = tempfile::tempdir().expect("tempdir");
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("bind 127.0.0.1:0")
                .port();
            let users = conf_dir.path().join("users");
            std::fs::write(&users, format!("{BASIC_USER}:{BASIC_PASSWORD}\n")).expect("users file");
            let conf = format!(
                r#"
server.modules = ("mod_access", "mod_alias", "mod_auth", "mod_authn_file")
server.document-root = "{root}"
server.bind = "127.0.0.1"
server.port = {port}
server.errorlog = "{dir}/error.log"
server.pid-file = "{dir}/pid"
alias.url = ("/anon/" => "{root}/", "/basic/" => "{root}/")
mimetype.assign = (".yaml" => "text/yaml", ".tgz" => "application/gzip")
auth.backend = "plain"
auth.backend.plain.userfile = "{users}"
$HTTP["url"] =~ "^/basic/" {{
  auth.require = ("" => ("method" => "basic", "realm" => "charts", "require" => "valid-user"))
}}
{tls_conf}
"#,
                root = root.display(),
                dir = conf_dir.path().display(),
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
                .expect("lighttpd starts (apt-get install lighttpd lighttpd-mod-openssl)");
            if listening(port, &mut child) {
                return StaticServer {
                    child,
                    port,
                    scheme: if tls.is_some() { "https" } else { "http" },
                    _conf_dir: conf_dir,
                };
            }
        }
        panic!("lighttpd could not start");
    }

    /// `http(s)://127.0.0.1:<port>/<prefix>/<path>`; `prefix` is `anon` or `basic`.
    pub fn url(&self, prefix: &str, path: &str) -> String {
        self.url_on("127.0.0.1", prefix, path)
    }

    /// The same server under another host name (e.g. `localhost`), which
    /// a client must treat as another host when deciding about credentials.
    pub fn url_on(&self, host: &str, prefix: &str, path: &str) -> String {
        format!("{}://{host}:{}/{prefix}/{path}", self.scheme, self.port)
    }
}

impl Drop for StaticServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn listening(port: u16, child: &mut Child) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        if let Ok(Some(status)) = child.try_wait() {
            eprintln!("lighttpd exited early with {status}");
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("lighttpd did not listen on 127.0.0.1:{port} within 10s");
}

/// Whether a `helm` binary is on `PATH`.
pub fn helm_available() -> bool {
    Command::new("helm")
        .arg("version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn helm(args: &[&str], dir: &Path) -> String {
    let home = tempfile::tempdir().expect("tempdir for helm's home");
    let home = home.path();
    let out = Command::new("helm")
        .args(args)
        .current_dir(dir)
        // Keep helm away from the user's configuration and cache.
        .env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_CACHE_HOME", home.join("cache"))
        .env("HELM_DATA_HOME", home.join("data"))
        .output()
        .expect("helm runs");
    assert!(
        out.status.success(),
        "helm {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `helm package <chart_dir> [--version v] -d <out_dir>`; returns the package's path.
pub fn helm_package(chart_dir: &Path, version: Option<&str>, out_dir: &Path) -> PathBuf {
    std::fs::create_dir_all(out_dir).expect("package directory");
    let chart = chart_dir.display().to_string();
    let out = out_dir.display().to_string();
    let mut args = vec!["package", chart.as_str(), "-d", out.as_str()];
    if let Some(v) = version {
        args.extend(["--version", v]);
    }
    let said = helm(&args, out_dir);
    // "Successfully packaged chart and saved it to: <path>"
    let path = said
        .rsplit(": ")
        .next()
        .map(str::trim)
        .expect("helm package names the file");
    PathBuf::from(path)
}

/// `helm repo index <dir> [--url url]`: writes `<dir>/index.yaml`.
pub fn helm_repo_index(dir: &Path, url: Option<&str>) {
    let d = dir.display().to_string();
    let mut args = vec!["repo", "index", d.as_str()];
    if let Some(u) = url {
        args.extend(["--url", u]);
    }
    helm(&args, dir);
}

/// `helm template <name> <chart> <extra…>` (a directory or package);
/// returns the manifests.
pub fn helm_template(name: &str, chart: &Path, extra: &[&str]) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let chart = chart.display().to_string();
    let mut args = vec!["template", name, chart.as_str()];
    args.extend_from_slice(extra);
    helm(&args, dir.path())
}

/// The version `helm pull <chart> --repo <repo_url> --version <version>`
/// picks (Helm's own Masterminds selection), or `None` when helm finds none.
pub fn helm_pull_version(repo_url: &str, chart: &str, version: &str) -> Option<String> {
    let dir = tempfile::tempdir().expect("tempdir");
    let home = dir.path().join("home");
    let out = Command::new("helm")
        .args([
            "pull",
            chart,
            "--repo",
            repo_url,
            "--version",
            version,
            "-d",
        ])
        .arg(dir.path())
        .env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_CACHE_HOME", home.join("cache"))
        .env("HELM_DATA_HOME", home.join("data"))
        .output()
        .expect("helm runs");
    if !out.status.success() {
        return None;
    }
    let prefix = format!("{chart}-");
    std::fs::read_dir(dir.path())
        .expect("pull directory")
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        .find_map(|name| {
            name.strip_prefix(&prefix)?
                .strip_suffix(".tgz")
                .map(str::to_string)
        })
}
