//! `helm template --output-dir`: each document written under the
//! directory at its template's path instead of printed, with Helm's
//! layout and its quirks kept, since scripts read these trees:
//!
//! - CRD files go under the directory itself, manifests and hooks under
//!   `DIR/RELEASE` with `--release-name`;
//! - a file's first manifest replaces it and the next ones append, while a
//!   hook appends to any file that exists already, one from an earlier run
//!   included;
//! - each document is `---\n# Source: PATH\nCONTENT\n`, and every write
//!   is reported as `wrote DIR/PATH` (the directory as given, joined with
//!   `/`).
//!
//! This is the one part of the crate that writes files; only the CLI
//! calls it.

use std::collections::HashSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::error::ChartError;
use crate::render::{RenderOptions, Rendered};

/// Writes `rendered` under `dir` as `helm template --output-dir` does
/// (`use_release_name`: `--release-name`), telling `progress` what Helm
/// prints as it goes: one `wrote PATH` line per document, then an empty
/// line (not after a `--show-only` failure).
///
/// # Errors
/// A directory or file that cannot be written; with `--show-only`, Helm's
/// `could not find template` once everything is written (Helm looks for
/// the templates in what it printed, which is nothing here).
pub fn write(
    rendered: &Rendered,
    options: &RenderOptions,
    dir: &str,
    use_release_name: bool,
    progress: &mut dyn std::io::Write,
) -> Result<(), ChartError> {
    let release_dir = if use_release_name {
        Path::new(dir)
            .join(&options.release_name)
            .display()
            .to_string()
    } else {
        dir.to_owned()
    };
    let mut written = HashSet::new();
    let crds: &[(String, String)] = if options.include_crds {
        &rendered.crds
    } else {
        &[]
    };
    for (name, content) in crds {
        let append = !written.insert(name.as_str());
        write_document(dir, name, content, append, progress)?;
    }
    for manifest in &rendered.manifests {
        let append = !written.insert(manifest.source.as_str());
        write_document(
            &release_dir,
            &manifest.source,
            &manifest.content,
            append,
            progress,
        )?;
    }
    for hook in rendered.hooks_shown(options) {
        let append = Path::new(&release_dir).join(&hook.source).exists();
        write_document(&release_dir, &hook.source, &hook.content, append, progress)?;
    }
    if let Some(pattern) = options.show_only.first() {
        return Err(ChartError::Invalid(format!(
            "could not find template {pattern} in chart"
        )));
    }
    // What is left to print (nothing) and its newline.
    report(progress, "\n")
}

/// Prints a progress line; a reader that went away (`| head`) stops
/// nothing, the files are what matters.
fn report(progress: &mut dyn std::io::Write, line: &str) -> Result<(), ChartError> {
    match progress
        .write_all(line.as_bytes())
        .and_then(|()| progress.flush())
    {
        Err(source) if source.kind() != std::io::ErrorKind::BrokenPipe => Err(ChartError::Write {
            path: PathBuf::from("standard output"),
            source,
        }),
        _ => Ok(()),
    }
}

/// Writes one document to `dir/name`, replacing the file or appending.
fn write_document(
    dir: &str,
    name: &str,
    content: &str,
    append: bool,
    progress: &mut dyn std::io::Write,
) -> Result<(), ChartError> {
    let path = PathBuf::from(format!("{dir}/{name}"));
    let failed = |source| ChartError::Write {
        path: path.clone(),
        source,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(failed)?;
    }
    let mut file = if append {
        std::fs::OpenOptions::new().append(true).open(&path)
    } else {
        std::fs::File::create(&path)
    }
    .map_err(failed)?;
    write!(file, "---\n# Source: {name}\n{content}\n").map_err(failed)?;
    report(progress, &format!("wrote {}\n", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifests::{Hook, Manifest};

    fn manifest(source: &str, content: &str) -> Manifest {
        Manifest {
            source: source.into(),
            content: content.into(),
            kind: "ConfigMap".into(),
            api_version: "v1".into(),
            name: "x".into(),
        }
    }

    fn rendered() -> Rendered {
        Rendered {
            manifests: vec![
                manifest("c/templates/a.yaml", "kind: A"),
                manifest("c/templates/a.yaml", "kind: B"),
            ],
            hooks: vec![Hook {
                name: "t".into(),
                kind: "Pod".into(),
                source: "c/templates/t.yaml".into(),
                content: "kind: Pod".into(),
                events: vec!["test".into()],
                weight: 0,
                delete_policies: Vec::new(),
                output_log_policies: Vec::new(),
            }],
            crds: vec![("c/crds/x.yaml".into(), "kind: CRD".into())],
            notes: String::new(),
            metadata: crate::chart::Metadata::default(),
            values: driftless_render::yaml::Map::new(),
        }
    }

    #[test]
    fn lays_files_out_as_helm_and_appends_hooks_to_existing_files() {
        let tmp = tempfile::tempdir().expect("tmp");
        let dir = tmp.path().display().to_string();
        let options = RenderOptions {
            release_name: "r".into(),
            include_crds: true,
            ..RenderOptions::default()
        };
        let mut printed = Vec::new();
        write(&rendered(), &options, &dir, true, &mut printed).expect("written");
        assert_eq!(
            String::from_utf8(printed).expect("utf8"),
            format!(
                "wrote {dir}/c/crds/x.yaml\nwrote {dir}/r/c/templates/a.yaml\nwrote {dir}/r/c/templates/a.yaml\nwrote {dir}/r/c/templates/t.yaml\n\n"
            )
        );
        let read = |p: &str| std::fs::read_to_string(tmp.path().join(p)).expect(p);
        assert_eq!(
            read("r/c/templates/a.yaml"),
            "---\n# Source: c/templates/a.yaml\nkind: A\n---\n# Source: c/templates/a.yaml\nkind: B\n"
        );
        // A second run replaces manifests but appends to the hook's file.
        write(&rendered(), &options, &dir, true, &mut Vec::new()).expect("written again");
        assert_eq!(read("r/c/templates/a.yaml").matches("# Source").count(), 2);
        assert_eq!(read("r/c/templates/t.yaml").matches("# Source").count(), 2);
    }

    #[test]
    fn show_only_fails_after_writing() {
        let tmp = tempfile::tempdir().expect("tmp");
        let options = RenderOptions {
            show_only: vec!["templates/a.yaml".into()],
            skip_tests: true,
            ..RenderOptions::default()
        };
        let dir = tmp.path().display().to_string();
        let err = write(&rendered(), &options, &dir, false, &mut Vec::new()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "could not find template templates/a.yaml in chart"
        );
        assert!(tmp.path().join("c/templates/a.yaml").exists());
        assert!(
            !tmp.path().join("c/templates/t.yaml").exists(),
            "a test hook"
        );
    }
}
