//! PDF by printing the report's HTML with headless Chromium (`--print-to-pdf`). The report has
//! no external resource; Chromium is also started with every name resolving nowhere and a
//! proxy on a closed loopback port, so even its own background services reach nothing.

use crate::ReportError;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long printing may take.
pub const TIMEOUT: Duration = Duration::from_secs(120);

/// The Chromium binary: `$INTERFERO_CHROMIUM`, else the first of `chromium`,
/// `chromium-browser`, `google-chrome` found on `PATH`.
pub fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("INTERFERO_CHROMIUM") {
        return Some(PathBuf::from(p)).filter(|p| p.is_file());
    }
    let path = std::env::var_os("PATH")?;
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |d| d.join(name)))
        .find(|p| p.is_file())
}

/// Prints `html` (a file) to `pdf`.
pub fn print(html: &Path, pdf: &Path) -> Result<(), ReportError> {
    let browser = chromium().ok_or_else(|| {
        ReportError::Pdf(
            "no Chromium found for the PDF (install it: apt-get install chromium, or set \
             INTERFERO_CHROMIUM); the HTML report is written"
                .into(),
        )
    })?;
    let html = std::fs::canonicalize(html)
        .map_err(|e| ReportError::Pdf(format!("{}: {e}", html.display())))?;
    let profile = std::env::temp_dir().join(format!("interfero-chromium-{}", std::process::id()));
    let _ = std::fs::remove_file(pdf);
    std::fs::create_dir_all(&profile)
        .map_err(|e| ReportError::Pdf(format!("{}: {e}", profile.display())))?;
    // Chromium's log goes to a file: a pipe nobody reads could fill and stall it.
    let log_path = profile.join("chromium.log");
    let log = std::fs::File::create(&log_path)
        .map_err(|e| ReportError::Pdf(format!("{}: {e}", log_path.display())))?;
    let mut child = Command::new(&browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "--proxy-server=127.0.0.1:9",
            "--no-pdf-header-footer",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--print-to-pdf={}", pdf.display()))
        .arg(format!("file://{}", html.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(log))
        .spawn()
        .map_err(|e| ReportError::Pdf(format!("cannot start {}: {e}", browser.display())))?;
    let began = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if began.elapsed() > TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                let _ = std::fs::remove_dir_all(&profile);
                return Err(ReportError::Pdf(format!(
                    "Chromium did not finish the PDF in {} s",
                    TIMEOUT.as_secs()
                )));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(100)),
            Err(e) => return Err(ReportError::Pdf(format!("waiting for Chromium: {e}"))),
        }
    };
    let err = std::fs::read_to_string(&log_path).unwrap_or_default();
    let _ = std::fs::remove_dir_all(&profile);
    let made = std::fs::metadata(pdf).map(|m| m.len() > 0).unwrap_or(false);
    if status.success() && made {
        Ok(())
    } else {
        let last = err
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        Err(ReportError::Pdf(format!(
            "Chromium could not print {} ({status}): {last}",
            pdf.display()
        )))
    }
}
