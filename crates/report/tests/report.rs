//! The country report made from the seed dataset and stored measurements.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap in a test is a failed test

use askama::Template;
use interfero_model::incident::{Evidence, EvidenceQuery};
use interfero_model::{Measurement, Status, Technique};
use interfero_register::evidence::StoreSource;
use interfero_report::{build, Params};
use interfero_store::{
    Audience, Event, EventKind, IncidentChange, IncidentStore, MeasurementStore, OnExisting,
    RunInfo, SqliteStore,
};
use std::path::Path;

const CHANGE: IncidentChange<'static> = IncidentChange {
    by: "test",
    at: "2026-12-02 12:00:00",
    action: "import",
};

use interfero_store::synthetic::judged as m;

fn store() -> SqliteStore {
    let s = SqliteStore::open_in_memory().unwrap();
    let run = s.begin_run(&RunInfo::default()).unwrap();
    let linkedin = "https://www.linkedin.com/";
    s.insert_many(
        run,
        &[
            m(
                linkedin,
                "2021-07-20 10:00:00",
                "AS9198",
                Status::Blocked,
                Some(Technique::TlsTimeout),
            ),
            m(
                linkedin,
                "2021-07-21 10:00:00",
                "AS48716",
                Status::Blocked,
                Some(Technique::TlsTimeout),
            ),
            m(
                "https://example.org/",
                "2021-07-20 10:00:00",
                "AS9198",
                Status::Accessible,
                None,
            ),
            m(
                "https://example.org/",
                "2021-03-05 10:00:00",
                "AS9198",
                Status::Offline,
                Some(Technique::Shutdown),
            ),
            m(
                "https://news.example.kz/",
                "2021-10-05 10:00:00",
                "AS9198",
                Status::Accessible,
                None,
            ),
            Measurement {
                probe_cc: "UZ".into(),
                ..m(
                    "https://abroad.example/",
                    "2021-07-20 10:00:00",
                    "AS1",
                    Status::Blocked,
                    None,
                )
            },
        ],
    )
    .unwrap();
    let e = s
        .record_event(&Event {
            input: String::new(),
            kind: EventKind::ShutdownStarted,
            technique: Some(Technique::Shutdown),
            started: "2021-03-05 08:00:00".into(),
            ended: None,
            evidence: vec![],
            probe_cc: "KZ".into(),
            probe_asn: "AS9198".into(),
        })
        .unwrap();
    s.end_event(e, "2021-03-05 14:30:00").unwrap();
    s.record_event(&Event {
        input: linkedin.into(),
        kind: EventKind::Coordinated,
        technique: Some(Technique::TlsTimeout),
        started: "2021-07-20 10:00:00".into(),
        ended: None,
        evidence: vec!["same stall on AS9198 and AS48716 within 1 h".into()],
        probe_cc: "KZ".into(),
        probe_asn: "AS9198".into(),
    })
    .unwrap();
    let source = StoreSource::new(&s);
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/incidents");
    let mut seeded: Vec<_> =
        interfero_register::import(&[data], &s, &source, &CHANGE, OnExisting::Refuse).unwrap();
    // LinkedIn's record gets its measurements; Hola News' claims a block its evidence denies.
    for i in &mut seeded {
        let domain = match i.id.as_str() {
            "kz-2021-07-linkedin-blocked" => "linkedin.com",
            "kz-2021-10-hola-news-blocked" => "news.example.kz",
            _ => continue,
        };
        i.evidence.push(Evidence::Query {
            query: EvidenceQuery {
                country: Some("KZ".into()),
                domain: Some(domain.into()),
                ..Default::default()
            },
        });
    }
    s.save_incidents(&seeded, &CHANGE, OnExisting::Replace)
        .unwrap();
    let mut hidden = seeded[0].clone();
    hidden.id = "kz-2021-draft-not-public".into();
    hidden.title = "<script>alert('draft')</script>".into();
    hidden.status = interfero_model::incident::RecordStatus::Draft;
    s.save_incidents(&[hidden], &CHANGE, OnExisting::Refuse)
        .unwrap();
    s
}

fn params(audience: Audience) -> Params {
    Params {
        country: "KZ".into(),
        from: "2021-01-01".into(),
        to: "2021-12-31".into(),
        audience,
        explorer: None,
    }
}

#[test]
fn the_report_holds_every_seed_incident_its_statistics_charts_and_the_measurements() {
    let s = store();
    let report = build(&s, &params(Audience::Public)).unwrap();
    let html = report.render().unwrap();
    let seeded = s.incidents(&interfero_register::operator()).unwrap();
    for i in seeded.iter().filter(|i| i.is_public()) {
        assert!(
            html.contains(&format!("id=\"{}\"", i.id)),
            "{} missing",
            i.id
        );
    }
    assert_eq!(report.incident_count, seeded.len() - 1);
    assert!(
        !html.contains("kz-2021-draft-not-public"),
        "a draft in the public report"
    );
    assert!(
        html.contains("<td>Website blocked</td><td class=\"n\">3</td>"),
        "per-kind table"
    );
    assert!(html.contains("<td>Service blocked</td><td class=\"n\">1</td><td class=\"n\">1</td>"));
    // Three charts of the report, and one per record with linked measurements (LinkedIn, Hola).
    assert_eq!(html.matches("<svg").count(), 5, "charts");
    assert!(html.contains("Incidents per month"));
    for section in [
        "Violence and Harassment",
        "Censorship or Content Restrictions",
        "Internet Freedom",
    ] {
        assert!(html.contains(&format!("<h2>{section}</h2>")), "{section}");
    }
    // Evidence: LinkedIn's measurements are listed; Hola News' claim is flagged.
    assert!(html.contains("2 of 2 linked measurements say blocked"));
    assert!(html.contains("class=\"warn\">the evidence disagrees with the claim"));
    assert_eq!(report.disagreements, 1);
    // The summary: linkedin.com on two networks, the shutdown's 6.5 hours, the coordinated finding;
    // a measurement from another country is not counted.
    assert!(html.contains("<td>linkedin.com</td>"));
    assert!(html.contains("AS48716, AS9198"));
    assert!(html.contains("6.5 hours of shutdown"));
    assert!(html.contains("same stall on AS9198 and AS48716"));
    assert!(!html.contains("abroad.example"));
    assert_eq!(report.summary.total, 5);
    // Nothing is fetched: no script, no external resource.
    assert!(!html.contains("<script") && !html.contains("src=") && !html.contains("<link"));
}

#[test]
fn the_operator_report_marks_drafts_and_escapes_their_text() {
    let s = store();
    let html = build(&s, &params(Audience::Operator))
        .unwrap()
        .render()
        .unwrap();
    assert!(html.contains("id=\"kz-2021-draft-not-public\""));
    // askama writes numeric entities.
    let escaped = "&#60;script&#62;alert(&#39;draft&#39;)&#60;/script&#62;";
    assert!(
        html.contains(escaped),
        "{}",
        &html[html.find("alert").unwrap_or(0)..][..60]
    );
    assert!(!html.contains("<script>alert"));
    assert!(html.contains("Operator edition"));
}

#[test]
fn bad_periods_are_refused() {
    let s = SqliteStore::open_in_memory().unwrap();
    let mut p = params(Audience::Public);
    p.to = "2020-12-31".into();
    assert!(build(&s, &p)
        .err()
        .unwrap()
        .to_string()
        .contains("before --from"));
    p.to = "2021-02-30".into();
    assert!(build(&s, &p)
        .err()
        .unwrap()
        .to_string()
        .contains("YYYY-MM-DD"));
}

#[test]
fn the_pdf_is_printed_by_chromium() {
    if interfero_report::pdf::chromium().is_none() {
        eprintln!("skipped: no chromium on PATH (apt-get install chromium) — PDF not tested");
        return;
    }
    let s = store();
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("r.html");
    std::fs::write(
        &html,
        build(&s, &params(Audience::Public))
            .unwrap()
            .render()
            .unwrap(),
    )
    .unwrap();
    let pdf = dir.path().join("r.pdf");
    interfero_report::pdf::print(&html, &pdf).unwrap();
    let bytes = std::fs::read(&pdf).unwrap();
    assert!(bytes.starts_with(b"%PDF-"));
    assert!(bytes.len() > 20_000, "{} bytes", bytes.len());
    // To look at it: INTERFERO_REPORT_SAMPLE=/tmp/sample.pdf cargo test -p interfero-report
    if let Some(keep) = std::env::var_os("INTERFERO_REPORT_SAMPLE") {
        std::fs::copy(&pdf, keep).unwrap();
    }
}

#[test]
fn record_pages_have_an_index_with_facets_and_each_record_with_its_evidence_chart() {
    let s = store();
    let report = build(&s, &params(Audience::Public)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let n =
        interfero_report::pages::write(dir.path(), &report.title, &report.sections, false).unwrap();
    assert_eq!(n, report.incident_count);
    let index = std::fs::read_to_string(dir.path().join("index.html")).unwrap();
    assert!(index.contains("href=\"kz-2021-07-linkedin-blocked.html\""));
    assert!(index.contains("Website blocked (3)"), "kind facet");
    let linkedin =
        std::fs::read_to_string(dir.path().join("kz-2021-07-linkedin-blocked.html")).unwrap();
    assert!(linkedin.contains("<svg") && linkedin.contains("Linked measurements by verdict"));
    assert!(linkedin.contains("2 of 2 linked measurements say blocked"));
    let blocked = std::fs::read_to_string(
        dir.path()
            .join("kz-2021-02-hrd-coalition-site-blocked.html"),
    )
    .unwrap();
    assert!(blocked.contains("href=\"kz-2021-02-hrd-coalition-removal-demand.html\""));
    assert!(!dir.path().join("kz-2021-draft-not-public.html").exists());
}

#[test]
fn evidence_links_open_the_explorers_measurement_page() {
    let s = store();
    let mut p = params(Audience::Public);
    p.explorer = Some("https://explorer.example/".into());
    let html = build(&s, &p).unwrap().render().unwrap();
    // The explorer's route for one measurement, by its uid (not the store's row number).
    assert!(
        html.contains("href=\"https://explorer.example/m/"),
        "no /m/ link"
    );
    assert!(!html.contains("/measurement/"));
}
