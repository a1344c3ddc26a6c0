//! A loaded chart: its Chart.yaml metadata, default values, templates, other
//! files and dependency charts, as Helm's `chart.Chart` holds them.
//!
//! This module owns the in-memory shape and Chart.yaml's field mapping; it
//! reads nothing from disk (see `loader`) and renders nothing.

use driftless_render::yaml::{Map, Value, format_float};

/// One file of a chart, named by its path inside the chart (`templates/a.yaml`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChartFile {
    /// Path inside the chart, `/`-separated.
    pub name: String,
    /// The bytes as read.
    pub data: Vec<u8>,
}

/// A maintainer entry of Chart.yaml.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Maintainer {
    /// `name`.
    pub name: String,
    /// `email`.
    pub email: String,
    /// `url`.
    pub url: String,
}

/// A `dependencies` entry of Chart.yaml (or v1 requirements.yaml).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Dependency {
    /// `name`: the chart's name in `charts/`.
    pub name: String,
    /// `version`: a semver constraint the vendored chart must meet.
    pub version: String,
    /// `repository`.
    pub repository: String,
    /// `condition`: comma-separated value paths; the first that holds a bool decides.
    pub condition: String,
    /// `tags`.
    pub tags: Vec<String>,
    /// `enabled`, as computed from condition and tags.
    pub enabled: bool,
    /// `import-values`: strings (exports) or `{child, parent}` maps.
    pub import_values: Vec<Value>,
    /// `alias`: the name the dependency renders under.
    pub alias: String,
}

/// Chart.yaml.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metadata {
    /// `name`.
    pub name: String,
    /// `home`.
    pub home: String,
    /// `sources`.
    pub sources: Vec<String>,
    /// `version`.
    pub version: String,
    /// `description`.
    pub description: String,
    /// `keywords`.
    pub keywords: Vec<String>,
    /// `maintainers`.
    pub maintainers: Vec<Maintainer>,
    /// `icon`.
    pub icon: String,
    /// `apiVersion` (`v1` when absent).
    pub api_version: String,
    /// `condition`.
    pub condition: String,
    /// `tags`.
    pub tags: String,
    /// `appVersion`.
    pub app_version: String,
    /// `deprecated`.
    pub deprecated: bool,
    /// `annotations`; `None` when Chart.yaml has none (Go's nil map).
    pub annotations: Option<Vec<(String, String)>>,
    /// `kubeVersion`: a semver constraint on the cluster version.
    pub kube_version: String,
    /// `dependencies`.
    pub dependencies: Vec<Dependency>,
    /// Whether `dependencies` is a list, even an empty one: Helm processes
    /// conditions and import-values for a chart whose list is not nil, so
    /// `dependencies: []` keeps the `null`s of the values merged below it.
    pub declares_dependencies: bool,
    /// `type`: `application` (default) or `library`.
    pub chart_type: String,
}

/// A chart with its dependencies.
#[derive(Debug, Clone, Default)]
pub struct Chart {
    /// Chart.yaml.
    pub metadata: Metadata,
    /// values.yaml, read as Helm reads it.
    pub values: Map,
    /// values.schema.json, when present.
    pub schema: Option<Vec<u8>>,
    /// Files under `templates/`.
    pub templates: Vec<ChartFile>,
    /// Every other file not ignored (for `.Files`, `crds/`).
    pub files: Vec<ChartFile>,
    /// Charts under `charts/`.
    pub dependencies: Vec<Chart>,
    /// Whether Chart.lock (or requirements.lock) was present.
    pub has_lock: bool,
}

impl Chart {
    /// The chart's name (an alias once dependencies are processed).
    #[must_use]
    pub fn name(&self) -> &str {
        &self.metadata.name
    }

    /// Whether `type: library`.
    #[must_use]
    pub fn is_library(&self) -> bool {
        self.metadata.chart_type == "library"
    }

    /// `crds/` files with a manifest extension, this chart's then its
    /// dependencies', each with the path `helm template` prints.
    #[must_use]
    pub fn crd_files(&self, full_path: &str) -> Vec<(String, &ChartFile)> {
        let mut out: Vec<(String, &ChartFile)> = self
            .files
            .iter()
            .filter(|f| f.name.starts_with("crds/") && has_manifest_extension(&f.name))
            .map(|f| (format!("{full_path}/{}", f.name), f))
            .collect();
        for dep in &self.dependencies {
            out.extend(dep.crd_files(&format!("{full_path}/charts/{}", dep.name())));
        }
        out
    }
}

fn has_manifest_extension(name: &str) -> bool {
    let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    matches!(ext.as_deref(), Some("yaml" | "yml" | "json")) && !name.ends_with('/')
}

/// A scalar as a Go string field receives it through sigs.k8s.io/yaml.
fn text(v: &Value) -> String {
    match v {
        Value::Str(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => format_float(*f),
        _ => String::new(),
    }
}

fn text_at(m: &Map, key: &str) -> String {
    m.get(key).map(text).unwrap_or_default()
}

fn strings_at(m: &Map, key: &str) -> Vec<String> {
    m.get(key)
        .and_then(Value::as_seq)
        .map(|items| items.iter().map(text).collect())
        .unwrap_or_default()
}

impl Metadata {
    /// Reads Chart.yaml's fields from its decoded mapping.
    #[must_use]
    pub fn from_map(m: &Map) -> Metadata {
        let mut md = Metadata {
            name: text_at(m, "name"),
            home: text_at(m, "home"),
            sources: strings_at(m, "sources"),
            version: text_at(m, "version"),
            description: text_at(m, "description"),
            keywords: strings_at(m, "keywords"),
            icon: text_at(m, "icon"),
            api_version: text_at(m, "apiVersion"),
            condition: text_at(m, "condition"),
            tags: text_at(m, "tags"),
            app_version: text_at(m, "appVersion"),
            deprecated: matches!(m.get("deprecated"), Some(Value::Bool(true))),
            kube_version: text_at(m, "kubeVersion"),
            chart_type: text_at(m, "type"),
            ..Metadata::default()
        };
        if let Some(Value::Seq(items)) = m.get("maintainers") {
            md.maintainers = items
                .iter()
                .filter_map(Value::as_map)
                .map(|mm| Maintainer {
                    name: text_at(mm, "name"),
                    email: text_at(mm, "email"),
                    url: text_at(mm, "url"),
                })
                .collect();
        }
        if let Some(Value::Map(a)) = m.get("annotations") {
            md.annotations = Some(a.iter().map(|(k, v)| (k.clone(), text(v))).collect());
        }
        md.dependencies = dependencies_from(m);
        md.declares_dependencies = declares_dependencies(m);
        if md.api_version.is_empty() {
            md.api_version = "v1".into();
        }
        md
    }
}

/// Whether Chart.yaml or requirements.yaml has a `dependencies` list.
#[must_use]
pub fn declares_dependencies(m: &Map) -> bool {
    matches!(m.get("dependencies"), Some(Value::Seq(_)))
}

/// The `dependencies` list of Chart.yaml or requirements.yaml.
#[must_use]
pub fn dependencies_from(m: &Map) -> Vec<Dependency> {
    let Some(Value::Seq(items)) = m.get("dependencies") else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(Value::as_map)
        .map(|d| Dependency {
            name: text_at(d, "name"),
            version: text_at(d, "version"),
            repository: text_at(d, "repository"),
            condition: text_at(d, "condition"),
            tags: strings_at(d, "tags"),
            enabled: matches!(d.get("enabled"), Some(Value::Bool(true))),
            import_values: d
                .get("import-values")
                .and_then(Value::as_seq)
                .cloned()
                .unwrap_or_default(),
            alias: text_at(d, "alias"),
        })
        .collect()
}
