//! What the image automation tests share: tags pushed to a real registry,
//! objects created from JSON, and the heads of the fixture's branches.

use std::path::Path;

use driftless_source::oci::{OciTarget, pack_directory, push_flux_artifact};
use driftless_testkit::git;
use driftless_testkit::registry::Registry;
use kube::api::{Api, PostParams};

use super::world::NS;

/// Pushes a small artifact to `<registry>/apps/web:<tag>`.
pub async fn push_tag(registry: &Registry, tag: &str) {
    let dir = tempfile::tempdir().expect("content dir");
    std::fs::write(dir.path().join("tag"), tag).expect("content");
    let content = pack_directory(dir.path(), None, 1 << 20).expect("packed");
    let mut target = OciTarget::new(registry.url("apps/web"), tag);
    target.insecure = true;
    push_flux_artifact(&target, content, "https://example.com/web", tag)
        .await
        .expect("pushed");
}

/// Creates `object` (JSON of kind `K`) in the test namespace.
pub async fn create<K>(client: &kube::Client, object: serde_json::Value)
where
    K: kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + serde::de::DeserializeOwned
        + serde::Serialize
        + Clone
        + std::fmt::Debug,
{
    let object: K = serde_json::from_value(object).expect("a valid object");
    Api::<K>::namespaced(client.clone(), NS)
        .create(&PostParams::default(), &object)
        .await
        .expect("created");
}

/// The head of `main` in the bare repository.
pub fn head(bare: &Path) -> String {
    git::git(bare, &["rev-parse", "main"])
}

/// The head of `branch` in the bare repository, if the branch exists.
pub fn branch_head(bare: &Path, branch: &str) -> Option<String> {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(bare)
        .args([
            "rev-parse",
            "--verify",
            "-q",
            &format!("refs/heads/{branch}"),
        ])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}
