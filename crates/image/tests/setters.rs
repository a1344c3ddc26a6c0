//! The setters against a fixture tree: `fixtures/setters/original` is
//! copied to a temporary checkout, updated, and must equal
//! `fixtures/setters/expected` byte for byte, with untouched files not
//! rewritten at all.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use driftless_image::setters::{
    Change, Error, ImageRef, ObjectIdentifier, PolicyRef, update_with_setters,
};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/setters")
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create dir");
    for entry in std::fs::read_dir(from).expect("read fixture dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy fixture");
        }
    }
}

fn files(root: &Path) -> BTreeMap<String, (Vec<u8>, SystemTime)> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, (Vec<u8>, SystemTime)>) {
        for entry in std::fs::read_dir(dir).expect("read dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path.strip_prefix(root).expect("under root");
                let mtime = std::fs::metadata(&path)
                    .and_then(|m| m.modified())
                    .expect("mtime");
                out.insert(
                    rel.to_string_lossy().into_owned(),
                    (std::fs::read(&path).expect("read"), mtime),
                );
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

fn policies() -> BTreeMap<PolicyRef, ImageRef> {
    let image = |name: &str, tag: &str, digest: Option<&str>| ImageRef {
        name: name.into(),
        tag: tag.into(),
        digest: digest.map(Into::into),
    };
    BTreeMap::from([
        (
            PolicyRef::new("flux-system", "web"),
            image("ghcr.io/acme/web", "1.2.0", Some("sha256:abc")),
        ),
        (
            PolicyRef::new("flux-system", "proxy"),
            image("ghcr.io/acme/proxy", "2.1", None),
        ),
        (
            PolicyRef::new("flux-system", "build"),
            image("ghcr.io/acme/build", "1606364286", None),
        ),
    ])
}

fn object(api_version: &str, kind: &str, name: &str, namespace: &str) -> ObjectIdentifier {
    ObjectIdentifier {
        api_version: api_version.into(),
        kind: kind.into(),
        name: name.into(),
        namespace: namespace.into(),
    }
}

fn change(old: &str, new: &str, setter: &str) -> Change {
    Change {
        old_value: old.into(),
        new_value: new.into(),
        setter: setter.into(),
    }
}

#[test]
fn fixture_tree_is_updated_in_place() {
    let tmp = tempfile::tempdir().expect("tempdir");
    copy_tree(&fixtures().join("original"), tmp.path());
    let before = files(tmp.path());
    // Make a rewrite of an unchanged file visible in its mtime.
    std::thread::sleep(std::time::Duration::from_millis(20));

    let result = update_with_setters(tmp.path(), "", &policies()).expect("update");

    let after = files(tmp.path());
    let expected = files(&fixtures().join("expected"));
    assert_eq!(
        after.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>()
    );
    for (name, (bytes, _)) in &expected {
        assert_eq!(
            String::from_utf8_lossy(&after[name].0),
            String::from_utf8_lossy(bytes),
            "{name}"
        );
    }
    for (name, (bytes, mtime)) in &before {
        if *bytes == after[name].0 {
            assert_eq!(
                *mtime, after[name].1,
                "{name} was rewritten without a change"
            );
        }
    }

    let changed: Vec<&str> = result.file_changes.keys().map(String::as_str).collect();
    assert_eq!(
        changed,
        [
            "apps/.hidden/app.yml",
            "apps/crlf.yaml",
            "apps/deploy.yaml",
            "helm/release.yaml",
            "helm/values.yaml",
            "kustomize/Kustomization",
            "kustomize/kustomization.yaml",
        ]
    );
    let web = "ghcr.io/acme/web:1.2.0@sha256:abc";
    let deploy = &result.file_changes["apps/deploy.yaml"];
    assert_eq!(
        deploy[&object("apps/v1", "Deployment", "web", "apps")],
        [
            change("ghcr.io/acme/web:1.0.0", web, "flux-system:web"),
            change("ghcr.io/acme/web:1.0.0", web, "flux-system:web"),
            change(
                "ghcr.io/acme/proxy:2.0",
                "ghcr.io/acme/proxy:2.1",
                "flux-system:proxy"
            ),
        ]
    );
    assert_eq!(
        deploy[&object("batch/v1", "CronJob", "report", "apps")],
        [
            change("ghcr.io/acme/web:0.9.0", web, "flux-system:web"),
            change("ghcr.io/acme/web:0.9.0", web, "flux-system:web"),
        ]
    );
    assert_eq!(deploy.len(), 2, "the Service has no change");
    let kustomization = object("kustomize.config.k8s.io/v1beta1", "Kustomization", "", "");
    assert_eq!(
        result.file_changes["kustomize/kustomization.yaml"][&kustomization],
        [
            change(
                "ghcr.io/acme/old",
                "ghcr.io/acme/web",
                "flux-system:web:name"
            ),
            change("v1", "1.2.0", "flux-system:web:tag"),
            change("sha256:0000", "sha256:abc", "flux-system:web:digest"),
        ]
    );
    assert_eq!(
        result.file_changes["helm/values.yaml"][&ObjectIdentifier::default()],
        [
            change(
                "ghcr.io/acme/old",
                "ghcr.io/acme/web",
                "flux-system:web:name"
            ),
            change("1.0.0", "1.2.0", "flux-system:web:tag"),
            change("", "sha256:abc", "flux-system:web:digest"),
            change("1606234201", "1606364286", "flux-system:build:tag"),
        ]
    );

    let skipped: Vec<&str> = result.skipped.iter().map(|s| s.file.as_str()).collect();
    assert_eq!(skipped, ["apps/broken.yaml"]);
    let ignored: Vec<(&str, usize)> = result
        .ignored_markers
        .iter()
        .map(|m| (m.file.as_str(), m.line))
        .collect();
    assert_eq!(
        ignored,
        [
            ("apps/bad-markers.yaml", 7),
            ("apps/bad-markers.yaml", 8),
            ("apps/bad-markers.yaml", 9),
            ("apps/bad-markers.yaml", 10),
        ]
    );
    assert!(result.ignored_markers[1].reason.contains("no namespace"));
    assert!(result.ignored_markers[2].reason.contains("unknown field"));

    // Flux's views over the result.
    assert!(
        result
            .changes()
            .contains(&change("v1", "1.2.0", "flux-system:web:tag"))
    );
    assert_eq!(result.objects()[&kustomization].len(), 4);

    // A second run finds nothing to do and touches nothing.
    let again = update_with_setters(tmp.path(), "", &policies()).expect("update again");
    assert!(again.is_empty());
}

#[test]
fn update_path_limits_the_files_and_names_them_relative_to_it() {
    let tmp = tempfile::tempdir().expect("tempdir");
    copy_tree(&fixtures().join("original"), tmp.path());
    let result = update_with_setters(tmp.path(), "./helm/", &policies()).expect("update");
    let changed: Vec<&str> = result.file_changes.keys().map(String::as_str).collect();
    assert_eq!(changed, ["release.yaml", "values.yaml"]);
    let untouched = std::fs::read(tmp.path().join("apps/deploy.yaml")).expect("read");
    let original = std::fs::read(fixtures().join("original/apps/deploy.yaml")).expect("read");
    assert_eq!(untouched, original);
    // A single file works too.
    let one = update_with_setters(tmp.path(), "kustomize/Kustomization", &policies())
        .expect("update one file");
    assert_eq!(
        one.file_changes.keys().collect::<Vec<_>>(),
        ["Kustomization"]
    );
}

#[test]
fn paths_out_of_the_checkout_are_refused() {
    let outer = tempfile::tempdir().expect("tempdir");
    let checkout = outer.path().join("repo");
    std::fs::create_dir_all(checkout.join("apps")).expect("mkdir");
    let outside = outer.path().join("outside");
    std::fs::create_dir_all(&outside).expect("mkdir");
    let marked = "image: a:1 # {\"$imagepolicy\": \"flux-system:web\"}\n";
    std::fs::write(outside.join("x.yaml"), marked).expect("write");
    for path in ["..", "../outside", "apps/../../outside"] {
        let err = update_with_setters(&checkout, path, &policies()).expect_err(path);
        assert!(matches!(err, Error::PathEscapes { .. }), "{path}: {err}");
        assert!(err.to_string().contains(path), "{err}");
    }
    let err = update_with_setters(&checkout, "missing", &policies()).expect_err("missing");
    assert!(matches!(err, Error::PathMissing { .. }), "{err}");
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(&outside, checkout.join("link")).expect("symlink");
        let err = update_with_setters(&checkout, "link", &policies()).expect_err("symlink");
        assert!(matches!(err, Error::PathEscapes { .. }), "{err}");
        // A symlink met while walking is neither followed nor rewritten.
        std::os::unix::fs::symlink(outside.join("x.yaml"), checkout.join("apps/x.yaml"))
            .expect("symlink");
        let result = update_with_setters(&checkout, "", &policies()).expect("walk");
        assert!(result.is_empty());
        assert_eq!(
            std::fs::read_to_string(outside.join("x.yaml")).expect("read"),
            marked
        );
    }
}
