//! ImageRepository and ImagePolicy end to end: chart versions pushed by the
//! real `helm push` to a real registry (`docker-registry` on loopback, with
//! and without htpasswd), scanned by an ImageRepository in the sandbox; a
//! new tag is seen on a reconcile request, the exclusion list applies, a
//! scan that finds the same tags writes nothing; wrong credentials and an
//! unreachable registry fail visibly and keep the last scan. Policies
//! (semver, alphabetical and numerical with `filterTags`) elect the tag
//! Flux would, follow new scans, ignore excluded and out-of-range tags,
//! reflect the registry's digest, and refuse another namespace's
//! repository unless its `accessFrom` admits them.

use std::process::Command;
use std::time::Duration;

use crate::common::Env;
use base64::Engine as _;
use driftless_api::{ImagePolicy, ImageRepository};
use driftless_testkit::cluster::eventually;
use driftless_testkit::registry::{Registry, RegistryOptions};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;

const NS: &str = "default";

/// Whether the real `helm` runs; says `SKIPPED` (or fails under
/// `DRIFTLESS_REQUIRE_SHARED=1`) when it does not.
fn helm_or_skip(test: &str) -> bool {
    let found = Command::new("helm")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var("DRIFTLESS_REQUIRE_SHARED").as_deref() != Ok("1"),
            "DRIFTLESS_REQUIRE_SHARED=1 but helm is not on PATH"
        );
        println!("SKIPPED: {test}: helm is not on PATH");
    }
    found
}

/// Packages a one-file chart `app` at each version and pushes it with the
/// real `helm push` to `registry` as `charts/app`: one tag per version.
fn helm_push(registry: &Registry, versions: &[&str]) {
    let home = tempfile::tempdir().expect("helm home");
    let helm = |args: &[&str]| {
        let out = Command::new("helm")
            .args(args)
            .env("HELM_CONFIG_HOME", home.path().join("config"))
            .env("HELM_CACHE_HOME", home.path().join("cache"))
            .env("HELM_DATA_HOME", home.path().join("data"))
            .env("HELM_REGISTRY_CONFIG", home.path().join("registry.json"))
            .output()
            .expect("helm runs");
        assert!(
            out.status.success(),
            "helm {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let chart = home.path().join("app");
    std::fs::create_dir_all(&chart).expect("chart dir");
    std::fs::write(
        chart.join("Chart.yaml"),
        "apiVersion: v2\nname: app\nversion: 0.0.0\n",
    )
    .expect("Chart.yaml");
    let out = home.path().join("packaged");
    let target = format!("oci://{}/charts", registry.host());
    for version in versions {
        let chart = chart.to_str().expect("utf8");
        let dir = out.to_str().expect("utf8");
        helm(&["package", chart, "--version", version, "-d", dir]);
        let tgz = out.join(format!("app-{version}.tgz"));
        helm(&["push", tgz.to_str().expect("utf8"), &target, "--plain-http"]);
    }
}

fn repositories(env: &Env) -> Api<ImageRepository> {
    Api::namespaced(env.client.clone(), NS)
}

fn policies(env: &Env, namespace: &str) -> Api<ImagePolicy> {
    Api::namespaced(env.client.clone(), namespace)
}

async fn apply<K>(api: &Api<K>, object: serde_json::Value)
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let name = object["metadata"]["name"]
        .as_str()
        .expect("name")
        .to_owned();
    api.patch(
        &name,
        &PatchParams::apply("test").force(),
        &Patch::Apply(object),
    )
    .await
    .expect("applied");
}

async fn merge<K>(api: &Api<K>, name: &str, patch: serde_json::Value)
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    api.patch(name, &PatchParams::default(), &Patch::Merge(patch))
        .await
        .expect("patched");
}

async fn request_reconcile<K>(api: &Api<K>, name: &str, token: &str)
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    merge(
        api,
        name,
        json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": token}}}),
    )
    .await;
}

fn image_repository(name: &str, image: &str, extra: serde_json::Value) -> serde_json::Value {
    let mut spec = json!({"image": image, "interval": "1h", "insecure": true});
    if let (Some(spec), Some(extra)) = (spec.as_object_mut(), extra.as_object()) {
        spec.extend(extra.clone());
    }
    json!({
        "apiVersion": "image.toolkit.fluxcd.io/v1",
        "kind": "ImageRepository",
        "metadata": {"name": name, "namespace": NS},
        "spec": spec,
    })
}

/// Waits until `check` accepts the repository, reporting its status otherwise.
async fn wait_repository(
    env: &Env,
    name: &str,
    what: &str,
    check: impl Fn(&ImageRepository) -> bool,
) -> ImageRepository {
    let api = repositories(env);
    eventually(what, || async {
        let repo = api.get(name).await.map_err(|e| e.to_string())?;
        if check(&repo) {
            Ok(repo)
        } else {
            Err(format!(
                "generation {:?}, spec {:?}, status {:?}",
                repo.metadata.generation, repo.spec, repo.status
            ))
        }
    })
    .await
}

fn ready(
    conditions: &[k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition],
) -> (String, String, String) {
    crate::common::ready_of(conditions).unwrap_or_default()
}

fn tag_count(repo: &ImageRepository) -> Option<i64> {
    repo.status
        .as_ref()?
        .last_scan_result
        .as_ref()
        .map(|r| r.tag_count)
}

fn tags_listed(registry: &Registry) -> usize {
    registry
        .requests()
        .iter()
        .filter(|r| r.starts_with("GET ") && r.contains("/tags/list"))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn scan_sees_new_tags_applies_exclusions_and_writes_nothing_when_unchanged() {
    let test = "ImageRepository scan";
    let Some(registry) = Registry::start_or_skip(&RegistryOptions::default(), test) else {
        return;
    };
    if !helm_or_skip(test) {
        return;
    }
    helm_push(&registry, &["1.0.0", "1.1.0"]);
    // A cosign-style signature tag, left out by Flux's default exclusion list.
    registry.tag(
        "charts/app",
        "1.0.0",
        &["sha256-abc.sig".to_owned(), "latest".to_owned()],
    );

    let env = Env::start().await;
    let api = repositories(&env);
    let image = format!("{}/charts/app", registry.host());
    apply(&api, image_repository("app", &image, json!({}))).await;
    let repo = wait_repository(&env, "app", "the first scan", |r| tag_count(r) == Some(3)).await;
    let status = repo.status.clone().expect("a status");
    let result = status.last_scan_result.clone().expect("a scan result");
    assert_eq!(result.latest_tags, ["latest", "1.1.0", "1.0.0"]);
    assert!(
        result.revision.starts_with("sha256:"),
        "{}",
        result.revision
    );
    assert_eq!(status.canonical_image_name.as_deref(), Some(image.as_str()));
    assert_eq!(status.observed_exclusion_list, [r"^.*\.sig$"]);
    assert_eq!(
        ready(repo.conditions()),
        (
            "True".to_owned(),
            "Succeeded".to_owned(),
            format!(
                "successful scan: found 3 tags with checksum {}",
                result.revision
            )
        )
    );
    let events = crate::common::event_messages(&env.client, NS, "app").await;
    assert!(
        events
            .iter()
            .any(|e| e.starts_with("Normal Succeeded: successful scan: found 3 tags")),
        "{events:?}"
    );

    // A new tag is seen on the next scan, here asked for.
    helm_push(&registry, &["1.2.0"]);
    request_reconcile(&api, "app", "new-tag").await;
    let repo = wait_repository(&env, "app", "the new tag", |r| tag_count(r) == Some(4)).await;
    let status = repo.status.clone().expect("a status");
    assert_eq!(status.last_handled_reconcile_at.as_deref(), Some("new-tag"));
    assert_eq!(
        status.last_scan_result.expect("a result").latest_tags,
        ["latest", "1.2.0", "1.1.0", "1.0.0"]
    );

    // Scanning every second: the registry is asked again and again, and the
    // object is not written while the tags stay the same.
    merge(&api, "app", json!({"spec": {"interval": "1s"}})).await;
    let repo = wait_repository(&env, "app", "the new generation observed", |r| {
        r.status.as_ref().and_then(|s| s.observed_generation) == r.metadata.generation
    })
    .await;
    let version = repo.metadata.resource_version.clone();
    let listed = tags_listed(&registry);
    tokio::time::sleep(Duration::from_secs(4)).await;
    let after = api.get("app").await.expect("the repository");
    assert!(
        tags_listed(&registry) >= listed + 2,
        "scans ran: {} then {}",
        listed,
        tags_listed(&registry)
    );
    assert_eq!(
        after.metadata.resource_version, version,
        "no write: {:?}",
        after.status
    );

    // Another exclusion list: the signature tag is back, 1.0.0 goes.
    merge(
        &api,
        "app",
        json!({"spec": {"interval": "1h", "exclusionList": ["^1\\.0\\."]}}),
    )
    .await;
    let repo = wait_repository(&env, "app", "the new exclusion list", |r| {
        r.status
            .as_ref()
            .is_some_and(|s| s.observed_exclusion_list == [r"^1\.0\."])
    })
    .await;
    let result = repo
        .status
        .expect("a status")
        .last_scan_result
        .expect("a result");
    assert_eq!(
        result.latest_tags,
        ["sha256-abc.sig", "latest", "1.2.0", "1.1.0"]
    );

    // Suspended: a requested scan does not run.
    merge(&api, "app", json!({"spec": {"suspend": true}})).await;
    helm_push(&registry, &["1.9.0"]);
    let listed = tags_listed(&registry);
    request_reconcile(&api, "app", "while-suspended").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let repo = api.get("app").await.expect("the repository");
    assert_eq!(tag_count(&repo), Some(4));
    assert_eq!(tags_listed(&registry), listed, "no scan while suspended");
    assert_eq!(
        repo.status
            .and_then(|s| s.last_handled_reconcile_at)
            .as_deref(),
        Some("new-tag")
    );

    // A pattern that is not a regular expression stalls, naming it; the
    // last scan stays.
    merge(
        &api,
        "app",
        json!({"spec": {"suspend": false, "exclusionList": ["(unclosed"]}}),
    )
    .await;
    let repo = wait_repository(&env, "app", "stalled on the bad pattern", |r| {
        driftless_api::conditions::is_true(r.conditions(), "Stalled")
    })
    .await;
    let (status, _, message) = ready(repo.conditions());
    assert_eq!(status, "False");
    assert!(
        message.contains("spec.exclusionList[0]: failed to compile regex (unclosed"),
        "{message}"
    );
    assert_eq!(tag_count(&repo), Some(4));
}

fn docker_config(host: &str, user: &str, password: &str) -> serde_json::Value {
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    let config = json!({"auths": {host: {"auth": auth}}}).to_string();
    json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "registry", "namespace": NS},
        "type": "kubernetes.io/dockerconfigjson",
        "data": {".dockerconfigjson": base64::engine::general_purpose::STANDARD.encode(config)},
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn wrong_credentials_and_an_unreachable_registry_fail_visibly_and_keep_the_last_scan() {
    const USER: &str = "flux";
    const PASSWORD: &str = "correct-horse-battery";
    const WRONG: &str = "wrong-password-zebra";
    let options = RegistryOptions {
        htpasswd: Some((USER.into(), PASSWORD.into())),
        ..RegistryOptions::default()
    };
    let Some(registry) = Registry::start_or_skip(&options, "ImageRepository credentials") else {
        return;
    };
    let auth = driftless_source::oci::OciAuth::Basic {
        username: USER.into(),
        password: PASSWORD.into(),
    };
    for tag in ["v1", "v2"] {
        let mut target = driftless_source::oci::OciTarget::new(registry.url("private/app"), tag);
        target.insecure = true;
        target.auth = auth.clone();
        let layer = driftless_source::oci::PushLayer {
            media_type: "application/vnd.test.layer.v1".to_owned(),
            data: tag.as_bytes().to_vec(),
        };
        driftless_source::oci::push(
            &target,
            "application/vnd.test.config.v1+json",
            b"{}".to_vec(),
            vec![layer],
            Default::default(),
        )
        .await
        .expect("pushed");
    }

    let env = Env::start().await;
    let secrets: Api<Secret> = Api::namespaced(env.client.clone(), NS);
    apply(&secrets, docker_config(&registry.host(), USER, PASSWORD)).await;
    let api = repositories(&env);
    let image = format!("{}/private/app", registry.host());
    apply(
        &api,
        image_repository(
            "private",
            &image,
            json!({"secretRef": {"name": "registry"}}),
        ),
    )
    .await;
    wait_repository(&env, "private", "a scan with credentials", |r| {
        tag_count(r) == Some(2)
    })
    .await;

    apply(&secrets, docker_config(&registry.host(), USER, WRONG)).await;
    request_reconcile(&api, "private", "wrong").await;
    let repo = wait_repository(&env, "private", "refused credentials", |r| {
        ready(r.conditions()).0 == "False"
    })
    .await;
    let (_, reason, message) = ready(repo.conditions());
    assert_eq!(reason, "ReadOperationFailed");
    assert!(message.contains("authentication"), "{message}");
    assert!(message.contains("spec.secretRef"), "{message}");
    assert!(
        !message.contains(WRONG) && !message.contains(PASSWORD),
        "{message}"
    );
    assert_eq!(tag_count(&repo), Some(2), "the last scan stays");
    let reconciling =
        driftless_api::conditions::find(repo.conditions(), "Reconciling").expect("Reconciling");
    assert_eq!(reconciling.reason, "ProgressingWithRetry");
    let events = crate::common::event_messages(&env.client, NS, "private").await;
    assert!(
        events
            .iter()
            .any(|e| e.starts_with("Warning ReadOperationFailed: scan failed")),
        "{events:?}"
    );
    assert!(events.iter().all(|e| !e.contains(WRONG)), "{events:?}");

    // The registry goes away: the scan says it cannot reach it, and the
    // last scan still stands.
    apply(&secrets, docker_config(&registry.host(), USER, PASSWORD)).await;
    drop(registry);
    request_reconcile(&api, "private", "gone").await;
    let repo = wait_repository(&env, "private", "an unreachable registry", |r| {
        ready(r.conditions()).2.contains("cannot reach")
    })
    .await;
    let (status, reason, message) = ready(repo.conditions());
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("False", "ReadOperationFailed")
    );
    assert!(message.contains("spec.image"), "{message}");
    assert_eq!(tag_count(&repo), Some(2), "the last scan stays");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_image_with_a_tag_stalls() {
    let env = Env::start().await;
    let api = repositories(&env);
    apply(
        &api,
        image_repository("tagged", "ghcr.io/org/app:v1", json!({})),
    )
    .await;
    let repo = wait_repository(&env, "tagged", "stalled", |r| {
        driftless_api::conditions::is_true(r.conditions(), "Stalled")
    })
    .await;
    let (status, reason, message) = ready(repo.conditions());
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("False", "ImageURLInvalid")
    );
    assert!(message.contains("remove ':v1'"), "{message}");
}

fn image_policy(name: &str, namespace: &str, spec: serde_json::Value) -> serde_json::Value {
    json!({
        "apiVersion": "image.toolkit.fluxcd.io/v1",
        "kind": "ImagePolicy",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    })
}

/// Waits until `check` accepts the policy, reporting its status otherwise.
async fn wait_policy(
    api: &Api<ImagePolicy>,
    name: &str,
    what: &str,
    check: impl Fn(&ImagePolicy) -> bool,
) -> ImagePolicy {
    eventually(what, || async {
        let policy = api.get(name).await.map_err(|e| e.to_string())?;
        if check(&policy) {
            Ok(policy)
        } else {
            Err(format!("{:?}", policy.status))
        }
    })
    .await
}

fn latest_tag(policy: &ImagePolicy) -> Option<&str> {
    policy.latest_ref().map(|r| r.tag.as_str())
}

/// The registry's digest of `repository:tag`: SHA-256 of the manifest it serves.
fn registry_digest(registry: &Registry, repository: &str, tag: &str) -> String {
    use sha2::Digest as _;
    let (_, manifest) = registry.manifest(repository, tag);
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(&manifest)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn policies_elect_follow_new_scans_ignore_excluded_tags_and_reflect_digests() {
    let test = "ImagePolicy";
    let Some(registry) = Registry::start_or_skip(&RegistryOptions::default(), test) else {
        return;
    };
    if !helm_or_skip(test) {
        return;
    }
    helm_push(&registry, &["1.0.0", "1.1.0", "2.0.0"]);
    let builds = ["main-9-aaa", "main-10-bbb", "dev-99-ccc"].map(String::from);
    registry.tag("charts/app", "1.0.0", &builds);

    let env = Env::start().await;
    let api = policies(&env, NS);
    let image = format!("{}/charts/app", registry.host());
    // The policy first: it waits for its repository.
    let semver = json!({"imageRepositoryRef": {"name": "app"}, "policy": {"semver": {"range": ">=1.0.0 <2.0.0"}}});
    apply(&api, image_policy("semver", NS, semver)).await;
    let waiting = wait_policy(&api, "semver", "waiting for the repository", |p| {
        ready(p.conditions()).1 == "DependencyNotReady"
    })
    .await;
    assert!(
        ready(waiting.conditions()).2.contains("does not exist"),
        "{:?}",
        waiting.status
    );

    let repo = image_repository(
        "app",
        &image,
        json!({"exclusionList": ["^.*\\.sig$", "^1\\.5\\."]}),
    );
    apply(&repositories(&env), repo).await;
    let policy = wait_policy(&api, "semver", "semver elects 1.1.0", |p| {
        latest_tag(p) == Some("1.1.0")
    })
    .await;
    let latest = policy.latest_ref().expect("latestRef");
    assert_eq!(
        (latest.name.as_str(), latest.digest.as_str()),
        (image.as_str(), "")
    );
    assert_eq!(
        ready(policy.conditions()),
        (
            "True".to_owned(),
            "Succeeded".to_owned(),
            format!("Latest image tag for {image} resolved to 1.1.0")
        )
    );

    for (name, spec, want) in [
        (
            "numerical",
            json!({"imageRepositoryRef": {"name": "app"}, "policy": {"numerical": {"order": "asc"}},
                   "filterTags": {"pattern": "^main-(?P<n>\\d+)-", "extract": "$n"}}),
            "main-10-bbb",
        ),
        (
            "alphabetical",
            json!({"imageRepositoryRef": {"name": "app"}, "policy": {"alphabetical": {"order": "asc"}},
                   "filterTags": {"pattern": "^main-"}}),
            "main-9-aaa",
        ),
        (
            "digest",
            json!({"imageRepositoryRef": {"name": "app"}, "policy": {"semver": {"range": "^1"}},
                   "digestReflectionPolicy": "Always", "interval": "1h"}),
            "1.1.0",
        ),
    ] {
        apply(&api, image_policy(name, NS, spec)).await;
        wait_policy(&api, name, &format!("{name} elects {want}"), |p| {
            latest_tag(p) == Some(want)
        })
        .await;
    }
    let digest = api.get("digest").await.expect("digest policy");
    assert_eq!(
        digest.latest_ref().map(|r| r.digest.clone()),
        Some(registry_digest(&registry, "charts/app", "1.1.0"))
    );

    // A new tag in range: the next scan moves the policies.
    helm_push(&registry, &["1.2.0"]);
    request_reconcile(&repositories(&env), "app", "new-tag").await;
    let policy = wait_policy(&api, "semver", "semver elects 1.2.0", |p| {
        latest_tag(p) == Some("1.2.0")
    })
    .await;
    let status = policy.status.clone().expect("a status");
    assert_eq!(
        status.observed_previous_ref.map(|r| r.tag),
        Some("1.1.0".to_owned())
    );
    let want = format!("Latest image tag for {image} resolved to 1.2.0 (previously {image}:1.1.0)");
    assert_eq!(ready(policy.conditions()).2, want);
    let events = crate::common::event_messages(&env.client, NS, "semver").await;
    assert!(
        events.contains(&format!("Normal Succeeded: {want}")),
        "{events:?}"
    );
    let digest = wait_policy(&api, "digest", "the digest follows", |p| {
        latest_tag(p) == Some("1.2.0")
    })
    .await;
    assert_eq!(
        digest.latest_ref().map(|r| r.digest.clone()),
        Some(registry_digest(&registry, "charts/app", "1.2.0"))
    );

    // An excluded tag and a tag out of range change nothing.
    let version = api
        .get("semver")
        .await
        .expect("semver")
        .metadata
        .resource_version;
    helm_push(&registry, &["1.5.0", "2.1.0"]);
    request_reconcile(&repositories(&env), "app", "ignored-tags").await;
    wait_repository(&env, "app", "the scan with 2.1.0", |r| {
        r.status
            .as_ref()
            .and_then(|s| s.last_handled_reconcile_at.as_deref())
            == Some("ignored-tags")
            && r.status
                .as_ref()
                .and_then(|s| s.last_scan_result.as_ref())
                .is_some_and(|s| s.latest_tags.contains(&"2.1.0".to_owned()))
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let policy = api.get("semver").await.expect("semver");
    assert_eq!(latest_tag(&policy), Some("1.2.0"));
    assert_eq!(
        policy.metadata.resource_version, version,
        "{:?}",
        policy.status
    );

    // A range that does not parse stalls, naming the field.
    merge(
        &api,
        "semver",
        json!({"spec": {"policy": {"semver": {"range": "not a range"}}}}),
    )
    .await;
    let policy = wait_policy(&api, "semver", "stalled on the range", |p| {
        driftless_api::conditions::is_true(p.conditions(), "Stalled")
    })
    .await;
    let (_, reason, message) = ready(policy.conditions());
    assert_eq!(reason, "InvalidPolicy");
    assert!(message.contains("spec.policy.semver.range"), "{message}");
    assert_eq!(
        latest_tag(&policy),
        Some("1.2.0"),
        "the last election stays"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn another_namespace_s_repository_needs_its_access_from() {
    let test = "ImagePolicy across namespaces";
    let Some(registry) = Registry::start_or_skip(&RegistryOptions::default(), test) else {
        return;
    };
    if !helm_or_skip(test) {
        return;
    }
    helm_push(&registry, &["1.0.0"]);
    let env = Env::start().await;
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(env.client.clone());
    for name in ["images", "team"] {
        apply(
            &namespaces,
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}),
        )
        .await;
    }
    let repos: Api<ImageRepository> = Api::namespaced(env.client.clone(), "images");
    let image = format!("{}/charts/app", registry.host());
    let mut repo = image_repository("app", &image, json!({}));
    repo["metadata"]["namespace"] = json!("images");
    apply(&repos, repo.clone()).await;
    let api = policies(&env, "team");
    let spec = json!({"imageRepositoryRef": {"name": "app", "namespace": "images"}, "policy": {"semver": {"range": "*"}}});
    apply(&api, image_policy("app", "team", spec)).await;
    let denied = |needle: &'static str| {
        move |p: &ImagePolicy| {
            let (_, reason, message) = ready(p.conditions());
            reason == "AccessDenied" && message.contains(needle)
        }
    };
    let policy = wait_policy(
        &api,
        "app",
        "refused without accessFrom",
        denied("missing ACL labels"),
    )
    .await;
    assert_eq!(
        ready(policy.conditions()).2,
        "failed to get the referred ImageRepository: access denied: 'images/app' can't be accessed due to missing ACL labels on 'accessFrom'"
    );
    assert_eq!(latest_tag(&policy), None);

    // An accessFrom the team's namespace does not match: still refused.
    repo["spec"]["accessFrom"] =
        json!({"namespaceSelectors": [{"matchLabels": {"tenant": "team"}}]});
    apply(&repos, repo).await;
    wait_policy(
        &api,
        "app",
        "refused on a label mismatch",
        denied("labels mismatch on namespace 'team'"),
    )
    .await;

    // The namespace gets the label: allowed.
    merge(
        &namespaces,
        "team",
        json!({"metadata": {"labels": {"tenant": "team"}}}),
    )
    .await;
    request_reconcile(&api, "app", "labelled").await;
    let policy = wait_policy(&api, "app", "allowed", |p| latest_tag(p) == Some("1.0.0")).await;
    assert_eq!(ready(policy.conditions()).0, "True");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_restarted_controller_rescans_and_keeps_policies_ready() {
    let test = "ImagePolicy across a restart";
    let Some(registry) = Registry::start_or_skip(&RegistryOptions::default(), test) else {
        return;
    };
    if !helm_or_skip(test) {
        return;
    }
    helm_push(&registry, &["1.0.0", "1.1.0"]);
    let env = Env::without_controller().await;
    let controller = env.spawn_controller(|_| {}).await;
    let image = format!("{}/charts/app", registry.host());
    apply(
        &repositories(&env),
        image_repository("app", &image, json!({})),
    )
    .await;
    wait_repository(&env, "app", "the first scan", |r| tag_count(r) == Some(2)).await;
    let api = policies(&env, NS);
    let spec =
        json!({"imageRepositoryRef": {"name": "app"}, "policy": {"semver": {"range": "^1"}}});
    apply(&api, image_policy("app", NS, spec)).await;
    wait_policy(&api, "app", "1.1.0 elected", |p| {
        latest_tag(p) == Some("1.1.0")
    })
    .await;

    // A tag pushed while the controller is down is elected after the restart.
    controller.stop().await;
    helm_push(&registry, &["1.2.0"]);
    let controller = env.spawn_controller(|_| {}).await;
    wait_policy(&api, "app", "1.2.0 elected", |p| {
        latest_tag(p) == Some("1.2.0")
    })
    .await;

    // A restart that finds the same tags writes nothing, to either object.
    controller.stop().await;
    let repo_version = repositories(&env)
        .get("app")
        .await
        .expect("repo")
        .metadata
        .resource_version;
    let policy_version = api
        .get("app")
        .await
        .expect("policy")
        .metadata
        .resource_version;
    let listed = tags_listed(&registry);
    let _controller = env.spawn_controller(|_| {}).await;
    eventually("the rescan after the restart", || async {
        (tags_listed(&registry) > listed)
            .then_some(())
            .ok_or_else(|| "no tag listing yet".to_owned())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let policy = api.get("app").await.expect("policy");
    assert_eq!(
        policy.metadata.resource_version, policy_version,
        "{:?}",
        policy.status
    );
    let repo = repositories(&env).get("app").await.expect("repo");
    assert_eq!(
        repo.metadata.resource_version, repo_version,
        "{:?}",
        repo.status
    );

    // The policy never waited visibly for its repository.
    let events = crate::common::event_messages(&env.client, NS, "app").await;
    assert!(
        events.iter().all(|e| !e.contains("DependencyNotReady")),
        "{events:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_tls_registry_is_trusted_through_cert_secret_ref() {
    let key_pair = rcgen::KeyPair::generate().expect("key");
    let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .expect("params")
        .self_signed(&key_pair)
        .expect("certificate");
    let options = RegistryOptions {
        tls: Some((cert.pem(), key_pair.serialize_pem())),
        ..RegistryOptions::default()
    };
    let Some(registry) = Registry::start_or_skip(&options, "ImageRepository over TLS") else {
        return;
    };
    let ca = cert.pem().into_bytes();
    let mut target = driftless_source::oci::OciTarget::new(registry.url("tls/app"), "v1");
    target.ca_pem = Some(ca.clone());
    let layer = driftless_source::oci::PushLayer {
        media_type: "application/vnd.test.layer.v1".to_owned(),
        data: b"v1".to_vec(),
    };
    driftless_source::oci::push(
        &target,
        "application/vnd.test.config.v1+json",
        b"{}".to_vec(),
        vec![layer],
        Default::default(),
    )
    .await
    .expect("pushed over TLS");

    let env = Env::start().await;
    let api = repositories(&env);
    let image = format!("{}/tls/app", registry.host());
    let mut repo = image_repository("tls", &image, json!({}));
    repo["spec"]["insecure"] = json!(false);
    apply(&api, repo.clone()).await;
    let failed = wait_repository(&env, "tls", "refused: unknown CA", |r| {
        ready(r.conditions()).0 == "False"
    })
    .await;
    let message = ready(failed.conditions()).2;
    assert!(message.contains("cannot reach"), "{message}");
    assert!(message.contains("spec.certSecretRef"), "{message}");

    let secrets: Api<Secret> = Api::namespaced(env.client.clone(), NS);
    apply(
        &secrets,
        json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "registry-ca", "namespace": NS},
            "data": {"ca.crt": base64::engine::general_purpose::STANDARD.encode(&ca)},
        }),
    )
    .await;
    repo["spec"]["certSecretRef"] = json!({"name": "registry-ca"});
    apply(&api, repo).await;
    let scanned =
        wait_repository(&env, "tls", "a scan over TLS", |r| tag_count(r) == Some(1)).await;
    assert_eq!(ready(scanned.conditions()).0, "True");
}
