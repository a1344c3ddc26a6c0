//! The `--*-max-*` flags of the bounds on input from outside
//! (`driftless_limits`), shared by `driftless controller` and
//! `driftless build`, so a repository that builds locally builds the same
//! way in the controller.

use driftless_limits::Limits;

const D: Limits = Limits::DEFAULT;

/// Bounds on input from outside; each error past one names its flag.
#[derive(clap::Args, Clone, Debug)]
#[command(next_help_heading = "Input bounds")]
pub struct LimitArgs {
    /// Nodes YAML aliases may copy into one file ("billion laughs" files).
    #[arg(long, global = true, default_value_t = D.yaml_alias_nodes, value_name = "N")]
    yaml_max_alias_nodes: usize,
    /// Nesting of YAML collections.
    #[arg(long, global = true, default_value_t = D.yaml_depth, value_name = "N")]
    yaml_max_depth: usize,
    /// Bytes of one file a build reads (manifests, patches, generator files).
    #[arg(long, global = true, default_value_t = D.manifest_file_bytes, value_name = "BYTES")]
    manifest_max_file_size: u64,
    /// Bytes of one webhook (Receiver) or event request body.
    #[arg(long, global = true, default_value_t = D.webhook_body_bytes, value_name = "BYTES")]
    webhook_max_body_size: usize,
    /// Notifications waiting to be sent.
    #[arg(long, global = true, default_value_t = D.queued_notifications, value_name = "N")]
    notification_max_queued: usize,
    /// Tags listed from one registry repository.
    #[arg(long, global = true, default_value_t = D.registry_tags, value_name = "N")]
    registry_max_tags: usize,
    /// Steps one Go template may run (charts, commit messages, branch names).
    #[arg(long, global = true, default_value_t = D.template_steps, value_name = "N")]
    template_max_steps: u64,
    /// Bytes one Go template may build (strings and lists its functions
    /// return, text it writes).
    #[arg(long, global = true, default_value_t = D.template_bytes, value_name = "BYTES")]
    template_max_bytes: u64,
    /// Bytes of a file the image setters read (larger files are skipped).
    #[arg(long, global = true, default_value_t = D.setter_file_bytes, value_name = "BYTES")]
    setter_max_file_size: u64,
    /// Bytes of a git server's push report.
    #[arg(long, global = true, default_value_t = D.push_report_bytes, value_name = "BYTES")]
    push_report_max_size: usize,
    /// Lines of a git server's push report.
    #[arg(long, global = true, default_value_t = D.push_report_lines, value_name = "N")]
    push_report_max_lines: usize,
    /// Bytes of one file a git source puts in its artifact.
    #[arg(long, global = true, default_value_t = D.git_file_bytes, value_name = "BYTES")]
    git_max_file_size: u64,
    /// Bytes of one file of a Helm chart, decompressed (Helm's bound).
    #[arg(long, global = true, default_value_t = D.chart_file_bytes, value_name = "BYTES")]
    chart_max_file_size: u64,
    /// Bytes of a whole Helm chart, decompressed (Helm's bound).
    #[arg(long, global = true, default_value_t = D.chart_bytes, value_name = "BYTES")]
    chart_max_size: u64,
    /// Files in one Helm chart.
    #[arg(long, global = true, default_value_t = D.chart_files, value_name = "N")]
    chart_max_files: usize,
    /// Bytes of a Helm repository's index.yaml (Flux's flag).
    #[arg(long, global = true, default_value_t = D.helm_index_bytes, value_name = "BYTES")]
    helm_index_max_size: u64,
    /// Bytes of a packaged Helm chart as downloaded (Flux's flag).
    #[arg(long, global = true, default_value_t = D.helm_package_bytes, value_name = "BYTES")]
    helm_chart_max_size: u64,
}

impl LimitArgs {
    /// The bounds these flags set.
    pub fn limits(&self) -> Limits {
        let mut limits = Limits::DEFAULT;
        limits.yaml_alias_nodes = self.yaml_max_alias_nodes;
        limits.yaml_depth = self.yaml_max_depth;
        limits.manifest_file_bytes = self.manifest_max_file_size;
        limits.webhook_body_bytes = self.webhook_max_body_size;
        limits.queued_notifications = self.notification_max_queued;
        limits.registry_tags = self.registry_max_tags;
        limits.template_steps = self.template_max_steps;
        limits.template_bytes = self.template_max_bytes;
        limits.setter_file_bytes = self.setter_max_file_size;
        limits.push_report_bytes = self.push_report_max_size;
        limits.push_report_lines = self.push_report_max_lines;
        limits.git_file_bytes = self.git_max_file_size;
        limits.chart_file_bytes = self.chart_max_file_size;
        limits.chart_bytes = self.chart_max_size;
        limits.chart_files = self.chart_max_files;
        limits.helm_index_bytes = self.helm_index_max_size;
        limits.helm_package_bytes = self.helm_chart_max_size;
        limits
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;

    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        limits: LimitArgs,
    }

    #[test]
    fn no_flag_means_the_defaults() {
        let cli = Cli::try_parse_from(["x"]).expect("parses");
        assert_eq!(cli.limits.limits(), Limits::DEFAULT);
    }

    #[test]
    fn each_flag_sets_its_bound() {
        let cli = Cli::try_parse_from([
            "x",
            "--manifest-max-file-size",
            "10",
            "--yaml-max-depth",
            "9",
            "--push-report-max-lines",
            "3",
        ])
        .expect("parses");
        let limits = cli.limits.limits();
        assert_eq!(limits.manifest_file_bytes, 10);
        assert_eq!(limits.yaml_depth, 9);
        assert_eq!(limits.push_report_lines, 3);
        assert_eq!(limits.registry_tags, Limits::DEFAULT.registry_tags);
    }

    /// Each flag named in an error is a flag of this struct.
    #[test]
    fn the_flags_errors_name_exist() {
        let help = {
            use clap::CommandFactory as _;
            Cli::command().render_long_help().to_string()
        };
        for limit in [
            driftless_limits::Limit::YamlAliasNodes,
            driftless_limits::Limit::YamlDepth,
            driftless_limits::Limit::ManifestFileBytes,
            driftless_limits::Limit::WebhookBodyBytes,
            driftless_limits::Limit::QueuedNotifications,
            driftless_limits::Limit::RegistryTags,
            driftless_limits::Limit::TemplateSteps,
            driftless_limits::Limit::TemplateBytes,
            driftless_limits::Limit::SetterFileBytes,
            driftless_limits::Limit::PushReportBytes,
            driftless_limits::Limit::PushReportLines,
            driftless_limits::Limit::GitFileBytes,
            driftless_limits::Limit::ChartFileBytes,
            driftless_limits::Limit::ChartBytes,
            driftless_limits::Limit::ChartFiles,
            driftless_limits::Limit::HelmIndexBytes,
            driftless_limits::Limit::HelmPackageBytes,
        ] {
            assert!(help.contains(limit.flag()), "{} is missing", limit.flag());
        }
    }
}
