//! `driftless build kustomization <dir>`: render locally with the render
//! crate, byte for byte what `kubectl kustomize` prints; and
//! `driftless build kustomization NAME --path DIR`: render a local directory
//! as that Kustomization in the cluster would (its targetNamespace,
//! patches, substitution and ownership labels), as `flux build` does; and
//! `driftless build chart RELEASE CHART [helm template's flags]`: render a
//! Helm chart with the chart crate, byte for byte what `helm template`
//! prints; and `driftless build helmrelease NAME [--chart PATH]`: what a
//! HelmRelease would apply, with its source's chart or a local one.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use driftless_api::{HelmRelease, Kustomization};
use driftless_controller::LocalChart;
use driftless_decrypt::{Decryptor, Keyring};
use driftless_render::FluxBuild;

use crate::cluster::{GlobalArgs, connect};
use crate::flux::fetch;
use crate::output::{Hinted, write_stdout, yaml_stream};

/// `driftless build`'s one-line help.
pub const ABOUT: &str = "Render manifests locally, as the controllers would.";
/// `driftless build`'s examples, after its help.
pub const EXAMPLES: &str = "Examples:\n  driftless build kustomization ./deploy/overlays/prod";

/// `driftless build`'s subcommand and the input bounds it builds within.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    limits: super::limits::LimitArgs,
}

#[derive(clap::Subcommand)]
pub enum Command {
    /// Render a Kustomize overlay (or a plain directory of manifests) to stdout.
    ///
    /// With a directory only, the output is byte for byte what `kubectl
    /// kustomize <dir>` prints; a directory without kustomization.yaml renders
    /// all its manifests, as Flux does. With NAME and --path, DIR is rendered
    /// as the Kustomization NAME in the cluster would render it.
    #[command(
        visible_alias = "ks",
        after_help = "Examples:\n  driftless build kustomization ./deploy/overlays/prod\n  driftless build kustomization ./apps | kubectl apply --server-side -f -\n  driftless build kustomization apps --path ./clusters/prod/apps -n flux-system"
    )]
    Kustomization {
        /// The directory to build, or with --path the Kustomization's name.
        target: String,
        /// Render this directory as the Kustomization named by the first argument.
        #[arg(long, value_name = "DIR")]
        path: Option<PathBuf>,
        /// Decrypt SOPS data with this age identity file (*.agekey) or
        /// OpenPGP secret key (*.asc), as spec.decryption would; repeatable.
        #[arg(long, value_name = "FILE")]
        decrypt_key_file: Vec<PathBuf>,
    },
    /// Render a Helm chart to stdout, byte for byte what `helm template` prints.
    ///
    /// CHART is a chart directory or a packaged `.tgz`, with its
    /// dependencies vendored in `charts/`. The namespace is -n/--namespace
    /// (Helm's `default` when not given).
    ///
    /// The flags `helm template` takes from `helm install` and for
    /// connections (--create-namespace, --wait, --timeout, --labels,
    /// --dry-run=client, --version, --kube-context, --username, ...) are
    /// accepted and checked as Helm checks them, and change nothing. Those
    /// an offline render cannot honour are refused: --dry-run=server,
    /// --validate, --repo, --dependency-update, --post-renderer, --verify.
    /// With --enable-dns a call to getHostByName fails (it returns "" without it).
    #[command(
        after_help = "Examples:\n  driftless build chart my-release ./charts/podinfo -n apps -f values-prod.yaml\n  driftless build chart rel podinfo-6.5.0.tgz --set replicaCount=3 --include-crds",
        mut_args = crate::install_flags::go_bool_flag
    )]
    Chart(Box<ChartArgs>),
    /// Render what a HelmRelease in the cluster would apply: its values
    /// (valuesFrom read from the cluster, then values), release name and
    /// namespace, post-renderers and commonMetadata, with the chart its
    /// source has now (downloaded from the controller's artifact server and
    /// verified) or a local chart given with --chart.
    #[command(
        visible_alias = "hr",
        after_help = "Examples:\n  driftless build helmrelease podinfo -n apps\n  driftless build helmrelease podinfo --chart ./charts/podinfo -n apps\n  driftless build hr podinfo --chart podinfo-6.9.2.tgz | kubectl diff -f -"
    )]
    Helmrelease {
        /// The HelmRelease's name.
        name: String,
        /// Render this chart directory or .tgz in place of the source's
        /// chart (needed where the controller's artifact URL does not resolve).
        #[arg(long, value_name = "PATH")]
        chart: Option<PathBuf>,
    },
}

/// `helm template`'s flags that affect what it prints.
#[derive(clap::Args)]
pub struct ChartArgs {
    /// `[RELEASE] CHART`: the release name (`.Release.Name`; Helm's
    /// `release-name` when left out) and the chart directory or .tgz file.
    #[arg(value_name = "[RELEASE] CHART", num_args = 1..=2, required = true)]
    names: Vec<String>,
    /// The release name from this Go template (Sprig's functions, no
    /// data), when RELEASE is left out.
    #[arg(long, value_name = "TEMPLATE")]
    name_template: Option<String>,
    /// Accepted as `helm template` accepts it: without RELEASE its name is
    /// `release-name` all the same.
    #[arg(short = 'g', long)]
    generate_name: bool,
    /// Values files, applied in order.
    #[arg(short = 'f', long = "values", value_name = "FILE")]
    values: Vec<PathBuf>,
    /// Set values (`a.b=c,d[0]=e`).
    #[arg(long, value_name = "KEY=VAL")]
    set: Vec<String>,
    /// Set values, always as strings.
    #[arg(long = "set-string", value_name = "KEY=VAL")]
    set_string: Vec<String>,
    /// Set values from JSON (`a={"b":1}`).
    #[arg(long = "set-json", value_name = "KEY=JSON")]
    set_json: Vec<String>,
    /// Set values from the contents of files (`key=path`).
    #[arg(long = "set-file", value_name = "KEY=PATH")]
    set_file: Vec<String>,
    /// Set a literal string value (`key=anything, even commas`).
    #[arg(long = "set-literal", value_name = "KEY=VAL")]
    set_literal: Vec<String>,
    /// Print the chart's crds/ files first.
    #[arg(long)]
    include_crds: bool,
    /// Render as an upgrade (`.Release.IsUpgrade`).
    #[arg(long)]
    is_upgrade: bool,
    /// The Kubernetes version for `.Capabilities.KubeVersion` [default: v1.37.0].
    #[arg(long, value_name = "VERSION")]
    kube_version: Option<String>,
    /// Extra API versions for `.Capabilities.APIVersions` (repeatable, comma-separated).
    #[arg(
        short = 'a',
        long = "api-versions",
        value_name = "GROUP/VERSION",
        value_delimiter = ','
    )]
    api_versions: Vec<String>,
    /// Only print the documents of these templates (`templates/x.yaml`, globs allowed).
    #[arg(short = 's', long = "show-only", value_name = "PATH")]
    show_only: Vec<String>,
    /// Leave out hooks with the `test` event.
    #[arg(long)]
    skip_tests: bool,
    /// Leave out all hooks.
    #[arg(long)]
    no_hooks: bool,
    /// Do not check values against the charts' `values.schema.json`.
    #[arg(long)]
    skip_schema_validation: bool,
    /// Accepted as `helm template` accepts it: it only matters to an
    /// install, so the output is the same (`--include-crds` still prints them).
    #[arg(long = "skip-crds")]
    _skip_crds: bool,
    /// Write each document under DIR at its template's path instead of
    /// printing it (as `helm template --output-dir`).
    #[arg(long, value_name = "DIR")]
    output_dir: Option<String>,
    /// With --output-dir: write manifests and hooks under DIR/RELEASE
    /// (without it, ignored as `helm template` ignores it).
    #[arg(long)]
    release_name: bool,
    #[command(flatten)]
    install_flags: crate::install_flags::InstallFlags,
}

pub fn run(global: &GlobalArgs, args: Args) -> anyhow::Result<()> {
    // A build is the whole process, so its bounds are the process's.
    driftless_limits::install(args.limits.limits());
    match args.command {
        Command::Kustomization {
            target,
            path: None,
            decrypt_key_file,
        } => match crate::keys::keyring(&decrypt_key_file)? {
            None => {
                let rendered = driftless_render::build_with_flux_fallback(Path::new(&target))
                    .with_context(|| format!("cannot build kustomization {target}"))?;
                write_stdout(&rendered)
            }
            Some(keys) => {
                let objects = decrypted_build(Path::new(&target), keys)
                    .with_context(|| format!("cannot build kustomization {target}"))?;
                write_stdout(&yaml_stream(&objects)?)
            }
        },
        Command::Kustomization {
            target,
            path: Some(path),
            decrypt_key_file,
        } => {
            let keys = crate::keys::keyring(&decrypt_key_file)?;
            crate::block_on(as_kustomization(global, target, path, keys))
        }
        Command::Helmrelease { name, chart } => {
            crate::block_on(as_helm_release(global, name, chart))
        }
        Command::Chart(args) => {
            args.install_flags.check()?;
            let (release, chart) = release_and_chart(&args)?;
            check_local_chart(&chart)?;
            let output_dir = args.output_dir.clone();
            let use_release_name = args.release_name;
            let request = chart_request(global, *args, release, PathBuf::from(&chart))?;
            let rendered = driftless_chart::render_request(&request)
                .with_context(|| format!("cannot render chart {chart}"))?;
            match output_dir {
                None => {
                    let printed = rendered
                        .helm_template_output(&request.options)
                        .with_context(|| format!("cannot render chart {chart}"))?;
                    write_stdout(&printed)
                }
                Some(dir) => driftless_chart::output_dir::write(
                    &rendered,
                    &request.options,
                    &dir,
                    use_release_name,
                    &mut std::io::stdout().lock(),
                )
                .with_context(|| format!("cannot write chart {chart} to {dir}")),
            }
        }
    }
}

/// The release name and chart of `build chart`'s arguments, as Helm's
/// `NameAndChart` reads `helm template`'s: a name given with
/// `--generate-name` or `--name-template` is refused, a chart alone takes
/// its name from `--name-template` or is `release-name`.
fn release_and_chart(args: &ChartArgs) -> anyhow::Result<(String, String)> {
    match args.names.as_slice() {
        [release, chart] => {
            if args.generate_name {
                anyhow::bail!("cannot set --generate-name and also specify a name");
            }
            if args.name_template.as_deref().is_some_and(|t| !t.is_empty()) {
                anyhow::bail!("cannot set --name-template and also specify a name");
            }
            Ok((release.clone(), chart.clone()))
        }
        [chart] => {
            let release = match args.name_template.as_deref() {
                Some(template) if !template.is_empty() => driftless_chart::name_template(template)?,
                _ => "release-name".to_owned(),
            };
            Ok((release, chart.clone()))
        }
        _ => anyhow::bail!("expected [RELEASE] CHART"),
    }
}

/// `helm template` also takes a chart by URL, OCI reference or
/// `repo/name`, which it downloads; a build renders only local charts, so
/// say that instead of "no such file".
fn check_local_chart(chart: &str) -> anyhow::Result<()> {
    if Path::new(chart).exists() {
        return Ok(());
    }
    let pull = "pull it first (`helm pull`) and pass the chart directory or .tgz";
    if chart.contains("://") {
        anyhow::bail!(
            "chart {chart} is remote: driftless build chart renders local charts; {pull}"
        );
    }
    let is_repo_reference = chart.split_once('/').is_some_and(|(repo, name)| {
        !repo.is_empty() && !repo.starts_with('.') && !name.contains('/')
    });
    if is_repo_reference {
        anyhow::bail!(
            "no chart directory or .tgz at {chart}; if it names a chart in a Helm repository, {pull}"
        );
    }
    Ok(())
}

fn chart_request(
    global: &GlobalArgs,
    args: ChartArgs,
    release: String,
    chart: PathBuf,
) -> anyhow::Result<driftless_chart::TemplateRequest> {
    // Helm reads standard input for a values file or --set-file path `-`.
    let reads_stdin = args.values.iter().any(|path| path.as_os_str() == "-")
        || args.set_file.iter().any(|arg| {
            arg.split(',')
                .any(|pair| pair.split_once('=').is_some_and(|(_, path)| path == "-"))
        });
    let stdin = reads_stdin
        .then(|| std::io::read_to_string(std::io::stdin()))
        .transpose()
        .context("cannot read the values on standard input (`-`)")?;
    // The global -n defaults to flux-system; a chart renders in Helm's
    // `default` unless the namespace was given on the command line.
    let namespace_given = std::env::args().any(|a| {
        a == "-n"
            || a == "--namespace"
            || a.starts_with("--namespace=")
            || (a.starts_with("-n") && a.len() > 2 && !a.starts_with("--"))
    });
    Ok(driftless_chart::TemplateRequest {
        chart,
        values_files: args.values,
        stdin,
        sources: driftless_chart::ValueSources {
            files: Vec::new(),
            json: args.set_json,
            set: args.set,
            set_string: args.set_string,
            set_file: args.set_file,
            set_literal: args.set_literal,
        },
        options: driftless_chart::RenderOptions {
            release_name: release,
            // An empty `-n ""` is Helm's `default` too.
            namespace: if namespace_given && !global.namespace.is_empty() {
                global.namespace.clone()
            } else {
                "default".into()
            },
            is_upgrade: args.is_upgrade,
            kube_version: args.kube_version,
            api_versions: args.api_versions,
            include_crds: args.include_crds,
            show_only: args.show_only,
            skip_tests: args.skip_tests,
            no_hooks: args.no_hooks,
            skip_schema_validation: args.skip_schema_validation,
            enable_dns: args.install_flags.enable_dns,
            ..driftless_chart::RenderOptions::default()
        },
    })
}

/// `dir` built and decrypted in memory, as a Kustomization with
/// `spec.decryption` would build it.
fn decrypted_build(dir: &Path, keys: Keyring) -> anyhow::Result<Vec<serde_json::Value>> {
    let root = std::path::absolute(dir)?;
    let mut decryptor = Decryptor::new(keys);
    let mut request = FluxBuild {
        source_root: root.clone(),
        path: "./".to_owned(),
        ..FluxBuild::default()
    };
    request.file_overrides = decryptor.decrypt_sources(&root, Path::new("."), &[])?;
    Ok(driftless_render::build_flux_with(
        &request,
        Some(&mut decryptor),
    )?)
}

async fn as_helm_release(
    global: &GlobalArgs,
    name: String,
    chart: Option<PathBuf>,
) -> anyhow::Result<()> {
    let cluster = connect(global).await?;
    let (_, objects) = helm_release_objects(&cluster, &name, chart.as_deref()).await?;
    write_stdout(&yaml_stream(&objects)?)
}

/// How long fetching a chart from the controller's artifact server may take.
const CHART_DOWNLOAD_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// HelmRelease `name` and the objects it would apply with `chart` (or the
/// chart its source has now), with the labels the controller stamps.
pub(super) async fn helm_release_objects(
    cluster: &crate::cluster::Cluster,
    name: &str,
    chart: Option<&Path>,
) -> anyhow::Result<(HelmRelease, Vec<serde_json::Value>)> {
    let hr: HelmRelease = fetch(cluster, &cluster.namespace, name).await?;
    let release = format!("{}/{name}", cluster.namespace);
    let (local, label) = match chart {
        Some(path) => (LocalChart::Path(path), path.display().to_string()),
        None => {
            let (bytes, source) = driftless_controller::fetch_helm_release_chart(
                &hr,
                &cluster.client,
                driftless_limits::current().helm_package_bytes,
                CHART_DOWNLOAD_TIMEOUT,
            )
            .await
            .map_err(|error| {
                let hint = error.hint();
                Hinted::new(
                    format!("cannot fetch the chart of HelmRelease {release}"),
                    hint,
                    error,
                )
            })?;
            let label = format!("the chart of {source}");
            (LocalChart::Archive(bytes, source), label)
        }
    };
    let mut objects = driftless_controller::build_helm_release(&hr, &cluster.client, local)
        .await
        .map_err(|message| anyhow::anyhow!(message))
        .with_context(|| format!("cannot build {label} as HelmRelease {release}"))?;
    stamp_labels(
        &mut objects,
        &driftless_controller::helm_apply_options(&hr).owner_labels,
    );
    Ok((hr, objects))
}

fn stamp_labels(
    objects: &mut [serde_json::Value],
    labels: &std::collections::BTreeMap<String, String>,
) {
    for object in objects {
        if let Some(meta) = object
            .get_mut("metadata")
            .and_then(serde_json::Value::as_object_mut)
        {
            let map = meta
                .entry("labels")
                .or_insert_with(|| serde_json::json!({}));
            for (key, value) in labels {
                map[key] = serde_json::Value::String(value.clone());
            }
        }
    }
}

async fn as_kustomization(
    global: &GlobalArgs,
    name: String,
    path: PathBuf,
    keys: Option<Keyring>,
) -> anyhow::Result<()> {
    let cluster = connect(global).await?;
    let ks: Kustomization = fetch(&cluster, &cluster.namespace, &name).await?;
    let mut objects = driftless_controller::build_local(&ks, &cluster.client, &path, keys)
        .await
        .map_err(|message| anyhow::anyhow!(message))
        .with_context(|| {
            format!(
                "cannot build {} as Kustomization {}/{name}",
                path.display(),
                cluster.namespace
            )
        })?;
    let labels =
        driftless_controller::apply_options(&ks, driftless_api::managers::KUSTOMIZE_CONTROLLER)
            .owner_labels;
    stamp_labels(&mut objects, &labels);
    write_stdout(&yaml_stream(&objects)?)
}
