//! Everything the commands print: tables, JSON/YAML, progress lines in
//! flux's style (`►`, `◎`, `✔`, `✗`), colour and the spinner.
//!
//! Data goes to stdout, progress and errors to stderr. Colour, symbols and
//! the spinner only appear when the stream is a terminal and `NO_COLOR` is
//! unset, so piped output stays plain and greppable (`ok`/`fail`).

use std::io::{IsTerminal, Write};
use std::time::Duration;

use anyhow::Context as _;
use serde::Serialize;

/// The failure was already printed; the caller only sets the exit code.
#[derive(Debug, thiserror::Error)]
#[error("the command failed (details above)")]
pub struct Reported;

/// An error with a way out: main prints `hint:` after its causes.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Hinted {
    message: String,
    /// What the user can do about it.
    pub hint: String,
    #[source]
    source: Box<dyn std::error::Error + Send + Sync>,
}

impl Hinted {
    /// `message`, caused by `source`, with `hint`.
    pub fn new(
        message: String,
        hint: String,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Hinted {
        Hinted {
            message,
            hint,
            source: Box::new(source),
        }
    }
}

/// `-o/--output` for commands that print objects.
#[derive(clap::ValueEnum, Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum Format {
    #[default]
    Table,
    Json,
    Yaml,
}

/// How one stream is decorated.
#[derive(Clone, Copy)]
pub struct Style {
    fancy: bool,
}

impl Style {
    pub fn stderr() -> Style {
        Style {
            fancy: std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
        }
    }

    pub fn stdout() -> Style {
        Style {
            fancy: std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
        }
    }

    /// `text` in the ANSI colour `code`, only when this stream is decorated.
    pub fn paint(self, code: &str, text: &str) -> String {
        if self.fancy {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    pub fn fail(self, text: &str) -> String {
        self.paint("31", text)
    }

    /// The mark before a passed check: `✔` on a terminal, `ok` otherwise.
    pub fn ok_mark(self) -> String {
        if self.fancy {
            self.paint("32", "✔")
        } else {
            "ok".to_string()
        }
    }

    /// The mark before a failed check: `✗` on a terminal, `fail` otherwise.
    pub fn fail_mark(self) -> String {
        if self.fancy {
            self.paint("31", "✗")
        } else {
            "fail".to_string()
        }
    }
}

/// Progress lines on stderr, as flux prints them.
pub struct Progress {
    style: Style,
}

impl Progress {
    pub fn new() -> Progress {
        Progress {
            style: Style::stderr(),
        }
    }

    pub fn action(&self, text: &str) {
        eprintln!("{} {text}", self.style.paint("34", "►"));
    }

    pub fn generate(&self, text: &str) {
        eprintln!("{} {text}", self.style.paint("32", "✚"));
    }

    pub fn waiting(&self, text: &str) {
        eprintln!("{} {text}", self.style.paint("33", "◎"));
    }

    pub fn success(&self, text: &str) {
        eprintln!("{} {text}", self.style.paint("32", "✔"));
    }

    pub fn failure(&self, text: &str) {
        eprintln!("{} {text}", self.style.paint("31", "✗"));
    }

    /// A spinner on stderr while `work` runs (only on a terminal).
    pub async fn spin<T>(&self, text: &str, work: impl Future<Output = T>) -> T {
        if !self.style.fancy {
            return work.await;
        }
        let text = text.to_string();
        let spinner = tokio::spawn(async move {
            const FRAMES: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
            for frame in FRAMES.iter().cycle() {
                eprint!("\r{frame} {text}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        let result = work.await;
        spinner.abort();
        eprint!("\r\x1b[2K");
        result
    }
}

/// A table with left-aligned, two-space separated columns, as kubectl prints.
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(header: &[&str]) -> Table {
        Table {
            header: header
                .iter()
                .map(std::string::ToString::to_string)
                .collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row; it has a cell per column (a kind's table that disagrees
    /// with its header is a bug, caught here rather than as a panic later).
    pub fn row(&mut self, cells: Vec<String>) {
        assert_eq!(
            cells.len(),
            self.header.len(),
            "internal error: a table row does not match its header {:?}",
            self.header
        );
        self.rows.push(cells);
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn render(&self) -> String {
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate() {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
        let mut out = String::new();
        for row in std::iter::once(&self.header).chain(&self.rows) {
            let last = row.len().saturating_sub(1);
            for (i, cell) in row.iter().enumerate() {
                out.push_str(cell);
                if i < last {
                    let pad = widths[i] - cell.chars().count() + 2;
                    out.extend(std::iter::repeat_n(' ', pad));
                }
            }
            out.push('\n');
        }
        out
    }
}

/// Renders a value as JSON or YAML (for `-o json|yaml`).
pub fn render<T: Serialize>(value: &T, format: Format) -> anyhow::Result<String> {
    match format {
        Format::Json => {
            let mut text = serde_json::to_string_pretty(value)
                .context("internal error: cannot render JSON; please report this")?;
            text.push('\n');
            Ok(text)
        }
        Format::Yaml | Format::Table => yaml(value),
    }
}

/// One YAML document.
pub fn yaml<T: Serialize>(value: &T) -> anyhow::Result<String> {
    serde_saphyr::to_string(value).context("internal error: cannot render YAML; please report this")
}

/// Several objects as one YAML stream, each document opened by `---`.
pub fn yaml_stream<T: Serialize>(values: &[T]) -> anyhow::Result<String> {
    let mut out = String::new();
    for value in values {
        out.push_str("---\n");
        out.push_str(&yaml(value)?);
    }
    Ok(out)
}

/// Writes data to stdout; a closed pipe (`| head`) is not an error.
pub fn write_stdout(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(err) if err.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(err).context("cannot write to stdout")
        }
        _ => Ok(()),
    }
}

/// kubectl's compact age: `45s`, `12m`, `3h`, `5d`.
pub fn age(since: Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>) -> String {
    let Some(since) = since else {
        return "<unknown>".to_string();
    };
    let seconds = (k8s_openapi::jiff::Timestamp::now().as_second() - since.0.as_second()).max(0);
    match seconds {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 48 * 3600 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_columns_align_and_the_last_is_not_padded() {
        let mut table = Table::new(&["NAME", "READY"]);
        table.row(vec!["podinfo".into(), "True".into()]);
        table.row(vec!["a".into(), "False".into()]);
        assert_eq!(
            table.render(),
            "NAME     READY\npodinfo  True\na        False\n"
        );
    }

    #[test]
    fn age_is_compact() {
        use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
        let ago = |s: i64| {
            Time(
                k8s_openapi::jiff::Timestamp::now()
                    - k8s_openapi::jiff::SignedDuration::from_secs(s),
            )
        };
        assert_eq!(age(Some(&ago(30))), "30s");
        assert_eq!(age(Some(&ago(600))), "10m");
        assert_eq!(age(Some(&ago(5 * 3600))), "5h");
        assert_eq!(age(Some(&ago(3 * 86400))), "3d");
        assert_eq!(age(None), "<unknown>");
    }
}
