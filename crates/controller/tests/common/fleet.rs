//! The fault matrix's in-process world: a sandbox, a git daemon behind a
//! switchable proxy, and a fleet of Kustomizations over one repository
//! (see `driftless_testkit::fleet` for the fleet and its invariants).

use std::time::Duration;

use driftless_controller::ControllerOptions;
use driftless_testkit::GitDaemon;
use driftless_testkit::fleet::Fleet;
use driftless_testkit::proxy::Proxy;

use super::{Env, RunningController};

/// How long one reconcile may take in these tests: a hanging server must
/// fail well before the test's own deadline.
pub const RECONCILE_TIMEOUT: Duration = Duration::from_secs(8);

pub struct FleetWorld {
    pub env: Env,
    pub fleet: Fleet,
    pub proxy: Proxy,
    _daemon: GitDaemon,
    _served: tempfile::TempDir,
}

impl FleetWorld {
    /// `kustomizations` × `objects` ConfigMaps in git, served through the
    /// proxy (passing traffic); the GitRepository polls every second with a
    /// 4s fetch timeout, and Kustomizations run (and retry) every 3s. No
    /// controller yet: see [`FleetWorld::controller`].
    pub async fn start(kustomizations: usize, objects: usize) -> FleetWorld {
        let env = Env::without_controller().await;
        let served = tempfile::tempdir().expect("a temp dir");
        let fleet = Fleet::new(served.path(), kustomizations, objects);
        let daemon = GitDaemon::start(served.path());
        let proxy = Proxy::start(([127, 0, 0, 1], daemon.port).into()).await;
        let url = format!("git://127.0.0.1:{}/fleet.git", proxy.port());
        fleet.create(&env.client, &url, "1s", "4s", "3s").await;
        FleetWorld {
            env,
            fleet,
            proxy,
            _daemon: daemon,
            _served: served,
        }
    }

    /// Starts a controller with the fault matrix's short timeouts.
    pub async fn controller(
        &self,
        adjust: impl FnOnce(&mut ControllerOptions),
    ) -> RunningController {
        self.env
            .spawn_controller(|options| {
                options.reconcile_timeout = RECONCILE_TIMEOUT;
                adjust(options);
            })
            .await
    }

    pub fn client(&self) -> &kube::Client {
        &self.env.client
    }
}
