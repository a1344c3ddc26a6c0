//! The pack we send with a push: every object whole (no deltas), zlib
//! compressed, with the SHA-1 trailer (pack format version 2).
//!
//! Written by hand because gitoxide 0.90 cannot push: its pack generator
//! (`gix_pack::data::output`) sits behind a feature the `gix` facade does
//! not enable and expects a counting and delta pipeline built for whole
//! repositories. An automation commit changes a few files, so the pack is a
//! handful of objects and undeltified entries are the whole job: the format
//! is a 12-byte header, per object a type-and-size varint and its deflated
//! bytes, and a checksum.

use std::io::Write as _;

use gix::ObjectId;

use crate::Error;

/// Pack `ids` (objects of `repo`) into one version-2 pack.
pub(crate) fn write(repo: &gix::Repository, ids: &[ObjectId]) -> Result<Vec<u8>, Error> {
    let git_dir = repo.git_dir();
    let count = u32::try_from(ids.len())
        .map_err(|_| Error::repo("packing", git_dir, "more than 2^32 objects"))?;
    let mut out = Vec::new();
    out.extend_from_slice(b"PACK");
    out.extend_from_slice(&2u32.to_be_bytes());
    out.extend_from_slice(&count.to_be_bytes());
    for id in ids {
        let object = repo
            .find_object(*id)
            .map_err(|e| Error::repo("reading an object to pack", git_dir, e))?;
        let kind = match object.kind {
            gix::object::Kind::Commit => 1,
            gix::object::Kind::Tree => 2,
            gix::object::Kind::Blob => 3,
            gix::object::Kind::Tag => 4,
        };
        entry_header(kind, object.data.len(), &mut out);
        let mut z = flate2::write::ZlibEncoder::new(&mut out, flate2::Compression::default());
        z.write_all(&object.data)
            .and_then(|()| z.finish().map(|_| ()))
            .map_err(|e| Error::repo("compressing an object", git_dir, e))?;
    }
    let mut hasher = gix::hash::hasher(gix::hash::Kind::Sha1);
    hasher.update(&out);
    let checksum = hasher
        .try_finalize()
        .map_err(|e| Error::repo("hashing the pack", git_dir, e))?;
    out.extend_from_slice(checksum.as_bytes());
    Ok(out)
}

/// Type in bits 4–6 of the first byte, size in its low 4 bits and then 7
/// bits per byte, least significant first; the high bit says "more".
fn entry_header(kind: u8, size: usize, out: &mut Vec<u8>) {
    let mut size = size;
    let low = u8::try_from(size & 0x0f).expect("four bits fit a byte");
    let mut byte = (kind << 4) | low;
    size >>= 4;
    while size > 0 {
        out.push(byte | 0x80);
        byte = u8::try_from(size & 0x7f).expect("seven bits fit a byte");
        size >>= 7;
    }
    out.push(byte);
}

#[cfg(test)]
mod tests {
    use super::entry_header;

    #[test]
    fn entry_headers_match_git_varints() {
        let header = |kind, size| {
            let mut out = Vec::new();
            entry_header(kind, size, &mut out);
            out
        };
        assert_eq!(header(3, 0), vec![0x30]);
        assert_eq!(header(3, 15), vec![0x3f]);
        assert_eq!(header(1, 16), vec![0x90, 0x01]);
        // 300 = 0b1_0010_1100: low nibble 0xc, then 300 >> 4 = 18.
        assert_eq!(header(2, 300), vec![0xac, 0x12]);
        assert_eq!(header(3, 1 << 11), vec![0xb0, 0x80, 0x01]);
    }
}
