//! Named time zones as Go's `time.LoadLocation` finds them on Linux: the
//! TZif file of that name in the host's zone database, read anew on each
//! call as Go does. Helm embeds no zone data, so a zone missing from the
//! host (or no database at all) is UTC there, as here: Sprig falls back to
//! UTC when loading fails.
//!
//! This is the one place a render reads a file outside the chart. The
//! name is checked first as Go checks it (no `..`, not absolute), so only
//! the zone database's own files are read, each bounded in size; the
//! `ZONEINFO` variable Go also honours is not read (a render reads no
//! environment).

use std::io::Read as _;

use jiff::Timestamp;
use jiff::tz::TimeZone;

/// Go's `platformZoneSources` on Unix, searched in order.
const ZONE_DIRECTORIES: [&str; 4] = [
    "/usr/share/zoneinfo/",
    "/usr/share/lib/zoneinfo/",
    "/usr/lib/locale/TZ/",
    "/etc/zoneinfo/",
];

/// Go refuses zone files larger than this (`loadTzinfoFromDirOrZip`).
const MAX_ZONE_FILE: u64 = 10 << 20;

/// A zone's offset east of UTC (seconds) and abbreviation at one instant.
pub(crate) struct ZoneAt {
    pub offset: i32,
    pub abbreviation: String,
}

/// The offset and abbreviation of the zone `name` at `unix` seconds, or
/// `None` where Go's `LoadLocation` fails or leaves UTC (`""`, `UTC`,
/// `Local`, which is UTC here: Helm in a container without `TZ`).
pub(crate) fn zone_at(name: &str, unix: i64) -> Option<ZoneAt> {
    if matches!(name, "" | "UTC" | "Local") || refused_by_go(name) {
        return None;
    }
    // As Go, a file that is not TZif (`zone.tab`) sends the search on to
    // the next directory.
    let zone = ZONE_DIRECTORIES.iter().find_map(|dir| {
        let data = read_bounded(&format!("{dir}{name}"))?;
        TimeZone::tzif(name, &data).ok()
    })?;
    let info = zone.to_offset_info(Timestamp::from_second(unix).ok()?);
    Some(ZoneAt {
        offset: info.offset().seconds(),
        abbreviation: info.abbreviation().to_owned(),
    })
}

/// Go's `containsDotDot(name) || name[0] == '/' || name[0] == '\\'`:
/// any `..` at all, not only a `..` path segment.
fn refused_by_go(name: &str) -> bool {
    name.contains("..") || name.starts_with(['/', '\\'])
}

fn read_bounded(path: &str) -> Option<Vec<u8>> {
    let file = std::fs::File::open(path).ok()?;
    if !file.metadata().ok()?.is_file() {
        return None;
    }
    let mut data = Vec::new();
    file.take(MAX_ZONE_FILE + 1).read_to_end(&mut data).ok()?;
    (data.len() as u64 <= MAX_ZONE_FILE).then_some(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_go_refuses_are_never_read() {
        assert!(refused_by_go("../zoneinfo/UTC"));
        assert!(refused_by_go("Asia/../Asia/Tokyo"));
        assert!(refused_by_go("/usr/share/zoneinfo/Asia/Tokyo"));
        assert!(refused_by_go("\\Asia"));
        assert!(!refused_by_go("America/Argentina/Buenos_Aires"));
        assert!(refused_by_go("Te..st"));
        assert!(!refused_by_go("Asia/./Tokyo"));
    }

    #[test]
    fn utc_and_local_stay_utc() {
        for name in ["", "UTC", "Local"] {
            assert!(zone_at(name, 0).is_none(), "{name}");
        }
    }
}
