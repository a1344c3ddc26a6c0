//! Flux's decryption around a real build: encrypted resources (any kind),
//! Secret values that are SOPS documents, and encrypted `secretGenerator`
//! sources, through the renderer's hook and in-memory sources.

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use driftless_decrypt::flux::DISABLE_ANNOTATION;
use driftless_decrypt::{Decryptor, Keyring};
use driftless_render::yaml::{Value, parse_documents};
use driftless_render::{FluxBuild, FluxBuildError, build_flux_with};
use serde_json::Value as Json;

fn fixture(path: &str) -> Vec<u8> {
    let full = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(path);
    std::fs::read(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

fn keyring() -> Keyring {
    let mut keys = Keyring::default();
    keys.add_secret_entry("a.agekey", &fixture("keys/a.agekey"))
        .expect("age key");
    keys
}

/// A source tree: an `apps` kustomization with encrypted resources and
/// generators.
fn source(kustomization: &str, extra: &[(&str, Vec<u8>)]) -> tempfile::TempDir {
    let root = tempfile::tempdir().expect("tempdir");
    let dir = root.path().join("apps");
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join("kustomization.yaml"), kustomization).expect("kustomization");
    let value_secret = format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: values\ndata:\n  types.json: {}\n  plain: aGVsbG8=\n",
        STANDARD.encode(fixture("enc/types.json"))
    );
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("secret.enc.yaml", fixture("enc/secret-data-only.yaml")),
        ("configmap.enc.yaml", fixture("enc/configmap.yaml")),
        ("values.yaml", value_secret.into_bytes()),
        ("app.enc.env", fixture("enc/app.env")),
        ("config.enc.ini", fixture("enc/config.ini")),
    ];
    for (name, bytes) in files.into_iter().chain(extra.iter().cloned()) {
        std::fs::write(dir.join(name), bytes).expect("file");
    }
    root
}

const KUSTOMIZATION: &str = "apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: prod
commonLabels:
  team: payments
resources:
- secret.enc.yaml
- configmap.enc.yaml
- values.yaml
secretGenerator:
- name: app-env
  envs:
  - app.enc.env
- name: files
  files:
  - config.ini=config.enc.ini
";

fn build(root: &Path, decryptor: &mut Decryptor) -> Result<Vec<Json>, FluxBuildError> {
    let sources = decryptor
        .decrypt_sources(root, Path::new("apps"), &[])
        .map_err(|e| FluxBuildError::Decrypt(e.into()))?;
    build_flux_with(
        &FluxBuild {
            source_root: root.to_path_buf(),
            path: "apps".into(),
            file_overrides: sources,
            substitute: Some(Default::default()),
            ..FluxBuild::default()
        },
        Some(decryptor),
    )
}

fn find<'a>(objects: &'a [Json], kind: &str, name_prefix: &str) -> &'a Json {
    objects
        .iter()
        .find(|o| {
            o["kind"] == kind
                && o["metadata"]["name"]
                    .as_str()
                    .is_some_and(|n| n.starts_with(name_prefix))
        })
        .unwrap_or_else(|| panic!("no {kind} {name_prefix}* in {objects:#?}"))
}

fn data(object: &Json, key: &str) -> String {
    let encoded = object["data"][key]
        .as_str()
        .unwrap_or_else(|| panic!("no data.{key}"));
    // Kustomize's generators wrap base64 at 70 columns.
    let joined: String = encoded.split('\n').collect();
    String::from_utf8(STANDARD.decode(joined).expect("base64")).expect("utf-8")
}

#[test]
fn a_build_decrypts_what_flux_decrypts() {
    let root = source(KUSTOMIZATION, &[]);
    let objects = build(root.path(), &mut Decryptor::new(keyring())).expect("build");

    // A whole encrypted Secret, verified against its file although the
    // build added a namespace and labels after encryption.
    let secret = find(&objects, "Secret", "db");
    assert_eq!(secret["stringData"]["username"], "admin");
    assert_eq!(
        secret["stringData"]["password"],
        "s3cr3t with spaces & symbols <>"
    );
    assert_eq!(secret["metadata"]["namespace"], "prod");
    assert!(secret.get("sops").is_none(), "{secret}");

    // Any kind carrying SOPS metadata.
    let configmap = find(&objects, "ConfigMap", "settings");
    assert_eq!(configmap["data"]["endpoint"], "https://db.apps.svc:5432");

    // A Secret value that is a SOPS document, decrypted into its key's format.
    let values = find(&objects, "Secret", "values");
    assert_eq!(
        data(values, "types.json"),
        String::from_utf8(fixture("plain/types.json")).expect("utf-8")
    );
    assert_eq!(data(values, "plain"), "hello");

    // secretGenerator sources decrypted before the build.
    let env = find(&objects, "Secret", "app-env-");
    assert_eq!(data(env, "DB_USER"), "admin");
    assert_eq!(data(env, "DB_PASS"), "p@ss=word");
    let files = find(&objects, "Secret", "files-");
    assert_eq!(
        data(files, "config.ini"),
        String::from_utf8(fixture("plain/config.ini")).expect("utf-8")
    );

    // Nothing was written to the source.
    let on_disk = std::fs::read(root.path().join("apps/app.enc.env")).expect("read");
    assert_eq!(on_disk, fixture("enc/app.env"));
}

#[test]
fn the_opt_out_annotation_keeps_an_object_encrypted() {
    let text = String::from_utf8(fixture("enc/configmap.yaml")).expect("utf-8");
    let mut object = parse_documents(&text).expect("yaml").remove(0);
    let mut decryptor = Decryptor::new(keyring());
    let mut disabled = object.clone();
    let annotations = Value::Map(
        [(DISABLE_ANNOTATION.to_owned(), Value::Str("Disabled".into()))]
            .into_iter()
            .collect(),
    );
    disabled
        .get_mut("metadata")
        .and_then(Value::as_map_mut)
        .expect("metadata")
        .insert("annotations".into(), annotations);
    let before = disabled.clone();
    decryptor.decrypt_object(&mut disabled).expect("skipped");
    assert_eq!(disabled, before);
    decryptor.decrypt_object(&mut object).expect("decrypted");
    assert_eq!(object.str_at(&["data", "color"]), Some("blue"));
}

#[test]
fn a_file_changed_after_encryption_fails_naming_it() {
    let changed = String::from_utf8(fixture("enc/configmap.yaml"))
        .expect("utf-8")
        .replace(
            "    name: settings\n",
            "    name: settings\n    labels:\n        added: later\n",
        );
    let root = source(
        KUSTOMIZATION,
        &[("configmap.enc.yaml", changed.into_bytes())],
    );
    let error = build(root.path(), &mut Decryptor::new(keyring())).expect_err("changed file");
    let text = chain(&error);
    assert!(
        text.contains("apps/configmap.enc.yaml") && text.contains("MAC"),
        "{text}"
    );
}

fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

#[test]
fn a_tampered_resource_or_source_fails_naming_the_file() {
    let tampered = String::from_utf8(fixture("enc/secret-data-only.yaml"))
        .expect("utf-8")
        .replace("name: db", "name: evil");
    let root = source(KUSTOMIZATION, &[("secret.enc.yaml", tampered.into_bytes())]);
    let error = build(root.path(), &mut Decryptor::new(keyring())).expect_err("tampered");
    let text = chain(&error);
    assert!(
        text.contains("apps/secret.enc.yaml") && text.contains("MAC"),
        "{text}"
    );

    let env = String::from_utf8(fixture("enc/app.env")).expect("utf-8");
    let at = env.find("DB_USER=ENC[AES256_GCM,data:").expect("value") + 28;
    let mut bytes = env.into_bytes();
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    let root = source(KUSTOMIZATION, &[("app.enc.env", bytes)]);
    let error = build(root.path(), &mut Decryptor::new(keyring())).expect_err("tampered env");
    let text = chain(&error);
    assert!(
        text.contains("apps/app.enc.env") && text.contains("DB_USER"),
        "{text}"
    );
    assert!(!text.contains("admin"), "{text}");
}

#[test]
fn without_the_key_the_build_fails_before_anything_is_rendered() {
    let mut other = Keyring::default();
    other
        .add_secret_entry("o.agekey", &fixture("keys/other.agekey"))
        .expect("key");
    let root = source(KUSTOMIZATION, &[]);
    let error = build(root.path(), &mut Decryptor::new(other)).expect_err("wrong key");
    let text = chain(&error);
    assert!(text.contains("no decryption key matches"), "{text}");
}
