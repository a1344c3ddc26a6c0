//! The bounds driftless puts on input from outside, in one place.
//!
//! Every stage that reads something a tenant or a remote server controls
//! (a YAML file, a webhook body, a registry's tag list, a Go template, a
//! git server's push report) stops at a bound here, and its error names the
//! bound's flag ([`Limit::flag`]) so an operator with an honest need knows
//! what to raise. The defaults are set so that no honest repository meets
//! them; a hostile one fails its own object's reconcile and nothing else.
//!
//! # Why a process-wide value in a crate of its own
//! The bounds are the process's policy (flags of `driftless controller`),
//! and the code that enforces them sits at the leaves of crates that must
//! not see each other (render, chart, notify, source, gotemplate, image,
//! gitwrite: the one-way flow). The YAML reader alone is a free function
//! called from five crates with no context to carry a parameter. So this
//! crate has no dependencies, every stage may depend on it, and the stages
//! only read [`current`]; the process installs its [`Limits`] once at start
//! ([`install`]: the controller from its `ControllerOptions`, the CLI from
//! its flags). Artifact unpacking keeps its own per-request
//! `UnpackLimits` (already a parameter of every fetch).
//!
//! ```
//! let mut limits = driftless_limits::Limits::default();
//! limits.yaml_alias_nodes = 1_000;
//! driftless_limits::install(limits);
//! assert_eq!(driftless_limits::current().yaml_alias_nodes, 1_000);
//! driftless_limits::install(driftless_limits::Limits::default());
//! ```

use std::sync::RwLock;

/// Every bound on input from outside, with the defaults of [`Limits::DEFAULT`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Nodes YAML aliases may copy into one stream: a "billion laughs" file
    /// (nested anchors, CVE-2019-11253 for Kubernetes) fails in milliseconds.
    pub yaml_alias_nodes: usize,
    /// Nesting of YAML collections, block and flow alike.
    pub yaml_depth: usize,
    /// Bytes of one file a build reads: a manifest, a kustomization file,
    /// a patch, a generator's file, a values file. Checked before reading,
    /// so a 200 MB value costs no memory.
    pub manifest_file_bytes: u64,
    /// Bytes of one webhook (Receiver) or event request body.
    pub webhook_body_bytes: usize,
    /// Notifications waiting to be sent, per process; past it a new one is
    /// dropped, counted in the metrics and logged.
    pub queued_notifications: usize,
    /// Tags listed from one registry repository (OCIRepository semver,
    /// ImageRepository scans).
    pub registry_tags: usize,
    /// Steps one Go template may run (charts, commit messages, branch names).
    /// An RSA key a function makes counts as many steps as its search takes.
    pub template_steps: u64,
    /// Bytes one Go template execution may build: the strings and lists
    /// its functions return and the text it writes, counted as they are
    /// made. A loop that builds big values ends here instead of in memory.
    pub template_bytes: u64,
    /// Bytes of a file the image setters read (larger files are skipped).
    pub setter_file_bytes: u64,
    /// Bytes of a git server's push report.
    pub push_report_bytes: usize,
    /// Lines of a git server's push report.
    pub push_report_lines: usize,
    /// Bytes of one file a git source puts in its artifact.
    pub git_file_bytes: u64,
    /// Bytes of one file of a Helm chart, decompressed (Helm's
    /// `MaxDecompressedFileSize`).
    pub chart_file_bytes: u64,
    /// Bytes of a whole Helm chart, decompressed (Helm's
    /// `MaxDecompressedChartSize`).
    pub chart_bytes: u64,
    /// Files in one Helm chart (Flux's bound).
    pub chart_files: usize,
    /// Bytes of a Helm repository's `index.yaml` (Flux's
    /// `--helm-index-max-size`).
    pub helm_index_bytes: u64,
    /// Bytes of a packaged Helm chart as downloaded (Flux's
    /// `--helm-chart-max-size`).
    pub helm_package_bytes: u64,
}

impl Limits {
    /// The defaults: far above any honest repository, far below what would
    /// hurt the process.
    pub const DEFAULT: Limits = Limits {
        yaml_alias_nodes: 250_000,
        yaml_depth: 256,
        // The API server takes 3 MiB request bodies and etcd 1.5 MiB
        // objects, but one file may bundle many objects (CRD bundles of
        // several MB are common), so a file gets ten times the most the API
        // server takes; below the 64 MiB a git source archives per file, so
        // this bound, with its flag, is the one a repository meets.
        manifest_file_bytes: 32 * 1024 * 1024,
        // Flux's notification-controller limit.
        webhook_body_bytes: 3 * 1024 * 1024,
        queued_notifications: 1_000,
        registry_tags: 100_000,
        template_steps: 50_000_000,
        // The busiest template of the 72 public charts we measured builds
        // 3.4 MiB (argo-workflows' CRDs); this is what one chart may
        // write in all.
        template_bytes: 256 * 1024 * 1024,
        setter_file_bytes: 16 * 1024 * 1024,
        push_report_bytes: 1 << 20,
        push_report_lines: 1_024,
        git_file_bytes: 64 * 1024 * 1024,
        // Helm's own bounds, so a chart Helm loads loads here too.
        chart_file_bytes: 5 * 1024 * 1024,
        chart_bytes: 100 * 1024 * 1024,
        // Flux's source-controller bounds, under Flux's flag names.
        chart_files: 20_000,
        helm_index_bytes: 50 * 1024 * 1024,
        helm_package_bytes: 10 * 1024 * 1024,
    };
}

impl Default for Limits {
    fn default() -> Limits {
        Limits::DEFAULT
    }
}

/// One bound, for error messages: what it bounds and the flag that raises it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Limit {
    /// [`Limits::yaml_alias_nodes`]
    YamlAliasNodes,
    /// [`Limits::yaml_depth`]
    YamlDepth,
    /// [`Limits::manifest_file_bytes`]
    ManifestFileBytes,
    /// [`Limits::webhook_body_bytes`]
    WebhookBodyBytes,
    /// [`Limits::queued_notifications`]
    QueuedNotifications,
    /// [`Limits::registry_tags`]
    RegistryTags,
    /// [`Limits::template_steps`]
    TemplateSteps,
    /// [`Limits::template_bytes`]
    TemplateBytes,
    /// [`Limits::setter_file_bytes`]
    SetterFileBytes,
    /// [`Limits::push_report_bytes`]
    PushReportBytes,
    /// [`Limits::push_report_lines`]
    PushReportLines,
    /// [`Limits::git_file_bytes`]
    GitFileBytes,
    /// [`Limits::chart_file_bytes`]
    ChartFileBytes,
    /// [`Limits::chart_bytes`]
    ChartBytes,
    /// [`Limits::chart_files`]
    ChartFiles,
    /// [`Limits::helm_index_bytes`]
    HelmIndexBytes,
    /// [`Limits::helm_package_bytes`]
    HelmPackageBytes,
}

impl Limit {
    /// The `driftless controller` flag that sets this bound.
    #[must_use]
    pub fn flag(self) -> &'static str {
        match self {
            Limit::YamlAliasNodes => "--yaml-max-alias-nodes",
            Limit::YamlDepth => "--yaml-max-depth",
            Limit::ManifestFileBytes => "--manifest-max-file-size",
            Limit::WebhookBodyBytes => "--webhook-max-body-size",
            Limit::QueuedNotifications => "--notification-max-queued",
            Limit::RegistryTags => "--registry-max-tags",
            Limit::TemplateSteps => "--template-max-steps",
            Limit::TemplateBytes => "--template-max-bytes",
            Limit::SetterFileBytes => "--setter-max-file-size",
            Limit::PushReportBytes => "--push-report-max-size",
            Limit::PushReportLines => "--push-report-max-lines",
            Limit::GitFileBytes => "--git-max-file-size",
            Limit::ChartFileBytes => "--chart-max-file-size",
            Limit::ChartBytes => "--chart-max-size",
            Limit::ChartFiles => "--chart-max-files",
            Limit::HelmIndexBytes => "--helm-index-max-size",
            Limit::HelmPackageBytes => "--helm-chart-max-size",
        }
    }
}

static CURRENT: RwLock<Limits> = RwLock::new(Limits::DEFAULT);

/// Sets the bounds for the whole process; called once at start (the
/// controller from its options, the CLI from its flags).
pub fn install(limits: Limits) {
    // A writer never panics while holding the lock, so poisoning cannot
    // hide a half-written value: take it either way.
    *CURRENT
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = limits;
}

/// The bounds in force (the defaults until [`install`] is called).
#[must_use]
pub fn current() -> Limits {
    *CURRENT
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_flag_is_distinct_and_long() {
        let all = [
            Limit::YamlAliasNodes,
            Limit::YamlDepth,
            Limit::ManifestFileBytes,
            Limit::WebhookBodyBytes,
            Limit::QueuedNotifications,
            Limit::RegistryTags,
            Limit::TemplateSteps,
            Limit::SetterFileBytes,
            Limit::PushReportBytes,
            Limit::PushReportLines,
            Limit::GitFileBytes,
            Limit::ChartFileBytes,
            Limit::ChartBytes,
            Limit::ChartFiles,
            Limit::HelmIndexBytes,
            Limit::HelmPackageBytes,
        ];
        let mut flags: Vec<_> = all.iter().map(|l| l.flag()).collect();
        assert!(flags.iter().all(|f| f.starts_with("--")), "{flags:?}");
        flags.sort_unstable();
        flags.dedup();
        assert_eq!(flags.len(), all.len());
    }
}
