//! Chart packages: reading a `.tgz` or a chart directory into memory
//! (bounded, `.helmignore` honoured with Helm's own rules from
//! `driftless-chart`), `Chart.yaml`'s name and version, and writing
//! `<name>/…` back as a deterministic gzip tarball.

use std::io::{Read, Write};
use std::path::Path;

use driftless_chart::ignore::Rules;
use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use serde_json::{Map, Value};

use super::{HelmError, HelmLimits};

/// A chart's files, paths relative to the chart root (`/`-separated).
#[derive(Debug, Clone)]
pub(crate) struct ChartFiles {
    pub(crate) files: Vec<(String, Vec<u8>)>,
}

/// `Chart.yaml`'s fields we need, and the whole document.
pub(crate) struct ChartMeta {
    pub(crate) name: String,
    pub(crate) version: String,
    pub(crate) document: Map<String, Value>,
}

struct Budget<'a> {
    limits: &'a HelmLimits,
    label: &'a str,
    bytes: u64,
    files: usize,
}

impl Budget<'_> {
    fn take(&mut self, path: &str, size: u64) -> Result<(), HelmError> {
        let invalid = |problem: String| HelmError::InvalidChart {
            chart: self.label.to_string(),
            problem,
        };
        if size > self.limits.max_chart_file_size {
            return Err(invalid(format!(
                "file {path:?} exceeds the limit of {} bytes per file (--chart-max-file-size)",
                self.limits.max_chart_file_size
            )));
        }
        self.bytes += size;
        self.files += 1;
        if self.bytes > self.limits.max_chart_unpacked_size {
            return Err(invalid(format!(
                "its files exceed the limit of {} bytes in all (--chart-max-size)",
                self.limits.max_chart_unpacked_size
            )));
        }
        if self.files > self.limits.max_chart_files {
            return Err(invalid(format!(
                "it holds more than {} files (--chart-max-files)",
                self.limits.max_chart_files
            )));
        }
        Ok(())
    }
}

impl ChartFiles {
    /// Reads a packaged chart: regular files under one top directory,
    /// which is dropped (Helm's loader does the same).
    pub(crate) fn from_archive(
        bytes: &[u8],
        label: &str,
        limits: &HelmLimits,
    ) -> Result<ChartFiles, HelmError> {
        let invalid = |problem: String| HelmError::InvalidChart {
            chart: label.to_string(),
            problem,
        };
        let mut budget = Budget {
            limits,
            label,
            bytes: 0,
            files: 0,
        };
        let mut archive = tar::Archive::new(GzDecoder::new(bytes));
        let entries = archive
            .entries()
            .map_err(|e| invalid(format!("not a gzip tarball: {e}")))?;
        let mut files = Vec::new();
        for entry in entries {
            let mut entry = entry.map_err(|e| invalid(format!("not a gzip tarball: {e}")))?;
            let kind = entry.header().entry_type();
            if kind.is_dir() || kind.is_pax_global_extensions() || kind.is_pax_local_extensions() {
                continue;
            }
            let path = entry
                .path()
                .map_err(|e| invalid(format!("an entry has an unreadable path: {e}")))?
                .to_string_lossy()
                .replace('\\', "/");
            if !kind.is_file() {
                return Err(invalid(format!("{path:?} is not a regular file")));
            }
            let rel = match path.split_once('/') {
                Some((_, rel)) if !rel.is_empty() => rel.to_string(),
                _ => {
                    return Err(invalid(format!(
                        "{path:?} is not inside the chart's directory"
                    )));
                }
            };
            if rel.split('/').any(|p| p == ".." || p.is_empty()) {
                return Err(invalid(format!("{path:?} leaves the chart's directory")));
            }
            budget.take(&rel, entry.size())?;
            let mut data = Vec::new();
            (&mut entry)
                .take(limits.max_chart_file_size.saturating_add(1))
                .read_to_end(&mut data)
                .map_err(|e| invalid(format!("reading {path:?}: {e}")))?;
            files.push((rel, data));
        }
        if files.is_empty() {
            return Err(invalid("the archive holds no files".into()));
        }
        Ok(ChartFiles { files })
    }

    /// Reads a chart directory, leaving out what `.helmignore` (Helm's
    /// rules) ignores. Symbolic links must stay inside `source_root`.
    pub(crate) fn from_dir(
        dir: &Path,
        source_root: &Path,
        label: &str,
        limits: &HelmLimits,
    ) -> Result<ChartFiles, HelmError> {
        let invalid = |problem: String| HelmError::InvalidChart {
            chart: label.to_string(),
            problem,
        };
        // Read only a .helmignore inside the source (a link may point anywhere).
        let ignore_file = dir
            .join(".helmignore")
            .canonicalize()
            .ok()
            .filter(|p| p.starts_with(source_root) && p.is_file());
        let rules = match ignore_file.map(std::fs::read_to_string) {
            Some(Ok(text)) => Rules::parse(&text).map_err(invalid)?,
            Some(Err(e)) => return Err(invalid(format!("reading .helmignore: {e}"))),
            None => Rules::defaults(),
        };
        let mut budget = Budget {
            limits,
            label,
            bytes: 0,
            files: 0,
        };
        let mut files = Vec::new();
        walk(dir, "", source_root, &rules, &mut budget, &mut files, label)?;
        Ok(ChartFiles { files })
    }

    pub(crate) fn get(&self, path: &str) -> Option<&[u8]> {
        self.files
            .iter()
            .find(|(p, _)| p == path)
            .map(|(_, d)| d.as_slice())
    }

    pub(crate) fn set(&mut self, path: &str, data: Vec<u8>) {
        match self.files.iter_mut().find(|(p, _)| p == path) {
            Some(slot) => slot.1 = data,
            None => self.files.push((path.to_string(), data)),
        }
    }

    /// `Chart.yaml`'s name and version, both required, the version a semver.
    pub(crate) fn meta(&self, label: &str) -> Result<ChartMeta, HelmError> {
        let invalid = |problem: String| HelmError::InvalidChart {
            chart: label.to_string(),
            problem,
        };
        let raw = self
            .get("Chart.yaml")
            .ok_or_else(|| invalid("Chart.yaml is missing".into()))?;
        let document: Map<String, Value> = serde_saphyr::from_slice(raw)
            .map_err(|e| invalid(format!("Chart.yaml is not a YAML mapping: {e}")))?;
        let text = |key: &str| match document.get(key) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => String::new(),
        };
        let (name, version) = (text("name"), text("version"));
        if name.is_empty() {
            return Err(invalid("Chart.yaml has no name".into()));
        }
        if driftless_semver::Version::parse(&version).is_none() {
            return Err(invalid(format!(
                "Chart.yaml version {version:?} is not a semantic version"
            )));
        }
        Ok(ChartMeta {
            name,
            version,
            document,
        })
    }

    /// Writes `<name>/<path>` for every file, `Chart.yaml` and `values.yaml`
    /// first as Helm does, the rest by path; fixed modes and times so the
    /// same files always give the same bytes.
    pub(crate) fn write_package(&self, name: &str, out: &mut dyn Write) -> std::io::Result<()> {
        let mut order: Vec<&(String, Vec<u8>)> = self.files.iter().collect();
        let rank = |p: &str| match p {
            "Chart.yaml" => 0,
            "values.yaml" => 1,
            _ => 2,
        };
        order.sort_by(|a, b| rank(&a.0).cmp(&rank(&b.0)).then_with(|| a.0.cmp(&b.0)));
        let mut tar = tar::Builder::new(GzEncoder::new(out, Compression::default()));
        for (path, data) in order {
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(tar::EntryType::Regular);
            header.set_mode(0o644);
            header.set_mtime(0);
            header.set_size(data.len() as u64);
            tar.append_data(&mut header, format!("{name}/{path}"), data.as_slice())?;
        }
        tar.into_inner()?.finish()?;
        Ok(())
    }
}

/// How deep a chart's directories may nest. Links to directories are
/// followed (inside the source), so a link loop would otherwise recurse
/// until the stack overflows.
const MAX_DEPTH: usize = 32;

fn walk(
    dir: &Path,
    prefix: &str,
    source_root: &Path,
    rules: &Rules,
    budget: &mut Budget<'_>,
    files: &mut Vec<(String, Vec<u8>)>,
    label: &str,
) -> Result<(), HelmError> {
    let invalid = |problem: String| HelmError::InvalidChart {
        chart: label.to_string(),
        problem,
    };
    let io = |path: &Path, e: std::io::Error| invalid(format!("reading {}: {e}", path.display()));
    if prefix.split('/').count() > MAX_DEPTH {
        return Err(invalid(format!(
            "{prefix} is nested more than {MAX_DEPTH} directories deep (a symbolic link loop?)"
        )));
    }
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| io(dir, e))?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(|e| io(dir, e))?;
    entries.sort();
    for path in entries {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let rel = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        let resolved = path.canonicalize().map_err(|e| io(&path, e))?;
        if !resolved.starts_with(source_root) {
            return Err(invalid(format!("{rel} links outside the source")));
        }
        let meta = std::fs::metadata(&resolved).map_err(|e| io(&path, e))?;
        if meta.is_dir() {
            if !rules.ignores(&rel, true) {
                walk(&resolved, &rel, source_root, rules, budget, files, label)?;
            }
            continue;
        }
        if rules.ignores(&rel, false) {
            continue;
        }
        if !meta.is_file() {
            return Err(invalid(format!("{rel} is not a regular file")));
        }
        budget.take(&rel, meta.len())?;
        let data = std::fs::read(&resolved).map_err(|e| io(&path, e))?;
        files.push((rel, data));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packages_round_trip_deterministically() {
        let files = ChartFiles {
            files: vec![
                ("templates/a.yaml".into(), b"kind: A\n".to_vec()),
                ("values.yaml".into(), b"x: 1\n".to_vec()),
                (
                    "Chart.yaml".into(),
                    b"name: demo\nversion: 1.0.0\n".to_vec(),
                ),
            ],
        };
        let mut first = Vec::new();
        files.write_package("demo", &mut first).expect("write");
        let mut second = Vec::new();
        files.write_package("demo", &mut second).expect("write");
        assert_eq!(first, second);
        let back = ChartFiles::from_archive(&first, "demo", &HelmLimits::default()).expect("read");
        let names: Vec<&str> = back.files.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(names, ["Chart.yaml", "values.yaml", "templates/a.yaml"]);
        let meta = back.meta("demo").expect("meta");
        assert_eq!(
            (meta.name.as_str(), meta.version.as_str()),
            ("demo", "1.0.0")
        );
    }

    #[test]
    fn a_link_loop_is_refused_not_followed_forever() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().canonicalize().expect("canonical");
        let chart = root.join("chart");
        std::fs::create_dir_all(chart.join("x")).expect("mkdir");
        std::fs::write(chart.join("Chart.yaml"), "name: c\nversion: 1.0.0\n").expect("write");
        std::os::unix::fs::symlink("..", chart.join("x/up")).expect("symlink");
        let err =
            ChartFiles::from_dir(&chart, &root, "chart", &HelmLimits::default()).expect_err("loop");
        assert!(err.to_string().contains("link loop"), "{err}");
    }

    #[test]
    fn archive_limits_and_paths_are_enforced() {
        let files = ChartFiles {
            files: vec![("big".into(), vec![0; 100])],
        };
        let mut bytes = Vec::new();
        files.write_package("demo", &mut bytes).expect("write");
        let limits = HelmLimits {
            max_chart_file_size: 50,
            ..HelmLimits::default()
        };
        let err = ChartFiles::from_archive(&bytes, "demo", &limits).expect_err("too big");
        assert!(err.to_string().contains("50 bytes per file"), "{err}");
        let err = ChartFiles::from_archive(b"not gzip", "demo", &limits).expect_err("garbage");
        assert!(matches!(err, HelmError::InvalidChart { .. }), "{err}");
    }
}
