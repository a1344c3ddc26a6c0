//! `driftless create secret git|sops`: Secrets in the keys Flux reads —
//! git credentials for a GitRepository's `secretRef`, and SOPS keys (age
//! identities as `*.agekey`, OpenPGP private keys as `*.asc`) for a
//! Kustomization's `spec.decryption.secretRef`. Key material is only read
//! from files and written into the Secret, never printed except by
//! `--export`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, Patch, PatchParams};

use crate::cluster::{GlobalArgs, api_error, connect};
use crate::output::{Progress, write_stdout, yaml_stream};

#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("auth").args(["username", "bearer_token", "private_key_file"]).required(true).multiple(false)))]
pub struct SecretGitArgs {
    /// The name of the Secret.
    pub name: String,
    /// Basic auth user name (with --password).
    #[arg(long, requires = "password")]
    username: Option<String>,
    /// Basic auth password or token (with --username).
    #[arg(long, requires = "username")]
    password: Option<String>,
    /// A bearer token (HTTPS).
    #[arg(long)]
    bearer_token: Option<String>,
    /// A private key file (SSH).
    #[arg(long, value_name = "FILE")]
    private_key_file: Option<PathBuf>,
    /// A known_hosts file for the SSH host (with --private-key-file).
    #[arg(long, value_name = "FILE", requires = "private_key_file")]
    known_hosts_file: Option<PathBuf>,
    /// Print the Secret as YAML instead of applying it.
    #[arg(long)]
    pub export: bool,
}

/// The Secret of git credentials `args` describe, in Flux's keys.
pub fn git_secret(namespace: &str, args: &SecretGitArgs) -> anyhow::Result<Secret> {
    let mut data = BTreeMap::new();
    if let (Some(username), Some(password)) = (&args.username, &args.password) {
        data.insert("username".to_string(), username.clone());
        data.insert("password".to_string(), password.clone());
    }
    if let Some(token) = &args.bearer_token {
        data.insert("bearerToken".to_string(), token.clone());
    }
    if let Some(path) = &args.private_key_file {
        let key = std::fs::read_to_string(path).with_context(|| {
            format!(
                "cannot read the private key {}; check --private-key-file",
                path.display()
            )
        })?;
        data.insert("identity".to_string(), key);
    }
    if let Some(path) = &args.known_hosts_file {
        let hosts = std::fs::read_to_string(path).with_context(|| {
            format!(
                "cannot read the known hosts {}; check --known-hosts-file",
                path.display()
            )
        })?;
        data.insert("known_hosts".to_string(), hosts);
    }
    Ok(opaque_secret(namespace, &args.name, data))
}

/// An `Opaque` Secret holding `data` as `stringData`.
fn opaque_secret(namespace: &str, name: &str, data: BTreeMap<String, String>) -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            namespace: Some(namespace.to_owned()),
            ..Default::default()
        },
        type_: Some("Opaque".to_owned()),
        string_data: Some(data),
        ..Default::default()
    }
}

/// Prints `secret` (`export`) or server-side applies it.
pub async fn apply_secret(global: &GlobalArgs, secret: Secret, export: bool) -> anyhow::Result<()> {
    let name = secret.metadata.name.clone().unwrap_or_default();
    let mut body = serde_json::to_value(&secret)
        .context("internal error: cannot serialize the Secret; please report this")?;
    body["apiVersion"] = "v1".into();
    body["kind"] = "Secret".into();
    if export {
        return write_stdout(&yaml_stream(&[body])?);
    }
    let cluster = connect(global).await?;
    let progress = Progress::new();
    progress.action(&format!("applying Secret {name}"));
    // Applied as `data` so the result does not depend on the server
    // converting `stringData`.
    let data: BTreeMap<String, k8s_openapi::ByteString> = secret
        .string_data
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, k8s_openapi::ByteString(v.into_bytes())))
        .collect();
    body.as_object_mut().map(|m| m.remove("stringData"));
    body["data"] = serde_json::to_value(data)
        .context("internal error: cannot serialize the Secret; please report this")?;
    let api: Api<Secret> = Api::namespaced(cluster.client.clone(), &cluster.namespace);
    api.patch(
        &name,
        &PatchParams::apply(driftless_api::managers::CLI).force(),
        &Patch::Apply(&body),
    )
    .await
    .map_err(|err| api_error(err, &cluster.server))
    .with_context(|| format!("cannot apply Secret {}/{}", cluster.namespace, name))?;
    progress.success(&format!(
        "Secret {} applied in {} namespace",
        name, cluster.namespace
    ));
    Ok(())
}

/// `create secret sops`.
#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("keys").args(["age_key_file", "gpg_key_file"]).required(true).multiple(true)))]
pub struct SecretSopsArgs {
    /// The name of the Secret.
    pub name: String,
    /// A file of age identities (`AGE-SECRET-KEY-1…`, as `age-keygen` writes), repeated for more.
    #[arg(long, value_name = "FILE")]
    pub age_key_file: Vec<PathBuf>,
    /// An ASCII-armored OpenPGP private key (`gpg --export-secret-keys --armor`), repeated for more.
    #[arg(long, value_name = "FILE")]
    pub gpg_key_file: Vec<PathBuf>,
    /// Print the Secret as YAML instead of applying it.
    #[arg(long)]
    pub export: bool,
}

/// The Secret of SOPS keys `args` name: each age file as
/// `<stem>.agekey`, each OpenPGP key as `<stem>.asc`, the names Flux's
/// decryption looks for.
pub fn sops_secret(namespace: &str, args: &SecretSopsArgs) -> anyhow::Result<Secret> {
    let mut data = BTreeMap::new();
    for (files, extension, marker, flag, what) in [
        (
            &args.age_key_file,
            "agekey",
            "AGE-SECRET-KEY-1",
            "--age-key-file",
            "age identities (AGE-SECRET-KEY-1…, as age-keygen writes them)",
        ),
        (
            &args.gpg_key_file,
            "asc",
            "-----BEGIN PGP PRIVATE KEY BLOCK-----",
            "--gpg-key-file",
            "an armored OpenPGP private key (gpg --export-secret-keys --armor)",
        ),
    ] {
        for path in files {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}; check {flag}", path.display()))?;
            if !text.contains(marker) {
                bail!(
                    "{} holds no {what}; check {flag} (a public key or recipient is not enough to decrypt)",
                    path.display()
                );
            }
            let key = format!("{}.{extension}", key_stem(path, extension));
            if data.insert(key.clone(), text).is_some() {
                bail!("two key files would both be stored as {key}; rename one of them");
            }
        }
    }
    Ok(opaque_secret(namespace, &args.name, data))
}

/// The file's name without its extension (`keys/prod.agekey` → `prod`),
/// or the key type for names that say nothing (`/dev/stdin` → `age`).
fn key_stem(path: &Path, extension: &str) -> String {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    if stem.is_empty() || stem == "stdin" || stem.starts_with('.') {
        if extension == "agekey" { "age" } else { "sops" }.to_owned()
    } else {
        stem
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sops_keys_are_stored_under_flux_names_and_checked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let age = dir.path().join("prod.txt");
        std::fs::write(&age, "# created: now\nAGE-SECRET-KEY-1QQQQ\n").expect("write");
        let public = dir.path().join("public.asc");
        std::fs::write(&public, "-----BEGIN PGP PUBLIC KEY BLOCK-----\n").expect("write");
        let args = SecretSopsArgs {
            name: "sops-keys".into(),
            age_key_file: vec![age.clone()],
            gpg_key_file: Vec::new(),
            export: true,
        };
        let secret = sops_secret("flux-system", &args).expect("a Secret");
        let data = secret.string_data.expect("data");
        assert_eq!(data.keys().collect::<Vec<_>>(), ["prod.agekey"]);
        let wrong = SecretSopsArgs {
            gpg_key_file: vec![public],
            ..args
        };
        let err = sops_secret("flux-system", &wrong).expect_err("a public key");
        assert!(err.to_string().contains("public key"), "{err}");
        assert_eq!(key_stem(Path::new("/dev/stdin"), "agekey"), "age");
    }
}
