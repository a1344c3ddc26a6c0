//! The flags and objects of `driftless create source oci|helm` and
//! `driftless create helmrelease`, as `flux create` takes and writes them.

use std::path::PathBuf;

use anyhow::Context as _;
use driftless_api::helmrelease::{
    ChartSourceKind, ChartSourceReference, CrossNamespaceObjectReference, DependencyReference,
    HelmChartTemplate, HelmChartTemplateSpec, Install, ValuesKind, ValuesReference,
};
use driftless_api::meta::LocalObjectReference;
use driftless_api::{
    GoDuration, HelmChartSourceKind, HelmRelease, HelmReleaseSpec, HelmRepository,
    HelmRepositorySpec, HelmRepositoryType, OCIRepository, OCIRepositoryRef, OCIRepositorySpec,
};

/// `create source oci`.
#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("reference").args(["tag", "tag_semver", "digest"]).multiple(false)))]
pub struct OciArgs {
    /// The name of the OCIRepository.
    pub name: String,
    /// The repository: oci://host[:port]/repository.
    #[arg(long, value_parser = parse_oci_url)]
    url: String,
    /// The tag to pull.
    #[arg(long)]
    tag: Option<String>,
    /// The newest tag in this semver range, e.g. '>=1.0.0'.
    #[arg(long)]
    tag_semver: Option<String>,
    /// A manifest digest to pin (sha256:…).
    #[arg(long)]
    digest: Option<String>,
    /// A Secret of type kubernetes.io/dockerconfigjson with the registry credentials.
    #[arg(long, value_name = "NAME")]
    secret_ref: Option<String>,
    /// Plain HTTP instead of HTTPS.
    #[arg(long)]
    insecure: bool,
    /// How often to check the registry.
    #[arg(long, default_value = "1m", value_parser = super::create::parse_interval)]
    interval: GoDuration,
    /// Paths to leave out of the artifact, in .gitignore syntax (comma separated or repeated).
    #[arg(long, value_delimiter = ',')]
    ignore_paths: Vec<String>,
}

/// `create source helm`.
#[derive(clap::Args)]
pub struct HelmRepositoryArgs {
    /// The name of the HelmRepository.
    pub name: String,
    /// The repository: https://… (an index.yaml beneath it) or oci://… (a registry).
    #[arg(long, value_parser = parse_helm_url)]
    url: String,
    /// A Secret with `username`/`password` (or `.dockerconfigjson` for oci://).
    #[arg(long, value_name = "NAME")]
    secret_ref: Option<String>,
    /// A Secret with `ca.crt`, `tls.crt`, `tls.key`.
    #[arg(long, value_name = "NAME")]
    cert_ref: Option<String>,
    /// Send the credentials to chart URLs on other hosts too.
    #[arg(long)]
    pass_credentials: bool,
    /// How often to fetch the index.
    #[arg(long, default_value = "10m", value_parser = super::create::parse_interval)]
    interval: GoDuration,
}

/// `create helmrelease`.
#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("chart_source").args(["source", "chart_ref"]).required(true).multiple(false)))]
pub struct HelmReleaseArgs {
    /// The name of the HelmRelease.
    pub name: String,
    /// The chart's source: <kind>/<name>[.<namespace>], kind HelmRepository, GitRepository or Bucket.
    #[arg(long, value_parser = parse_chart_source, requires = "chart")]
    source: Option<CrossNamespaceObjectReference>,
    /// The chart's name in the HelmRepository, or its path in a GitRepository.
    #[arg(long)]
    chart: Option<String>,
    /// A semver range for the chart version (HelmRepository sources).
    #[arg(long)]
    chart_version: Option<String>,
    /// A chart artifact instead of --source: OCIRepository/<name>[.<namespace>] or HelmChart/<name>[.<namespace>].
    #[arg(long, value_parser = parse_chart_ref)]
    chart_ref: Option<ChartSourceReference>,
    /// The release name; [<target-namespace>-]<name> when unset.
    #[arg(long)]
    release_name: Option<String>,
    /// The namespace the release installs into.
    #[arg(long, value_name = "NS")]
    target_namespace: Option<String>,
    /// Create the target namespace if it does not exist.
    #[arg(long)]
    create_target_namespace: bool,
    /// A values file, merged in order (repeatable).
    #[arg(long = "values", value_name = "FILE")]
    values_files: Vec<PathBuf>,
    /// Values from a ConfigMap or Secret: ConfigMap/<name> or Secret/<name> (repeatable).
    #[arg(long, value_parser = parse_values_from)]
    values_from: Vec<ValuesReference>,
    /// A HelmRelease that must be ready first: <name> or <namespace>/<name> (repeatable).
    #[arg(long, value_parser = parse_dependency)]
    depends_on: Vec<DependencyReference>,
    /// The ServiceAccount to act as.
    #[arg(long, value_name = "NAME")]
    service_account: Option<String>,
    /// How often to reconcile.
    #[arg(long, default_value = "10m", value_parser = super::create::parse_interval)]
    interval: GoDuration,
}

fn parse_oci_url(text: &str) -> Result<String, String> {
    regex::Regex::new(driftless_api::OCI_URL_PATTERN)
        .expect("the API's pattern compiles")
        .is_match(text)
        .then(|| text.to_string())
        .ok_or_else(|| format!("`{text}` is not an OCI URL; write oci://host[:port]/repository"))
}

fn parse_helm_url(text: &str) -> Result<String, String> {
    regex::Regex::new(driftless_api::HELM_REPOSITORY_URL_PATTERN)
        .expect("the API's pattern compiles")
        .is_match(text)
        .then(|| text.to_string())
        .ok_or_else(|| {
            format!("`{text}` is not a Helm repository URL; use https://, http:// or oci://")
        })
}

/// `<kind>/<name>[.<namespace>]`.
fn split_reference(text: &str) -> Result<(&str, &str, Option<String>), String> {
    let (kind, rest) = text
        .split_once('/')
        .ok_or_else(|| format!("`{text}` is not a reference; write <kind>/<name>[.<namespace>]"))?;
    let (name, namespace) = match rest.rsplit_once('.') {
        Some((name, namespace)) => (name, Some(namespace.to_string())),
        None => (rest, None),
    };
    if kind.is_empty() || name.is_empty() {
        return Err(format!(
            "`{text}` is not a reference; write <kind>/<name>[.<namespace>]"
        ));
    }
    Ok((kind, name, namespace))
}

fn parse_chart_source(text: &str) -> Result<CrossNamespaceObjectReference, String> {
    let (kind, name, namespace) = split_reference(text)?;
    let kind: HelmChartSourceKind =
        serde_json::from_value(serde_json::Value::from(kind)).map_err(|_| {
            format!(
                "`{kind}` is not a chart source kind; use HelmRepository, GitRepository or Bucket"
            )
        })?;
    Ok(CrossNamespaceObjectReference {
        api_version: None,
        kind,
        name: name.to_string(),
        namespace,
    })
}

fn parse_chart_ref(text: &str) -> Result<ChartSourceReference, String> {
    let (kind, name, namespace) = split_reference(text)?;
    let kind: ChartSourceKind = serde_json::from_value(serde_json::Value::from(kind))
        .map_err(|_| format!("`{kind}` is not a chart reference kind; use OCIRepository, HelmChart or ExternalArtifact"))?;
    Ok(ChartSourceReference {
        api_version: None,
        kind,
        name: name.to_string(),
        namespace,
    })
}

fn parse_values_from(text: &str) -> Result<ValuesReference, String> {
    let (kind, name) = text
        .split_once('/')
        .filter(|(_, name)| !name.is_empty())
        .ok_or_else(|| {
            format!("`{text}` is not a values source; write ConfigMap/<name> or Secret/<name>")
        })?;
    let kind: ValuesKind = serde_json::from_value(serde_json::Value::from(kind))
        .map_err(|_| format!("`{kind}` is not a values kind; use ConfigMap or Secret"))?;
    Ok(ValuesReference {
        kind,
        name: name.to_string(),
        values_key: None,
        target_path: None,
        optional: false,
    })
}

fn parse_dependency(text: &str) -> Result<DependencyReference, String> {
    let (namespace, name) = match text.split_once('/') {
        Some((namespace, name)) => (Some(namespace.to_string()), name),
        None => (None, text),
    };
    if name.is_empty() || namespace.as_deref() == Some("") {
        return Err(format!(
            "`{text}` is not a dependency; write <name> or <namespace>/<name>"
        ));
    }
    Ok(DependencyReference {
        name: name.to_string(),
        namespace,
        ..DependencyReference::default()
    })
}

/// The OCIRepository the flags describe.
pub fn oci_repository(namespace: &str, args: &OciArgs) -> OCIRepository {
    let reference = (args.tag.is_some() || args.tag_semver.is_some() || args.digest.is_some())
        .then(|| OCIRepositoryRef {
            digest: args.digest.clone(),
            semver: args.tag_semver.clone(),
            semver_filter: None,
            tag: args.tag.clone(),
        });
    let mut repo = OCIRepository::new(
        &args.name,
        OCIRepositorySpec {
            url: args.url.clone(),
            reference,
            layer_selector: None,
            provider: None,
            secret_ref: args
                .secret_ref
                .clone()
                .map(|name| LocalObjectReference { name }),
            verify: None,
            service_account_name: None,
            cert_secret_ref: None,
            proxy_secret_ref: None,
            interval: args.interval.clone(),
            timeout: None,
            ignore: (!args.ignore_paths.is_empty()).then(|| args.ignore_paths.join("\n")),
            insecure: args.insecure,
            suspend: false,
        },
    );
    repo.metadata.namespace = Some(namespace.to_string());
    repo.metadata.annotations = None;
    repo
}

/// The HelmRepository the flags describe (`type: oci` for an oci:// URL).
pub fn helm_repository(namespace: &str, args: &HelmRepositoryArgs) -> HelmRepository {
    let mut repo = HelmRepository::new(
        &args.name,
        HelmRepositorySpec {
            url: args.url.clone(),
            secret_ref: args
                .secret_ref
                .clone()
                .map(|name| LocalObjectReference { name }),
            cert_secret_ref: args
                .cert_ref
                .clone()
                .map(|name| LocalObjectReference { name }),
            pass_credentials: args.pass_credentials,
            interval: Some(args.interval.clone()),
            insecure: false,
            timeout: None,
            suspend: false,
            access_from: None,
            repository_type: args
                .url
                .starts_with("oci://")
                .then_some(HelmRepositoryType::Oci),
            provider: None,
        },
    );
    repo.metadata.namespace = Some(namespace.to_string());
    repo.metadata.annotations = None;
    repo
}

/// The HelmRelease the flags describe; values files are read and merged
/// in order into `spec.values`.
pub fn helm_release(namespace: &str, args: &HelmReleaseArgs) -> anyhow::Result<HelmRelease> {
    let mut values = serde_json::Value::Null;
    for path in &args.values_files {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read --values {}", path.display()))?;
        let read: serde_json::Value = serde_saphyr::from_str(&text).with_context(|| {
            format!(
                "--values {} is not a YAML mapping of values",
                path.display()
            )
        })?;
        if !read.is_object() && !read.is_null() {
            anyhow::bail!(
                "--values {} is not a YAML mapping of values",
                path.display()
            );
        }
        merge(&mut values, read);
    }
    let chart = match (&args.source, &args.chart) {
        (Some(source), Some(chart)) => Some(HelmChartTemplate {
            object_meta: None,
            spec: HelmChartTemplateSpec {
                chart: chart.clone(),
                version: args.chart_version.clone(),
                source_ref: source.clone(),
                interval: None,
                reconcile_strategy: None,
                values_files: None,
                ignore_missing_values_files: false,
                verify: None,
            },
        }),
        _ => None,
    };
    let mut release = HelmRelease::new(
        &args.name,
        HelmReleaseSpec {
            chart,
            chart_ref: args.chart_ref.clone(),
            interval: args.interval.clone(),
            kube_config: None,
            suspend: false,
            release_name: args.release_name.clone(),
            target_namespace: args.target_namespace.clone(),
            storage_namespace: None,
            depends_on: (!args.depends_on.is_empty()).then(|| args.depends_on.clone()),
            timeout: None,
            max_history: None,
            service_account_name: args.service_account.clone(),
            persistent_client: None,
            drift_detection: None,
            install: args.create_target_namespace.then(|| Install {
                create_namespace: true,
                ..Install::default()
            }),
            upgrade: None,
            test: None,
            rollback: None,
            uninstall: None,
            values_from: (!args.values_from.is_empty()).then(|| args.values_from.clone()),
            values: (!values.is_null()).then_some(values),
            post_renderers: None,
            common_metadata: None,
        },
    );
    release.metadata.namespace = Some(namespace.to_string());
    release.metadata.annotations = None;
    Ok(release)
}

/// Helm's merge of values files: maps merge recursively, the rest replaces.
fn merge(into: &mut serde_json::Value, from: serde_json::Value) {
    match (into, from) {
        (serde_json::Value::Object(base), serde_json::Value::Object(over)) => {
            for (key, value) in over {
                merge(base.entry(key).or_insert(serde_json::Value::Null), value);
            }
        }
        (slot, value) => *slot = value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_parse_with_kind_and_namespace() {
        let source = parse_chart_source("HelmRepository/podinfo.flux-system").expect("valid");
        assert_eq!(source.kind, HelmChartSourceKind::HelmRepository);
        assert_eq!(
            (source.name.as_str(), source.namespace.as_deref()),
            ("podinfo", Some("flux-system"))
        );
        assert!(parse_chart_source("Deployment/web").is_err());
        let chart_ref = parse_chart_ref("OCIRepository/podinfo").expect("valid");
        assert_eq!(
            (chart_ref.kind, chart_ref.namespace),
            (ChartSourceKind::OCIRepository, None)
        );
        assert!(parse_values_from("ConfigMap/").is_err());
        assert_eq!(
            parse_values_from("Secret/web").expect("valid").kind,
            ValuesKind::Secret
        );
    }

    #[test]
    fn values_files_merge_in_order() {
        let mut values = serde_json::Value::Null;
        merge(
            &mut values,
            serde_json::json!({"a": {"b": 1, "c": 2}, "d": [1]}),
        );
        merge(&mut values, serde_json::json!({"a": {"c": 3}, "d": [2]}));
        assert_eq!(values, serde_json::json!({"a": {"b": 1, "c": 3}, "d": [2]}));
    }
}
