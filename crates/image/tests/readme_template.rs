//! The commit message template the README shows renders as it says.

use std::collections::BTreeMap;

use driftless_image::message::{Automation, render};
use driftless_image::setters::{ImageRef, PolicyRef, update_with_setters};

#[test]
fn the_readme_example_lists_each_change() {
    let dir = tempfile::tempdir().expect("dir");
    std::fs::create_dir_all(dir.path().join("apps")).expect("apps");
    std::fs::write(
        dir.path().join("apps/web.yaml"),
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: apps\nspec:\n  template:\n    spec:\n      containers:\n      - name: web\n        image: ghcr.io/org/web:1.0.0 # {\"$imagepolicy\": \"apps:web\"}\n",
    )
    .expect("file");
    let policies = BTreeMap::from([(
        PolicyRef::new("apps", "web"),
        ImageRef {
            name: "ghcr.io/org/web".into(),
            tag: "1.1.0".into(),
            digest: None,
        },
    )]);
    let changed = update_with_setters(dir.path(), ".", &policies).expect("updated");
    let template = "Automated update on {{ .Values.cluster }}\n{{ range $file, $objects := .Changed.FileChanges -}}\n{{ range $object, $changes := $objects }}{{ range $changes -}}\n- {{ $file }}: {{ .OldValue }} -> {{ .NewValue }}\n{{ end }}{{ end }}{{ end -}}\n";
    let message = render(
        Some(template),
        &Automation {
            namespace: "flux-system".into(),
            name: "apps".into(),
        },
        &changed,
        &BTreeMap::from([("cluster".to_owned(), "prod".to_owned())]),
    )
    .expect("rendered");
    assert_eq!(
        message,
        "Automated update on prod\n- apps/web.yaml: ghcr.io/org/web:1.0.0 -> ghcr.io/org/web:1.1.0\n"
    );
}
