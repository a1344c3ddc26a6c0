//! The CustomResourceDefinitions of our kinds, generated from the Rust
//! types, and their YAML rendering.
//!
//! Owns CRD generation and the few adjustments the derive cannot express
//! (Flux's `status` default of `observedGeneration: -1`). Must not install
//! anything: the CLI and tests apply the result.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceDefinition, JSON, JSONSchemaProps,
};
use kube::CustomResourceExt;

use crate::{
    Alert, ArtifactGenerator, ExternalArtifact, GitRepository, HelmChart, HelmRelease,
    HelmRepository, ImagePolicy, ImageRepository, ImageUpdateAutomation, Kustomization,
    OCIRepository, Provider, Receiver,
};

/// Why the CRDs could not be rendered as YAML.
#[derive(Debug, thiserror::Error)]
pub enum CrdError {
    /// The YAML serializer refused a CRD (a bug: the CRDs are plain data).
    #[error("internal error: CRD {name} could not be rendered as YAML; please report this")]
    Yaml {
        /// The CRD's name.
        name: String,
        /// The serializer's error.
        #[source]
        source: serde_saphyr::SerializeError,
    },
}

/// The CRDs of every kind this crate defines, ready to apply.
pub fn crds() -> Vec<CustomResourceDefinition> {
    [
        GitRepository::crd(),
        Kustomization::crd(),
        Provider::crd(),
        Alert::crd(),
        Receiver::crd(),
        HelmRepository::crd(),
        HelmChart::crd(),
        OCIRepository::crd(),
        HelmRelease::crd(),
        ExternalArtifact::crd(),
        ArtifactGenerator::crd(),
        ImageRepository::crd(),
        ImagePolicy::crd(),
        ImageUpdateAutomation::crd(),
    ]
    .into_iter()
    .map(with_status_default)
    .collect()
}

/// [`crds`] as one YAML stream (documents separated by `---`), as
/// `kubectl apply -f -` takes it.
pub fn crds_yaml() -> Result<String, CrdError> {
    let mut out = String::new();
    for crd in crds() {
        let doc = serde_saphyr::to_string(&crd).map_err(|source| CrdError::Yaml {
            name: crd.metadata.name.clone().unwrap_or_default(),
            source,
        })?;
        out.push_str("---\n");
        out.push_str(&doc);
    }
    Ok(out)
}

/// Flux defaults `status` to `{observedGeneration: -1}`, so a new object
/// reads as "never reconciled" rather than "reconciled generation 0".
/// Only where the status has that field (ArtifactGenerators and
/// ExternalArtifacts have not): a default must not hold unknown fields.
fn with_status_default(mut crd: CustomResourceDefinition) -> CustomResourceDefinition {
    for version in &mut crd.spec.versions {
        let status = version
            .schema
            .as_mut()
            .and_then(|s| s.open_api_v3_schema.as_mut())
            .and_then(|root| root.properties.as_mut())
            .and_then(|props| props.get_mut("status"))
            .filter(|status| {
                status
                    .properties
                    .as_ref()
                    .is_some_and(|p| p.contains_key("observedGeneration"))
            });
        if let Some(status) = status {
            status.default = Some(JSON(serde_json::json!({ "observedGeneration": -1 })));
        }
    }
    crd
}

/// The root schema of a CRD's first version (for tests and tools).
pub fn root_schema(crd: &CustomResourceDefinition) -> Option<&JSONSchemaProps> {
    crd.spec
        .versions
        .first()?
        .schema
        .as_ref()?
        .open_api_v3_schema
        .as_ref()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn schema_json(crd: &CustomResourceDefinition) -> Value {
        serde_json::to_value(root_schema(crd).expect("a schema")).expect("serializable")
    }

    /// Checks the rules of a structural schema that generated schemas can
    /// break; returns the paths that break them.
    fn structural_problems(node: &Value, path: &str, out: &mut Vec<String>) {
        let Some(obj) = node.as_object() else {
            out.push(format!("{path}: not an object"));
            return;
        };
        for banned in [
            "$ref",
            "$schema",
            "definitions",
            "$defs",
            "oneOf",
            "anyOf",
            "allOf",
            "not",
        ] {
            if obj.contains_key(banned) {
                out.push(format!("{path}: has {banned}"));
            }
        }
        let preserve = obj.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
        let int_or_string = obj.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true));
        match obj.get("type").and_then(Value::as_str) {
            Some("object") => {}
            Some("array") if !obj.contains_key("items") => {
                out.push(format!("{path}: array without items"));
            }
            Some("string" | "integer" | "number" | "boolean" | "array") => {}
            Some(other) => out.push(format!("{path}: type {other}")),
            None if preserve || int_or_string => {}
            None => out.push(format!("{path}: no type")),
        }
        if obj.contains_key("properties")
            && obj.get("type").and_then(Value::as_str) != Some("object")
        {
            out.push(format!("{path}: properties on a non-object"));
        }
        if obj.contains_key("properties") && obj.contains_key("additionalProperties") {
            out.push(format!("{path}: both properties and additionalProperties"));
        }
        if let Some(props) = obj.get("properties").and_then(Value::as_object) {
            for (name, child) in props {
                structural_problems(child, &format!("{path}.{name}"), out);
            }
            if let Some(required) = obj.get("required").and_then(Value::as_array) {
                for name in required {
                    let name = name.as_str().unwrap_or_default();
                    if !props.contains_key(name) {
                        out.push(format!("{path}: requires unknown {name}"));
                    }
                }
            }
        }
        if let Some(items) = obj.get("items") {
            structural_problems(items, &format!("{path}[]"), out);
        }
        if let Some(extra) = obj.get("additionalProperties").filter(|v| v.is_object()) {
            structural_problems(extra, &format!("{path}{{}}"), out);
        }
    }

    #[test]
    fn schemas_are_structural() {
        for crd in crds() {
            let mut problems = Vec::new();
            structural_problems(&schema_json(&crd), "", &mut problems);
            assert!(
                problems.is_empty(),
                "{:?}: {problems:#?}",
                crd.metadata.name
            );
        }
    }

    #[test]
    fn names_scope_and_columns_match_flux() {
        let crds = crds();
        let names: Vec<_> = crds
            .iter()
            .map(|c| c.metadata.name.clone().unwrap_or_default())
            .collect();
        assert_eq!(
            names,
            [
                "gitrepositories.source.toolkit.fluxcd.io",
                "kustomizations.kustomize.toolkit.fluxcd.io",
                "providers.notification.toolkit.fluxcd.io",
                "alerts.notification.toolkit.fluxcd.io",
                "receivers.notification.toolkit.fluxcd.io",
                "helmrepositories.source.toolkit.fluxcd.io",
                "helmcharts.source.toolkit.fluxcd.io",
                "ocirepositories.source.toolkit.fluxcd.io",
                "helmreleases.helm.toolkit.fluxcd.io",
                "externalartifacts.source.toolkit.fluxcd.io",
                "artifactgenerators.source.extensions.fluxcd.io",
                "imagerepositories.image.toolkit.fluxcd.io",
                "imagepolicies.image.toolkit.fluxcd.io",
                "imageupdateautomations.image.toolkit.fluxcd.io",
            ]
        );
        let git = &crds[0];
        assert_eq!(git.spec.scope, "Namespaced");
        assert_eq!(
            git.spec.names.short_names.as_deref(),
            Some(&["gitrepo".to_string()][..])
        );
        assert!(
            git.spec
                .names
                .categories
                .as_deref()
                .unwrap_or_default()
                .contains(&"fluxcd".to_string())
        );
        let ks = &crds[1];
        assert_eq!(
            ks.spec.names.short_names.as_deref(),
            Some(&["ks".to_string()][..])
        );
        assert!(
            ks.spec
                .names
                .categories
                .as_deref()
                .unwrap_or_default()
                .contains(&"fluxcd".to_string())
        );
        let columns = |crd: &CustomResourceDefinition| -> Vec<String> {
            crd.spec.versions[0]
                .additional_printer_columns
                .iter()
                .flatten()
                .map(|c| c.name.clone())
                .collect()
        };
        assert_eq!(columns(git), ["URL", "Age", "Ready", "Status"]);
        assert_eq!(columns(ks), ["Age", "Ready", "Status"]);
        for crd in &crds {
            let version = &crd.spec.versions[0];
            assert!(version.served && version.storage);
            // Flux's v1beta3 Providers and Alerts have no status.
            let has_status = !matches!(crd.spec.names.kind.as_str(), "Provider" | "Alert");
            assert_eq!(
                version
                    .subresources
                    .as_ref()
                    .is_some_and(|s| s.status.is_some()),
                has_status,
                "{:?}",
                crd.metadata.name
            );
        }
    }

    #[test]
    fn flux_validation_is_in_the_schema() {
        let crds = crds();
        let git = schema_json(&crds[0]);
        let spec = &git["properties"]["spec"];
        assert_eq!(spec["required"], serde_json::json!(["interval", "url"]));
        assert_eq!(
            spec["properties"]["interval"]["pattern"],
            crate::duration::DURATION_PATTERN
        );
        assert_eq!(
            spec["properties"]["timeout"]["pattern"],
            crate::duration::TIMEOUT_PATTERN
        );
        assert_eq!(spec["properties"]["timeout"]["default"], "60s");
        assert_eq!(
            spec["properties"]["provider"]["enum"],
            serde_json::json!(["generic", "aws", "azure", "github"])
        );
        assert_eq!(
            spec["properties"]["verify"]["properties"]["mode"]["enum"],
            serde_json::json!(["head", "HEAD", "Tag", "TagAndHEAD"])
        );
        assert!(spec["properties"]["suspend"].get("default").is_none());
        assert_eq!(
            git["properties"]["status"]["default"],
            serde_json::json!({"observedGeneration": -1})
        );
        // A status without observedGeneration gets no default: the API
        // server refuses a default holding unknown fields.
        for crd in &crds {
            let schema = schema_json(crd);
            let status = &schema["properties"]["status"];
            assert_eq!(
                status.get("default").is_some(),
                status["properties"].get("observedGeneration").is_some(),
                "{:?}",
                crd.metadata.name
            );
        }
        let generator = crds
            .iter()
            .find(|c| c.spec.names.kind == "ArtifactGenerator")
            .map(schema_json)
            .expect("the ArtifactGenerator CRD");
        let sources = &generator["properties"]["spec"]["properties"]["sources"];
        assert_eq!(sources["minItems"], 1);
        assert_eq!(
            sources["items"]["properties"]["kind"]["enum"],
            serde_json::json!([
                "Bucket",
                "GitRepository",
                "OCIRepository",
                "HelmChart",
                "ExternalArtifact"
            ])
        );
        let copy = &generator["properties"]["spec"]["properties"]["artifacts"]["items"]["properties"]
            ["copy"]["items"];
        assert_eq!(copy["properties"]["to"]["pattern"], "^@(artifact)/(.*)$");

        let ks = schema_json(&crds[1]);
        let spec = &ks["properties"]["spec"];
        let mut required: Vec<_> = spec["required"]
            .as_array()
            .expect("a required list")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        required.sort();
        assert_eq!(required, ["interval", "prune", "sourceRef"]);
        assert_eq!(
            spec["properties"]["sourceRef"]["properties"]["kind"]["enum"],
            serde_json::json!([
                "OCIRepository",
                "GitRepository",
                "Bucket",
                "ExternalArtifact"
            ])
        );
        assert_eq!(
            spec["properties"]["deletionPolicy"]["enum"],
            serde_json::json!(["MirrorPrune", "Delete", "WaitForTermination", "Orphan"])
        );
        assert_eq!(spec["properties"]["force"]["default"], false);
        assert_eq!(spec["properties"]["targetNamespace"]["maxLength"], 63);
        let inventory = &ks["properties"]["status"]["properties"]["inventory"];
        assert_eq!(
            inventory["properties"]["entries"]["items"]["required"],
            serde_json::json!(["id", "v"])
        );
    }

    #[test]
    fn yaml_stream_parses_back_to_the_same_crds() {
        let yaml = crds_yaml().expect("renderable");
        assert!(yaml.starts_with("---\n"));
        let parsed: Vec<CustomResourceDefinition> =
            serde_saphyr::from_multiple(&yaml).expect("our YAML reads back");
        assert_eq!(parsed, crds());
    }
}
