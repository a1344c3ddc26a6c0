//! The consumer side of an artifact: check the bytes against the digest
//! recorded in the source's status, then unpack them into a directory.
//!
//! Lives here because this crate owns the tarball format; the controller
//! downloads the bytes (over HTTP, as Flux's consumers do) and hands them in.

use std::path::Path;

use sha2::{Digest, Sha256};

use crate::Error;

/// Unpacks a gzip tarball into `dest` after checking it is the artifact with
/// `digest` (`sha256:<hex>`). `origin` (a URL or path) names it in errors.
///
/// Entries that would land outside `dest` are refused by the tar reader, so a
/// tampered artifact cannot write elsewhere even past the digest check.
pub fn unpack_verified(
    tarball: &[u8],
    digest: &str,
    origin: &str,
    dest: &Path,
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
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(tarball));
    archive.set_preserve_permissions(false);
    archive.set_overwrite(true);
    archive
        .unpack(dest)
        .map_err(|e| Error::io("unpacking artifact into", dest, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tarball(files: &[(&str, &str)]) -> Vec<u8> {
        let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
            Vec::new(),
            flate2::Compression::fast(),
        ));
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
            .and_then(|gz| gz.finish())
            .expect("finish")
    }

    fn digest_of(bytes: &[u8]) -> String {
        format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
    }

    #[test]
    fn unpacks_a_verified_artifact() {
        let bytes = tarball(&[("deploy/app.yaml", "kind: ConfigMap\n")]);
        let dir = tempfile::tempdir().expect("tempdir");
        unpack_verified(&bytes, &digest_of(&bytes), "test", dir.path()).expect("unpacks");
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
        )
        .expect_err("mismatch");
        assert!(matches!(err, Error::DigestMismatch { .. }), "{err}");
        assert!(!dir.path().join("a.yaml").exists());
    }
}
