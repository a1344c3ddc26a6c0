//! `driftless quickstart`: the whole GitOps loop on a machine with no
//! cluster, in one process: the sandbox API server, a local git repository
//! seeded with an example application, and the controller. It walks through
//! a commit being applied, a change being synced, a manual edit being
//! reverted and a `git revert` rolling back, then keeps everything running
//! for `kubectl` until Ctrl-C and cleans up what it started.
//!
//! Everything is local: the repository is served to the controller as a
//! `file://` URL, so it works offline.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use driftless_api::{GitRepository, Kustomization, annotations};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, Patch, PatchParams, PostParams};

use crate::cluster::{GlobalArgs, connect};
use crate::commands::install;
use crate::output::Progress;

const NAMESPACE: &str = "flux-system";
const NAME: &str = "demo";
/// The longest any step may take before the quickstart gives up.
const STEP_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(clap::Args)]
pub struct Args {
    /// Keep the sandbox data, the git repository and the artifacts here
    /// (kept after exit) [default: a temporary directory, removed on exit].
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Address of the sandbox API server.
    #[arg(long, default_value = "127.0.0.1:6443", value_name = "ADDR")]
    listen: SocketAddr,
    /// Exit after the walkthrough instead of running until Ctrl-C.
    #[arg(long)]
    once: bool,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let temporary = match &args.dir {
        Some(_) => None,
        None => Some(
            tempfile::Builder::new()
                .prefix("driftless-quickstart-")
                .tempdir()?,
        ),
    };
    let dir = match (&args.dir, &temporary) {
        (Some(dir), _) => dir.clone(),
        (None, Some(temp)) => temp.path().to_path_buf(),
        (None, None) => unreachable!("a temporary directory exists when --dir is absent"),
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let progress = Progress::new();

    let kubeconfig = dir.join("kubeconfig");
    let sandbox = driftless_sandbox::Sandbox::start(driftless_sandbox::SandboxConfig {
        listen: args.listen,
        data_dir: Some(dir.join("sandbox")),
        kubeconfig_out: Some(kubeconfig.clone()),
        rollout_delay: Duration::from_millis(500),
        ..Default::default()
    })
    .await
    .with_context(|| {
        format!(
            "cannot start the sandbox on {}; is something else listening there? pass --listen",
            args.listen
        )
    })?;
    progress.success(&format!(
        "sandbox API server running at {}",
        sandbox.server_url()
    ));

    let global = GlobalArgs {
        kubeconfig: Some(kubeconfig.clone()),
        context: None,
        namespace: NAMESPACE.to_owned(),
    };
    let cluster = connect(&global).await?;
    for manifest in driftless_api::crds() {
        install::apply(&cluster, &serde_json::to_value(manifest)?).await?;
    }
    install::wait_for_crds(&cluster, Instant::now() + STEP_TIMEOUT).await?;
    progress.success("GitRepository and Kustomization CRDs installed");

    let repo = Repo::seed(&dir)?;
    progress.success(&format!(
        "example repository created at {}",
        repo.bare.display()
    ));

    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let mut options = driftless_controller::ControllerOptions::new(dir.join("storage"));
    options.artifact_listen = "127.0.0.1:0".parse().expect("a loopback address");
    let config = crate::cluster::load_config(&global).await?;
    let controller = tokio::spawn(driftless_controller::run(config, options, async {
        let _ = stopped.await;
    }));
    progress.success("controller started");

    let walkthrough = walk_through(&cluster.client, &repo, &progress).await;
    let outcome = match walkthrough {
        Ok(()) => {
            let path = kubeconfig.display();
            eprintln!();
            eprintln!("The loop is running. Look around:");
            eprintln!("  kubectl --kubeconfig {path} get all,configmaps -n demo");
            eprintln!("  driftless --kubeconfig {path} get all");
            eprintln!("  driftless --kubeconfig {path} tree kustomization {NAME}");
            eprintln!(
                "Commit to {} (work tree: {}) and watch it sync.",
                repo.bare.display(),
                repo.work.display()
            );
            if !args.once {
                eprintln!("Press Ctrl-C to stop.");
                crate::shutdown::requested().await;
            }
            Ok(())
        }
        Err(error) => Err(error),
    };
    let _ = stop.send(());
    if let Ok(Err(error)) = controller.await {
        tracing::warn!(%error, "the controller stopped with an error");
    }
    sandbox.shutdown().await;
    if temporary.is_some() {
        progress.success("stopped; temporary files removed");
    } else {
        progress.success(&format!("stopped; files kept in {}", dir.display()));
    }
    outcome
}

async fn walk_through(
    client: &kube::Client,
    repo: &Repo,
    progress: &Progress,
) -> anyhow::Result<()> {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let namespace = serde_json::from_value(serde_json::json!({"metadata": {"name": NAMESPACE}}))?;
    if namespaces.get_opt(NAMESPACE).await?.is_none() {
        namespaces
            .create(&PostParams::default(), &namespace)
            .await?;
    }
    let mut source = GitRepository::test(NAME)
        .in_namespace(NAMESPACE)
        .url(&repo.url())
        .branch("main");
    source.spec.interval = "1m".into();
    let mut kustomization = Kustomization::test(NAME)
        .in_namespace(NAMESPACE)
        .git_source(NAME)
        .path("./apps/demo");
    kustomization.spec.interval = "10m".into();
    kustomization.spec.wait = true;
    kustomization.spec.timeout = Some("1m".into());
    let params = PatchParams::apply("driftless").force();
    Api::<GitRepository>::namespaced(client.clone(), NAMESPACE)
        .patch(NAME, &params, &Patch::Apply(&source))
        .await
        .context("cannot create the GitRepository")?;
    Api::<Kustomization>::namespaced(client.clone(), NAMESPACE)
        .patch(NAME, &params, &Patch::Apply(&kustomization))
        .await
        .context("cannot create the Kustomization")?;

    eprintln!();
    progress.action(&format!("1. the example app is committed ({}): Namespace demo, ConfigMap demo/greeting, Deployment demo/web", short(&repo.head()?)));
    let took = synced(client, &repo.head()?).await?;
    progress.success(&format!(
        "applied revision main@sha1:{} in {}",
        short(&repo.head()?),
        seconds(took)
    ));
    progress.success(&format!("greeting says {:?}", greeting(client).await?));

    progress.action("2. a change is pushed: the greeting becomes \"hello again\"");
    repo.write_greeting("hello again")?;
    let changed = repo.commit("Say hello again")?;
    let took = synced(client, &changed).await?;
    progress.success(&format!(
        "synced {} in {}; greeting says {:?}",
        short(&changed),
        seconds(took),
        greeting(client).await?
    ));

    progress.action("3. someone edits the ConfigMap by hand (as `kubectl edit` would)");
    let edit = serde_json::json!({"data": {"message": "edited by hand"}});
    Api::<ConfigMap>::namespaced(client.clone(), "demo")
        .patch("greeting", &PatchParams::default(), &Patch::Merge(&edit))
        .await
        .context("cannot edit the ConfigMap")?;
    let started = Instant::now();
    wait_until(|| async { Ok(greeting(client).await? == "hello again") })
        .await
        .context("the manual edit was not reverted")?;
    progress.success(&format!(
        "drift reverted in {}: greeting says \"hello again\" again",
        seconds(started.elapsed())
    ));

    progress.action("4. `git revert` of the change: a rollback is a commit");
    repo.git(&["revert", "--no-edit", "HEAD"])?;
    let reverted = repo.head()?;
    let took = synced(client, &reverted).await?;
    progress.success(&format!(
        "rolled back with {} in {}; greeting says {:?}",
        short(&reverted),
        seconds(took),
        greeting(client).await?
    ));
    Ok(())
}

/// Requests a reconcile of the source (as `driftless reconcile
/// kustomization --with-source` does) and waits until the Kustomization
/// applied `commit` and is Ready.
async fn synced(client: &kube::Client, commit: &str) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let request = serde_json::json!({"metadata": {"annotations": {annotations::RECONCILE_REQUESTED_AT: crate::flux::now_rfc3339_nano()}}});
    Api::<GitRepository>::namespaced(client.clone(), NAMESPACE)
        .patch(NAME, &PatchParams::default(), &Patch::Merge(&request))
        .await
        .context("cannot request a reconcile")?;
    let kustomizations: Api<Kustomization> = Api::namespaced(client.clone(), NAMESPACE);
    let want = format!("main@sha1:{commit}");
    let last = std::cell::RefCell::new(String::new());
    let result = wait_until(|| async {
        let ks = kustomizations.get(NAME).await?;
        let status = ks.status.unwrap_or_default();
        let ready = driftless_api::conditions::find(
            status.conditions.as_deref().unwrap_or_default(),
            "Ready",
        )
        .cloned();
        *last.borrow_mut() = ready
            .map(|c| format!("{}: {}", c.reason, c.message))
            .unwrap_or_default();
        Ok(
            status.last_applied_revision.as_deref() == Some(want.as_str())
                && driftless_api::conditions::is_true(
                    status.conditions.as_deref().unwrap_or_default(),
                    "Ready",
                ),
        )
    })
    .await;
    result.with_context(|| {
        format!(
            "Kustomization {NAMESPACE}/{NAME} did not apply {want}; last status: {}",
            last.borrow()
        )
    })?;
    Ok(started.elapsed())
}

async fn greeting(client: &kube::Client) -> anyhow::Result<String> {
    let cm = Api::<ConfigMap>::namespaced(client.clone(), "demo")
        .get("greeting")
        .await?;
    Ok(cm
        .data
        .and_then(|d| d.get("message").cloned())
        .unwrap_or_default())
}

async fn wait_until<F, Fut>(mut check: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<bool>>,
{
    let deadline = Instant::now() + STEP_TIMEOUT;
    loop {
        match check().await {
            Ok(true) => return Ok(()),
            Ok(false) | Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Ok(false) => bail!("timed out after {}", seconds(STEP_TIMEOUT)),
            Err(error) => return Err(error),
        }
    }
}

fn short(commit: &str) -> &str {
    &commit[..commit.len().min(7)]
}

fn seconds(duration: Duration) -> String {
    format!("{:.1}s", duration.as_secs_f64())
}

/// The local repository: a bare repository the controller pulls from and a
/// work tree to commit in, driven by the `git` CLI.
struct Repo {
    bare: PathBuf,
    work: PathBuf,
}

impl Repo {
    fn seed(dir: &Path) -> anyhow::Result<Repo> {
        let repo = Repo {
            bare: dir.join("demo.git"),
            work: dir.join("demo"),
        };
        if repo.bare.exists() {
            bail!(
                "{} exists already; pass an empty --dir",
                repo.bare.display()
            );
        }
        run_git(
            dir,
            &[
                "init",
                "-q",
                "--bare",
                "-b",
                "main",
                &repo.bare.to_string_lossy(),
            ],
        )?;
        run_git(
            dir,
            &[
                "clone",
                "-q",
                &repo.bare.to_string_lossy(),
                &repo.work.to_string_lossy(),
            ],
        )?;
        repo.git(&["checkout", "-q", "-b", "main"])?;
        let apps = repo.work.join("apps/demo");
        std::fs::create_dir_all(&apps)?;
        std::fs::write(
            apps.join("namespace.yaml"),
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: demo\n",
        )?;
        std::fs::write(
            apps.join("deployment.yaml"),
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: demo\nspec:\n  replicas: 2\n  selector:\n    matchLabels:\n      app: web\n  template:\n    metadata:\n      labels:\n        app: web\n    spec:\n      containers:\n      - name: web\n        image: nginx:1.27\n        ports:\n        - containerPort: 80\n",
        )?;
        repo.write_greeting("hello")?;
        repo.commit("Add the demo app")?;
        Ok(repo)
    }

    fn url(&self) -> String {
        format!("file://{}", self.bare.display())
    }

    fn write_greeting(&self, message: &str) -> anyhow::Result<()> {
        let text = format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: greeting\n  namespace: demo\ndata:\n  message: {message}\n"
        );
        std::fs::write(self.work.join("apps/demo/configmap.yaml"), text)?;
        Ok(())
    }

    fn commit(&self, message: &str) -> anyhow::Result<String> {
        self.git(&["add", "-A"])?;
        self.git(&["commit", "-q", "-m", message])?;
        self.head()
    }

    fn head(&self) -> anyhow::Result<String> {
        self.git(&["rev-parse", "HEAD"])
    }

    /// Runs git in the work tree; every change is pushed at once.
    fn git(&self, args: &[&str]) -> anyhow::Result<String> {
        let out = run_git(&self.work, args)?;
        if matches!(args.first(), Some(&"commit" | &"revert")) {
            run_git(&self.work, &["push", "-q", "origin", "main"])?;
        }
        Ok(out)
    }
}

fn run_git(dir: &Path, args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "driftless quickstart")
        .env("GIT_AUTHOR_EMAIL", "quickstart@driftless.invalid")
        .env("GIT_COMMITTER_NAME", "driftless quickstart")
        .env("GIT_COMMITTER_EMAIL", "quickstart@driftless.invalid")
        .output()
        .context("cannot run git; the quickstart needs the git command installed")?;
    if !out.status.success() {
        bail!(
            "git {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}
