//! The OpenAPI v3 schemas of built-in kinds, through the real `kubectl`
//! (1.32, or the one `DRIFTLESS_KUBECTL` names) and kube-rs: `kubectl
//! explain` of core, apps and batch kinds and of nested fields, unknown
//! fields refused under strict validation by kubectl and by a typed client
//! alike (dropped otherwise, with warnings under `Warn`), and custom
//! resources' schemas served beside the built-in ones.

use crate::common::TestSandbox;
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use serde_json::{Value, json};

/// Asserts that every line of `expected` is one of `kubectl explain`'s
/// lines, spacing and tabs included.
#[track_caller]
fn assert_lines(out: &crate::common::Output, expected: &[&str]) {
    let lines: Vec<&str> = out.stdout.lines().collect();
    for line in expected {
        assert!(lines.contains(line), "{line:?} in {out:#?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_shows_core_apps_and_batch_kinds() {
    let sb = TestSandbox::start("explain-builtin").await;

    let out = sb.kubectl(&["explain", "configmap"]).run().await.ok();
    assert!(
        !out.stdout.contains("GROUP:"),
        "core has no group: {out:#?}"
    );
    assert_lines(
        &out,
        &[
            "KIND:       ConfigMap",
            "VERSION:    v1",
            "  data\t<map[string]string>",
            "  metadata\t<ObjectMeta>",
        ],
    );

    let out = sb.kubectl(&["explain", "deployment"]).run().await.ok();
    assert_lines(
        &out,
        &[
            "GROUP:      apps",
            "KIND:       Deployment",
            "VERSION:    v1",
            "    Deployment enables declarative updates for Pods and ReplicaSets.",
            "  spec\t<DeploymentSpec>",
            "  status\t<DeploymentStatus>",
        ],
    );
    // kube-apiserver does not require metadata, so neither does explain.
    assert!(!out.stdout.contains("-required-"), "{out:#?}");

    let out = sb
        .kubectl(&[
            "explain",
            "cronjob.spec.jobTemplate.spec.template.spec.restartPolicy",
        ])
        .run()
        .await
        .ok();
    assert_lines(
        &out,
        &[
            "GROUP:      batch",
            "KIND:       CronJob",
            "FIELD: restartPolicy <string>",
        ],
    );
    assert!(out.stdout.contains("One of Always, OnFailure"), "{out:#?}");

    let out = sb.kubectl(&["explain", "jobs.spec"]).run().await.ok();
    assert_lines(
        &out,
        &[
            "KIND:       Job",
            "FIELD: spec <JobSpec>",
            "  template\t<PodTemplateSpec> -required-",
            "  backoffLimit\t<integer>",
        ],
    );

    let out = sb
        .kubectl(&["explain", "deployment.spec.nothing"])
        .run()
        .await
        .code(1);
    assert!(
        out.stderr.contains(r#"field "nothing" does not exist"#),
        "{out:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_follows_nested_fields_recursively() {
    let sb = TestSandbox::start("explain-nested").await;
    let out = sb
        .kubectl(&[
            "explain",
            "deployment.spec.template.spec.containers",
            "--recursive",
        ])
        .run()
        .await
        .ok();
    assert_lines(
        &out,
        &[
            "FIELD: containers <[]Container>",
            "    A single application container that you want to run within a pod.",
            "  env\t<[]EnvVar>",
            "    name\t<string> -required-",
            "    valueFrom\t<EnvVarSource>",
            "      configMapKeyRef\t<ConfigMapKeySelector>",
            "        key\t<string> -required-",
            "  image\t<string>",
            "  name\t<string> -required-",
            "  ports\t<[]ContainerPort>",
            "    containerPort\t<integer> -required-",
            "  resources\t<ResourceRequirements>",
            "    limits\t<map[string]Quantity>",
        ],
    );

    // Reviews are only created, yet explained like any kind.
    let out = sb
        .kubectl(&["explain", "selfsubjectaccessreviews.spec"])
        .run()
        .await
        .ok();
    assert_lines(
        &out,
        &[
            "GROUP:      authorization.k8s.io",
            "KIND:       SelfSubjectAccessReview",
            "  resourceAttributes\t<ResourceAttributes>",
        ],
    );
}

const BOGUS_DEPLOYMENT: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: bogus
  namespace: default
spec:
  selector:
    matchLabels: {app: bogus}
  replicaz: 2
  template:
    metadata:
      labels: {app: bogus}
    spec:
      containers:
      - name: app
        image: nginx:1.27
        imagePullPolicey: Always
";

const UNKNOWN: &str = r#"Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: unknown field "spec.replicaz", unknown field "spec.template.spec.containers[0].imagePullPolicey""#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_fields_of_built_in_kinds_are_refused_by_kubectl_and_the_server() {
    let sb = TestSandbox::start("unknown-fields").await;
    for args in [
        &["apply", "--validate=strict", "-f", "-"][..],
        &["create", "-f", "-"][..],
    ] {
        let out = sb.kubectl(args).stdin(BOGUS_DEPLOYMENT).run().await.code(1);
        assert_eq!(
            out.stderr.trim(),
            format!(r#"Error from server (BadRequest): error when creating "STDIN": {UNKNOWN}"#),
            "{args:?}"
        );
    }
    let out = sb
        .kubectl(&["apply", "--server-side", "-f", "-"])
        .stdin(BOGUS_DEPLOYMENT)
        .run()
        .await
        .code(1);
    assert_eq!(
        out.stderr.trim(),
        format!("Error from server (BadRequest): {UNKNOWN}")
    );
    sb.kubectl(&["get", "deployment", "bogus"])
        .run()
        .await
        .code(1);

    // A typed client asking for strict validation gets the same answer…
    let client = sb.client().await;
    let deployments: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        "default",
        &kube::discovery::ApiResource::erase::<Deployment>(&()),
    );
    let object: Value = serde_saphyr::from_str(BOGUS_DEPLOYMENT).expect("YAML");
    let strict = PatchParams::apply("openapi-test").validation_strict();
    let err = deployments
        .patch("bogus", &strict, &Patch::Apply(&object))
        .await
        .expect_err("unknown fields are refused");
    match err {
        kube::Error::Api(status) => {
            assert_eq!(status.code, 400);
            assert_eq!(status.message, UNKNOWN);
        }
        other => panic!("expected a 400, got {other:?}"),
    }
    // …and without it the write goes through, the unknown fields dropped
    // as a real server's decoder drops them.
    let stored = deployments
        .patch(
            "bogus",
            &PatchParams::apply("openapi-test"),
            &Patch::Apply(&object),
        )
        .await
        .expect("not strict: accepted");
    assert!(stored.data["spec"].get("replicaz").is_none(), "{stored:?}");
    let container = &stored.data["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["image"], "nginx:1.27");
    assert!(container.get("imagePullPolicey").is_none(), "{stored:?}");
    let out = sb
        .kubectl(&["apply", "--validate=false", "-f", "-"])
        .stdin(&BOGUS_DEPLOYMENT.replace("name: bogus", "name: lenient"))
        .run()
        .await
        .ok();
    assert_eq!(out.stdout.trim(), "deployment.apps/lenient created");
    assert!(
        !out.stderr.contains("Warning"),
        "Ignore is silent: {out:#?}"
    );
    let lenient = deployments.get("lenient").await.expect("created");
    assert!(
        lenient.data["spec"].get("replicaz").is_none(),
        "{lenient:?}"
    );
    // Warn (the API's default) names each dropped field, and kubectl prints it.
    let out = sb
        .kubectl(&["apply", "--validate=warn", "-f", "-"])
        .stdin(&BOGUS_DEPLOYMENT.replace("name: bogus", "name: warned"))
        .run()
        .await
        .ok();
    assert_eq!(out.stdout.trim(), "deployment.apps/warned created");
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(
        lines,
        [
            r#"Warning: unknown field "spec.replicaz""#,
            r#"Warning: unknown field "spec.template.spec.containers[0].imagePullPolicey""#,
        ],
        "{out:#?}"
    );
    // A well-formed object passes strict validation, every field known.
    let good = BOGUS_DEPLOYMENT
        .replace("replicaz", "replicas")
        .replace("imagePullPolicey", "imagePullPolicy")
        .replace("name: bogus", "name: good");
    sb.kubectl(&["apply", "--validate=strict", "-f", "-"])
        .stdin(&good)
        .run()
        .await
        .ok();
    let stored = deployments.get("good").await.expect("created");
    assert_eq!(stored.data["spec"]["replicas"], json!(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_resource_schemas_are_served_beside_built_in_ones() {
    let sb = TestSandbox::start("openapi-crd").await;
    let crd = "\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {type: object, properties: {size: {type: integer, description: How big.}}}
";
    sb.kubectl(&["apply", "-f", "-"])
        .stdin(crd)
        .run()
        .await
        .ok();
    sb.kubectl(&[
        "wait",
        "--for=condition=established",
        "crd/widgets.example.com",
    ])
    .run()
    .await
    .ok();
    let root = sb
        .kubectl(&["get", "--raw", "/openapi/v3"])
        .run()
        .await
        .ok()
        .json();
    for path in [
        "api/v1",
        "apis/apps/v1",
        "apis/batch/v1",
        "apis/example.com/v1",
        "apis/authorization.k8s.io/v1",
    ] {
        assert!(root["paths"].get(path).is_some(), "{path} in {root:#}");
    }
    let doc = sb
        .kubectl(&["get", "--raw", "/openapi/v3/apis/example.com/v1"])
        .run()
        .await
        .ok()
        .json();
    let schemas = doc["components"]["schemas"].as_object().expect("schemas");
    assert_eq!(
        schemas.keys().collect::<Vec<_>>(),
        ["com.example.v1.Widget"],
        "only the CRD's schema"
    );
    let out = sb
        .kubectl(&["explain", "widgets.spec.size"])
        .run()
        .await
        .ok();
    assert!(out.stdout.contains("How big."), "{out:#?}");
    // A custom resource's unknown fields are pruned with the same warning.
    let widget = "\
apiVersion: example.com/v1
kind: Widget
metadata: {name: w, namespace: default}
spec: {size: 3, colour: red}
";
    let out = sb
        .kubectl(&["apply", "--validate=warn", "-f", "-"])
        .stdin(widget)
        .run()
        .await
        .ok();
    assert_eq!(
        out.stderr.trim(),
        r#"Warning: unknown field "spec.colour""#,
        "{out:#?}"
    );

    let apps = sb
        .kubectl(&["get", "--raw", "/openapi/v3/apis/apps/v1"])
        .run()
        .await
        .ok()
        .json();
    let deployment = &apps["components"]["schemas"]["io.k8s.api.apps.v1.Deployment"];
    assert_eq!(
        deployment["x-kubernetes-group-version-kind"],
        json!([{"group": "apps", "kind": "Deployment", "version": "v1"}])
    );
    assert!(
        apps["components"]["schemas"]
            .get("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")
            .is_some()
    );
}
