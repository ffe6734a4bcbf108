//! `interfero report`: the country report from the register and the measurements, as HTML
//! and/or PDF.

use anyhow::Context;
use askama::Template;
use interfero_report::{build, pdf, Params};
use interfero_store::{Audience, SqliteStore};
use std::path::PathBuf;
use std::process::ExitCode;

/// `interfero report`.
#[derive(clap::Args)]
pub struct ReportArgs {
    /// The country (ISO alpha-2, e.g. KZ).
    #[arg(long)]
    pub country: String,
    /// First day of the period (YYYY-MM-DD).
    #[arg(long)]
    pub from: String,
    /// Last day of the period (YYYY-MM-DD).
    #[arg(long)]
    pub to: String,
    /// Write the report here: .html, or .pdf (printed by headless Chromium).
    #[arg(long, required_unless_present_any = ["pdf", "pages"])]
    pub out: Option<PathBuf>,
    /// Also (or only) write the PDF here.
    #[arg(long)]
    pub pdf: Option<PathBuf>,
    /// Include drafts and restricted records (marked; not for publication).
    #[arg(long)]
    pub operator: bool,
    /// Also write the record pages here: index.html (with facets) and one page per record.
    #[arg(long)]
    pub pages: Option<PathBuf>,
    /// Link each measurement to this explorer (its base URL).
    #[arg(long)]
    pub explorer: Option<String>,
    /// The database (default: $INTERFERO_DB or ~/.local/share/interfero/interfero.db).
    #[arg(long)]
    pub db: Option<PathBuf>,
}

/// Runs `interfero report`.
pub fn report(a: ReportArgs) -> anyhow::Result<ExitCode> {
    let db = a.db.clone().unwrap_or_else(crate::run::default_db);
    if !db.is_file() {
        anyhow::bail!(
            "--db {}: no such database (import the register first: interfero incident import \
             data/incidents --db PATH)",
            db.display()
        );
    }
    let (mut html_out, mut pdf_out) = (None, a.pdf.clone());
    match &a.out {
        Some(p) if p.extension().is_some_and(|e| e.eq_ignore_ascii_case("pdf")) => {
            pdf_out = Some(p.clone())
        }
        Some(p) => html_out = Some(p.clone()),
        None => {}
    }
    let store = SqliteStore::open(&db)?;
    let params = Params {
        country: a.country.to_ascii_uppercase(),
        from: a.from,
        to: a.to,
        audience: if a.operator {
            Audience::Operator
        } else {
            Audience::Public
        },
        explorer: a.explorer,
    };
    let report = build(&store, &params)?;
    let html = report.render()?;
    // The PDF is printed from an HTML file: the one asked for, or a temporary one.
    let tmp = tempfile::Builder::new().suffix(".html").tempfile()?;
    let html_path = match &html_out {
        Some(p) => {
            std::fs::write(p, &html).with_context(|| format!("cannot write {}", p.display()))?;
            println!(
                "{}: {} incidents, {} measurements",
                p.display(),
                report.incident_count,
                report.summary.total
            );
            p.clone()
        }
        None => {
            std::fs::write(tmp.path(), &html)?;
            tmp.path().to_path_buf()
        }
    };
    if let Some(dir) = &a.pages {
        let n =
            interfero_report::pages::write(dir, &report.title, &report.sections, report.operator)?;
        println!("{}: index.html and {n} record pages", dir.display());
    }
    if let Some(p) = &pdf_out {
        pdf::print(&html_path, p)?;
        println!("{}: printed", p.display());
    }
    Ok(ExitCode::SUCCESS)
}
