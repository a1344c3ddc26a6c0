//! The errors a build can end with. Each variant names the file (and field
//! where there is one); the underlying cause, if any, is its `source`.

use std::path::PathBuf;

/// Why a build failed.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// A file or directory could not be read.
    #[error("{}: cannot read", path.display())]
    Read {
        /// The file or directory.
        path: PathBuf,
        /// The operating system's answer.
        #[source]
        source: std::io::Error,
    },
    /// A file is over the manifest bound; it was not read.
    #[error(
        "{}: {size} bytes is more than the {limit} a file may have (raise {} if this file is honest)",
        path.display(),
        driftless_limits::Limit::ManifestFileBytes.flag()
    )]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        size: u64,
        /// The bound.
        limit: u64,
    },
    /// A file is not valid YAML.
    #[error("{}: invalid YAML", path.display())]
    Yaml {
        /// The file or directory.
        path: PathBuf,
        /// The parser's message.
        #[source]
        source: YamlError,
    },
    /// A field holds a value we cannot use.
    #[error("{}: {field}: {message}", file.display())]
    Invalid {
        /// The kustomization file.
        file: PathBuf,
        /// The field, as written.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// A field we do not implement; never silently ignored.
    #[error("{}: field `{field}` is not supported by driftless", file.display())]
    Unsupported {
        /// The kustomization file.
        file: PathBuf,
        /// The field, as written.
        field: String,
    },
    /// A remote resource; builds never touch the network.
    #[error("{}: {field}: remote resource {url:?} is not allowed (builds never use the network)", file.display())]
    Remote {
        /// The kustomization file.
        file: PathBuf,
        /// The field, as written.
        field: String,
        /// The repository's or server's URL.
        url: String,
    },
    /// A path that escapes the directory it may be loaded from.
    #[error("{}: {field}: security; file '{}' is not in or below '{}'", file.display(), target.display(), root.display())]
    OutsideRoot {
        /// The kustomization file.
        file: PathBuf,
        /// The field, as written.
        field: String,
        /// Where it points.
        target: PathBuf,
        /// The directory it must stay in.
        root: PathBuf,
    },
    /// A problem with the set of resources (conflicts, ambiguous references…).
    #[error("{}: {message}", file.display())]
    Resources {
        /// The kustomization file.
        file: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A file that a kustomization field names could not be loaded.
    #[error("{}: {field}: cannot load '{entry}'", file.display())]
    Entry {
        /// The kustomization file.
        file: PathBuf,
        /// The field, as written.
        field: String,
        /// The entry, as written.
        entry: String,
        /// Why it could not be loaded (the file's own error).
        #[source]
        source: Box<BuildError>,
    },
    /// A nested kustomization failed.
    #[error("{}: {field}: accumulating resources from '{entry}'", file.display())]
    Nested {
        /// The kustomization file.
        file: PathBuf,
        /// The field, as written.
        field: String,
        /// The entry, as written.
        entry: String,
        /// Why the nested build failed.
        #[source]
        source: Box<BuildError>,
    },
}

/// The parser's message for invalid YAML.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct YamlError(pub String);

/// A failed post-build substitution.
#[derive(Debug, thiserror::Error)]
pub enum SubstituteError {
    /// Strict mode: a variable with no value and no default.
    #[error("{object}: variable '{var}' is not defined and has no default")]
    Undefined {
        /// The object, as `Kind/namespace/name`.
        object: String,
        /// The variable's name.
        var: String,
    },
    /// A `${` with no closing brace, or an invalid name.
    #[error("{object}: malformed variable expression '{expr}'")]
    Malformed {
        /// The object, as `Kind/namespace/name`.
        object: String,
        /// The expression, as written.
        expr: String,
    },
    /// The input stream is not valid YAML.
    #[error("invalid YAML")]
    Yaml(#[source] YamlError),
}
