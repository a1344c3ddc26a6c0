//! Helm's storage encoding: release JSON, gzipped at best compression, then
//! base64 (standard alphabet). The Secret's `release` data key holds that
//! text, so the API shows it base64-encoded twice. Reading also takes a
//! record that was never gzipped (Helm checks the gzip magic bytes).
//!
//! The JSON is written as Go's `encoding/json` writes it: `<`, `>`, `&`,
//! U+2028 and U+2029 escaped as `\u003c` etc., and no short `\b`/`\f`
//! escapes, so our records and Helm's are the same bytes before gzip (the
//! tests check this on records helm 3 and 4 wrote). Only floating-point
//! values print differently where Go and serde_json disagree (Go writes
//! `1e+21`, serde_json `1e21`); Helm reads both as the same number.

use std::io::{self, Read, Write};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use serde_json::ser::{CharEscape, Formatter};
use time::{OffsetDateTime, UtcOffset};

use super::{Release, ReleaseError};

/// The most a record may inflate to. A Secret holds at most 1 MiB; Helm
/// records compress about tenfold, so this leaves room and still bounds a
/// hostile record.
const MAX_DECODED: u64 = 64 << 20;

const GZIP_MAGIC: [u8; 3] = [0x1f, 0x8b, 0x08];

/// Encodes a release as Helm stores it: the text for the Secret's `release`
/// key.
///
/// # Errors
/// [`ReleaseError::Encode`] if the JSON or gzip writer fails.
pub fn encode(release: &Release) -> Result<String, ReleaseError> {
    let json = to_go_json(release).map_err(|e| ReleaseError::Encode {
        release: key_of(release),
        source: e.into(),
    })?;
    let mut gz = GzEncoder::new(Vec::new(), Compression::best());
    let compressed = gz
        .write_all(&json)
        .and_then(|()| gz.finish())
        .map_err(|source| ReleaseError::Encode {
            release: key_of(release),
            source,
        })?;
    Ok(STANDARD.encode(compressed))
}

/// Decodes the text of a Secret's `release` key; `key` (the Secret's name)
/// only labels errors.
///
/// # Errors
/// [`ReleaseError::Decode`] naming `key` when the text is not base64, not
/// gzip, too large, or not a release.
pub fn decode(key: &str, data: &[u8]) -> Result<Release, ReleaseError> {
    let fail = |problem: String| ReleaseError::Decode {
        key: key.to_owned(),
        problem,
    };
    let raw = STANDARD
        .decode(data)
        .map_err(|e| fail(format!("not base64: {e}")))?;
    let json = if raw.starts_with(&GZIP_MAGIC) {
        let mut out = Vec::new();
        GzDecoder::new(raw.as_slice())
            .take(MAX_DECODED + 1)
            .read_to_end(&mut out)
            .map_err(|e| fail(format!("not gzip: {e}")))?;
        if out.len() as u64 > MAX_DECODED {
            return Err(fail(format!("inflates past {MAX_DECODED} bytes")));
        }
        out
    } else {
        raw
    };
    // serde_json's message can quote the offending value, and values may be
    // secrets: say only what kind of error and where.
    serde_json::from_slice(&json).map_err(|e| {
        fail(format!(
            "not a release record ({:?} error at line {} column {})",
            e.classify(),
            e.line(),
            e.column()
        ))
    })
}

/// The JSON Helm's Go code would write for `release`.
///
/// # Errors
/// Only if serialization fails, which plain data does not.
pub fn to_go_json(release: &Release) -> Result<Vec<u8>, serde_json::Error> {
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut out, GoFormatter);
    serde::Serialize::serialize(release, &mut ser)?;
    Ok(out)
}

fn key_of(release: &Release) -> String {
    super::secret_name(&release.name, release.version)
}

/// serde_json's compact output with Go's string escaping.
struct GoFormatter;

impl Formatter for GoFormatter {
    fn write_string_fragment<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            let escape = match c {
                '<' => "\\u003c",
                '>' => "\\u003e",
                '&' => "\\u0026",
                '\u{2028}' => "\\u2028",
                '\u{2029}' => "\\u2029",
                _ => continue,
            };
            writer.write_all(&fragment.as_bytes()[start..i])?;
            writer.write_all(escape.as_bytes())?;
            start = i + c.len_utf8();
        }
        writer.write_all(&fragment.as_bytes()[start..])
    }

    fn write_char_escape<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        char_escape: CharEscape,
    ) -> io::Result<()> {
        let s: &[u8] = match char_escape {
            CharEscape::Quote => b"\\\"",
            CharEscape::ReverseSolidus => b"\\\\",
            CharEscape::LineFeed => b"\\n",
            CharEscape::CarriageReturn => b"\\r",
            CharEscape::Tab => b"\\t",
            // Go spells every other control character as \u00XX.
            CharEscape::Solidus => b"/",
            CharEscape::Backspace => b"\\u0008",
            CharEscape::FormFeed => b"\\u000c",
            CharEscape::AsciiControl(byte) => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                let bytes = [
                    b'\\',
                    b'u',
                    b'0',
                    b'0',
                    HEX[usize::from(byte >> 4)],
                    HEX[usize::from(byte & 0xf)],
                ];
                return writer.write_all(&bytes);
            }
        };
        writer.write_all(s)
    }
}

/// A time as Go's `time.Time` writes JSON (RFC 3339 with nanoseconds,
/// trailing zeros dropped, `Z` for UTC), the form Helm stores.
pub fn go_time(at: OffsetDateTime) -> String {
    let offset = at.offset();
    let mut out = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    );
    let nanos = at.nanosecond();
    if nanos != 0 {
        let digits = format!("{nanos:09}");
        out.push('.');
        out.push_str(digits.trim_end_matches('0'));
    }
    if offset == UtcOffset::UTC {
        out.push('Z');
    } else {
        let (h, m, _) = offset.as_hms();
        let sign = if offset.is_negative() { '-' } else { '+' };
        out.push_str(&format!(
            "{sign}{:02}:{:02}",
            h.unsigned_abs(),
            m.unsigned_abs()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::release::{Info, Status};
    use time::macros::datetime;

    fn sample() -> Release {
        Release {
            name: "web".into(),
            namespace: "apps".into(),
            version: 3,
            manifest: "---\n# Source: web/templates/cm.yaml\nkind: ConfigMap\ndata: {a: \"<&>\"}\n"
                .into(),
            info: Some(Info {
                status: Status::Deployed,
                description: "Upgrade complete".into(),
                ..Info::default()
            }),
            ..Release::default()
        }
    }

    #[test]
    fn encode_then_decode_is_identity() {
        let release = sample();
        let text = encode(&release).expect("encodes");
        let raw = STANDARD.decode(&text).expect("base64");
        assert_eq!(&raw[..3], &GZIP_MAGIC, "gzipped like Helm");
        assert_eq!(decode("k", text.as_bytes()).expect("decodes"), release);
    }

    #[test]
    fn decode_takes_records_that_were_never_gzipped() {
        let json = br#"{"name":"old","version":1,"info":{"status":"superseded"}}"#;
        let release = decode("k", STANDARD.encode(json).as_bytes()).expect("decodes");
        assert_eq!((release.name.as_str(), release.version), ("old", 1));
        assert_eq!(release.status(), Status::Superseded);
    }

    #[test]
    fn decode_errors_name_the_record() {
        let err = decode("sh.helm.release.v1.web.v1", b"%%%").expect_err("not base64");
        assert!(
            err.to_string().contains("sh.helm.release.v1.web.v1"),
            "{err}"
        );
        let err = decode("k", STANDARD.encode(b"{]").as_bytes()).expect_err("not json");
        assert!(err.to_string().contains("not a release record"), "{err}");
        let wrong = br#"{"name":"web","version":"hunter2"}"#;
        let err = decode("k", STANDARD.encode(wrong).as_bytes()).expect_err("bad version");
        assert!(
            !err.to_string().contains("hunter2"),
            "values stay out: {err}"
        );
    }

    #[test]
    fn json_escapes_as_go_does() {
        let json = String::from_utf8(to_go_json(&sample()).expect("encodes")).expect("utf-8");
        assert!(
            json.contains(r#"data: {a: \"\u003c\u0026\u003e\"}\n"#),
            "{json}"
        );
        let release = Release {
            manifest: "\u{8}\u{c}\u{1}/\u{2028}".into(),
            ..Release::default()
        };
        let json = String::from_utf8(to_go_json(&release).expect("encodes")).expect("utf-8");
        assert_eq!(json, r#"{"manifest":"\u0008\u000c\u0001/\u2028"}"#);
    }

    #[test]
    fn times_are_written_as_go_writes_them() {
        assert_eq!(
            go_time(datetime!(2026-12-04 23:01:02.123_400_000 UTC)),
            "2026-12-04T23:01:02.1234Z"
        );
        assert_eq!(
            go_time(datetime!(2026-01-02 03:04:05 +01:30)),
            "2026-01-02T03:04:05+01:30"
        );
        assert_eq!(
            go_time(datetime!(2026-01-02 03:04:05.000_000_001 -05:00)),
            "2026-01-02T03:04:05.000000001-05:00"
        );
    }
}
