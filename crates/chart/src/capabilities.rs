//! `.Capabilities` as `helm template` fills it without a cluster: the
//! Kubernetes version (`--kube-version`, else the one Helm v4.3.1 was built
//! against), the API versions Helm's client knows plus `--api-versions`,
//! and Helm's own build information.
//!
//! The objects here only answer the fields and methods Helm's structs
//! have; they hold no cluster state.

use std::any::Any;

use driftless_gotemplate::{Object, Value};

/// The Kubernetes version `helm template` assumes without `--kube-version`.
pub const DEFAULT_KUBE_VERSION: &str = "v1.37.0";

/// Helm v4.3.1's built-in API versions (client-go's scheme, in its order).
pub const DEFAULT_API_VERSIONS: &[&str] = &[
    "v1",
    "admissionregistration.k8s.io/v1",
    "admissionregistration.k8s.io/v1alpha1",
    "admissionregistration.k8s.io/v1beta1",
    "internal.apiserver.k8s.io/v1alpha1",
    "apps/v1",
    "apps/v1beta1",
    "apps/v1beta2",
    "authentication.k8s.io/v1",
    "authentication.k8s.io/v1alpha1",
    "authentication.k8s.io/v1beta1",
    "authorization.k8s.io/v1",
    "authorization.k8s.io/v1beta1",
    "autoscaling/v1",
    "autoscaling/v2",
    "batch/v1",
    "batch/v1beta1",
    "certificates.k8s.io/v1",
    "certificates.k8s.io/v1beta1",
    "certificates.k8s.io/v1alpha1",
    "coordination.k8s.io/v1alpha2",
    "coordination.k8s.io/v1beta1",
    "coordination.k8s.io/v1",
    "discovery.k8s.io/v1",
    "discovery.k8s.io/v1beta1",
    "events.k8s.io/v1",
    "events.k8s.io/v1beta1",
    "extensions/v1beta1",
    "flowcontrol.apiserver.k8s.io/v1",
    "flowcontrol.apiserver.k8s.io/v1beta1",
    "flowcontrol.apiserver.k8s.io/v1beta2",
    "flowcontrol.apiserver.k8s.io/v1beta3",
    "lifecycle.k8s.io/v1alpha1",
    "networking.k8s.io/v1",
    "networking.k8s.io/v1beta1",
    "node.k8s.io/v1",
    "node.k8s.io/v1alpha1",
    "node.k8s.io/v1beta1",
    "policy/v1",
    "policy/v1beta1",
    "rbac.authorization.k8s.io/v1",
    "rbac.authorization.k8s.io/v1beta1",
    "rbac.authorization.k8s.io/v1alpha1",
    "resource.k8s.io/v1",
    "resource.k8s.io/v1beta2",
    "resource.k8s.io/v1beta1",
    "resource.k8s.io/v1alpha3",
    "scheduling.k8s.io/v1alpha3",
    "scheduling.k8s.io/v1beta1",
    "scheduling.k8s.io/v1",
    "storage.k8s.io/v1beta1",
    "storage.k8s.io/v1",
    "storage.k8s.io/v1alpha1",
    "storagemigration.k8s.io/v1",
    "storagemigration.k8s.io/v1beta1",
    "apiextensions.k8s.io/v1beta1",
    "apiextensions.k8s.io/v1",
];

/// `.Capabilities.KubeVersion`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KubeVersion {
    /// `v` + what the user wrote (`.Version`, `.GitVersion`).
    pub version: String,
    /// `v` + the numbers only, without pre-release or build (`v1.30.0` for
    /// `1.30.0-eks-123`): what `String()` prints.
    pub normalized: String,
    /// `.Major`.
    pub major: String,
    /// `.Minor`.
    pub minor: String,
}

impl KubeVersion {
    /// Parses `--kube-version` as Helm does (apimachinery's
    /// `ParseGeneric`): optional blanks and `v`, two or more dot-separated
    /// numbers (the first without a leading zero), then anything;
    /// `.Version` is the text as given, with a `v` put in front.
    ///
    /// # Errors
    /// Helm's message for an unparsable version.
    pub fn parse(input: &str) -> Result<KubeVersion, String> {
        let invalid = |why: String| format!("invalid kube version '{input}': {why}");
        let body = input.trim_start();
        let body = body.strip_prefix('v').unwrap_or(body);
        let mut end = 0;
        let mut components = Vec::new();
        loop {
            let digits = body[end..].bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                break;
            }
            components.push(&body[end..end + digits]);
            end += digits;
            let next_is_component = body[end..].starts_with('.')
                && body[end + 1..].starts_with(|c: char| c.is_ascii_digit());
            if !next_is_component {
                break;
            }
            end += 1;
        }
        if components.is_empty() {
            return Err(invalid(format!("could not parse {input:?} as version")));
        }
        if components.len() < 2 {
            return Err(invalid(format!("illegal version string {input:?}")));
        }
        if components[0].len() > 1 && components[0].starts_with('0') {
            return Err(invalid(format!(
                "illegal zero-prefixed version component {:?} in {input:?}",
                components[0]
            )));
        }
        let numbers = components
            .iter()
            .map(|c| c.parse::<u64>())
            .collect::<Result<Vec<u64>, _>>()
            .map_err(|_| invalid(format!("could not parse {input:?} as version")))?;
        let joined: Vec<String> = numbers.iter().map(u64::to_string).collect();
        Ok(KubeVersion {
            version: if input.starts_with('v') {
                input.to_string()
            } else {
                format!("v{input}")
            },
            normalized: format!("v{}", joined.join(".")),
            major: numbers[0].to_string(),
            minor: numbers[1].to_string(),
        })
    }
}

impl Object for KubeVersion {
    fn type_name(&self) -> String {
        "common.KubeVersion".into()
    }
    fn kind_name(&self) -> &'static str {
        "struct"
    }
    fn field(&self, name: &str) -> Option<Value> {
        match name {
            "Version" => Some(Value::string(self.version.as_str())),
            "Major" => Some(Value::string(self.major.as_str())),
            "Minor" => Some(Value::string(self.minor.as_str())),
            _ => None,
        }
    }
    fn call_method(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        let text = match name {
            "GitVersion" => self.version.as_str(),
            "String" => self.normalized.as_str(),
            _ => return None,
        };
        if args.is_empty() {
            Some(Ok(Value::string(text)))
        } else {
            Some(Err(format!(
                "wrong number of args for {name}: want 0 got {}",
                args.len()
            )))
        }
    }
    /// `%v` of the struct value (its `String` method is on the pointer).
    fn format(&self) -> String {
        format!(
            "{{{} {} {} {}}}",
            self.version, self.normalized, self.major, self.minor
        )
    }
    /// `{{ .Capabilities.KubeVersion }}` is an addressable field, so the
    /// action calls `(*KubeVersion).String`.
    fn format_action(&self) -> String {
        self.normalized.clone()
    }
    fn to_json(&self) -> serde_json::Value {
        serde_json::json!({"Version": self.version, "Major": self.major, "Minor": self.minor})
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// `.Capabilities.APIVersions`: a Go `[]string` with a `Has` method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiVersions(pub Vec<String>);

impl Object for ApiVersions {
    fn type_name(&self) -> String {
        "common.VersionSet".into()
    }
    fn kind_name(&self) -> &'static str {
        "slice"
    }
    fn call_method(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        if name != "Has" {
            return None;
        }
        Some(match args {
            [Value::String(s)] => Ok(Value::Bool(self.0.iter().any(|v| v.as_str() == &**s))),
            [other] => Err(format!(
                "wrong type for value; expected string; got {}",
                other.type_name()
            )),
            _ => Err(format!(
                "wrong number of args for Has: want 1 got {}",
                args.len()
            )),
        })
    }
    fn format(&self) -> String {
        format!("[{}]", self.0.join(" "))
    }
    fn is_true(&self) -> bool {
        !self.0.is_empty()
    }
    /// `common.VersionSet` is a Go `[]string`: `range`, `index`, `len` and
    /// `toJson` see its elements.
    fn as_collection(&self) -> Option<Value> {
        Some(Value::string_list(self.0.iter().cloned()))
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// `.Capabilities.HelmVersion`: Helm's build information.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HelmVersion;

const HELM_FIELDS: &[(&str, &str)] = &[
    ("Version", "v4.3.1"),
    ("GitCommit", "c0d08d0d6d9424d4a14febb5e8a3e51b0dd00dff"),
    ("GitTreeState", "clean"),
    ("GoVersion", "go1.27.2"),
    ("KubeClientVersion", "v1.37"),
];

impl Object for HelmVersion {
    fn type_name(&self) -> String {
        "version.BuildInfo".into()
    }
    fn kind_name(&self) -> &'static str {
        "struct"
    }
    fn field(&self, name: &str) -> Option<Value> {
        HELM_FIELDS
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| Value::string(*v))
    }
    fn format(&self) -> String {
        let values: Vec<&str> = HELM_FIELDS.iter().map(|(_, v)| *v).collect();
        format!("{{{}}}", values.join(" "))
    }
    fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "version": HELM_FIELDS[0].1,
            "git_commit": HELM_FIELDS[1].1,
            "git_tree_state": HELM_FIELDS[2].1,
            "go_version": HELM_FIELDS[3].1,
            "kube_client_version": HELM_FIELDS[4].1,
        })
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// `.Capabilities`.
#[derive(Debug, Clone)]
pub struct Capabilities {
    /// `.KubeVersion`.
    pub kube_version: KubeVersion,
    /// `.APIVersions`.
    pub api_versions: ApiVersions,
}

impl Capabilities {
    /// Helm's defaults with `--kube-version` and `--api-versions` applied.
    ///
    /// # Errors
    /// An unparsable `kube_version`.
    pub fn new(
        kube_version: Option<&str>,
        extra_api_versions: &[String],
    ) -> Result<Capabilities, String> {
        // An empty `--kube-version` is no flag, as in Helm.
        let kube_version = KubeVersion::parse(
            kube_version
                .filter(|v| !v.is_empty())
                .unwrap_or(DEFAULT_KUBE_VERSION),
        )?;
        let mut versions: Vec<String> = DEFAULT_API_VERSIONS
            .iter()
            .map(|s| (*s).to_string())
            .collect();
        versions.extend(extra_api_versions.iter().cloned());
        Ok(Capabilities {
            kube_version,
            api_versions: ApiVersions(versions),
        })
    }
}

impl Object for Capabilities {
    fn type_name(&self) -> String {
        "*common.Capabilities".into()
    }
    fn field(&self, name: &str) -> Option<Value> {
        match name {
            "KubeVersion" => Some(Value::object(self.kube_version.clone())),
            "APIVersions" => Some(Value::object(self.api_versions.clone())),
            "HelmVersion" => Some(Value::object(HelmVersion)),
            _ => None,
        }
    }
    fn format(&self) -> String {
        format!("&{}", self.format_action())
    }
    /// An action prints what the pointer points to.
    fn format_action(&self) -> String {
        format!(
            "{{{} {} {}}}",
            self.kube_version.format(),
            self.api_versions.format(),
            HelmVersion.format()
        )
    }
    /// The struct's fields in declaration order, as `encoding/json` writes
    /// them.
    fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "KubeVersion": self.kube_version.to_json(),
            "APIVersions": self.api_versions.0,
            "HelmVersion": HelmVersion.to_json(),
        })
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kube_versions() {
        let v = KubeVersion::parse("1.33.0").unwrap();
        assert_eq!(
            (v.version.as_str(), v.major.as_str(), v.minor.as_str()),
            ("v1.33.0", "1", "33")
        );
        let v = KubeVersion::parse("v1.30.2-gke.100").unwrap();
        assert_eq!(v.version, "v1.30.2-gke.100");
        assert_eq!(v.normalized, "v1.30.2");
        assert_eq!(KubeVersion::parse("1.33").unwrap().normalized, "v1.33");
        assert!(KubeVersion::parse("one").is_err());
        assert_eq!(
            KubeVersion::parse("1").unwrap_err(),
            "invalid kube version '1': illegal version string \"1\""
        );
        assert_eq!(
            KubeVersion::parse("01.33.0").unwrap_err(),
            "invalid kube version '01.33.0': illegal zero-prefixed version component \"01\" in \"01.33.0\""
        );
        // Helm's generic parse: trailing text, more parts, zero-padded
        // later parts (all printed here as the real Helm printed them).
        for (input, version, normalized, minor) in [
            ("1.33.x", "v1.33.x", "v1.33", "33"),
            ("1.2.3.4", "v1.2.3.4", "v1.2.3.4", "2"),
            (" 1.33.0", "v 1.33.0", "v1.33.0", "33"),
            ("1.01", "v1.01", "v1.1", "1"),
        ] {
            let v = KubeVersion::parse(input).unwrap();
            assert_eq!(
                (v.version.as_str(), v.normalized.as_str(), v.minor.as_str()),
                (version, normalized, minor),
                "{input}"
            );
        }
    }

    #[test]
    fn api_versions_has() {
        let caps = Capabilities::new(None, &["monitoring.coreos.com/v1".into()]).unwrap();
        let has = |v: &str| {
            caps.api_versions
                .call_method("Has", &[Value::string(v)])
                .unwrap()
                .unwrap()
                .is_true()
        };
        assert!(has("apps/v1"));
        assert!(has("monitoring.coreos.com/v1"));
        assert!(!has("apps/v2"));
    }
}
