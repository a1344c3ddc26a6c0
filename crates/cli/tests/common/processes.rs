//! The fault matrix's processes: `driftless sandbox --data-dir` and
//! `driftless controller` as children the test can SIGKILL and start again,
//! a seeded random source whose seed is printed, and the CRDs.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, PostParams};

use super::eventually;

/// A `driftless` child process, killed when dropped.
pub struct Process {
    child: tokio::process::Child,
    what: String,
    log: PathBuf,
}

/// Lines of a process's log shown when a test fails while it runs.
const LOG_TAIL_LINES: usize = 60;

impl Drop for Process {
    /// A failing test shows the end of the log (restarted processes append
    /// to one file): the temporary directory holding it goes with the test.
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = &lines[lines.len().saturating_sub(LOG_TAIL_LINES)..];
        eprintln!(
            "--- the last lines of {}'s log ({}):",
            self.what,
            self.log.display()
        );
        for line in tail {
            eprintln!("{line}");
        }
    }
}

impl Process {
    /// `driftless args`, with `env` added to the test's environment.
    fn spawn(what: &str, args: &[String], env: &[(&str, &Path)], log_path: &Path) -> Process {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log_path)
            .expect("the log file opens");
        let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_driftless"))
            .args(args)
            .env_remove("KUBECONFIG")
            .env("NO_COLOR", "1")
            .envs(env.iter().copied())
            .env(
                "RUST_LOG",
                std::env::var("DRIFTLESS_FAULT_LOG").unwrap_or_else(|_| "info".to_owned()),
            )
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("the log file is shared"))
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("{what} starts: {e}"));
        Process {
            child,
            what: what.to_owned(),
            log: log_path.to_owned(),
        }
    }

    /// SIGKILL, and wait for the process to be gone.
    pub async fn kill(mut self) {
        self.child.start_kill().expect("the process can be killed");
        let _ = self.child.wait().await;
    }

    /// Panics if the process has exited (it must survive the faults).
    pub fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("{} exited with {status}", self.what);
        }
    }
}

/// `driftless sandbox` on a fixed loopback address with a data directory.
pub struct SandboxProcess {
    pub process: Process,
    pub listen: String,
    pub data_dir: PathBuf,
}

impl SandboxProcess {
    /// Starts it on `listen` (`127.0.0.1:<port>`) and waits until it answers.
    pub async fn start(listen: &str, data_dir: &Path) -> SandboxProcess {
        std::fs::create_dir_all(data_dir).expect("the data directory is created");
        let args = [
            "sandbox".to_owned(),
            format!("--listen={listen}"),
            format!("--data-dir={}", data_dir.display()),
            "--rollout-delay=100ms".to_owned(),
        ];
        let process = Process::spawn("the sandbox", &args, &[], &data_dir.join("sandbox.log"));
        let sandbox = SandboxProcess {
            process,
            listen: listen.to_owned(),
            data_dir: data_dir.to_owned(),
        };
        eventually("the sandbox answers", || async {
            let client = sandbox.try_client().await?;
            client.apiserver_version().await.ok().map(drop)
        })
        .await;
        sandbox
    }

    pub fn kubeconfig(&self) -> PathBuf {
        self.data_dir.join("kubeconfig")
    }

    async fn try_client(&self) -> Option<kube::Client> {
        let kubeconfig = kube::config::Kubeconfig::read_from(self.kubeconfig()).ok()?;
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
            .await
            .ok()?;
        kube::Client::try_from(config).ok()
    }

    /// A client from the written kubeconfig (valid across restarts: the
    /// certificates and token live in the data directory).
    pub async fn client(&self) -> kube::Client {
        self.try_client().await.expect("a client for the sandbox")
    }

    /// SIGKILL, then a new sandbox on the same address and data directory.
    pub async fn kill_and_restart(self, down_for: Duration) -> SandboxProcess {
        let SandboxProcess {
            process,
            listen,
            data_dir,
        } = self;
        process.kill().await;
        tokio::time::sleep(down_for).await;
        SandboxProcess::start(&listen, &data_dir).await
    }
}

/// `driftless controller` against `kubeconfig`, with every server on a
/// free port, no leader election, and `reconcile_timeout`. Its system temp
/// dir does not exist: the installed controller's root filesystem is
/// read-only, so a write outside `storage` fails these tests.
pub fn controller(kubeconfig: &Path, storage: &Path, reconcile_timeout: &str) -> Process {
    let args: Vec<String> = [
        format!("--kubeconfig={}", kubeconfig.display()),
        "controller".to_owned(),
        format!("--storage-dir={}", storage.display()),
        "--artifact-listen=127.0.0.1:0".to_owned(),
        "--metrics-listen=127.0.0.1:0".to_owned(),
        "--receiver-listen=127.0.0.1:0".to_owned(),
        "--events-listen=127.0.0.1:0".to_owned(),
        "--no-leader-election".to_owned(),
        format!("--reconcile-timeout={reconcile_timeout}"),
    ]
    .into();
    Process::spawn(
        "the controller",
        &args,
        &[("TMPDIR", &storage.with_extension("no-tmp"))],
        &storage.with_extension("controller.log"),
    )
}

/// A free loopback address to start a sandbox on (and again after a kill).
pub fn free_address() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let port = listener.local_addr().expect("bound").port();
    format!("127.0.0.1:{port}")
}

/// Creates driftless's CRDs and waits until they are served.
pub async fn install_crds(client: &kube::Client) {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    for crd in driftless_api::crds() {
        api.create(&PostParams::default(), &crd)
            .await
            .expect("the CRD is created");
    }
    for crd in driftless_api::crds() {
        let name = crd.metadata.name.clone().expect("named");
        eventually(&format!("CRD {name} established"), || async {
            let crd = api.get(&name).await.ok()?;
            crd.status?
                .conditions?
                .iter()
                .any(|c| c.type_ == "Established" && c.status == "True")
                .then_some(())
        })
        .await;
    }
}

/// A small seeded random source (splitmix64): the seed is printed so a
/// failing run can be replayed with `DRIFTLESS_FAULT_SEED=<seed>`.
pub struct Random(u64);

impl Random {
    pub fn from_env_or_clock() -> Random {
        let seed = std::env::var("DRIFTLESS_FAULT_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(1, |d| d.as_secs())
            });
        println!("fault seed: {seed} (replay with DRIFTLESS_FAULT_SEED={seed})");
        Random(seed)
    }

    /// A number in `0..bound`.
    pub fn below(&mut self, bound: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) % bound.max(1)
    }
}
