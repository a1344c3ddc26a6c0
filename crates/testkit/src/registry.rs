//! A real OCI registry on loopback: Debian's `docker-registry`
//! (distribution v2), the reference implementation of the distribution API,
//! started with a config file of our own and its storage in a temporary
//! directory.
//!
//! Variants: anonymous, htpasswd (bcrypt, written by `htpasswd -Bbn`, so
//! the registry answers `WWW-Authenticate: Basic`), and TLS with a
//! certificate the test provides. Its access log is kept so a test can see
//! which requests were made ([`Registry::requests`]), e.g. that no layer
//! was downloaded.
//!
//! When `docker-registry` (or `htpasswd`, for the auth variant) is not
//! installed, [`Registry::start`] returns `None` and the test decides
//! whether that is a skip or, under `DRIFTLESS_REQUIRE_SHARED=1`, a failure
//! ([`Registry::start_or_skip`]).

use std::path::Path;
use std::process::{Child, Command, Stdio};

use crate::git::{free_port, wait_for_port};

/// How the registry is started.
#[derive(Debug, Clone, Default)]
pub struct RegistryOptions {
    /// Require HTTP basic auth for this user and password (htpasswd, bcrypt).
    pub htpasswd: Option<(String, String)>,
    /// Serve TLS with this PEM certificate (chain) and PEM private key.
    pub tls: Option<(String, String)>,
}

/// A running `docker-registry`, killed on drop.
pub struct Registry {
    child: Child,
    port: u16,
    /// Config, htpasswd file, TLS files, storage and the access log.
    dir: tempfile::TempDir,
}

fn on_path(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

impl Registry {
    /// Starts a registry with `options`; `None` when `docker-registry` (or,
    /// with `htpasswd`, the `htpasswd` tool) is not installed.
    pub fn start(options: &RegistryOptions) -> Option<Registry> {
        if !on_path("docker-registry") || (options.htpasswd.is_some() && !on_path("htpasswd")) {
            return None;
        }
        for _ in 0..5 {
            let dir = tempfile::tempdir().expect("tempdir");
            let port = free_port();
            let config = write_config(dir.path(), port, options);
            let log = std::fs::File::create(dir.path().join("access.log")).expect("log file");
            let mut child = Command::new("docker-registry")
                .arg("serve")
                .arg(&config)
                .stdout(log)
                .stderr(Stdio::null())
                .spawn()
                .expect("docker-registry starts");
            if wait_for_port(port, &mut child, "docker-registry") {
                return Some(Registry { child, port, dir });
            }
        }
        panic!("docker-registry could not start");
    }

    /// [`Registry::start`], or `None` after printing `SKIPPED: …` when the
    /// tools are missing. Panics instead when `DRIFTLESS_REQUIRE_SHARED=1`.
    pub fn start_or_skip(options: &RegistryOptions, test: &str) -> Option<Registry> {
        let registry = Registry::start(options);
        if registry.is_none() {
            assert!(
                std::env::var("DRIFTLESS_REQUIRE_SHARED").as_deref() != Ok("1"),
                "DRIFTLESS_REQUIRE_SHARED=1 but docker-registry or htpasswd is not installed \
                 (apt-get install -y docker-registry apache2-utils)"
            );
            println!("SKIPPED: {test}: docker-registry or htpasswd is not installed");
        }
        registry
    }

    /// `127.0.0.1:<port>`, the registry host as image references write it.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `oci://127.0.0.1:<port>/<repository>`, as `OCIRepository.spec.url` writes it.
    pub fn url(&self, repository: &str) -> String {
        format!("oci://{}/{repository}", self.host())
    }

    /// Points each of `tags` at the manifest `from` points at in
    /// `repository`, through the distribution API (a `GET` of the manifest,
    /// then one `PUT` per tag, as `crane tag` does): many tags for the cost
    /// of one push. Anonymous, plain-HTTP registries only.
    pub fn tag(&self, repository: &str, from: &str, tags: &[String]) {
        let (content_type, manifest) = self.manifest(repository, from);
        for tag in tags {
            self.exchange(
                &format!(
                    "PUT /v2/{repository}/manifests/{tag} HTTP/1.1\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n",
                    manifest.len()
                ),
                &manifest,
                201,
            );
        }
    }

    /// The content type and bytes of the manifest `tag` points at in
    /// `repository` (its digest is the SHA-256 of these bytes).
    pub fn manifest(&self, repository: &str, tag: &str) -> (String, Vec<u8>) {
        self.exchange(
            &format!(
                "GET /v2/{repository}/manifests/{tag} HTTP/1.1\r\nAccept: application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json\r\n"
            ),
            &[],
            200,
        )
    }

    /// One request on its own connection; panics unless the status is
    /// `want`. Returns the response's content type and body.
    fn exchange(&self, head: &str, body: &[u8], want: u16) -> (String, Vec<u8>) {
        use std::io::{Read, Write};
        let mut stream =
            std::net::TcpStream::connect(self.host()).expect("connect to the registry");
        let mut request =
            format!("{head}Host: {}\r\nConnection: close\r\n\r\n", self.host()).into_bytes();
        request.extend_from_slice(body);
        stream.write_all(&request).expect("send a request");
        let mut response = Vec::new();
        stream
            .read_to_end(&mut response)
            .expect("read the response");
        let split = response
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("a response head");
        let head_text = String::from_utf8_lossy(&response[..split]).into_owned();
        let status: u16 = head_text
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("a status code");
        let content = response[split + 4..].to_vec();
        assert_eq!(
            status,
            want,
            "{}: {head_text}\n{}",
            head.lines().next().unwrap_or_default(),
            String::from_utf8_lossy(&content)
        );
        let content_type = head_text
            .lines()
            .find_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.eq_ignore_ascii_case("content-type")
                    .then(|| value.trim().to_owned())
            })
            .unwrap_or_default();
        (content_type, content)
    }

    /// The requests served so far, oldest first, as `"METHOD /path?query"`.
    pub fn requests(&self) -> Vec<String> {
        let log = std::fs::read_to_string(self.dir.path().join("access.log")).unwrap_or_default();
        log.lines()
            .filter_map(|line| {
                // Combined log format: ... "GET /v2/ HTTP/1.1" 200 ...
                let request = line.split('"').nth(1)?;
                let (method_and_path, _protocol) = request.rsplit_once(' ')?;
                Some(method_and_path.to_owned())
            })
            .collect()
    }
}

fn write_config(dir: &Path, port: u16, options: &RegistryOptions) -> std::path::PathBuf {
    let storage = dir.join("storage");
    std::fs::create_dir_all(&storage).expect("mkdir storage");
    let mut config = format!(
        "version: 0.1\n\
         log:\n  level: error\n  accesslog:\n    disabled: false\n\
         storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
         http:\n  addr: 127.0.0.1:{port}\n  secret: driftless-test\n",
        storage.display()
    );
    if let Some((cert, key)) = &options.tls {
        let (cert_path, key_path) = (dir.join("tls.crt"), dir.join("tls.key"));
        std::fs::write(&cert_path, cert).expect("write cert");
        std::fs::write(&key_path, key).expect("write key");
        config.push_str(&format!(
            "  tls:\n    certificate: {}\n    key: {}\n",
            cert_path.display(),
            key_path.display()
        ));
    }
    if let Some((user, password)) = &options.htpasswd {
        let out = Command::new("htpasswd")
            .args(["-Bbn", user, password])
            .output()
            .expect("htpasswd runs");
        assert!(out.status.success(), "htpasswd failed");
        let path = dir.join("htpasswd");
        std::fs::write(&path, out.stdout).expect("write htpasswd");
        config.push_str(&format!(
            "auth:\n  htpasswd:\n    realm: driftless-test\n    path: {}\n",
            path.display()
        ));
    }
    let path = dir.join("config.yml");
    std::fs::write(&path, config).expect("write config");
    path
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
