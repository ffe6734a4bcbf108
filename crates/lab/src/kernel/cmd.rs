//! Running `ip`, `nft` and `tc` with errors that say which command failed and what it printed.

use crate::LabError;
use std::io::Write;
use std::process::{Command, Stdio};

/// Runs `prog args...`, feeding `stdin` when given; `Err` with the command line and its stderr
/// unless it exits 0.
pub(crate) fn run(prog: &str, args: &[&str], stdin: Option<&str>) -> Result<String, LabError> {
    let line = || format!("{prog} {}", args.join(" "));
    let mut child = Command::new(prog)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| LabError::Command {
            cmd: line(),
            detail: e.to_string(),
        })?;
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        // A failure to write shows up as the command's own error below.
        let _ = pipe.write_all(text.as_bytes());
    }
    let out = child.wait_with_output().map_err(|e| LabError::Command {
        cmd: line(),
        detail: e.to_string(),
    })?;
    if !out.status.success() {
        return Err(LabError::Command {
            cmd: line(),
            detail: format!(
                "{}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `ip ARGS...`.
pub(crate) fn ip(args: &[&str]) -> Result<String, LabError> {
    run("ip", args, None)
}

/// `ip netns exec NS PROG ARGS...`, feeding `stdin` when given.
pub(crate) fn in_ns(
    ns: &str,
    prog: &str,
    args: &[&str],
    stdin: Option<&str>,
) -> Result<String, LabError> {
    let mut all = vec!["netns", "exec", ns, prog];
    all.extend_from_slice(args);
    run("ip", &all, stdin)
}
