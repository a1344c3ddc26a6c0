//! The server's answer to a push: report-status lines (`unpack ok`,
//! `ok <ref>`, `ng <ref> <reason>`) and its messages (side-band 2, e.g. a
//! hook's output), kept bounded.

/// The longest server message we keep for an error.
const MAX_MESSAGES: usize = 4096;

/// The report-status lines and the server's messages (side-band 2).
#[derive(Default)]
pub(super) struct Report {
    pub(super) lines: Vec<String>,
    messages: String,
}

impl Report {
    pub(super) fn add_message(&mut self, text: &[u8]) {
        if self.messages.len() < MAX_MESSAGES {
            self.messages.push_str(&String::from_utf8_lossy(text));
            self.messages.truncate(
                (0..=MAX_MESSAGES.min(self.messages.len()))
                    .rev()
                    .find(|i| self.messages.is_char_boundary(*i))
                    .unwrap_or(0),
            );
        }
    }

    /// The server's messages, to append to a reason.
    pub(super) fn suffix(&self) -> String {
        let lines: Vec<&str> = self
            .messages
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        if lines.is_empty() {
            String::new()
        } else {
            format!(" (remote: {})", lines.join("; "))
        }
    }
}

pub(super) fn trim_line(data: &[u8]) -> String {
    String::from_utf8_lossy(data)
        .trim_end_matches('\n')
        .to_owned()
}

/// Packet lines inside side-band channel 1, up to the flush.
pub(super) fn split_pkt_lines(mut buf: &[u8]) -> Option<Vec<String>> {
    let mut lines = Vec::new();
    while buf.len() >= 4 {
        let len = usize::from_str_radix(std::str::from_utf8(&buf[..4]).ok()?, 16).ok()?;
        if len == 0 {
            break;
        }
        if len < 4 || len > buf.len() {
            return None;
        }
        lines.push(trim_line(&buf[4..len]));
        buf = &buf[len..];
    }
    Some(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_lines_split_and_messages_are_bounded() {
        let lines =
            split_pkt_lines(b"000eunpack ok\n0019ng refs/heads/x nope\n0000").expect("lines");
        assert_eq!(lines, ["unpack ok", "ng refs/heads/x nope"]);
        assert!(split_pkt_lines(b"00ffshort").is_none());
        let mut report = Report::default();
        report.add_message(b"protected branch\n");
        assert_eq!(report.suffix(), " (remote: protected branch)");
        report.add_message(&[b'x'; 10_000]);
        assert!(report.messages.len() <= MAX_MESSAGES);
    }
}
