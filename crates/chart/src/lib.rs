//! Helm charts rendered the way `helm template` (Helm v4.3.1) renders them:
//! charts and values loaded and coalesced as Helm does, templates executed
//! through the Go `text/template` engine (`driftless-gotemplate`) with
//! Helm's own functions, and the output assembled byte for byte.
//!
//! Module map: `loader` (directories and archives, safety limits),
//! `ignore` (.helmignore), `chart` (the loaded shape, Chart.yaml), `yaml`
//! (Helm's YAML reading), `values` (coalescing), `strvals` (`--set`
//! syntax), `dependencies` (conditions, tags, aliases, import-values),
//! `semver` (constraints), `capabilities`, `files` (`.Files`),
//! `helm_funcs` (include, tpl, toYaml, ...), `convert` (values ↔ engine,
//! Go JSON), `toml`, `render` (one run), `manifests` (sorting, hooks,
//! output), `output_dir` (`--output-dir`).
//!
//! [`helm_template`] is the whole `helm template` command; [`render`]
//! returns manifests, hooks, notes and metadata apart for a controller.

use std::path::PathBuf;

pub mod capabilities;
pub mod chart;
mod coalesce;
pub mod convert;
pub mod dependencies;
pub mod error;
pub mod files;
mod head;
pub mod helm_funcs;
pub mod helm_values;
pub mod ignore;
mod json_step;
pub mod loader;
pub mod manifests;
pub mod output_dir;
mod reading;
pub mod render;
pub mod schema;
pub use driftless_semver as semver;
pub mod strvals;
pub mod toml;
pub mod values;
pub mod yaml;
mod yaml_error;

pub use chart::{Chart, ChartFile, Dependency, Metadata};
pub use error::ChartError;
pub use helm_funcs::{Lookup, Offline};
pub use loader::load;
pub use manifests::{Hook, Manifest};
pub use render::{RenderOptions, Rendered, render};
pub use values::ValueSources;

/// One `helm template RELEASE CHART [flags]` invocation.
#[derive(Debug, Clone, Default)]
pub struct TemplateRequest {
    /// The chart directory or `.tgz`.
    pub chart: PathBuf,
    /// `-f` files, in order.
    pub values_files: Vec<PathBuf>,
    /// `--set`, `--set-string`, `--set-json`, `--set-file` arguments.
    pub sources: ValueSources,
    /// Everything else.
    pub options: RenderOptions,
    /// What `-` names as a values file (`-f -`) or a `--set-file` path:
    /// the caller's standard input, read by the caller. As in Helm, the
    /// first `-` takes it all and any later one finds it empty.
    pub stdin: Option<String>,
}

/// Runs a `helm template` invocation and returns its stdout.
///
/// # Errors
/// Anything that makes `helm template` fail; the message names the chart,
/// file and line.
pub fn helm_template(request: &TemplateRequest) -> Result<String, ChartError> {
    render_request(request)?.helm_template_output(&request.options)
}

/// Renders what a `helm template` invocation asks for, before its output
/// is assembled (printed, or written with [`output_dir::write`]).
///
/// # Errors
/// As [`helm_template`].
pub fn render_request(request: &TemplateRequest) -> Result<Rendered, ChartError> {
    check_release_name(&request.options.release_name)?;
    let chart = load(&request.chart)?;
    let mut sources = request.sources.clone();
    let mut stdin = request.stdin.clone();
    for path in &request.values_files {
        let name = path.display().to_string();
        let text = if name == "-" {
            stdin.take().unwrap_or_default()
        } else {
            refuse_url(&name, "values file")?;
            std::fs::read_to_string(path).map_err(|source| ChartError::Io {
                path: path.clone(),
                source,
            })?
        };
        sources.files.push((name, text));
    }
    let mut read_file = |name: &str| {
        if name == "-" {
            return Ok(stdin.take().unwrap_or_default());
        }
        refuse_url(name, "--set-file").map_err(|e| e.to_string())?;
        std::fs::read_to_string(name).map_err(|e| format!("open {name}: {e}"))
    };
    let user = sources.merge(&mut read_file)?;
    render(chart, &user, &request.options)
}

/// Helm fetches a values file or `--set-file` path written as a URL
/// (`https://…`) with its getters; a render touches no network, so such a
/// path is refused by name rather than looked for on disk.
fn refuse_url(path: &str, what: &str) -> Result<(), ChartError> {
    let scheme = path.split_once("://").map(|(scheme, _)| scheme);
    let is_url = scheme.is_some_and(|s| {
        s.starts_with(|c: char| c.is_ascii_alphabetic())
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c))
            && !s.eq_ignore_ascii_case("file")
    });
    if is_url {
        return Err(ChartError::Invalid(format!(
            "{what} {path}: a render does not fetch over the network; download it and pass its local path"
        )));
    }
    Ok(())
}

/// The release name `--name-template` gives (Helm's `TemplateName`): the
/// text executed with Sprig's functions only, no data.
///
/// # Errors
/// The template's parse or execution error, as Go words it.
pub fn name_template(text: &str) -> Result<String, ChartError> {
    let mut set =
        driftless_gotemplate::TemplateSet::with_funcs(driftless_gotemplate::sprig::functions());
    set.parse("name-template", text)
        .map_err(|e| ChartError::Invalid(e.to_string()))?;
    set.execute("name-template", &driftless_gotemplate::Value::Nil)
        .map_err(|e| ChartError::Invalid(e.to_string()))
}

/// Helm's release name rule (`chartutil.ValidateReleaseName`): a DNS-1123
/// subdomain of at most 53 characters, which `helm template` checks first.
///
/// # Errors
/// Helm's message for an empty or malformed name.
pub fn check_release_name(name: &str) -> Result<(), ChartError> {
    let problem = if name.is_empty() {
        "no name provided".to_owned()
    } else if !driftless_api::helmrelease::is_valid_release_name(name) {
        "invalid release name, must match regex ^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$ and the length must not be longer than 53".to_owned()
    } else {
        return Ok(());
    };
    Err(ChartError::Invalid(format!(
        "release name check failed: release name {name:?}: {problem}"
    )))
}

#[cfg(test)]
mod tests {
    use super::{check_release_name, name_template};

    #[test]
    fn name_templates_have_sprig_but_not_helm_and_no_data() {
        assert_eq!(
            name_template("{{ \"ABC\" | lower }}-{{ add 1 2 }}").unwrap(),
            "abc-3"
        );
        assert_eq!(name_template("{{ .Foo }}").unwrap(), "<no value>");
        assert_eq!(
            name_template("{{ toYaml 1 }}").unwrap_err().to_string(),
            "template: name-template:1: function \"toYaml\" not defined"
        );
    }

    #[test]
    fn release_names_follow_helm() {
        for good in ["rel", "a", "my-app.v2", &"a".repeat(53)] {
            assert!(check_release_name(good).is_ok(), "{good}");
        }
        for bad in [
            "Rel",
            "rel_1",
            "rel.",
            "-rel",
            "rel-",
            "a..b",
            &"a".repeat(54),
        ] {
            assert!(check_release_name(bad).is_err(), "{bad}");
        }
        assert_eq!(
            check_release_name("").unwrap_err().to_string(),
            "release name check failed: release name \"\": no name provided"
        );
    }
}
