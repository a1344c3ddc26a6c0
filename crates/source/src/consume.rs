//! The consumer side of an artifact: check the bytes against the digest
//! recorded in the source's status, then unpack them into a directory.
//!
//! Lives here because this crate owns the tarball format; the controller
//! downloads the bytes (over HTTP, as Flux's consumers do) and hands them in.

use std::path::Path;

use sha2::{Digest, Sha256};

use crate::Error;

/// How much an artifact may unpack to. The defaults are far above any
/// honest repository's and far below what would fill a disk or memory: an
/// archive bomb (a small tarball of huge or countless files) fails with an
/// error naming the limit instead.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnpackLimits {
    /// Total bytes of all files.
    pub max_bytes: u64,
    /// Number of entries (files and directories).
    pub max_entries: u64,
    /// Bytes of one file.
    pub max_file_bytes: u64,
}

impl Default for UnpackLimits {
    fn default() -> Self {
        UnpackLimits {
            max_bytes: 2 << 30,
            max_entries: 200_000,
            max_file_bytes: 512 << 20,
        }
    }
}

/// Unpacks a gzip tarball into `dest` after checking it is the artifact with
/// `digest` (`sha256:<hex>`). `origin` (a URL or path) names it in errors.
///
/// Only files and directories inside `dest` are written: links, devices
/// and paths that climb out are refused, and `limits` bound what the
/// tarball may expand to, so a tampered or hostile artifact can neither
/// write elsewhere nor fill the disk, even past the digest check.
pub fn unpack_verified(
    tarball: &[u8],
    digest: &str,
    origin: &str,
    dest: &Path,
    limits: &UnpackLimits,
) -> Result<(), Error> {
    let actual = format!("sha256:{}", hex::encode(Sha256::digest(tarball)));
    if actual != digest {
        return Err(Error::DigestMismatch {
            path: origin.into(),
            expected: digest.to_owned(),
            actual,
        });
    }
    std::fs::create_dir_all(dest).map_err(|e| Error::io("creating", dest, e))?;
    let unpack_error = |e| Error::io("unpacking artifact into", dest, e);
    let too_large = |what, limit| Error::ArchiveTooLarge {
        origin: origin.to_owned(),
        what,
        limit,
    };
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(tarball));
    archive.set_preserve_permissions(false);
    archive.set_overwrite(true);
    let (mut entries, mut bytes) = (0u64, 0u64);
    for entry in archive.entries().map_err(unpack_error)? {
        let mut entry = entry.map_err(unpack_error)?;
        let path = entry.path().map_err(unpack_error)?.into_owned();
        let refuse = |problem| Error::ArchiveEntry {
            origin: origin.to_owned(),
            path: path.display().to_string(),
            problem,
        };
        match entry.header().entry_type() {
            tar::EntryType::Regular | tar::EntryType::Directory => {}
            tar::EntryType::Symlink | tar::EntryType::Link => {
                return Err(refuse("a link; artifacts hold only files and directories"));
            }
            _ => return Err(refuse("neither a file nor a directory")),
        }
        if !path.components().all(|c| {
            matches!(
                c,
                std::path::Component::Normal(_) | std::path::Component::CurDir
            )
        }) {
            return Err(refuse("a path that leaves the artifact"));
        }
        entries += 1;
        if entries > limits.max_entries {
            return Err(too_large("entries", limits.max_entries));
        }
        let size = entry.header().size().map_err(unpack_error)?;
        if size > limits.max_file_bytes {
            return Err(too_large("bytes in one file", limits.max_file_bytes));
        }
        bytes = bytes.saturating_add(size);
        if bytes > limits.max_bytes {
            return Err(too_large("bytes unpacked", limits.max_bytes));
        }
        entry.unpack_in(dest).map_err(unpack_error)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tarball(files: &[(&str, &str)]) -> Vec<u8> {
        tarball_with(files, flate2::Compression::fast())
    }

    fn tarball_with(files: &[(&str, &str)], level: flate2::Compression) -> Vec<u8> {
        let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(Vec::new(), level));
        for (path, content) in files {
            let mut header = tar::Header::new_gnu();
            header.set_size(content.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            builder
                .append_data(&mut header, path, content.as_bytes())
                .expect("append");
        }
        builder
            .into_inner()
            .and_then(flate2::write::GzEncoder::finish)
            .expect("finish")
    }

    fn digest_of(bytes: &[u8]) -> String {
        format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
    }

    #[test]
    fn unpacks_a_verified_artifact() {
        let bytes = tarball(&[("deploy/app.yaml", "kind: ConfigMap\n")]);
        let dir = tempfile::tempdir().expect("tempdir");
        unpack_verified(
            &bytes,
            &digest_of(&bytes),
            "test",
            dir.path(),
            &UnpackLimits::default(),
        )
        .expect("unpacks");
        let text = std::fs::read_to_string(dir.path().join("deploy/app.yaml")).expect("file");
        assert_eq!(text, "kind: ConfigMap\n");
    }

    #[test]
    fn refuses_bytes_that_do_not_match_the_digest() {
        let bytes = tarball(&[("a.yaml", "x: 1\n")]);
        let other = tarball(&[("a.yaml", "x: 2\n")]);
        let dir = tempfile::tempdir().expect("tempdir");
        let err = unpack_verified(
            &bytes,
            &digest_of(&other),
            "http://127.0.0.1/a.tar.gz",
            dir.path(),
            &UnpackLimits::default(),
        )
        .expect_err("mismatch");
        assert!(matches!(err, Error::DigestMismatch { .. }), "{err}");
        assert!(!dir.path().join("a.yaml").exists());
    }

    fn unpack(bytes: &[u8], limits: &UnpackLimits) -> (tempfile::TempDir, Result<(), Error>) {
        let dir = tempfile::tempdir().expect("tempdir");
        let result = unpack_verified(bytes, &digest_of(bytes), "bomb.tar.gz", dir.path(), limits);
        (dir, result)
    }

    #[test]
    fn an_archive_bomb_stops_at_the_limit() {
        // 64 MiB of zeros compress to well under 1 MiB at the best level
        // (the fast level's ratio depends on the deflate backend).
        let zeros = "\0".repeat(64 << 20);
        let bytes = tarball_with(
            &[("a.bin", &zeros), ("b.bin", &zeros)],
            flate2::Compression::best(),
        );
        assert!(bytes.len() < 1 << 20, "{} bytes", bytes.len());
        let limits = UnpackLimits {
            max_bytes: 100 << 20,
            ..UnpackLimits::default()
        };
        let (dir, result) = unpack(&bytes, &limits);
        let err = result.expect_err("too large");
        assert!(
            matches!(
                err,
                Error::ArchiveTooLarge {
                    what: "bytes unpacked",
                    ..
                }
            ),
            "{err}"
        );
        assert!(
            !dir.path().join("b.bin").exists(),
            "stopped before writing it"
        );
        let few = UnpackLimits {
            max_entries: 1,
            ..UnpackLimits::default()
        };
        let err = unpack(&bytes, &few).1.expect_err("too many");
        assert!(err.to_string().contains("limit of 1 entries"), "{err}");
        let small_files = UnpackLimits {
            max_file_bytes: 1 << 20,
            ..UnpackLimits::default()
        };
        let err = unpack(&bytes, &small_files).1.expect_err("file too large");
        assert!(err.to_string().contains("bytes in one file"), "{err}");
    }

    #[test]
    fn links_and_devices_are_refused() {
        let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
            Vec::new(),
            flate2::Compression::fast(),
        ));
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Symlink);
        header.set_size(0);
        header.set_mode(0o777);
        builder
            .append_link(&mut header, "passwd", "/etc/passwd")
            .expect("link");
        let bytes = builder
            .into_inner()
            .and_then(flate2::write::GzEncoder::finish)
            .expect("finish");
        let (dir, result) = unpack(&bytes, &UnpackLimits::default());
        let err = result.expect_err("a link");
        assert!(matches!(err, Error::ArchiveEntry { .. }), "{err}");
        assert!(err.to_string().contains("a link"), "{err}");
        assert!(!dir.path().join("passwd").exists());
    }
}
