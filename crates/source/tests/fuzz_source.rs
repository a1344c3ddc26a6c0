//! Property fuzzing of what this crate reads from outside (issue 17, item
//! 4): artifact tarballs (`unpack_verified`), OCI repository URLs and image
//! names, and `spec.include` artifact paths.
//!
//! The default case count keeps `cargo test` short; `DRIFTLESS_FUZZ_CASES`
//! raises it (`.ci/fuzz` sets it).

use std::path::Path;

use driftless_source::oci::{ImageName, Repository};
use driftless_source::{ArtifactPath, UnpackLimits, unpack_verified};
use proptest::prelude::*;
use sha2::{Digest, Sha256};

fn config(default: u32) -> ProptestConfig {
    let cases = std::env::var("DRIFTLESS_FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(default);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// One raw tar entry: the name is written into the header as is, so
/// names the `tar` builder would refuse (`..`, absolute) get through.
#[derive(Debug, Clone)]
struct RawEntry {
    name: String,
    kind: tar::EntryType,
    link: String,
    size: usize,
}

fn path_part() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "a", "b.yaml", "..", ".", "", "dir", "ESCAPE", "a/../..", "//",
    ])
    .prop_map(str::to_owned)
}

fn raw_entry() -> impl Strategy<Value = RawEntry> {
    let kind = prop::sample::select(vec![
        tar::EntryType::Regular,
        tar::EntryType::Directory,
        tar::EntryType::Symlink,
        tar::EntryType::Link,
        tar::EntryType::Char,
        tar::EntryType::Block,
        tar::EntryType::Fifo,
        tar::EntryType::GNULongName,
        tar::EntryType::XHeader,
    ]);
    (
        any::<bool>(),
        prop::collection::vec(path_part(), 1..4),
        kind,
        path_part(),
        prop::sample::select(vec![0usize, 1, 100, 700, 1500]),
    )
        .prop_map(|(absolute, parts, kind, link, size)| RawEntry {
            // `ESCAPE` at the root stands for the directory beside the
            // destination: an absolute name aims there.
            name: format!("{}{}", if absolute { "/" } else { "" }, parts.join("/")),
            kind,
            link,
            size,
        })
}

fn tarball(entries: &[RawEntry], outside: &Path) -> Vec<u8> {
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    for e in entries {
        let name = if e.name.starts_with('/') {
            format!("{}{}", outside.display(), e.name)
        } else {
            e.name.clone()
        };
        let mut header = tar::Header::new_old();
        let bytes = name.as_bytes();
        let field = &mut header.as_old_mut().name;
        let n = bytes.len().min(field.len());
        field[..n].copy_from_slice(&bytes[..n]);
        let link = &mut header.as_old_mut().linkname;
        let l = e.link.len().min(link.len());
        link[..l].copy_from_slice(&e.link.as_bytes()[..l]);
        header.set_entry_type(e.kind);
        header.set_size(e.size as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder
            .append(&header, vec![b'x'; e.size].as_slice())
            .expect("append to an in-memory tarball");
    }
    let gz = builder.into_inner().expect("finish tar");
    gz.finish().expect("finish gzip")
}

fn digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// Walks `dir`, failing on anything that is not a plain file or directory,
/// and returns (entries, total bytes, largest file).
fn survey(dir: &Path) -> (u64, u64, u64) {
    let (mut entries, mut total, mut largest) = (0, 0, 0);
    for item in std::fs::read_dir(dir).expect("read unpacked dir") {
        let item = item.expect("dir entry");
        let meta = std::fs::symlink_metadata(item.path()).expect("metadata");
        entries += 1;
        if meta.is_dir() {
            let (e, t, l) = survey(&item.path());
            entries += e;
            total += t;
            largest = largest.max(l);
        } else {
            assert!(
                meta.is_file(),
                "{} is neither file nor dir",
                item.path().display()
            );
            total += meta.len();
            largest = largest.max(meta.len());
        }
    }
    (entries, total, largest)
}

proptest! {
    #![proptest_config(config(256))]

    /// Whatever the tarball holds, nothing is written outside the
    /// destination, only files and directories are written, and what is
    /// written stays within the limits.
    #[test]
    fn unpack_stays_inside_and_within_limits(entries in prop::collection::vec(raw_entry(), 0..10)) {
        let top = tempfile::tempdir().expect("temp dir");
        let outside = top.path().join("ESCAPE");
        let dest = top.path().join("out");
        let tgz = tarball(&entries, top.path());
        let limits = UnpackLimits { max_bytes: 2000, max_entries: 6, max_file_bytes: 1000 };
        let result = unpack_verified(&tgz, &digest(&tgz), "fuzz.tar.gz", &dest, &limits);
        let beside: Vec<_> = std::fs::read_dir(top.path()).expect("read top")
            .map(|e| e.expect("entry").file_name())
            .collect();
        prop_assert_eq!(beside, vec![std::ffi::OsString::from("out")], "wrote beside the destination ({:?})", result);
        prop_assert!(!outside.exists());
        let (count, total, largest) = survey(&dest);
        // A refused entry may follow accepted ones; what was accepted is
        // within the limits either way.
        prop_assert!(count <= limits.max_entries, "{} entries", count);
        prop_assert!(total <= limits.max_bytes, "{} bytes", total);
        prop_assert!(largest <= limits.max_file_bytes, "file of {} bytes", largest);
    }

    /// A tarball with bytes changed or cut is refused or unpacked, never
    /// a panic; and the wrong digest is always refused before anything is
    /// written.
    #[test]
    fn damaged_tarballs_never_panic(
        entries in prop::collection::vec(raw_entry(), 1..4),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let top = tempfile::tempdir().expect("temp dir");
        let mut tgz = tarball(&entries, top.path());
        let dest = top.path().join("out");
        prop_assert!(unpack_verified(&tgz, "sha256:00", "fuzz", &dest, &UnpackLimits::default()).is_err());
        prop_assert!(!dest.exists());
        for (at, byte) in flips {
            let i = at.index(tgz.len());
            tgz[i] = byte;
        }
        tgz.truncate(cut.index(tgz.len() + 1));
        let _ = unpack_verified(&tgz, &digest(&tgz), "fuzz", &dest, &UnpackLimits::default());
    }
}

/// Text for URL and name parsers: scheme, hosts, ports, path pieces and
/// the characters that must be refused.
fn url_text() -> impl Strategy<Value = String> {
    let piece = prop::sample::select(vec![
        "oci://",
        "https://",
        "ghcr.io",
        "localhost:5000",
        "[::1]:5000",
        "/",
        "org",
        "App",
        "a.b",
        "a__b",
        "-x",
        ":tag",
        "@sha256:abc",
        "..",
        " ",
        "\u{e9}",
        "%2F",
        "?q",
        "#f",
        "_",
        "",
    ]);
    prop::collection::vec(piece, 0..8).prop_map(|p| p.concat())
}

proptest! {
    #![proptest_config(config(2048))]

    /// An accepted OCI URL names a registry and a repository that print
    /// back to a URL parsing to the same, with no tag or digest in it.
    #[test]
    fn oci_repository_parse_round_trips(url in url_text()) {
        let Ok(repo) = Repository::parse(&url) else { return Ok(()); };
        prop_assert!(!repo.registry.is_empty());
        prop_assert!(!repo.repository.contains(['@', ':']) && !repo.repository.is_empty());
        let again = Repository::parse(&format!("oci://{}/{}", repo.registry, repo.repository));
        prop_assert_eq!(again.ok(), Some(repo));
    }

    /// Image names never panic, and an accepted one has a registry and a
    /// repository without a tag.
    #[test]
    fn image_name_parse_never_panics(image in url_text()) {
        if let Ok(name) = ImageName::parse(&image) {
            prop_assert!(!name.registry.is_empty());
        }
    }

    /// An accepted `spec.include` path never climbs out or is absolute.
    #[test]
    fn artifact_path_stays_relative(value in url_text()) {
        if let Ok(path) = ArtifactPath::parse("spec.include[0].fromPath", &value) {
            let p = Path::new(path.as_str());
            prop_assert!(!p.is_absolute(), "{}", path);
            prop_assert!(
                p.components().all(|c| !matches!(c, std::path::Component::ParentDir)),
                "{}", path
            );
        }
    }
}
