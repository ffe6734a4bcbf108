//! The exit codes of `interfero`, and the one line an error is reduced to.
//!
//! Scripts tell a run whose verdicts can be used from one that lost data or stopped early by
//! the code alone; the same table is in `--help`, the README and `docs/security.md`.

use std::process::ExitCode;

/// Every target was measured and every measurement kept (whatever the verdicts).
pub const OK: u8 = 0;
/// Nothing could be measured at all (e.g. the only target failed before any observation).
pub const NOTHING_MEASURED: u8 = 1;
/// A usage error: bad arguments, an unreadable list, a database that cannot be opened.
/// Nothing was measured and no output was touched.
pub const USAGE: u8 = 2;
/// Measurements were made but some could not be kept: writing `--out` or the database failed
/// (disk full, permissions). What was kept is complete line by line; the rest is lost.
pub const KEEP_FAILED: u8 = 3;
/// Interrupted (Ctrl-C / SIGINT): what was measured before is kept, the other targets were not
/// measured. 128 + SIGINT, as shells report it.
pub const INTERRUPTED: u8 = 130;

/// The table shown after `--help`.
pub const HELP: &str = "Exit codes:
  0    every target measured and every measurement kept (whatever the verdicts)
  1    nothing could be measured
  2    usage error: nothing measured, no output touched
  3    some measurements could not be kept (--out or the database failed, e.g. disk full)
  130  interrupted (Ctrl-C): what was measured is kept, the other targets were not measured";

/// An error whose exit code is not [`USAGE`].
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Coded {
    /// The code to exit with.
    pub code: u8,
    /// What went wrong, in one line.
    pub message: String,
}

/// Fails with `code` and `message`.
pub fn fail(code: u8, message: impl Into<String>) -> anyhow::Error {
    Coded {
        code,
        message: message.into(),
    }
    .into()
}

/// The code of a run that measured `measured` targets, skipped `skipped` of them (interrupted)
/// and met `keep_errors` errors keeping them.
pub fn of_run(measured: usize, skipped: usize, keep_errors: usize) -> ExitCode {
    ExitCode::from(if keep_errors > 0 {
        KEEP_FAILED
    } else if skipped > 0 {
        INTERRUPTED
    } else if measured == 0 {
        NOTHING_MEASURED
    } else {
        OK
    })
}

/// At most this many characters of one cause are printed.
const MAX_CAUSE: usize = 300;

/// The error as one line: each cause cut at its first line break (a database error may carry
/// a whole SQL schema) and at [`MAX_CAUSE`] characters, control characters made visible.
pub fn one_line(e: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in e.chain() {
        let text = cause.to_string();
        let first = text.lines().next().unwrap_or("").trim();
        let mut s: String = crate::escape::terminal(first)
            .chars()
            .take(MAX_CAUSE)
            .collect();
        if s.len() < first.len() || text.lines().nth(1).is_some() {
            s.push_str(" …");
        }
        // anyhow's chain repeats a cause that a context already quoted.
        if !parts
            .last()
            .is_some_and(|p| p.contains(s.trim_end_matches(" …")))
        {
            parts.push(s);
        }
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_cuts_multiline_causes() {
        let sql = "near \"x\": syntax error in\nCREATE TABLE measurements (\n  id INTEGER\n);";
        let e = anyhow::anyhow!("{sql}").context("cannot open database at a.db");
        let line = one_line(&e);
        assert!(!line.contains('\n'), "{line}");
        assert!(
            line.starts_with("cannot open database at a.db: near"),
            "{line}"
        );
    }

    #[test]
    fn codes_are_distinct_and_ordered_by_gravity() {
        assert_eq!(of_run(3, 0, 0), ExitCode::from(OK));
        assert_eq!(of_run(0, 0, 0), ExitCode::from(NOTHING_MEASURED));
        assert_eq!(of_run(1, 2, 0), ExitCode::from(INTERRUPTED));
        assert_eq!(of_run(1, 2, 1), ExitCode::from(KEEP_FAILED));
    }
}
