//! The register against a real SQLite store: the seed dataset, bad input, evidence resolution,
//! round trips, drafts from events, visibility.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap in a test is a failed test

use interfero_model::incident::{
    Evidence, EvidenceQuery, Incident, Kind, RecordStatus, Visibility,
};
use interfero_model::{Status, Technique};
use interfero_register::evidence::{self, Check, StoreSource};
use interfero_register::{draft, files, table, validate, Format};
use interfero_store::{
    Audience, Event, EventKind, IncidentChange, IncidentFilter, IncidentStore, MeasurementStore,
    OnExisting, RunInfo, SqliteStore,
};
use std::path::{Path, PathBuf};

const CHANGE: IncidentChange<'static> = IncidentChange {
    by: "test",
    at: "2026-12-02 12:00:00",
    action: "import",
};

fn dataset() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/incidents")
}

use interfero_store::synthetic::judged as measurement;

/// A store with a ten-day block of news.example.kz on two networks, an accessible measurement
/// after it, and the watch's events for it.
fn store_with_block() -> SqliteStore {
    let s = SqliteStore::open_in_memory().unwrap();
    let run = s.begin_run(&RunInfo::default()).unwrap();
    let url = "https://news.example.kz/";
    let ms = vec![
        measurement(
            url,
            "2021-10-05 08:00:00",
            "AS9198",
            Status::Accessible,
            None,
        ),
        measurement(
            url,
            "2021-10-06 08:00:00",
            "AS9198",
            Status::Blocked,
            Some(Technique::TlsTimeout),
        ),
        measurement(
            url,
            "2021-10-06 09:00:00",
            "AS48716",
            Status::Blocked,
            Some(Technique::TlsTimeout),
        ),
        measurement(
            url,
            "2021-10-10 08:00:00",
            "AS9198",
            Status::Blocked,
            Some(Technique::TlsTimeout),
        ),
        measurement(
            url,
            "2021-10-16 08:00:00",
            "AS9198",
            Status::Accessible,
            None,
        ),
        measurement(
            "https://other.example/",
            "2021-10-07 08:00:00",
            "AS9198",
            Status::Blocked,
            None,
        ),
    ];
    s.insert_many(run, &ms).unwrap();
    let start = s
        .record_event(&Event {
            input: url.into(),
            kind: EventKind::BlockStarted,
            technique: Some(Technique::TlsTimeout),
            started: "2021-10-06 08:00:00".into(),
            ended: None,
            evidence: vec!["tls.failure.control_handshakes".into()],
            probe_cc: "KZ".into(),
            probe_asn: "AS9198".into(),
        })
        .unwrap();
    s.end_event(start, "2021-10-16 08:00:00").unwrap();
    s.record_event(&Event {
        input: url.into(),
        kind: EventKind::BlockEnded,
        technique: Some(Technique::TlsTimeout),
        started: "2021-10-16 08:00:00".into(),
        ended: None,
        evidence: vec![],
        probe_cc: "KZ".into(),
        probe_asn: "AS9198".into(),
    })
    .unwrap();
    s
}

fn seed(store: &SqliteStore) -> Vec<Incident> {
    let source = StoreSource::new(store);
    interfero_register::import(&[dataset()], store, &source, &CHANGE, OnExisting::Refuse).unwrap()
}

#[test]
fn the_seed_dataset_imports_whole_and_again_without_new_revisions() {
    let store = SqliteStore::open_in_memory().unwrap();
    let first = seed(&store);
    assert!(first.len() >= 15, "{} records", first.len());
    let kinds: std::collections::BTreeSet<Kind> = first.iter().map(|i| i.kind).collect();
    for k in [
        Kind::PhysicalAttack,
        Kind::RemovalDemand,
        Kind::WebsiteBlock,
        Kind::ServiceBlock,
        Kind::Shutdown,
        Kind::LegalAction,
    ] {
        assert!(kinds.contains(&k), "no {k} in the dataset");
    }
    let hola = store
        .incident("kz-2021-10-hola-news-blocked", Audience::Public)
        .unwrap()
        .unwrap();
    assert_eq!(hola.official_position.unwrap().stance.as_str(), "denied");
    assert_eq!(hola.audit.revision, 1);
    // Importing the same files again changes nothing.
    let again = seed(&store);
    assert!(again.iter().all(|i| i.audit.revision == 1));
    assert_eq!(
        store
            .incident_history("kz-2021-10-hola-news-blocked")
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn validation_names_each_problem() {
    let store = SqliteStore::open_in_memory().unwrap();
    let mut i = seed(&store)
        .into_iter()
        .find(|i| i.id == "kz-2021-03-02-shymkent-reporters-assaulted")
        .unwrap();
    assert!(validate::problems(&i).is_empty());
    i.end = interfero_model::incident::PartialDate::parse("2020-12-31");
    i.id = "Bad Id".into();
    i.place.country = "kz".into();
    i.evidence.push(Evidence::Query {
        query: EvidenceQuery::default(),
    });
    let fields: Vec<String> = validate::problems(&i)
        .into_iter()
        .map(|p| p.field)
        .collect();
    assert_eq!(fields, ["id", "country", "end", "evidence[0]"]);
    // A month-precise end in the start's month is not before it.
    i.end = interfero_model::incident::PartialDate::parse(&i.start.to_string()[..7]);
    assert!(!validate::problems(&i).iter().any(|p| p.field == "end"));
}

#[test]
fn an_archived_capture_is_evidence_by_its_id() {
    let store = SqliteStore::open_in_memory().unwrap();
    let mut i = seed(&store).into_iter().next().unwrap();
    i.evidence.clear();
    let good: Evidence = serde_json::from_value(serde_json::json!({
        "kind": "capture",
        "id": "ab".repeat(32),
        "url": "https://vlast.kz/2021/court-ruling",
    }))
    .unwrap();
    i.evidence.push(good.clone());
    assert!(
        validate::problems(&i).is_empty(),
        "{:?}",
        validate::problems(&i)
    );
    assert_eq!(
        serde_json::to_value(&good).unwrap()["kind"],
        serde_json::json!("capture")
    );
    i.evidence.push(Evidence::Capture {
        id: "not-an-id".into(),
        url: None,
    });
    let fields: Vec<String> = validate::problems(&i)
        .into_iter()
        .map(|p| p.field)
        .collect();
    assert_eq!(fields, ["evidence[1]"]);
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

const GOOD: &str = r#"
[[incident]]
id = "a-good-one"
title = "Good"
kind = "website_block"
start = "2021-10-01"
status = "draft"
visibility = "restricted"
place = { country = "KZ" }
"#;

#[test]
fn bad_files_are_refused_with_their_line_and_nothing_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open_in_memory().unwrap();
    let before = seed(&store).len();
    let source = StoreSource::new(&store);
    let import = |p: PathBuf| {
        interfero_register::import(&[p], &store, &source, &CHANGE, OnExisting::Refuse)
            .unwrap_err()
            .to_string()
    };
    let unknown = write(
        dir.path(),
        "k.toml",
        &format!("{GOOD}\n[[incident]]\nid = \"x\"\ntitle = \"X\"\nkind = \"blok\"\n"),
    );
    let msg = import(unknown);
    assert!(msg.contains("k.toml:14") && msg.contains("blok"), "{msg}");
    let reversed = GOOD.replace(
        "start = \"2021-10-01\"",
        "start = \"2021-10-01\"\nend = \"2021-09-30\"",
    );
    let msg = import(write(
        dir.path(),
        "e.toml",
        &format!("{GOOD}{}", reversed.replace("a-good-one", "b")),
    ));
    assert!(
        msg.contains("e.toml:16") && msg.contains("before start"),
        "{msg}"
    );
    let dangling = GOOD.replace(
        "place =",
        "evidence = [{ kind = \"measurement\", id = 99 }]\nplace =",
    );
    let msg = import(write(dir.path(), "m.toml", &dangling));
    assert!(
        msg.contains("m.toml:9") && msg.contains("does not resolve"),
        "{msg}"
    );
    let json = "[\n {\"id\": \"j\", \"title\": \"J\", \"kind\": \"website_block\",\n  \"start\": \"2021-13\"}\n]";
    let msg = import(write(dir.path(), "j.json", json));
    assert!(msg.contains("j.json:3") && msg.contains("YYYY-MM"), "{msg}");
    // The good record of each file was not stored either, nor was anything changed.
    assert_eq!(
        store
            .incidents(&interfero_register::operator())
            .unwrap()
            .len(),
        before
    );
    assert!(store
        .incident("a-good-one", Audience::Operator)
        .unwrap()
        .is_none());
}

#[test]
fn csv_errors_name_line_and_column() {
    let store = SqliteStore::open_in_memory().unwrap();
    let mut records = seed(&store);
    records.truncate(3);
    let csv = table::to_csv(&records).unwrap();
    let mut lines: Vec<String> = csv.lines().map(str::to_string).collect();
    let broken = lines[2]
        .replacen(",legal_action,", ",lawsuit,", 1)
        .replacen(",obstruction,", ",lawsuit,", 1)
        .replacen(",physical_attack,", ",lawsuit,", 1);
    lines[2] = broken;
    let e = table::read_csv("t.csv", &lines.join("\n"))
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("t.csv:3: column kind: unknown value \"lawsuit\""),
        "{e}"
    );
    let short = format!("{}\n{}\nonly,three,cells\n", lines[0], lines[1]);
    let e = table::read_csv("t.csv", &short).unwrap_err().to_string();
    assert!(e.starts_with("t.csv:3: broken row"), "{e}");
}

#[test]
fn toml_json_and_csv_round_trip_the_dataset() {
    let store = SqliteStore::open_in_memory().unwrap();
    let records = seed(&store);
    let toml = files::to_toml(&records).unwrap();
    let back: Vec<Incident> = files::read_toml("x.toml", &toml)
        .unwrap()
        .into_iter()
        .map(|r| r.incident)
        .collect();
    assert_eq!(back, records);
    let json = files::to_json(&records).unwrap();
    let back: Vec<Incident> = files::read_json("x.json", &json)
        .unwrap()
        .into_iter()
        .map(|r| r.incident)
        .collect();
    assert_eq!(back, records);
    // CSV carries the revision but not the audit's names and times.
    let csv = table::to_csv(&records).unwrap();
    let back: Vec<Incident> = table::read_csv("x.csv", &csv)
        .unwrap()
        .into_iter()
        .map(|r| r.incident)
        .collect();
    let strip = |v: &[Incident]| -> Vec<Incident> {
        v.iter()
            .map(|i| Incident {
                audit: Default::default(),
                ..i.clone()
            })
            .collect()
    };
    assert_eq!(strip(&back), strip(&records));
    // Exports are re-importable into a fresh store.
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in [("r.toml", &toml), ("r.json", &json), ("r.csv", &csv)] {
        let fresh = SqliteStore::open_in_memory().unwrap();
        let p = write(dir.path(), name, text);
        let n = interfero_register::import(
            &[p],
            &fresh,
            &StoreSource::new(&fresh),
            &CHANGE,
            OnExisting::Refuse,
        )
        .unwrap();
        assert_eq!(n.len(), records.len(), "{name}");
    }
}

#[test]
fn stop_export_has_the_shutdowns_and_service_blocks() {
    let store = SqliteStore::open_in_memory().unwrap();
    seed(&store);
    let out =
        interfero_register::export(&store, &interfero_register::operator(), Format::Stop).unwrap();
    let mut r = csv::Reader::from_reader(out.as_bytes());
    assert_eq!(r.headers().unwrap().len(), table::STOP_COLUMNS.len());
    let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
    let ids: Vec<&str> = rows.iter().map(|r| &r[36]).collect();
    // By start: the year-precise shutdown (from 2021-01-01) before July's block.
    assert_eq!(
        ids,
        [
            "kz-2021-protest-mobile-internet-disrupted",
            "kz-2021-07-linkedin-blocked"
        ]
    );
    let shutdown = &rows[0];
    assert_eq!(&shutdown[2], "Kazakhstan");
    assert_eq!(&shutdown[5], "Shutdown");
    assert_eq!(&shutdown[6], "Mobile");
    assert_eq!(&shutdown[7], "Full network");
    assert_eq!(&rows[1][18], "Yes", "LinkedIn's block was acknowledged");
}

#[test]
fn evidence_resolves_against_stored_measurements_and_events() {
    let store = store_with_block();
    let source = StoreSource::new(&store);
    let r = evidence::resolve_one(
        &source,
        &Evidence::Measurement {
            id: Some(2),
            uid: None,
        },
    )
    .unwrap()
    .unwrap();
    assert_eq!(r.measurements[0].status, Some(Status::Blocked));
    assert_eq!(r.measurements[0].time, "2021-10-06 08:00:00");
    assert!(evidence::resolve_one(
        &source,
        &Evidence::Measurement {
            id: Some(7),
            uid: None
        }
    )
    .unwrap()
    .is_none());
    let q = EvidenceQuery {
        country: Some("KZ".into()),
        domain: Some("example.kz".into()),
        since: Some("2021-10-06".into()),
        until: Some("2021-10-10".into()),
        ..Default::default()
    };
    let r = evidence::resolve_one(&source, &Evidence::Query { query: q.clone() })
        .unwrap()
        .unwrap();
    let ids: Vec<i64> = r.measurements.iter().map(|f| f.id).collect();
    assert_eq!(
        ids,
        [2, 3, 4],
        "the bare until date includes its day; other.example is not in the domain"
    );
    let r = evidence::resolve_one(&source, &Evidence::Event { id: 1 })
        .unwrap()
        .unwrap();
    let ids: Vec<i64> = r.measurements.iter().map(|f| f.id).collect();
    assert_eq!(
        ids,
        [2, 4],
        "the episode's blocked measurements, from its own network"
    );
    assert!(evidence::resolve_one(&source, &Evidence::Event { id: 3 })
        .unwrap()
        .is_none());
    // The claim against the verdicts.
    let supports = evidence::check(Kind::WebsiteBlock, &[r]);
    assert_eq!(
        supports,
        Check::Supports {
            supporting: 2,
            total: 2,
            expected: Status::Blocked
        }
    );
    let accessible = evidence::resolve_one(
        &source,
        &Evidence::Query {
            query: EvidenceQuery {
                since: Some("2021-10-16".into()),
                until: None,
                ..q
            },
        },
    )
    .unwrap()
    .unwrap();
    let disagrees = evidence::check(Kind::WebsiteBlock, &[accessible]);
    assert!(disagrees.disagrees(), "{disagrees:?}");
    assert!(
        disagrees.sentence().contains("1 accessible"),
        "{}",
        disagrees.sentence()
    );
    assert_eq!(
        evidence::check(Kind::LegalAction, &[]),
        Check::NotApplicable
    );
}

#[test]
fn a_block_started_event_becomes_a_draft_with_its_measurements() {
    let store = store_with_block();
    let source = StoreSource::new(&store);
    let d = draft::from_event(&source, 1).unwrap();
    assert_eq!(d.kind, Kind::WebsiteBlock);
    assert_eq!(d.start.to_string(), "2021-10-06");
    assert_eq!(d.end.map(|e| e.to_string()).as_deref(), Some("2021-10-16"));
    assert_eq!(d.place.country, "KZ");
    assert_eq!(d.status, RecordStatus::Draft);
    assert_eq!(d.visibility, Visibility::Restricted);
    let scope = d.network_scope.clone().unwrap();
    assert_eq!(
        scope.asns,
        ["AS9198"],
        "the event's vantage point, not AS48716's block"
    );
    assert_eq!(scope.domains, ["news.example.kz"]);
    let linked: Vec<i64> = d
        .evidence
        .iter()
        .filter_map(|e| match e {
            Evidence::Measurement { id, .. } => *id,
            _ => None,
        })
        .collect();
    assert_eq!(linked, [2, 4]);
    assert!(matches!(d.evidence[0], Evidence::Event { id: 1 }));
    // The draft is valid, its evidence resolves, and it is stored as a draft nobody public sees.
    let shown = interfero_register::show(&d, &source).unwrap();
    assert!(shown.missing.is_empty());
    // Its query (the network, the domain, the episode) also holds the accessible end.
    assert_eq!(
        shown.check,
        Check::Supports {
            supporting: 2,
            total: 3,
            expected: Status::Blocked
        }
    );
    interfero_register::save_one(&d, &store, &source, &CHANGE, OnExisting::Refuse).unwrap();
    assert!(store.incident(&d.id, Audience::Public).unwrap().is_none());
    assert!(store.incident(&d.id, Audience::Operator).unwrap().is_some());
    // An end event is not a start.
    assert!(draft::from_event(&source, 2)
        .unwrap_err()
        .to_string()
        .contains("block_ended"));
}

#[test]
fn the_public_sees_only_published_public_records_and_edits_are_audited() {
    let store = SqliteStore::open_in_memory().unwrap();
    let all = seed(&store);
    let mut i = all[0].clone();
    i.visibility = Visibility::Restricted;
    let source = StoreSource::new(&store);
    let saved =
        interfero_register::save_one(&i, &store, &source, &CHANGE, OnExisting::Refuse).unwrap();
    assert_eq!(saved.audit.revision, 2);
    let public = store.incidents(&IncidentFilter::default()).unwrap();
    assert_eq!(public.len(), all.len() - 1);
    assert!(public.iter().all(|p| p.id != i.id));
    let csv = interfero_register::export(&store, &IncidentFilter::default(), Format::Csv).unwrap();
    assert!(!csv.contains(&i.id));
    // An edit from a stale revision is refused.
    let mut stale = saved.clone();
    stale.audit.revision = 1;
    stale.title = "changed".into();
    let e = interfero_register::save_one(&stale, &store, &source, &CHANGE, OnExisting::Refuse)
        .unwrap_err();
    assert!(e.to_string().contains("changed since revision 1"), "{e}");
    let history = store.incident_history(&i.id).unwrap();
    assert_eq!(
        history.iter().map(|h| h.revision).collect::<Vec<_>>(),
        [1, 2]
    );
    assert_eq!(history[1].record.visibility, Visibility::Restricted);
}

#[test]
fn a_lab_event_on_the_scenario_clock_is_dated_by_its_measurements() {
    let s = SqliteStore::open_in_memory().unwrap();
    let run = s.begin_run(&RunInfo::default()).unwrap();
    let url = "https://hola-news.test:8443/";
    s.insert_many(
        run,
        &[
            measurement(url, "2026-12-02 14:29:55", "AS0", Status::Accessible, None),
            measurement(
                url,
                "2026-12-02 14:29:57",
                "AS0",
                Status::Blocked,
                Some(Technique::TlsTimeout),
            ),
            measurement(
                url,
                "2026-12-02 14:29:59",
                "AS0",
                Status::Blocked,
                Some(Technique::TlsTimeout),
            ),
        ],
    )
    .unwrap();
    // As `lab watch` records it: scenario time, unnamed vantage point.
    s.record_event(&Event {
        input: url.into(),
        kind: EventKind::BlockStarted,
        technique: Some(Technique::TlsTimeout),
        started: "d1 00:00".into(),
        ended: None,
        evidence: vec![],
        probe_cc: "ZZ".into(),
        probe_asn: "AS0".into(),
    })
    .unwrap();
    let source = StoreSource::new(&s);
    let d = draft::from_event(&source, 1).unwrap();
    assert_eq!(d.start.to_string(), "2026-12-02");
    assert!(d.ongoing);
    assert!(
        d.summary.contains("scenario clock (d1 00:00)"),
        "{}",
        d.summary
    );
    let linked = d
        .evidence
        .iter()
        .filter(|e| matches!(e, Evidence::Measurement { .. }))
        .count();
    assert_eq!(linked, 2);
    interfero_register::save_one(&d, &s, &source, &CHANGE, OnExisting::Refuse).unwrap();
}
