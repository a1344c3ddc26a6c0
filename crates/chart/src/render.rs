//! One `helm template` run: dependencies processed, values coalesced, the
//! built-in objects assembled per chart (`.Values`, `.Release`, `.Chart`,
//! `.Capabilities`, `.Files`, `.Subcharts`, `.Template`), every template
//! parsed into one set in Helm's order (deepest charts first, so a parent's
//! `define` wins) and executed in that order, `<no value>` blanked, NOTES
//! set apart, the rest read as each is done (the `reading` module)
//! and sorted.
//!
//! This module drives the engine; loading, coalescing and output sorting
//! live in their own modules.

use std::collections::BTreeMap;
use std::sync::Arc;

use driftless_gotemplate::{ExecError, FuncMap, MissingKey, Options, TemplateSet, Value};
use driftless_render::yaml::{Map, Value as YamlValue};

use crate::capabilities::Capabilities;
use crate::chart::{Chart, Metadata};
use crate::convert::map_to_engine;
use crate::error::ChartError;
use crate::files::Files;
use crate::helm_funcs::{Lookup, Offline, USER_ERROR_END, USER_ERROR_START};
use crate::helm_values::HelmValues;
use crate::manifests::{Hook, Manifest};
use crate::schema::SchemaTree;

/// Most output all templates of one render may produce together; a chart
/// that writes more fails instead of exhausting memory.
pub const MAX_TOTAL_OUTPUT_BYTES: usize = 256 * 1024 * 1024;

/// `helm template`'s options besides the chart and values.
#[derive(Clone)]
pub struct RenderOptions {
    /// The release name (`RELEASE`).
    pub release_name: String,
    /// `--namespace` (`default` when not given).
    pub namespace: String,
    /// `--is-upgrade`.
    pub is_upgrade: bool,
    /// `--kube-version`.
    pub kube_version: Option<String>,
    /// `--api-versions`.
    pub api_versions: Vec<String>,
    /// `--include-crds`.
    pub include_crds: bool,
    /// `--show-only` patterns.
    pub show_only: Vec<String>,
    /// `--skip-tests`: no hook with the `test` event in the output.
    pub skip_tests: bool,
    /// `--no-hooks`: no hooks in the output.
    pub no_hooks: bool,
    /// `--skip-schema-validation` (a HelmRelease's
    /// `disableSchemaValidation`): `values.schema.json` files are not
    /// checked.
    pub skip_schema_validation: bool,
    /// `--enable-dns`: Helm then answers `getHostByName` from DNS. A
    /// render never touches the network, so with it the function fails
    /// (naming the flag) rather than give Helm's offline empty answer.
    pub enable_dns: bool,
    /// What `lookup` asks; offline by default.
    pub lookup: Arc<dyn Lookup>,
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions {
            release_name: "release-name".into(),
            namespace: "default".into(),
            is_upgrade: false,
            kube_version: None,
            api_versions: Vec::new(),
            include_crds: false,
            show_only: Vec::new(),
            skip_tests: false,
            no_hooks: false,
            skip_schema_validation: false,
            enable_dns: false,
            lookup: Arc::new(Offline),
        }
    }
}

impl std::fmt::Debug for RenderOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RenderOptions")
            .field("release_name", &self.release_name)
            .field("namespace", &self.namespace)
            .field("is_upgrade", &self.is_upgrade)
            .field("kube_version", &self.kube_version)
            .field("api_versions", &self.api_versions)
            .field("include_crds", &self.include_crds)
            .field("skip_tests", &self.skip_tests)
            .field("no_hooks", &self.no_hooks)
            .field("skip_schema_validation", &self.skip_schema_validation)
            .field("show_only", &self.show_only)
            .finish_non_exhaustive()
    }
}

/// What a render produced, kept apart for a release controller.
#[derive(Debug, Clone)]
pub struct Rendered {
    /// Non-hook documents in install order.
    pub manifests: Vec<Manifest>,
    /// Hook documents in install order.
    pub hooks: Vec<Hook>,
    /// `crds/` files (path as printed, contents), this chart's and enabled
    /// subcharts'.
    pub crds: Vec<(String, String)>,
    /// The root chart's rendered NOTES.txt (empty without one).
    pub notes: String,
    /// The root chart's metadata.
    pub metadata: Metadata,
    /// The coalesced values the templates saw.
    pub values: Map,
}

impl Rendered {
    /// The hooks `helm template` shows with `options`: none with
    /// `--no-hooks`; with `--skip-tests`, none with the `test` event (among
    /// others too, as in Helm).
    pub fn hooks_shown<'a>(&'a self, options: &'a RenderOptions) -> impl Iterator<Item = &'a Hook> {
        let is_test = |hook: &Hook| hook.events.iter().any(|e| e == "test");
        self.hooks
            .iter()
            .filter(move |hook| !(options.no_hooks || options.skip_tests && is_test(hook)))
    }

    /// The text `helm template` prints for this render with `options`'
    /// output flags: `--include-crds`, the hooks shown
    /// ([`hooks_shown`](Self::hooks_shown)) and `--show-only`.
    ///
    /// # Errors
    /// A `--show-only` pattern that matches nothing.
    pub fn helm_template_output(&self, options: &RenderOptions) -> Result<String, ChartError> {
        let crds: &[(String, String)] = if options.include_crds {
            &self.crds
        } else {
            &[]
        };
        let hooks: Vec<Hook> = self.hooks_shown(options).cloned().collect();
        let out = crate::manifests::assemble(crds, &self.manifests, &hooks);
        let show_only = &options.show_only;
        if show_only.is_empty() {
            Ok(out)
        } else {
            crate::manifests::show_only(&out, show_only)
        }
    }
}

/// Renders `chart` with user values `user` as `helm template` would.
///
/// # Errors
/// Dependency, values, template or manifest errors, each naming the chart
/// and file.
pub fn render(
    mut chart: Chart,
    user: &Map,
    options: &RenderOptions,
) -> Result<Rendered, ChartError> {
    if chart.is_library() {
        return Err(ChartError::Invalid(format!(
            "chart {}: library charts are not installable",
            chart.name()
        )));
    }
    crate::dependencies::process(&mut chart, user)?;
    let caps = Capabilities::new(options.kube_version.as_deref(), &options.api_versions)
        .map_err(ChartError::Invalid)?;
    if !chart.metadata.kube_version.is_empty()
        && !crate::semver::satisfies(&chart.metadata.kube_version, &caps.kube_version.normalized)
    {
        return Err(ChartError::Invalid(format!(
            "chart requires kubeVersion: {} which is incompatible with Kubernetes {}",
            chart.metadata.kube_version, caps.kube_version.version
        )));
    }
    // The validator reads the values as one YAML value: wrapped, not copied.
    let root = YamlValue::Map(crate::values::coalesce_values(&chart, user)?);
    let schemas = SchemaTree::take(&mut chart);
    let YamlValue::Map(values) = &root else {
        unreachable!("the coalesced values are a map")
    };
    let output = if schemas.has_schemas() && !options.skip_schema_validation {
        // Helm validates before it renders. Validating beside the render
        // gives the same answer (a violation wins over whatever the render
        // did) and hides the validator's cost, often a third of a render,
        // behind the templates' when a second core is free.
        std::thread::scope(|scope| {
            let check = scope.spawn(|| crate::schema::validate(&schemas, &root));
            let output = execute(chart, values, caps, options);
            check
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
            output
        })?
    } else {
        if !options.skip_schema_validation {
            crate::schema::validate(&schemas, &root)?;
        }
        execute(chart, values, caps, options)?
    };
    let YamlValue::Map(values) = root else {
        unreachable!("the coalesced values are a map")
    };
    Ok(Rendered {
        manifests: output.manifests,
        hooks: output.hooks,
        crds: output.crds,
        notes: output.notes,
        metadata: output.metadata,
        values,
    })
}

/// What executing the templates gives, before the values join it.
struct Output {
    manifests: Vec<Manifest>,
    hooks: Vec<Hook>,
    crds: Vec<(String, String)>,
    notes: String,
    metadata: Metadata,
}

/// Executes `chart`'s templates with its coalesced, validated `values`.
fn execute(
    mut chart: Chart,
    values: &Map,
    caps: Capabilities,
    options: &RenderOptions,
) -> Result<Output, ChartError> {
    // CRDs are read before the chart's files move into `.Files`.
    let crds = chart
        .crd_files(chart.name())
        .into_iter()
        .map(|(path, f)| {
            let text = std::str::from_utf8(&f.data).map_or_else(
                |_| String::from_utf8_lossy(&f.data).into_owned(),
                str::to_owned,
            );
            (path, text)
        })
        .collect();
    let release = release_value(options);
    let caps_value = Value::object(caps);
    let mut templates: BTreeMap<String, Renderable> = BTreeMap::new();
    let root_values = map_to_engine(values);
    let root_name = chart.name().to_string();
    collect(
        &mut chart,
        &root_name,
        true,
        &root_values,
        &release,
        &caps_value,
        &mut templates,
    );

    let mut funcs = sprig_funcs();
    crate::helm_funcs::register(&mut funcs, options.lookup.clone(), options.enable_dns);
    let mut set = TemplateSet::with_funcs(funcs);
    // Helm's engine is `template.New("gotpl")`, which errors name.
    set.set_name("gotpl");
    set.set_options(Options {
        missing_key: MissingKey::Zero,
        ..Options::default()
    });
    let mut order: Vec<String> = templates.keys().cloned().collect();
    order.sort_by(|a, b| {
        let depth = |s: &str| s.matches('/').count();
        (depth(b), b.as_str()).cmp(&(depth(a), a.as_str()))
    });
    let texts: Vec<(&str, Arc<str>)> = order
        .iter()
        .map(|name| (name.as_str(), Arc::clone(&templates[name].text)))
        .collect();
    // Certificates need RSA keys, whose generation dwarfs the rest of a
    // render: once the first is asked for, the others the texts may ask
    // for are made in parallel.
    let key_calls: usize = texts.iter().map(|(_, text)| rsa_key_calls(text)).sum();
    driftless_gotemplate::sprig::expect_rsa_keys(key_calls);
    set.parse_all(&texts)
        .map_err(|(index, e)| ChartError::Template {
            message: parse_error_message(texts[index].0, &e.to_string()),
        })?;
    drop(texts);
    let notes_path = format!("{}/templates/NOTES.txt", chart.name());
    let (executed, read) = crate::reading::execute_while_reading(|handoff| {
        execute_in_order(set, templates, &order, &notes_path, handoff)
    });
    let Executed { notes, not_utf8 } = executed?;
    let (hooks, manifests) = crate::manifests::sort(read, &not_utf8)?;
    Ok(Output {
        manifests,
        hooks,
        crds,
        notes,
        metadata: chart.metadata,
    })
}

/// What executing the templates leaves beside the files handed over.
struct Executed {
    /// The chart's own `NOTES.txt`, rendered (subcharts' notes are dropped,
    /// as `helm template` drops them).
    notes: String,
    /// The files whose output was not UTF-8, and their failing document.
    not_utf8: BTreeMap<String, crate::manifests::NotUtf8>,
}

/// Executes the templates in Helm's `order` (partials skipped), handing
/// each output over to be read as it is done. The parsed set and the
/// texts are freed at the end, before the reading finishes and the output
/// is copied, which lowers the peak for big charts.
fn execute_in_order(
    set: TemplateSet,
    templates: BTreeMap<String, Renderable>,
    order: &[String],
    notes_path: &str,
    handoff: &crate::reading::Handoff,
) -> Result<Executed, ChartError> {
    let mut executed = Executed {
        notes: String::new(),
        not_utf8: BTreeMap::new(),
    };
    let mut total = 0usize;
    for name in order {
        let base = name.rsplit('/').next().unwrap_or(name);
        if base.starts_with('_') {
            continue;
        }
        let r = &templates[name];
        let mut template = BTreeMap::new();
        template.insert("Name".to_string(), Value::string(name.as_str()));
        template.insert("BasePath".to_string(), Value::string(r.base_path.as_str()));
        r.top.insert(
            "Template",
            HelmValues::value(driftless_gotemplate::Map::from_entries(template)),
        );
        let out = set
            .execute_bytes(name, &r.data)
            .map_err(|e| ChartError::Template {
                message: exec_error_message(name, &e),
            })?;
        total += out.len();
        if total > MAX_TOTAL_OUTPUT_BYTES {
            return Err(ChartError::Template {
                message: format!(
                    "{name}: the chart's templates produce more than {MAX_TOTAL_OUTPUT_BYTES} bytes; refusing to render further"
                ),
            });
        }
        let mut out = match String::from_utf8(out) {
            Ok(text) => blank_no_value(text),
            Err(not_utf8) => {
                let bytes = blank_no_value_bytes(not_utf8.into_bytes());
                if let Some(bad) = crate::manifests::first_not_utf8(&bytes) {
                    executed.not_utf8.insert(name.clone(), bad);
                }
                driftless_gotemplate::raw_string::rune_view(&bytes)
            }
        };
        if name == notes_path {
            executed.notes = out;
        } else if !name.ends_with("NOTES.txt") {
            // The buffer grew by doubling; thousands of files kept at up
            // to twice their size add up.
            out.shrink_to_fit();
            handoff.send(name.clone(), out);
        }
    }
    drop(set);
    drop(templates);
    Ok(executed)
}

/// How many calls in `text` generate an RSA key (`genCA`,
/// `genSelfSignedCert`, `genSignedCert`; not their `WithKey` forms).
fn rsa_key_calls(text: &str) -> usize {
    // One pass for the common prefix, then the names' tails.
    memchr::memmem::find_iter(text.as_bytes(), b"gen")
        .filter(|&at| {
            let rest = &text[at + 3..];
            ["CA", "SelfSignedCert", "SignedCert"].iter().any(|tail| {
                rest.starts_with(tail)
                    && !rest[tail.len()..]
                        .chars()
                        .next()
                        .is_some_and(|c| c.is_alphanumeric() || c == '_')
            })
        })
        .count()
}

/// Helm blanks Go's `<no value>` in every rendered file; most files have
/// none, and keep their buffer.
pub(crate) fn blank_no_value(out: String) -> String {
    if memchr::memmem::find(out.as_bytes(), b"<no value>").is_some() {
        out.replace("<no value>", "")
    } else {
        out
    }
}

/// [`blank_no_value`] of output that is not UTF-8.
pub(crate) fn blank_no_value_bytes(out: Vec<u8>) -> Vec<u8> {
    const NO_VALUE: &[u8] = b"<no value>";
    let mut blanked = Vec::with_capacity(out.len());
    let mut rest = &out[..];
    while let Some(at) = memchr::memmem::find(rest, NO_VALUE) {
        blanked.extend_from_slice(&rest[..at]);
        rest = &rest[at + NO_VALUE.len()..];
    }
    blanked.extend_from_slice(rest);
    blanked
}

/// Sprig's text functions, which Helm's are registered over.
fn sprig_funcs() -> FuncMap {
    driftless_gotemplate::sprig::functions()
}

struct Renderable {
    /// Shared with the parsed templates, which keep it for their text.
    text: Arc<str>,
    /// The chart's top-level object, as templates see it (`common.Values`).
    data: Value,
    /// The map under `data`, where `.Template` is set per template.
    top: driftless_gotemplate::Map,
    base_path: String,
}

fn release_value(options: &RenderOptions) -> Value {
    let mut m = BTreeMap::new();
    m.insert(
        "Name".to_string(),
        Value::string(options.release_name.as_str()),
    );
    m.insert(
        "Namespace".to_string(),
        Value::string(options.namespace.as_str()),
    );
    m.insert("IsUpgrade".to_string(), Value::Bool(options.is_upgrade));
    m.insert("IsInstall".to_string(), Value::Bool(!options.is_upgrade));
    m.insert("Revision".to_string(), Value::Int(1));
    m.insert("Service".to_string(), Value::string("Helm"));
    Value::map(m)
}

/// Helm's `recAllTpls`: each chart's top-level object, its templates keyed
/// by full path. Returns the chart's object (what `.Subcharts` holds).
/// The template texts and other files move out of `chart` (into the
/// templates and `.Files`), so the render holds each once.
fn collect(
    chart: &mut Chart,
    full_path: &str,
    is_root: bool,
    values: &Value,
    release: &Value,
    caps: &Value,
    templates: &mut BTreeMap<String, Renderable>,
) -> Value {
    let subcharts = driftless_gotemplate::Map::new();
    let mut top = BTreeMap::new();
    top.insert(
        "Chart".to_string(),
        metadata_value(&chart.metadata, is_root),
    );
    // Nothing reads the chart's files after this but `.Files`.
    top.insert(
        "Files".to_string(),
        Value::object(Files::from_owned(std::mem::take(&mut chart.files))),
    );
    top.insert("Release".to_string(), release.clone());
    top.insert("Capabilities".to_string(), caps.clone());
    let values_object = match values {
        Value::Map(map) => HelmValues::value(map.clone()),
        other => other.clone(),
    };
    top.insert("Values".to_string(), values_object);
    top.insert("Subcharts".to_string(), Value::Map(subcharts.clone()));
    // Templates see their top-level object as `common.Values`; the parent's
    // `.Subcharts` holds it as the plain map Helm builds it as.
    let top = driftless_gotemplate::Map::from_entries(top);
    let data = HelmValues::value(top.clone());
    for sub in &mut chart.dependencies {
        let sub_values = match values {
            Value::Map(m) => match m.get(sub.name()) {
                Some(v @ Value::Map(_)) => v,
                _ => Value::map(BTreeMap::new()),
            },
            _ => Value::map(BTreeMap::new()),
        };
        let sub_path = format!("{full_path}/charts/{}", sub.name());
        let child = collect(sub, &sub_path, false, &sub_values, release, caps, templates);
        subcharts.insert(sub.name(), child);
    }
    let is_library = chart.is_library();
    for t in &mut chart.templates {
        let base = t.name.rsplit('/').next().unwrap_or(&t.name);
        if is_library && !base.starts_with('_') {
            continue;
        }
        // The parsed templates keep this text; the chart's bytes are not
        // needed after this, so they are moved out rather than copied.
        let text = match String::from_utf8(std::mem::take(&mut t.data)) {
            Ok(text) => text,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        };
        templates.insert(
            format!("{full_path}/{}", t.name),
            Renderable {
                text: Arc::from(text),
                data: data.clone(),
                top: top.clone(),
                base_path: format!("{full_path}/templates"),
            },
        );
    }
    Value::Map(top)
}

/// `.Chart`: Chart.yaml's fields under Go's struct field names.
fn metadata_value(md: &Metadata, is_root: bool) -> Value {
    let s = |v: &str| Value::string(v);
    let strings = |v: &[String]| Value::list(v.iter().map(|x| Value::string(x.as_str())).collect());
    let mut m = BTreeMap::new();
    m.insert("Name".to_string(), s(&md.name));
    m.insert("Home".to_string(), s(&md.home));
    m.insert("Sources".to_string(), strings(&md.sources));
    m.insert("Version".to_string(), s(&md.version));
    m.insert("Description".to_string(), s(&md.description));
    m.insert("Keywords".to_string(), strings(&md.keywords));
    m.insert(
        "Maintainers".to_string(),
        Value::list(
            md.maintainers
                .iter()
                .map(|mt| {
                    let mut e = BTreeMap::new();
                    e.insert("Name".to_string(), s(&mt.name));
                    e.insert("Email".to_string(), s(&mt.email));
                    e.insert("URL".to_string(), s(&mt.url));
                    Value::map(e)
                })
                .collect(),
        ),
    );
    m.insert("Icon".to_string(), s(&md.icon));
    m.insert("APIVersion".to_string(), s(&md.api_version));
    m.insert("Condition".to_string(), s(&md.condition));
    m.insert("Tags".to_string(), s(&md.tags));
    m.insert("AppVersion".to_string(), s(&md.app_version));
    m.insert("Deprecated".to_string(), Value::Bool(md.deprecated));
    let annotations = md.annotations.as_ref().map_or_else(
        || Value::Map(driftless_gotemplate::Map::nil_string_map()),
        |a| {
            Value::Map(driftless_gotemplate::Map::from_string_entries(
                a.iter().map(|(k, v)| (k.clone(), s(v))).collect(),
            ))
        },
    );
    m.insert("Annotations".to_string(), annotations);
    m.insert("KubeVersion".to_string(), s(&md.kube_version));
    m.insert(
        "Dependencies".to_string(),
        Value::list(
            md.dependencies
                .iter()
                .map(|d| {
                    let mut e = BTreeMap::new();
                    e.insert("Name".to_string(), s(&d.name));
                    e.insert("Version".to_string(), s(&d.version));
                    e.insert("Repository".to_string(), s(&d.repository));
                    e.insert("Condition".to_string(), s(&d.condition));
                    e.insert("Tags".to_string(), strings(&d.tags));
                    e.insert("Enabled".to_string(), Value::Bool(d.enabled));
                    e.insert(
                        "ImportValues".to_string(),
                        Value::list(
                            d.import_values
                                .iter()
                                .map(crate::convert::to_engine)
                                .collect(),
                        ),
                    );
                    e.insert("Alias".to_string(), s(&d.alias));
                    Value::map(e)
                })
                .collect(),
        ),
    );
    m.insert("Type".to_string(), s(&md.chart_type));
    m.insert("IsRoot".to_string(), Value::Bool(is_root));
    Value::map(m)
}

/// Helm's `cleanupParseError`: `parse error at (<location>): <message>`.
fn parse_error_message(file: &str, raw: &str) -> String {
    let tokens: Vec<&str> = raw.split(": ").collect();
    if tokens.len() == 1 {
        return format!("parse error in ({file}): {raw}");
    }
    format!(
        "parse error at ({}): {}",
        tokens[1],
        tokens[tokens.len() - 1]
    )
}

/// Helm's `reformatExecErrorMsg`, the common shapes: a `required`/`fail`
/// message becomes `execution error at (<file:line:col>): <message>`.
fn exec_error_message(file: &str, e: &ExecError) -> String {
    let raw = e.to_string();
    if let (Some(start), Some(end)) = (raw.find(USER_ERROR_START), raw.find(USER_ERROR_END)) {
        let message = &raw[start + USER_ERROR_START.len()..end];
        let location = match e {
            ExecError::At { location, .. } => location.clone(),
            _ => file.to_string(),
        };
        return format!("execution error at ({location}): {message}");
    }
    raw
}

#[cfg(test)]
mod tests {
    use super::rsa_key_calls;

    #[test]
    fn counts_calls_that_generate_rsa_keys() {
        let text = r#"{{ $ca := genCA "x" 365 }}{{ genSignedCert "a" nil nil 1 $ca }}
{{ genCAWithKey "x" 1 $k }}{{ genSelfSignedCertWithKey "a" nil nil 1 $k }}{{ genSelfSignedCert "a" nil nil 1 }}"#;
        assert_eq!(rsa_key_calls(text), 3);
        assert_eq!(rsa_key_calls("no certificates here"), 0);
    }
}
