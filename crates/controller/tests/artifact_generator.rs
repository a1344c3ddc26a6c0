//! ArtifactGenerator end to end: a real git server, the sandbox and the
//! controller in-process. A generator copies two directories of a
//! GitRepository into one ExternalArtifact that a Kustomization applies;
//! a commit to a copied file moves the artifact and is applied, a commit
//! elsewhere leaves the artifact's digest alone; while the generator's
//! `source.extensions.fluxcd.io/reconcile` annotation is `Disabled` nothing
//! is built, and removing it builds what came meanwhile; a bad glob and a missing
//! source fail visibly naming the field; deleting the generator deletes
//! what it generated.

use crate::common::world::{NS, configmap};
use crate::common::{Env, event_messages, ready_of};
use driftless_api::{
    ArtifactGenerator, ExternalArtifact, GitRepository, Kustomization, ORIGIN_REVISION_KEY,
    SourceKind,
};
use driftless_testkit::cluster::eventually;
use driftless_testkit::{Fixture, GitDaemon};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};

struct World {
    env: Env,
    _served: tempfile::TempDir,
    _daemon: GitDaemon,
    fixture: Fixture,
}

impl World {
    /// `apps/base` and `apps/production` with a ConfigMap each, an
    /// unrelated `docs/`, and a GitRepository polling it every second.
    async fn start() -> World {
        let env = Env::start().await;
        let served = tempfile::tempdir().expect("tempdir");
        let fixture = Fixture::new(served.path(), "fleet");
        fixture.write("apps/base/red.yaml", &configmap("red", "red"));
        fixture.write("apps/production/blue.yaml", &configmap("blue", "blue"));
        fixture.write("docs/README.md", "notes\n");
        fixture.commit("initial");
        let daemon = GitDaemon::start(served.path());
        let mut source = GitRepository::test("fleet")
            .in_namespace(NS)
            .url(&daemon.url("fleet"))
            .branch("main");
        source.spec.interval = "1s".into();
        Api::<GitRepository>::namespaced(env.client.clone(), NS)
            .create(&PostParams::default(), &source)
            .await
            .expect("source created");
        World {
            env,
            _served: served,
            _daemon: daemon,
            fixture,
        }
    }

    fn generators(&self) -> Api<ArtifactGenerator> {
        Api::namespaced(self.env.client.clone(), NS)
    }

    fn external(&self) -> Api<ExternalArtifact> {
        Api::namespaced(self.env.client.clone(), NS)
    }

    async fn create_generator(&self, spec: serde_json::Value) {
        let generator: ArtifactGenerator = serde_json::from_value(serde_json::json!({
            "apiVersion": "source.extensions.fluxcd.io/v1beta1",
            "kind": "ArtifactGenerator",
            "metadata": {"name": spec["name"], "namespace": NS},
            "spec": spec["spec"],
        }))
        .expect("a generator");
        self.generators()
            .create(&PostParams::default(), &generator)
            .await
            .expect("generator created");
    }

    /// The ExternalArtifact's revision once it satisfies `accept`.
    async fn artifact_revision(&self, name: &str, accept: impl Fn(&str) -> bool) -> String {
        eventually(&format!("ExternalArtifact {name}"), || async {
            let ea = self.external().get(name).await.map_err(|e| e.to_string())?;
            let revision = ea
                .artifact()
                .map(|a| a.revision.clone())
                .unwrap_or_default();
            accept(&revision)
                .then_some(revision.clone())
                .ok_or(format!("revision {revision:?}"))
        })
        .await
    }

    /// The ExternalArtifact once its artifact was built from `commit`
    /// (`originRevision` records the source's revision).
    async fn origin_revision(&self, name: &str, commit: &str) -> ExternalArtifact {
        eventually(&format!("{name} built from {commit}"), || async {
            let ea = self.external().get(name).await.map_err(|e| e.to_string())?;
            let origin = ea
                .artifact()
                .and_then(|a| a.metadata.clone())
                .unwrap_or_default()
                .get(ORIGIN_REVISION_KEY)
                .cloned();
            (origin == Some(format!("main@sha1:{commit}")))
                .then_some(ea)
                .ok_or(format!("origin revision {origin:?}"))
        })
        .await
    }

    /// The generator's (message, Stalled?) once Ready is `want` with `reason`.
    async fn generator_ready(&self, name: &str, want: &str, reason: &str) -> (String, bool) {
        eventually(
            &format!("ArtifactGenerator {name} Ready={want} {reason}"),
            || async {
                let g = self
                    .generators()
                    .get(name)
                    .await
                    .map_err(|e| e.to_string())?;
                let conditions = g.conditions();
                let stalled = driftless_api::conditions::is_true(conditions, "Stalled");
                match ready_of(conditions) {
                    Some((status, r, message)) if status == want && r == reason => {
                        Ok((message, stalled))
                    }
                    other => Err(format!("{other:?}")),
                }
            },
        )
        .await
    }

    async fn color(&self, name: &str) -> Option<String> {
        Api::<ConfigMap>::namespaced(self.env.client.clone(), NS)
            .get_opt(name)
            .await
            .expect("get")
            .and_then(|cm| cm.data)
            .and_then(|d| d.get("color").cloned())
    }

    async fn wait_color(&self, name: &str, want: &str) {
        eventually(&format!("configmap {name} color {want}"), || async {
            let color = self.color(name).await;
            (color.as_deref() == Some(want))
                .then_some(())
                .ok_or(format!("color {color:?}"))
        })
        .await;
    }
}

fn bundle_generator() -> serde_json::Value {
    serde_json::json!({
        "name": "apps",
        "spec": {
            "sources": [{"alias": "repo", "kind": "GitRepository", "name": "fleet"}],
            "artifacts": [{
                "name": "apps-bundle",
                "originRevision": "@repo",
                "copy": [
                    {"from": "@repo/apps/base/**", "to": "@artifact/base/"},
                    {"from": "@repo/apps/production/", "to": "@artifact/"},
                ],
            }],
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generated_artifact_is_applied_and_follows_only_its_files() {
    let world = World::start().await;
    let head = world.fixture.commit("nothing new");
    world.create_generator(bundle_generator()).await;
    // The first artifact may come from the commit before `head`.
    let ea = world.origin_revision("apps-bundle", &head).await;
    let first = ea
        .artifact()
        .map(|a| a.revision.clone())
        .unwrap_or_default();
    assert!(first.starts_with("latest@sha256:"), "{first}");
    assert_eq!(
        first,
        format!(
            "latest@{}",
            ea.artifact()
                .and_then(|a| a.digest.clone())
                .expect("digest")
        )
    );
    let labels = ea.metadata.labels.clone().unwrap_or_default();
    assert_eq!(
        labels
            .get("app.kubernetes.io/managed-by")
            .map(String::as_str),
        Some("source-watcher")
    );
    let (message, _) = world.generator_ready("apps", "True", "Succeeded").await;
    assert_eq!(message, "reconciliation succeeded, generated 1 artifact(s)");
    let generator = world.generators().get("apps").await.expect("generator");
    assert_eq!(generator.inventory().len(), 1);
    assert_eq!(generator.inventory()[0].name, "apps-bundle");
    assert_eq!(
        labels.get(driftless_api::GENERATOR_LABEL),
        generator.metadata.uid.as_ref()
    );

    let mut ks = Kustomization::test("apps").in_namespace(NS).path("./");
    ks.spec.source_ref.kind = SourceKind::ExternalArtifact;
    ks.spec.source_ref.name = "apps-bundle".into();
    ks.spec.interval = "1h".into();
    Api::<Kustomization>::namespaced(world.env.client.clone(), NS)
        .create(&PostParams::default(), &ks)
        .await
        .expect("kustomization created");
    world.wait_color("red", "red").await;
    world.wait_color("blue", "blue").await;

    // A commit outside the copied directories: the sources moved, the
    // artifact did not.
    world.fixture.write("docs/README.md", "more notes\n");
    let docs = world.fixture.commit("docs only");
    let unchanged = world.origin_revision("apps-bundle", &docs).await;
    assert_eq!(
        unchanged.artifact().map(|a| a.revision.clone()),
        Some(first.clone()),
        "an unrelated commit keeps the digest"
    );

    // A commit to a copied file: a new artifact, applied.
    world
        .fixture
        .write("apps/base/red.yaml", &configmap("red", "crimson"));
    world.fixture.commit("crimson");
    let second = world
        .artifact_revision("apps-bundle", |r| r.starts_with("latest@") && r != first)
        .await;
    assert_ne!(first, second);
    world.wait_color("red", "crimson").await;
    let events = event_messages(&world.env.client, NS, "apps").await;
    assert!(
        events
            .iter()
            .any(|e| e.contains("external artifacts reconciled: default/apps-bundle")),
        "{events:?}"
    );

    // Paused by source-watcher's annotation (any case, as its docs write
    // it): a commit to a copied file moves the source, not the artifact.
    let annotate = |value: serde_json::Value| {
        let generators = world.generators();
        async move {
            generators
                .patch(
                    "apps",
                    &PatchParams::default(),
                    &Patch::Merge(serde_json::json!({"metadata": {"annotations": {
                        driftless_api::GENERATOR_RECONCILE_ANNOTATION: value,
                    }}})),
                )
                .await
                .expect("annotated");
        }
    };
    annotate("Disabled".into()).await;
    world
        .fixture
        .write("apps/base/red.yaml", &configmap("red", "scarlet"));
    let paused = world.fixture.commit("scarlet while paused");
    let sources = Api::<GitRepository>::namespaced(world.env.client.clone(), NS);
    eventually("the source fetches the paused commit", || async {
        let repo = sources.get("fleet").await.map_err(|e| e.to_string())?;
        let revision = repo.artifact().map(|a| a.revision.clone());
        (revision == Some(format!("main@sha1:{paused}")))
            .then_some(())
            .ok_or(format!("{revision:?}"))
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let still = world.external().get("apps-bundle").await.expect("artifact");
    assert_eq!(
        still.artifact().map(|a| a.revision.clone()),
        Some(second.clone()),
        "a disabled generator builds nothing"
    );
    assert_eq!(world.color("red").await.as_deref(), Some("crimson"));
    // Removing the annotation resumes it: the paused commit is built.
    annotate(serde_json::Value::Null).await;
    world.origin_revision("apps-bundle", &paused).await;
    world.wait_color("red", "scarlet").await;

    // Deleting the generator deletes what it generated.
    world
        .generators()
        .delete("apps", &DeleteParams::default())
        .await
        .expect("deleted");
    eventually("the ExternalArtifact is gone", || async {
        match world.external().get_opt("apps-bundle").await {
            Ok(None) => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_glob_or_a_missing_source_fails_naming_the_field() {
    let world = World::start().await;
    world
        .create_generator(serde_json::json!({
            "name": "bad-glob",
            "spec": {
                "sources": [{"alias": "repo", "kind": "GitRepository", "name": "fleet"}],
                "artifacts": [{"name": "out", "copy": [{"from": "@repo/apps/[base", "to": "@artifact/"}]}],
            }
        }))
        .await;
    let (message, stalled) = world
        .generator_ready("bad-glob", "False", "ValidationFailed")
        .await;
    assert!(stalled, "a spec that cannot work stalls");
    assert!(
        message.contains("spec.artifacts[0].copy[0] (from '@repo/apps/[base'"),
        "{message}"
    );

    world
        .create_generator(serde_json::json!({
            "name": "no-source",
            "spec": {
                "sources": [{"alias": "repo", "kind": "GitRepository", "name": "missing"}],
                "artifacts": [{"name": "out2", "copy": [{"from": "@repo/apps/**", "to": "@artifact/"}]}],
            }
        }))
        .await;
    let (message, stalled) = world
        .generator_ready("no-source", "False", "SourceFetchFailed")
        .await;
    assert!(!stalled, "a source may still be created");
    assert!(
        message.contains("spec.sources[0] (alias 'repo')")
            && message.contains("GitRepository 'default/missing' not found"),
        "{message}"
    );

    world
        .create_generator(serde_json::json!({
            "name": "no-match",
            "spec": {
                "sources": [{"alias": "repo", "kind": "GitRepository", "name": "fleet"}],
                "artifacts": [{"name": "out3", "copy": [{"from": "@repo/nowhere/*.yaml", "to": "@artifact/"}]}],
            }
        }))
        .await;
    // SourceFetchFailed first, while the GitRepository has no artifact yet.
    let (message, _) = world
        .generator_ready("no-match", "False", "BuildFailed")
        .await;
    assert!(
        message.contains("out3 build failed: spec.artifacts[0].copy[0]")
            && message.contains("no files match pattern 'nowhere/*.yaml'"),
        "{message}"
    );
    assert!(
        world
            .external()
            .get_opt("out3")
            .await
            .expect("get")
            .is_none(),
        "nothing is published from a failed build"
    );
}
