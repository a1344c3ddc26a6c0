//! Every way loading or rendering a chart can fail, each naming the chart,
//! the file (and line, where the template engine knows it) and what to do.

use std::path::PathBuf;

/// A chart that cannot be loaded, valued or rendered.
#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    /// A file or directory could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// What was being read.
        path: PathBuf,
        /// The system's reason.
        source: std::io::Error,
    },
    /// A file of `--output-dir` could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// What was being written.
        path: PathBuf,
        /// The system's reason.
        source: std::io::Error,
    },
    /// The chart's files break a loader rule (size, path, links, layout).
    #[error("chart {chart}: {message}")]
    Load {
        /// The chart (its path or name).
        chart: String,
        /// What is wrong and what to do.
        message: String,
    },
    /// Chart.yaml, requirements.yaml or values.yaml is not valid YAML.
    #[error("chart {chart}: cannot load {file}: {message}")]
    Yaml {
        /// The chart.
        chart: String,
        /// The file inside it.
        file: String,
        /// The parser's message with its line.
        message: String,
    },
    /// A user values source (a `-f` file or a `--set*` argument) is malformed.
    #[error("{source_name}: {message}")]
    Values {
        /// The file name or flag and argument.
        source_name: String,
        /// What is wrong.
        message: String,
    },
    /// The chart's dependencies do not fit its Chart.yaml.
    #[error("chart {chart}: {message}")]
    Dependency {
        /// The chart whose dependencies are wrong.
        chart: String,
        /// What is wrong and what to do.
        message: String,
    },
    /// A template failed to parse or execute (Helm's wording: the template
    /// name, line and column, and what failed).
    #[error("{message}")]
    Template {
        /// Helm's message: `template: <file>:<line>:<col>: ...`.
        message: String,
    },
    /// The rendered output cannot be split into manifests.
    #[error("YAML parse error on {file}: {message}")]
    Manifest {
        /// The template file whose output is not YAML.
        file: String,
        /// The parser's message.
        message: String,
    },
    /// An argument to the renderer is invalid (`--kube-version`, `--show-only`).
    #[error("{0}")]
    Invalid(String),
}
