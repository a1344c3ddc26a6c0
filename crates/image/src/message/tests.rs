//! The default message, Flux's documented template, custom templates and
//! the errors.

use super::*;

fn automation() -> Automation {
    Automation {
        namespace: "flux-system".into(),
        name: "apps".into(),
    }
}

fn result() -> UpdateResult {
    let mut result = UpdateResult::default();
    let deployment = ObjectIdentifier {
        api_version: "apps/v1".into(),
        kind: "Deployment".into(),
        name: "web".into(),
        namespace: "apps".into(),
    };
    let kustomization = ObjectIdentifier {
        api_version: "kustomize.config.k8s.io/v1beta1".into(),
        kind: "Kustomization".into(),
        ..ObjectIdentifier::default()
    };
    let change = |old: &str, new: &str, setter: &str| Change {
        old_value: old.into(),
        new_value: new.into(),
        setter: setter.into(),
    };
    result.add(
        "kustomize/kustomization.yaml",
        kustomization,
        change("v1", "v2", "flux-system:web:tag"),
    );
    result.add(
        "apps/deploy.yaml",
        deployment.clone(),
        change("web:v1", "web:v2", "flux-system:web"),
    );
    result.add(
        "apps/deploy.yaml",
        deployment,
        change("proxy:1", "proxy:2", "flux-system:proxy"),
    );
    result
}

fn run(template: &str, values: &[(&str, &str)]) -> Result<String, Error> {
    let values = values
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    render(Some(template), &automation(), &result(), &values)
}

#[test]
fn default_message() {
    let none = render(None, &automation(), &result(), &BTreeMap::new()).expect("renders");
    assert_eq!(none, "Update from image update automation");
    let empty = render(Some(""), &automation(), &result(), &BTreeMap::new()).expect("renders");
    assert_eq!(empty, DEFAULT_MESSAGE_TEMPLATE);
}

/// Go's whitespace trimming leaves a blank line between two changes of one
/// object in this example (the inner body ends in a newline that no `-`
/// trims); we print what Go prints.
#[test]
fn flux_documented_template() {
    let template = "Automated image update

Automation name: {{ .AutomationObject }}

Files:
{{ range $filename, $_ := .Changed.FileChanges -}}
- {{ $filename }}
{{ end -}}

Objects:
{{ range $resource, $changes := .Changed.Objects -}}
- {{ $resource.Kind | lower }} {{ $resource.Name }}
  Changes:
{{- range $_, $change := $changes }}
    - {{ $change.OldValue }} -> {{ $change.NewValue }}
{{ end -}}
{{ end -}}
";
    let expected = "Automated image update

Automation name: flux-system/apps

Files:
- apps/deploy.yaml
- kustomize/kustomization.yaml
Objects:
- deployment web
  Changes:
    - web:v1 -> web:v2

    - proxy:1 -> proxy:2
- kustomization 
  Changes:
    - v1 -> v2
";
    assert_eq!(run(template, &[]).expect("renders"), expected);
}

#[test]
fn changes_values_and_printing() {
    let template = "[{{ .Values.cluster }}] {{ range .Changed.Changes }}{{ .Setter }}={{ .NewValue }};{{ end }} \
{{ len .Changed.Changes }} {{ .AutomationObject.Namespace }} {{ .AutomationObject.String }} {{ .Values.missing }}";
    assert_eq!(
        run(template, &[("cluster", "prod")]).expect("renders"),
        "[prod] flux-system:web=web:v2;flux-system:proxy=proxy:2;flux-system:web:tag=v2; 3 flux-system flux-system/apps <no value>"
    );
    let printed = run(
        "{{ index .Changed.Changes 0 }} {{ .Changed.FileChanges }}",
        &[],
    )
    .expect("renders");
    assert_eq!(
        printed,
        "{web:v1 web:v2 flux-system:web} map[apps/deploy.yaml:map[{{{apps/v1 Deployment} {web apps}}}:[{web:v1 web:v2 flux-system:web} {proxy:1 proxy:2 flux-system:proxy}]] \
kustomize/kustomization.yaml:map[{{{kustomize.config.k8s.io/v1beta1 Kustomization} { }}}:[{v1 v2 flux-system:web:tag}]]]"
    );
}

/// What Go prints for the same data (checked with go1.19 `text/template`
/// on structs shaped like Flux's).
#[test]
fn the_result_prints_as_a_go_struct() {
    let printed = run("{{ .Changed }}", &[]).expect("renders");
    assert!(
        printed.starts_with("{map[apps/deploy.yaml:map[{{{apps/v1 Deployment} {web apps}}}:["),
        "{printed}"
    );
    assert!(
        printed.ends_with("{v1 v2 flux-system:web:tag}]]]}"),
        "{printed}"
    );
}

#[test]
fn counting_and_testing_the_maps() {
    let text = run(
        "{{ len .Changed.Objects }} {{ len .Changed.FileChanges }} {{ if .Changed.Objects }}some{{ end }}",
        &[],
    )
    .expect("renders");
    assert_eq!(text, "2 2 some");
    let empty = render(
        Some("{{ if .Changed.Objects }}some{{ else }}none{{ end }}"),
        &automation(),
        &UpdateResult::default(),
        &BTreeMap::new(),
    )
    .expect("renders");
    assert_eq!(empty, "none");
}

#[test]
fn errors_name_the_template_and_position() {
    let err = run("line one\n{{ .Changed.FileChanges", &[]).expect_err("unclosed action");
    let Error::Parse(source) = &err else {
        panic!("not a parse error: {err:?}");
    };
    assert_eq!(source.name, "commit message");
    assert_eq!(source.line, 2);
    let err = run("{{ .Changed.Nope }}", &[]).expect_err("unknown field");
    let Error::Execute(source) = &err else {
        panic!("not an execution error: {err:?}");
    };
    assert!(
        source
            .to_string()
            .starts_with("template: commit message:1:"),
        "{source}"
    );
    assert!(
        source
            .to_string()
            .contains("can't evaluate field Nope in type update.Result"),
        "{source}"
    );
    // Only hermetic functions.
    assert!(matches!(run("{{ now }}", &[]), Err(Error::Parse(_))));
    assert_eq!(run("{{ \"a\" | upper }}", &[]).expect("sprig"), "A");
}

#[test]
fn removed_fields_get_flux_hint() {
    let err = run("{{ range .Updated.Images }}{{ end }}", &[]).expect_err("removed");
    assert!(
        matches!(
            err,
            Error::RemovedField {
                field: ".Updated",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("'.Changed'"), "{err}");
    let err = run("{{ .Changed.ImageResult }}", &[]).expect_err("removed");
    assert!(
        matches!(
            err,
            Error::RemovedField {
                field: ".Changed.ImageResult",
                ..
            }
        ),
        "{err:?}"
    );
}
