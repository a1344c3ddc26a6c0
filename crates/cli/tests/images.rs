//! The image automation commands: `create image repository|policy|update`
//! (exported YAML in flux's shape, flag errors), then against the sandbox
//! `get images …`, `suspend`/`resume image …` and `reconcile image …`.
//! No image reconciler runs: where the controller would answer, the test
//! plays it (see `crate::common::answer_reconcile`).

use crate::common::{
    TempDir, TestSandbox, answer_reconcile, installed, ready_condition, set_status,
};
use driftless_api::image::SortOrder;
use driftless_api::{ImagePolicy, ImageRepository, ImageUpdateAutomation, annotations};
use kube::api::Api;
use serde_json::{Value, json};

/// `driftless <args>` with no cluster at all: `--export` and flag errors
/// must not need one.
async fn offline(args: &[&str]) -> crate::common::Output {
    let home = TempDir::new("images-offline");
    crate::common::run(env!("CARGO_BIN_EXE_driftless"), args, None, home.path()).await
}

/// What `flux create image update flux-system --git-repo-ref=flux-system
/// --checkout-branch=main --author-name=flux --author-email=flux@example.com
/// --signing-key-secret=my-deploy-key --signing-key-type=ssh --export`
/// prints (flux2's own golden file for that command).
const UPDATE_GOLDEN: &str = "---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageUpdateAutomation
metadata:
  name: flux-system
  namespace: flux-system
spec:
  git:
    checkout:
      ref:
        branch: main
    commit:
      author:
        email: flux@example.com
        name: flux
      signingKey:
        secretRef:
          name: my-deploy-key
        type: ssh
  interval: 1m0s
  sourceRef:
    kind: GitRepository
    name: flux-system
";

#[tokio::test]
async fn create_image_export_prints_flux_shaped_yaml() {
    let out = offline(&[
        "create",
        "image",
        "update",
        "flux-system",
        "--git-repo-ref=flux-system",
        "--checkout-branch=main",
        "--author-name=flux",
        "--author-email=flux@example.com",
        "--signing-key-secret=my-deploy-key",
        "--signing-key-type=ssh",
        "--interval=1m0s",
        "--namespace=flux-system",
        "--export",
    ])
    .await
    .ok();
    assert_eq!(out.stdout, UPDATE_GOLDEN);

    let out = offline(&[
        "create",
        "image",
        "repository",
        "podinfo",
        "--image=ghcr.io/stefanprodan/podinfo",
        "--interval=10m",
        "--export",
    ])
    .await
    .ok();
    assert_eq!(
        out.stdout,
        "---\napiVersion: image.toolkit.fluxcd.io/v1\nkind: ImageRepository\nmetadata:\n  name: podinfo\n  namespace: flux-system\nspec:\n  image: ghcr.io/stefanprodan/podinfo\n  interval: 10m0s\n"
    );

    let out = offline(&[
        "create",
        "image",
        "policy",
        "podinfo-semver",
        "--image-ref=podinfo",
        "--interval=10m",
        "--reflect-digest=Always",
        "--select-semver=5.0.x",
        "--export",
    ])
    .await
    .ok();
    assert_eq!(
        out.stdout,
        "---\napiVersion: image.toolkit.fluxcd.io/v1\nkind: ImagePolicy\nmetadata:\n  name: podinfo-semver\n  namespace: flux-system\nspec:\n  digestReflectionPolicy: Always\n  imageRepositoryRef:\n    name: podinfo\n  interval: 10m0s\n  policy:\n    semver:\n      range: 5.0.x\n"
    );

    // The flags beyond flux's and the optional parts land where Flux reads them.
    let out = offline(&[
        "create",
        "image",
        "repository",
        "app",
        "-n",
        "apps",
        "--image=localhost:5000/team/app",
        "--secret-ref=regcred",
        "--cert-secret-ref=registry-ca",
        "--scan-timeout=30s",
        "--exclusion-list=^.*\\.sig$",
        "--exclusion-list=^dev-[0-9]{1,3}$",
        "--insecure",
        "--provider=generic",
        "--export",
    ])
    .await
    .ok();
    let repo: ImageRepository =
        serde_saphyr::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {out:#?}"));
    assert_eq!(repo.metadata.namespace.as_deref(), Some("apps"));
    assert_eq!(repo.spec.interval.as_str(), "1m0s");
    assert_eq!(
        repo.spec
            .timeout
            .as_ref()
            .map(driftless_api::GoDuration::as_str),
        Some("30s")
    );
    assert_eq!(
        repo.spec.secret_ref.map(|s| s.name).as_deref(),
        Some("regcred")
    );
    assert_eq!(
        repo.spec.cert_secret_ref.map(|s| s.name).as_deref(),
        Some("registry-ca")
    );
    assert_eq!(repo.spec.exclusion_list, ["^.*\\.sig$", "^dev-[0-9]{1,3}$"]);
    assert!(repo.spec.insecure);
    assert_eq!(repo.spec.provider.as_deref(), Some("generic"));

    let out = offline(&[
        "create",
        "image",
        "policy",
        "podinfo",
        "--image-ref=podinfo",
        "--select-numeric=asc",
        "--filter-regex=^main-[a-f0-9]+-(?P<ts>[0-9]+)",
        "--filter-extract=$ts",
        "--export",
    ])
    .await
    .ok();
    let policy: ImagePolicy =
        serde_saphyr::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {out:#?}"));
    let filter = policy.spec.filter_tags.expect("filterTags");
    assert_eq!(
        (filter.pattern.as_str(), filter.extract.as_str()),
        ("^main-[a-f0-9]+-(?P<ts>[0-9]+)", "$ts")
    );
    assert_eq!(
        policy.spec.policy.numerical.map(|n| n.order),
        Some(SortOrder::Asc)
    );
    assert!(policy.spec.policy.semver.is_none() && policy.spec.policy.alphabetical.is_none());

    let out = offline(&[
        "create",
        "image",
        "update",
        "apps",
        "-n",
        "apps",
        "--git-repo-ref=fleet",
        "--git-repo-namespace=flux-system",
        "--git-repo-path=./clusters/prod",
        "--checkout-branch=main",
        "--push-branch=image-updates",
        "--author-name=bot",
        "--author-email=bot@example.com",
        "--commit-template={{range .Changed.Changes}}{{println .NewValue}}{{end}}",
        "--signing-key-secret=gpg-key",
        "--export",
    ])
    .await
    .ok();
    let update: ImageUpdateAutomation =
        serde_saphyr::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {out:#?}"));
    assert_eq!(
        update.spec.source_ref.namespace.as_deref(),
        Some("flux-system")
    );
    let strategy = update.spec.update.expect("update");
    assert_eq!(strategy.path.as_deref(), Some("./clusters/prod"));
    let git = update.spec.git.expect("git");
    assert_eq!(
        git.push.and_then(|p| p.branch).as_deref(),
        Some("image-updates")
    );
    assert_eq!(
        git.commit.message_template.as_deref(),
        Some("{{range .Changed.Changes}}{{println .NewValue}}{{end}}")
    );
    let key = git.commit.signing_key.expect("signingKey");
    assert_eq!(
        (key.secret_ref.name.as_str(), key.key_type),
        ("gpg-key", None),
        "the type is left to its default, gpg, as flux does"
    );
    assert!(
        update.metadata.annotations.is_none(),
        "no CRD annotation copied onto the object: {}",
        out.stdout
    );
}

#[tokio::test]
async fn image_flag_mistakes_fail_before_any_cluster_call() {
    let usage: [(&[&str], &str); 8] = [
        (&["create", "image", "repository", "a"], "--image <IMAGE>"),
        (
            &["create", "image", "repository", "a", "--image=alpine:3.20"],
            "not `:`",
        ),
        (
            &["create", "image", "policy", "p", "--image-ref=r"],
            "--select-semver <RANGE>|--select-numeric <ORDER>|--select-alpha <ORDER>",
        ),
        (
            &[
                "create",
                "image",
                "policy",
                "p",
                "--image-ref=r",
                "--select-semver=1.x",
                "--select-alpha=asc",
            ],
            "cannot be used with",
        ),
        (
            &[
                "create",
                "image",
                "policy",
                "p",
                "--image-ref=r",
                "--select-semver=>=one",
            ],
            "not a semver range",
        ),
        (
            &[
                "create",
                "image",
                "policy",
                "p",
                "--image-ref=r",
                "--select-numeric=asc",
                "--filter-regex=(unclosed",
            ],
            "not a valid regular expression",
        ),
        (
            &[
                "create",
                "image",
                "policy",
                "p",
                "--image-ref=r",
                "--select-alpha=asc",
                "--filter-extract=$ts",
            ],
            "--filter-regex <REGEX>",
        ),
        (
            &[
                "create",
                "image",
                "update",
                "u",
                "--git-repo-ref=g",
                "--checkout-branch=main",
                "--author-name=a",
                "--author-email=a@example.com",
                "--signing-key-type=ssh",
            ],
            "--signing-key-secret <NAME>",
        ),
    ];
    for (args, message) in usage {
        let out = offline(args).await.code(2);
        assert!(out.stderr.contains(message), "{args:?}: {out:#?}");
    }
    // Two flags that disagree: flux's words, exit 1, still no cluster.
    let semantic: [(&[&str], &str); 2] = [
        (
            &[
                "create",
                "image",
                "policy",
                "p",
                "--image-ref=r",
                "--select-numeric=asc",
                "--filter-regex=^main-(?P<ts>[0-9]+)$",
                "--filter-extract=$time",
            ],
            "capture group $time used in --filter-extract not found in --filter-regex",
        ),
        (
            &[
                "create",
                "image",
                "policy",
                "p",
                "--image-ref=r",
                "--select-semver=1.x",
                "--interval=5m",
            ],
            "use --reflect-digest=Always",
        ),
    ];
    for (args, message) in semantic {
        let out = offline(args).await.code(1);
        assert!(out.stderr.contains(message), "{args:?}: {out:#?}");
    }
}

/// Creates one object of each kind in `flux-system`, without waiting.
async fn create_all(sb: &TestSandbox) {
    for args in [
        &[
            "create",
            "image",
            "repository",
            "podinfo",
            "--image=ghcr.io/stefanprodan/podinfo",
            "--no-wait",
        ][..],
        &[
            "create",
            "image",
            "policy",
            "podinfo",
            "--image-ref=podinfo",
            "--select-semver=5.0.x",
            "--no-wait",
        ],
        &[
            "create",
            "image",
            "update",
            "fleet",
            "--git-repo-ref=fleet",
            "--checkout-branch=main",
            "--author-name=bot",
            "--author-email=bot@example.com",
            "--no-wait",
        ],
    ] {
        sb.driftless(args).await.ok();
    }
}

/// The cells of a table row, split where flux's table pads (2+ spaces).
fn cells(line: &str) -> Vec<&str> {
    line.split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect()
}

#[tokio::test]
async fn image_objects_are_created_listed_and_suspended() {
    let sb = installed("images-get").await;
    create_all(&sb).await;
    let client = sb.client().await;
    let policies: Api<ImagePolicy> = Api::namespaced(client.clone(), "flux-system");
    let policy = policies.get("podinfo").await.expect("the ImagePolicy");
    assert_eq!(policy.spec.image_repository_ref.name, "podinfo");

    set_status::<ImageRepository>(
        &sb,
        "podinfo",
        json!({
            "conditions": [ready_condition("True", "Succeeded", "successful scan: found 3 tags")],
            "lastScanResult": {"revision": "r", "tagCount": 3, "scanTime": "2026-12-05T01:02:03.456Z", "latestTags": ["5.0.3", "5.0.2", "5.0.1"]},
        }),
    )
    .await;
    set_status::<ImagePolicy>(
        &sb,
        "podinfo",
        json!({
            "conditions": [ready_condition("True", "Succeeded", "Latest image tag for ghcr.io/stefanprodan/podinfo resolved to 5.0.3")],
            "latestRef": {"name": "ghcr.io/stefanprodan/podinfo", "tag": "5.0.3"},
        }),
    )
    .await;
    set_status::<ImageUpdateAutomation>(
        &sb,
        "fleet",
        json!({
            "conditions": [ready_condition("False", "GitOperationFailed", "failed to push:\nnon-fast-forward")],
            "lastAutomationRunTime": "2026-12-05T01:05:00Z",
        }),
    )
    .await;

    let out = sb.driftless(&["get", "images", "repository"]).await.ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(
        cells(lines[0]),
        ["NAME", "LAST SCAN", "SUSPENDED", "READY", "MESSAGE", "AGE"]
    );
    assert_eq!(
        cells(lines[1])[..5],
        [
            "podinfo",
            "2026-12-05T01:02:03Z",
            "False",
            "True",
            "successful scan: found 3 tags"
        ],
        "{out:#?}"
    );

    let out = sb.driftless(&["get", "image", "policy"]).await.ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(
        cells(lines[0]),
        ["NAME", "IMAGE", "TAG", "READY", "MESSAGE", "AGE"]
    );
    assert_eq!(
        cells(lines[1])[..4],
        ["podinfo", "ghcr.io/stefanprodan/podinfo", "5.0.3", "True"],
        "{out:#?}"
    );

    let out = sb.driftless(&["get", "images", "update"]).await.ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(
        cells(lines[0]),
        ["NAME", "LAST RUN", "SUSPENDED", "READY", "MESSAGE", "AGE"]
    );
    assert_eq!(
        cells(lines[1])[..5],
        [
            "fleet",
            "2026-12-05T01:05:00Z",
            "False",
            "False",
            "failed to push: non-fast-forward"
        ],
        "{out:#?}"
    );

    let out = sb.driftless(&["get", "images", "all", "-A"]).await.ok();
    for row in [
        "flux-system  imagerepository/podinfo",
        "flux-system  imagepolicy/podinfo",
        "flux-system  imageupdateautomation/fleet",
    ] {
        assert!(out.stdout.contains(row), "{row}: {out:#?}");
    }
    assert!(out.stdout.starts_with("NAMESPACE"), "{out:#?}");

    let yaml = sb
        .driftless(&["get", "images", "all", "-o", "yaml"])
        .await
        .ok();
    let list: Value = serde_saphyr::from_str(&yaml.stdout).expect("YAML");
    let kinds: Vec<&str> = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|item| item["kind"].as_str().expect("a kind"))
        .collect();
    assert_eq!(
        kinds,
        ["ImageRepository", "ImagePolicy", "ImageUpdateAutomation"]
    );
    assert_eq!(list["items"][1]["status"]["latestRef"]["tag"], "5.0.3");
    assert!(list["items"][0]["metadata"].get("managedFields").is_none());

    let json = sb
        .driftless(&["get", "images", "policy", "podinfo", "-o", "json"])
        .await
        .ok()
        .json();
    assert_eq!(json["spec"]["policy"]["semver"]["range"], "5.0.x");

    let missing = sb
        .driftless(&["get", "images", "update", "nope"])
        .await
        .code(1);
    assert!(
        missing.stderr.contains(
            "ImageUpdateAutomation flux-system/nope not found; list them with `driftless get images update -n flux-system`"
        ),
        "{missing:#?}"
    );

    // suspend/resume flip spec.suspend; a suspended object is not reconciled.
    let updates: Api<ImageUpdateAutomation> = Api::namespaced(client.clone(), "flux-system");
    let out = sb
        .driftless(&["suspend", "image", "update", "fleet"])
        .await
        .ok();
    assert!(
        out.stderr
            .contains("suspending ImageUpdateAutomation fleet in flux-system namespace"),
        "{out:#?}"
    );
    assert!(updates.get("fleet").await.expect("fleet").spec.suspend);
    let out = sb.driftless(&["get", "images", "update"]).await.ok();
    assert_eq!(cells(out.stdout.lines().nth(1).expect("a row"))[2], "True");
    let refused = sb
        .driftless(&["reconcile", "image", "update", "fleet"])
        .await
        .code(1);
    assert!(
        refused.stderr.contains(
            "ImageUpdateAutomation flux-system/fleet is suspended; resume it first with `driftless resume`"
        ),
        "{refused:#?}"
    );
    sb.driftless(&["resume", "image", "update", "fleet", "--no-wait"])
        .await
        .ok();
    let fleet = updates.get("fleet").await.expect("fleet");
    assert!(!fleet.spec.suspend);
    assert!(
        annotations::pending_reconcile_request(&fleet.metadata, None).is_some(),
        "resume requests a reconcile"
    );

    sb.driftless(&["suspend", "image", "policy", "--all"])
        .await
        .ok();
    assert!(policies.get("podinfo").await.expect("podinfo").spec.suspend);
    sb.driftless(&["suspend", "image", "repository", "podinfo"])
        .await
        .ok();
    let repos: Api<ImageRepository> = Api::namespaced(client, "flux-system");
    assert!(repos.get("podinfo").await.expect("podinfo").spec.suspend);

    // `get all` shows them too, as flux's does, and still works on a
    // cluster whose driftless predates the image CRDs.
    let out = sb.driftless(&["get", "all"]).await.ok();
    assert!(out.stdout.contains("imagepolicy/podinfo"), "{out:#?}");
    sb.kubectl(
        &[
            "delete",
            "crd",
            "imagepolicies.image.toolkit.fluxcd.io",
            "imageupdateautomations.image.toolkit.fluxcd.io",
        ],
        None,
    )
    .await
    .ok();
    let out = sb.driftless(&["get", "all"]).await.ok();
    assert!(out.stdout.contains("imagerepository/podinfo"), "{out:#?}");
    assert!(!out.stdout.contains("imagepolicy/"), "{out:#?}");
}

#[tokio::test]
async fn reconcile_image_waits_for_the_controller_and_reports_what_it_found() {
    let sb = installed("images-reconcile").await;
    create_all(&sb).await;

    let (out, ()) = tokio::join!(
        sb.driftless(&[
            "reconcile",
            "image",
            "repository",
            "podinfo",
            "--timeout=30s"
        ]),
        answer_reconcile::<ImageRepository>(
            &sb,
            "podinfo",
            "True",
            "successful scan: found 42 tags",
            json!({"lastScanResult": {"tagCount": 42, "scanTime": "2026-12-05T01:00:00Z"}}),
        )
    );
    let out = out.ok();
    for line in [
        "► annotating ImageRepository podinfo in flux-system namespace",
        "◎ waiting for ImageRepository reconciliation",
        "✔ scan fetched 42 tags",
    ] {
        assert!(out.stderr.contains(line), "{line}: {out:#?}");
    }

    let digest = "sha256:8704da90172710d422af855049175c1a8295731cbe2ad3b9a1c1074feecf8c10";
    let (out, ()) = tokio::join!(
        sb.driftless(&["reconcile", "image", "policy", "podinfo", "--timeout=30s"]),
        answer_reconcile::<ImagePolicy>(
            &sb,
            "podinfo",
            "True",
            "Latest image tag resolved to 5.0.3",
            json!({"latestRef": {"name": "ghcr.io/stefanprodan/podinfo", "tag": "5.0.3", "digest": digest}}),
        )
    );
    let out = out.ok();
    let selected = format!("✔ selected ref ghcr.io/stefanprodan/podinfo:5.0.3@{digest}");
    assert!(out.stderr.contains(&selected), "{out:#?}");

    let (out, ()) = tokio::join!(
        sb.driftless(&["reconcile", "image", "update", "fleet", "--timeout=30s"]),
        answer_reconcile::<ImageUpdateAutomation>(
            &sb,
            "fleet",
            "False",
            "cannot push to branch main: protected branch",
            json!({}),
        )
    );
    let out = out.code(1);
    assert!(
        out.stderr.contains(
            "ImageUpdateAutomation flux-system/fleet reconciliation failed: cannot push to branch main: protected branch"
        ),
        "{out:#?}"
    );

    // No controller answers: the wait gives up and says why.
    let out = sb
        .driftless(&["reconcile", "image", "update", "fleet", "--timeout=1s"])
        .await
        .code(1);
    assert!(
        out.stderr.contains("did not handle the reconcile request"),
        "{out:#?}"
    );
    let missing = sb
        .driftless(&["reconcile", "image", "repository", "nope"])
        .await
        .code(1);
    assert!(
        missing
            .stderr
            .contains("ImageRepository flux-system/nope not found"),
        "{missing:#?}"
    );
}
