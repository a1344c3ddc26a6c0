//! Reading a chart from a directory or a `.tgz` archive, as Helm's loader
//! does: `.helmignore` for directories, the first path component stripped
//! for archives, a UTF-8 BOM dropped, files sorted into Chart.yaml,
//! values.yaml, values.schema.json, requirements.yaml (v1), `templates/`,
//! `charts/` (subcharts, directories or archives, `_`/`.`-prefixed skipped)
//! and everything else.
//!
//! Safety is this module's job: a chart never reaches outside itself. A
//! symlink may only point inside the chart; archive entries may not be
//! absolute, climb with `..`, or be links; each file and the whole chart,
//! decompressed, stay within `driftless_limits`' `chart_file_bytes` and
//! `chart_bytes` (Helm's 5 MiB and 100 MiB by default), with at most
//! [`MAX_FILES`] files.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::chart::{Chart, ChartFile, Metadata, declares_dependencies, dependencies_from};
use crate::error::ChartError;
use crate::ignore::Rules;

/// Most files one chart (with its subcharts) may hold.
pub const MAX_FILES: usize = 20_000;
/// Deepest nesting of subcharts in subcharts.
const MAX_DEPTH: usize = 16;
/// Deepest directory nesting a chart directory is walked to: a symlink
/// loop inside the chart (`templates/again -> ..`) ends here with an error
/// instead of walking until the path is too long.
const MAX_DIR_DEPTH: usize = 64;

/// Loads a chart from a directory or a `.tgz` file.
///
/// # Errors
/// Unreadable files, loader rule violations, malformed Chart.yaml or
/// values.yaml.
pub fn load(path: &Path) -> Result<Chart, ChartError> {
    let meta = std::fs::metadata(path).map_err(|source| ChartError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if meta.is_dir() {
        load_dir(path)
    } else {
        let data = std::fs::read(path).map_err(|source| ChartError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        load_archive(&data, &path.display().to_string())
    }
}

/// Loads a chart directory.
///
/// # Errors
/// As [`load`].
pub fn load_dir(dir: &Path) -> Result<Chart, ChartError> {
    let label = dir.display().to_string();
    let root = dir.canonicalize().map_err(|source| ChartError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let rules = match std::fs::read_to_string(root.join(".helmignore")) {
        Ok(text) => Rules::parse(&text).map_err(|message| ChartError::Load {
            chart: label.clone(),
            message,
        })?,
        Err(_) => Rules::defaults(),
    };
    let mut files = Vec::new();
    let mut budget = Budget::default();
    walk(&root, &root, "", &rules, &mut files, &mut budget, &label)?;
    load_files(files, &label, 0)
}

#[derive(Default)]
struct Budget {
    bytes: u64,
    files: usize,
}

impl Budget {
    fn take(&mut self, size: u64, name: &str, chart: &str) -> Result<(), ChartError> {
        let err = |message: String| ChartError::Load {
            chart: chart.to_string(),
            message,
        };
        let limits = driftless_limits::current();
        if size > limits.chart_file_bytes {
            return Err(err(format!(
                "file {name:?} is larger than the maximum file size {}; remove it or add it to .helmignore (or raise --chart-max-file-size)",
                limits.chart_file_bytes
            )));
        }
        self.bytes += size;
        self.files += 1;
        if self.bytes > limits.chart_bytes {
            return Err(err(format!(
                "decompressed chart is larger than the maximum size {} (--chart-max-size)",
                limits.chart_bytes
            )));
        }
        if self.files > MAX_FILES {
            return Err(err(format!("chart holds more than {MAX_FILES} files")));
        }
        Ok(())
    }
}

fn walk(
    root: &Path,
    dir: &Path,
    prefix: &str,
    rules: &Rules,
    files: &mut Vec<ChartFile>,
    budget: &mut Budget,
    label: &str,
) -> Result<(), ChartError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ChartError::Io { path, source }
    };
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io(dir))?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(io(dir))?;
    entries.sort();
    for path in entries {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let rel = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}/{name}")
        };
        let link = std::fs::symlink_metadata(&path).map_err(io(&path))?;
        let target = if link.file_type().is_symlink() {
            let resolved = path.canonicalize().map_err(io(&path))?;
            if !resolved.starts_with(root) {
                return Err(ChartError::Load {
                    chart: label.to_string(),
                    message: format!(
                        "{rel} is a symlink to {}, outside the chart; a chart may only link to its own files",
                        resolved.display()
                    ),
                });
            }
            resolved
        } else {
            path.clone()
        };
        let meta = std::fs::metadata(&target).map_err(io(&path))?;
        if meta.is_dir() {
            if !rules.ignores(&rel, true) {
                if rel.split('/').count() > MAX_DIR_DEPTH {
                    return Err(ChartError::Load {
                        chart: label.to_string(),
                        message: format!(
                            "{rel} nests deeper than {MAX_DIR_DEPTH} directories; is there a symlink loop?"
                        ),
                    });
                }
                walk(root, &target, &rel, rules, files, budget, label)?;
            }
            continue;
        }
        if rules.ignores(&rel, false) {
            continue;
        }
        if !meta.is_file() {
            return Err(ChartError::Load {
                chart: label.to_string(),
                message: format!(
                    "cannot load irregular file {rel} as it has file mode type bits set"
                ),
            });
        }
        budget.take(meta.len(), &rel, label)?;
        let data = std::fs::read(&target).map_err(io(&path))?;
        files.push(ChartFile {
            name: rel,
            data: strip_bom(data),
        });
    }
    Ok(())
}

fn strip_bom(mut data: Vec<u8>) -> Vec<u8> {
    if data.starts_with(&[0xEF, 0xBB, 0xBF]) {
        data.drain(..3);
    }
    data
}

/// Loads a gzipped chart archive.
///
/// # Errors
/// Not a gzipped tar, entries that break the path rules, limits exceeded.
pub fn load_archive(data: &[u8], label: &str) -> Result<Chart, ChartError> {
    let files = unpack(data, label)?;
    load_files(files, label, 0)
}

fn unpack(data: &[u8], label: &str) -> Result<Vec<ChartFile>, ChartError> {
    let err = |message: String| ChartError::Load {
        chart: label.to_string(),
        message,
    };
    if !data.starts_with(&[0x1f, 0x8b]) {
        return Err(err(
            "not a gzipped archive; a chart file must be a .tgz".into()
        ));
    }
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(data));
    let mut files: Vec<ChartFile> = Vec::new();
    let mut budget = Budget::default();
    let entries = archive
        .entries()
        .map_err(|e| err(format!("cannot read archive: {e}")))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| err(format!("cannot read archive: {e}")))?;
        let kind = entry.header().entry_type();
        let raw_name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        if kind.is_dir() || kind.is_pax_global_extensions() || kind.is_pax_local_extensions() {
            continue;
        }
        if !(kind.is_file() || kind == tar::EntryType::Continuous) {
            return Err(err(format!(
                "archive entry {raw_name:?} is a link or special file; charts may hold regular files only"
            )));
        }
        let name = raw_name.replace('\\', "/");
        if name.starts_with('/') {
            return Err(err("chart illegally contains absolute paths".into()));
        }
        // Drop the top directory (the chart's name).
        let Some((_, inner)) = name.split_once('/') else {
            continue;
        };
        let cleaned = clean_path(inner);
        if cleaned.starts_with("..") || cleaned == "." || cleaned.is_empty() {
            return Err(err(format!(
                "chart illegally contains content outside the base directory: {raw_name:?}"
            )));
        }
        if cleaned.len() > 1 && cleaned.as_bytes()[1] == b':' {
            return Err(err("chart contains illegally named files".into()));
        }
        if cleaned == "Chart.yaml" && inner != "Chart.yaml" {
            return Err(err("chart yaml not in base directory".into()));
        }
        let size = entry.header().size().unwrap_or(u64::MAX);
        budget.take(size, &cleaned, label)?;
        let max_file = driftless_limits::current().chart_file_bytes;
        let mut data = Vec::new();
        entry
            .by_ref()
            .take(max_file.saturating_add(1))
            .read_to_end(&mut data)
            .map_err(|e| err(format!("cannot read {cleaned}: {e}")))?;
        if data.len() as u64 > max_file {
            return Err(err(format!(
                "file {cleaned:?} is larger than the maximum file size {max_file} (--chart-max-file-size)"
            )));
        }
        let data = strip_bom(data);
        // A later entry of the same name replaces the earlier one.
        if let Some(existing) = files.iter_mut().find(|f| f.name == cleaned) {
            existing.data = data;
        } else {
            files.push(ChartFile {
                name: cleaned,
                data,
            });
        }
    }
    if files.is_empty() {
        return Err(err("no files in chart archive".into()));
    }
    Ok(files)
}

/// `path.Clean` for a relative path.
fn clean_path(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else {
                    parts.push("..");
                }
            }
            other => parts.push(other),
        }
    }
    parts.join("/")
}

fn yaml_error(chart: &str, file: &str, message: String) -> ChartError {
    ChartError::Yaml {
        chart: chart.to_string(),
        file: file.to_string(),
        message,
    }
}

/// A lock file must be a YAML mapping, as Helm's loader decodes it.
fn check_lock(label: &str, name: &str, file: &ChartFile) -> Result<(), ChartError> {
    let text = String::from_utf8_lossy(&file.data);
    crate::yaml::parse_map(&text)
        .map(|_| ())
        .map_err(|e| yaml_error(label, name, e))
}

/// Builds a chart from its files (Helm's `LoadFiles`).
fn load_files(files: Vec<ChartFile>, label: &str, depth: usize) -> Result<Chart, ChartError> {
    if depth > MAX_DEPTH {
        return Err(ChartError::Load {
            chart: label.to_string(),
            message: format!("subcharts nest deeper than {MAX_DEPTH} levels"),
        });
    }
    let mut chart = Chart::default();
    let chart_yaml = files
        .iter()
        .find(|f| f.name == "Chart.yaml")
        .ok_or_else(|| ChartError::Load {
            chart: label.to_string(),
            message: "Chart.yaml file is missing; a chart directory needs one at its root".into(),
        })?;
    let text = String::from_utf8_lossy(&chart_yaml.data);
    let map = crate::yaml::parse_map(&text).map_err(|e| yaml_error(label, "Chart.yaml", e))?;
    chart.metadata = Metadata::from_map(&map);
    // Helm picks its loader by apiVersion (an empty one is v1).
    let refused = match chart.metadata.api_version.as_str() {
        "v1" | "v2" => None,
        "v3" => Some("invalid chart apiVersion"),
        _ => Some("unsupported chart version"),
    };
    if let Some(problem) = refused {
        return Err(ChartError::Load {
            chart: label.to_string(),
            message: format!(
                "{problem}: Chart.yaml says apiVersion {:?}; use v2 (or v1)",
                chart.metadata.api_version
            ),
        });
    }
    let label = if chart.metadata.name.is_empty() {
        label.to_string()
    } else {
        chart.metadata.name.clone()
    };
    let mut subcharts: Vec<(String, Vec<ChartFile>)> = Vec::new();
    for file in files {
        match file.name.as_str() {
            "Chart.yaml" => {}
            // Helm decodes the lock even where nothing reads it, so a
            // broken one fails every load (its digest is only checked by
            // `helm dependency build`, not by `helm template`).
            "Chart.lock" => {
                check_lock(&label, "Chart.lock", &file)?;
                chart.has_lock = true;
            }
            "values.yaml" => {
                let text = String::from_utf8_lossy(&file.data);
                chart.values = crate::values::load_values(&text)
                    .map_err(|e| yaml_error(&label, "values.yaml", e))?;
            }
            "values.schema.json" => chart.schema = Some(file.data),
            "requirements.yaml" => {
                let text = String::from_utf8_lossy(&file.data);
                let map = crate::yaml::parse_map(&text)
                    .map_err(|e| yaml_error(&label, "requirements.yaml", e))?;
                chart.metadata.dependencies = dependencies_from(&map);
                chart.metadata.declares_dependencies = declares_dependencies(&map);
                if chart.metadata.api_version == "v1" {
                    chart.files.push(file);
                }
            }
            "requirements.lock" => {
                check_lock(&label, "requirements.lock", &file)?;
                chart.has_lock = true;
                if chart.metadata.api_version == "v1" {
                    chart.files.push(file);
                }
            }
            name if name.starts_with("templates/") => chart.templates.push(file),
            name if name.starts_with("charts/") => {
                if name.ends_with(".prov") {
                    chart.files.push(file);
                    continue;
                }
                let rest = &name["charts/".len()..];
                let (sub, inner) = rest.split_once('/').unwrap_or((rest, ""));
                let sub = sub.to_string();
                let entry = ChartFile {
                    name: inner.to_string(),
                    data: file.data,
                };
                match subcharts.iter_mut().find(|(n, _)| *n == sub) {
                    Some((_, list)) => list.push(entry),
                    None => subcharts.push((sub, vec![entry])),
                }
            }
            _ => chart.files.push(file),
        }
    }
    validate(&chart, &label)?;
    for (name, files) in subcharts {
        if name.starts_with('_') || name.starts_with('.') {
            continue;
        }
        let sub = if name.ends_with(".tgz") {
            let Some(archive) = files.iter().find(|f| f.name.is_empty()) else {
                return Err(ChartError::Load {
                    chart: label.clone(),
                    message: format!(
                        "error unpacking subchart tar in {label}: expected charts/{name} to be a file"
                    ),
                });
            };
            let inner = unpack(&archive.data, &format!("{label}/charts/{name}"))?;
            load_files(inner, &format!("{label}/charts/{name}"), depth + 1)?
        } else {
            let files: Vec<ChartFile> = files.into_iter().filter(|f| !f.name.is_empty()).collect();
            load_files(files, &format!("{label}/charts/{name}"), depth + 1)?
        };
        chart.dependencies.push(sub);
    }
    Ok(chart)
}

/// Helm's `Metadata.Validate`, the parts that stop a render.
fn validate(chart: &Chart, label: &str) -> Result<(), ChartError> {
    let err = |message: String| ChartError::Load {
        chart: label.to_string(),
        message,
    };
    let md = &chart.metadata;
    if md.api_version.is_empty() {
        return Err(err(
            "validation: chart.metadata.apiVersion is required".into()
        ));
    }
    if md.name.is_empty() {
        return Err(err("validation: chart.metadata.name is required".into()));
    }
    if md.name.contains('/') || md.name.contains('\\') || md.name == "." || md.name == ".." {
        return Err(err(format!(
            "validation: chart.metadata.name {:?} is invalid",
            md.name
        )));
    }
    if md.version.is_empty() {
        return Err(err("validation: chart.metadata.version is required".into()));
    }
    if crate::semver::Version::parse(&md.version).is_none() {
        return Err(err(format!(
            "validation: chart.metadata.version {:?} is invalid",
            md.version
        )));
    }
    if !md.chart_type.is_empty() && md.chart_type != "application" && md.chart_type != "library" {
        return Err(err(
            "chart.metadata.type must be application or library".into()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) {
        let p = dir.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    fn sample(dir: &Path) {
        write(
            dir,
            "Chart.yaml",
            "apiVersion: v2\nname: demo\nversion: 1.0.0\n",
        );
        write(dir, "values.yaml", "a: 1\n");
        write(dir, "templates/a.yaml", "x: 1\n");
        write(dir, "templates/.hidden", "x: 1\n");
        write(dir, "README.md", "doc\n");
        write(dir, ".helmignore", "*.md\n");
        write(
            dir,
            "charts/sub/Chart.yaml",
            "apiVersion: v2\nname: sub\nversion: 0.1.0\n",
        );
        write(dir, "charts/_skip/Chart.yaml", "name: skip\n");
    }

    #[test]
    fn loads_a_directory_with_helmignore_and_subcharts() {
        let tmp = tempfile::tempdir().unwrap();
        sample(tmp.path());
        let chart = load(tmp.path()).unwrap();
        assert_eq!(chart.name(), "demo");
        let templates: Vec<&str> = chart.templates.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(templates, ["templates/a.yaml"]);
        assert!(chart.files.iter().all(|f| f.name != "README.md"));
        assert_eq!(chart.dependencies.len(), 1);
        assert_eq!(chart.dependencies[0].name(), "sub");
    }

    #[test]
    fn refuses_a_symlink_out_of_the_chart() {
        let tmp = tempfile::tempdir().unwrap();
        sample(tmp.path());
        let outside = tempfile::tempdir().unwrap();
        write(outside.path(), "secret", "s");
        std::os::unix::fs::symlink(
            outside.path().join("secret"),
            tmp.path().join("templates/link"),
        )
        .unwrap();
        let e = load(tmp.path()).unwrap_err().to_string();
        assert!(e.contains("outside the chart"), "{e}");
    }

    #[test]
    fn a_symlink_loop_inside_the_chart_fails_instead_of_walking_forever() {
        let tmp = tempfile::tempdir().unwrap();
        sample(tmp.path());
        std::os::unix::fs::symlink(
            tmp.path().join("templates"),
            tmp.path().join("templates/again"),
        )
        .unwrap();
        let e = load(tmp.path()).unwrap_err().to_string();
        assert!(e.contains("symlink loop"), "{e}");
    }

    fn tgz(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
            Vec::new(),
            flate2::Compression::fast(),
        ));
        for (name, data) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_size(data.len() as u64);
            header.set_mode(0o644);
            header.set_entry_type(tar::EntryType::Regular);
            // Write the raw name so that hostile paths reach the loader.
            let bytes = name.as_bytes();
            header.as_old_mut().name[..bytes.len()].copy_from_slice(bytes);
            header.set_cksum();
            builder.append(&header, *data).unwrap();
        }
        builder.into_inner().unwrap().finish().unwrap()
    }

    #[test]
    fn loads_an_archive_and_refuses_escaping_paths() {
        let good = tgz(&[
            (
                "demo/Chart.yaml",
                b"apiVersion: v2\nname: demo\nversion: 1.0.0\n",
            ),
            ("demo/templates/a.yaml", b"x: 1\n"),
        ]);
        let chart = load_archive(&good, "demo.tgz").unwrap();
        assert_eq!(chart.templates.len(), 1);
        let bad = tgz(&[
            (
                "demo/Chart.yaml",
                b"apiVersion: v2\nname: demo\nversion: 1.0.0\n",
            ),
            ("demo/../../etc/x", b"x"),
        ]);
        let e = load_archive(&bad, "bad.tgz").unwrap_err().to_string();
        assert!(e.contains("outside the base directory"), "{e}");
        let abs = tgz(&[("/etc/passwd", b"x")]);
        assert!(
            load_archive(&abs, "abs.tgz")
                .unwrap_err()
                .to_string()
                .contains("absolute")
        );
        assert!(load_archive(b"not gzip", "x.tgz").is_err());
    }

    #[test]
    fn missing_chart_yaml_and_bad_version() {
        let tmp = tempfile::tempdir().unwrap();
        write(tmp.path(), "values.yaml", "a: 1\n");
        assert!(
            load(tmp.path())
                .unwrap_err()
                .to_string()
                .contains("Chart.yaml file is missing")
        );
        write(tmp.path(), "Chart.yaml", "name: x\nversion: abc\n");
        assert!(
            load(tmp.path())
                .unwrap_err()
                .to_string()
                .contains("version")
        );
    }
}
