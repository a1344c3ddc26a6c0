//! One layer of an OCI artifact: downloaded into memory under a size limit
//! (the registry client checks its digest while it streams), then either
//! unpacked and re-archived (`operation: extract`) or kept as is
//! (`operation: copy`).
//!
//! Extract follows Flux: links are skipped, only files and directories
//! land in the artifact, and the ignore rules of a git source apply
//! (default exclusions, the layer's `.sourceignore` files, `spec.ignore`).
//! The result goes through the crate's deterministic tarball writer, so the
//! same layer content gives the same artifact digest. Every count and size
//! is bounded by [`UnpackLimits`].

use std::collections::{BTreeMap, HashSet};
use std::io::Read;

use futures::StreamExt as _;
use oci_client::Reference;
use oci_client::manifest::OciDescriptor;

use crate::archive::{Content, Entry, Kind, Rules, SOURCEIGNORE};
use crate::oci::OciError;
use crate::{Error, UnpackLimits};

/// Downloads the blob of `layer`, refusing more than `limit` bytes (as
/// announced by the manifest, by the response, or as actually streamed).
pub(crate) async fn download(
    client: &oci_client::Client,
    image: &Reference,
    layer: &OciDescriptor,
    url: &str,
    limit: u64,
) -> Result<Vec<u8>, OciError> {
    let too_large = |size: u64| OciError::LayerTooLarge {
        url: url.to_owned(),
        digest: layer.digest.clone(),
        size,
        limit,
    };
    let announced = u64::try_from(layer.size).unwrap_or(u64::MAX);
    if announced > limit {
        return Err(too_large(announced));
    }
    let mut stream = client
        .pull_blob_stream(image, layer)
        .await
        .map_err(|e| super::classify(e, url, image, "downloading the layer"))?;
    if let Some(length) = stream.content_length.filter(|l| *l > limit) {
        return Err(too_large(length));
    }
    let mut blob = Vec::with_capacity(usize::try_from(announced.min(limit)).unwrap_or(0));
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| OciError::Registry {
            url: url.to_owned(),
            during: "downloading the layer",
            source: Box::new(e),
        })?;
        let size = (blob.len() + chunk.len()) as u64;
        if size > limit {
            return Err(too_large(size));
        }
        blob.extend_from_slice(&chunk);
    }
    Ok(blob)
}

/// The files of the gzip tarball `blob`, minus ignored paths, as archive
/// entries. `origin` names the layer in errors.
pub(crate) fn extract(
    blob: &[u8],
    origin: &str,
    limits: &UnpackLimits,
    spec_ignore: Option<&str>,
) -> Result<Vec<Entry>, Error> {
    let files = untar(blob, origin, limits)?;
    let mut rules = Rules::new(spec_ignore)?;
    let mut ignore_files: Vec<(&String, &File)> = files
        .iter()
        .filter(|(path, _)| path.rsplit('/').next() == Some(SOURCEIGNORE))
        .collect();
    ignore_files.sort_by_key(|(path, _)| path.matches('/').count());
    for (path, file) in ignore_files {
        let dir = path.rsplit_once('/').map_or("", |(dir, _)| dir);
        rules.push_dir(dir, &String::from_utf8_lossy(&file.bytes), path)?;
    }
    let ignored = |path: &str| {
        let mut dir = String::new();
        for part in path.split('/') {
            if !dir.is_empty() {
                dir.push('/');
            }
            dir.push_str(part);
            let is_dir = dir.len() < path.len();
            if rules.ignored(&dir, is_dir) {
                return true;
            }
        }
        false
    };
    Ok(files
        .iter()
        .filter(|(path, _)| !ignored(path))
        .map(|(path, file)| Entry {
            path: path.clone(),
            kind: Kind::File {
                executable: file.executable,
            },
            content: Content::Bytes(file.bytes.clone()),
        })
        .collect())
}

struct File {
    bytes: Vec<u8>,
    executable: bool,
}

/// Reads the regular files of the tarball; a later entry for a path
/// replaces an earlier one, as unpacking would.
fn untar(
    blob: &[u8],
    origin: &str,
    limits: &UnpackLimits,
) -> Result<BTreeMap<String, File>, Error> {
    let read_error = |e| Error::io("reading layer", origin, e);
    let too_large = |what, limit| Error::ArchiveTooLarge {
        origin: origin.to_owned(),
        what,
        limit,
    };
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(blob));
    let (mut entries, mut bytes) = (0u64, 0u64);
    let mut files = BTreeMap::new();
    for entry in archive.entries().map_err(read_error)? {
        let mut entry = entry.map_err(read_error)?;
        let raw_path = entry.path().map_err(read_error)?.into_owned();
        let refuse = |problem| Error::ArchiveEntry {
            origin: origin.to_owned(),
            path: raw_path.display().to_string(),
            problem,
        };
        entries += 1;
        if entries > limits.max_entries {
            return Err(too_large("entries", limits.max_entries));
        }
        match entry.header().entry_type() {
            tar::EntryType::Regular | tar::EntryType::Continuous => {}
            // Flux skips links; directories come back from the files' paths.
            tar::EntryType::Directory | tar::EntryType::Symlink | tar::EntryType::XGlobalHeader => {
                continue;
            }
            _ => return Err(refuse("neither a file, a directory nor a symbolic link")),
        }
        let mut parts = Vec::new();
        for component in raw_path.components() {
            match component {
                std::path::Component::Normal(part) => {
                    parts.push(
                        part.to_str()
                            .ok_or_else(|| refuse("a path that is not UTF-8"))?,
                    );
                }
                std::path::Component::CurDir => {}
                _ => return Err(refuse("a path that leaves the artifact")),
            }
        }
        if parts.is_empty() {
            continue;
        }
        let size = entry.header().size().map_err(read_error)?;
        if size > limits.max_file_bytes {
            return Err(too_large("bytes in one file", limits.max_file_bytes));
        }
        bytes = bytes.saturating_add(size);
        if bytes > limits.max_bytes {
            return Err(too_large("bytes unpacked", limits.max_bytes));
        }
        let executable = entry.header().mode().map_err(read_error)? & 0o111 != 0;
        let mut content = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        entry
            .by_ref()
            .take(size)
            .read_to_end(&mut content)
            .map_err(read_error)?;
        files.insert(
            parts.join("/"),
            File {
                bytes: content,
                executable,
            },
        );
    }
    let dirs: HashSet<&str> = files
        .keys()
        .flat_map(|path| path.match_indices('/').map(|(i, _)| &path[..i]))
        .collect();
    if let Some(clash) = files.keys().find(|path| dirs.contains(path.as_str())) {
        return Err(Error::ArchiveEntry {
            origin: origin.to_owned(),
            path: clash.clone(),
            problem: "both a file and a directory",
        });
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tarball(entries: &[(&str, &[u8], tar::EntryType)]) -> Vec<u8> {
        let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        let mut tar = tar::Builder::new(gz);
        for (path, data, kind) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(*kind);
            header.set_mode(if path.ends_with(".sh") { 0o755 } else { 0o644 });
            header.set_size(data.len() as u64);
            if *kind == tar::EntryType::Symlink {
                tar.append_link(&mut header, path, "/etc/passwd")
                    .expect("link");
            } else {
                tar.append_data(&mut header, path, *data).expect("append");
            }
        }
        tar.into_inner().expect("tar").finish().expect("gz")
    }

    fn paths(entries: &[Entry]) -> Vec<&str> {
        entries.iter().map(|e| e.path.as_str()).collect()
    }

    use tar::EntryType::{Directory, Regular, Symlink};

    #[test]
    fn extracts_files_skips_links_and_applies_ignore_rules() {
        let blob = tarball(&[
            ("./deploy/", b"", Directory),
            ("./deploy/app.yaml", b"kind: A\n", Regular),
            ("./deploy/run.sh", b"#!/bin/sh\n", Regular),
            ("./deploy/.sourceignore", b"*.md\n", Regular),
            ("./deploy/README.md", b"doc", Regular),
            (
                "./README.md",
                b"kept: the .sourceignore is in deploy/",
                Regular,
            ),
            ("./logo.png", b"default exclusion", Regular),
            ("./tmp/scratch.yaml", b"spec.ignore", Regular),
            ("./link", b"", Symlink),
        ]);
        let entries =
            extract(&blob, "layer", &UnpackLimits::default(), Some("tmp/\n")).expect("extract");
        assert_eq!(
            paths(&entries),
            [
                "README.md",
                "deploy/.sourceignore",
                "deploy/app.yaml",
                "deploy/run.sh"
            ]
        );
        let run = entries
            .iter()
            .find(|e| e.path == "deploy/run.sh")
            .expect("run.sh");
        assert_eq!(run.kind, Kind::File { executable: true });
    }

    #[test]
    fn bounds_and_unsafe_paths_are_refused() {
        let blob = tarball(&[("a.yaml", &[b'x'; 100], Regular), ("b.yaml", b"y", Regular)]);
        let limits = |max_bytes, max_entries, max_file_bytes| UnpackLimits {
            max_bytes,
            max_entries,
            max_file_bytes,
        };
        for (l, what) in [
            (limits(50, 10, 1000), "bytes unpacked"),
            (limits(1000, 1, 1000), "entries"),
            (limits(1000, 10, 50), "bytes in one file"),
        ] {
            let err = extract(&blob, "layer", &l, None)
                .map(|_| ())
                .expect_err(what);
            assert!(
                matches!(&err, Error::ArchiveTooLarge { what: w, .. } if *w == what),
                "{err}"
            );
        }
        // The tar crate refuses to write `..`, so build that header by hand.
        let mut header = tar::Header::new_gnu();
        header.as_gnu_mut().expect("gnu").name[..9].copy_from_slice(b"../escape");
        header.set_size(1);
        header.set_entry_type(Regular);
        header.set_cksum();
        let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        let mut tar = tar::Builder::new(gz);
        tar.append(&header, &b"x"[..]).expect("append");
        let blob = tar.into_inner().expect("tar").finish().expect("gz");
        let err = extract(&blob, "layer", &UnpackLimits::default(), None)
            .map(|_| ())
            .expect_err("escape");
        assert!(err.to_string().contains("leaves the artifact"), "{err}");

        let blob = tarball(&[("a", b"file", Regular), ("a/b", b"below", Regular)]);
        let err = extract(&blob, "layer", &UnpackLimits::default(), None)
            .map(|_| ())
            .expect_err("clash");
        assert!(
            err.to_string().contains("both a file and a directory"),
            "{err}"
        );
    }
}
