//! `interfero incident` and `interfero report` as a person uses them: the seed dataset in one
//! command, bad files refused with their line and nothing changed, a draft from a stored event,
//! edits, exports and the report.

use interfero_model::{Measurement, Status, Technique, Verdict};
use interfero_store::{Event, EventKind, MeasurementStore, RunInfo, SqliteStore};
use std::path::Path;
use std::process::{Command, Output};

fn interfero(db: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_interfero"))
        .args(args)
        .arg("--db")
        .arg(db)
        .env("USER", "tester")
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn dataset() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../data/incidents")
        .display()
        .to_string()
}

#[test]
fn the_seed_imports_in_one_command_and_bad_files_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("r.db");
    let o = interfero(&db, &["incident", "import", &dataset()]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("20 record(s) imported"), "{}", text(&o));
    let before = text(&interfero(&db, &["incident", "export", "--format", "json"]));
    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        "id,title,kind,start,country,status,visibility\n\
         new-one,New,website_block,2021-01-01,KZ,draft,restricted\n\
         other,Other,website_block,2021-02-01,KZ\n",
    )
    .unwrap();
    let o = interfero(&db, &["incident", "import", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let msg = text(&o);
    assert!(msg.contains("bad.csv:3: broken row"), "{msg}");
    assert_eq!(msg.lines().count(), 1, "one line: {msg}");
    let reversed = dir.path().join("reversed.toml");
    std::fs::write(
        &reversed,
        "id = \"x-1\"\ntitle = \"X\"\nkind = \"shutdown\"\nstart = \"2021-05-02\"\nend = \"2021-05-01\"\n\
         status = \"draft\"\nvisibility = \"restricted\"\nplace = { country = \"KZ\" }\n",
    )
    .unwrap();
    let o = interfero(&db, &["incident", "add", reversed.to_str().unwrap()]);
    assert!(
        text(&o).contains("reversed.toml:5: incident x-1: end 2021-05-01 is before start"),
        "{}",
        text(&o)
    );
    assert_eq!(
        text(&interfero(&db, &["incident", "export", "--format", "json"])),
        before
    );
}

#[test]
fn a_stored_block_becomes_a_draft_then_a_published_record_in_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("r.db");
    {
        let s = SqliteStore::open(&db).unwrap();
        let run = s.begin_run(&RunInfo::default()).unwrap();
        let blocked = |t: &str| Measurement {
            input: "https://news.example.kz/".into(),
            test_name: "web_connectivity".into(),
            measurement_start_time: t.into(),
            probe_cc: "KZ".into(),
            probe_asn: "AS9198".into(),
            verdict: Some(Verdict::new(Status::Blocked, 0.9, "r").with(Technique::TlsTimeout)),
            ..Measurement::default()
        };
        s.insert_many(
            run,
            &[
                blocked("2021-10-06 08:00:00"),
                blocked("2021-10-07 08:00:00"),
            ],
        )
        .unwrap();
        s.record_event(&Event {
            input: "https://news.example.kz/".into(),
            kind: EventKind::BlockStarted,
            technique: Some(Technique::TlsTimeout),
            started: "2021-10-06 08:00:00".into(),
            ended: None,
            evidence: vec![],
            probe_cc: "KZ".into(),
            probe_asn: "AS9198".into(),
        })
        .unwrap();
    }
    let o = interfero(&db, &["incident", "add", "--from-event", "1"]);
    assert!(o.status.success(), "{}", text(&o));
    let id = "kz-2021-10-06-news-example-kz";
    assert!(text(&o).contains(id), "{}", text(&o));
    let show = text(&interfero(&db, &["incident", "show", id]));
    assert!(
        show.contains("2 of 2 linked measurements say blocked"),
        "{show}"
    );
    // A draft is the operator's: not in the public list.
    let public = text(&interfero(&db, &["incident", "list", "--public"]));
    assert!(public.contains("0 record(s)"), "{public}");
    let o = interfero(
        &db,
        &[
            "incident",
            "edit",
            id,
            "--status",
            "published",
            "--visibility",
            "public",
            "--end",
            "2021-10-16",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("revision 2"));
    let o = interfero(&db, &["incident", "edit", id, "--add-measurement", "9"]);
    assert!(text(&o).contains("does not resolve"), "{}", text(&o));
    let history = text(&interfero(&db, &["incident", "show", id, "--history"]));
    assert!(
        history.contains("revision 1") && history.contains("by cli:tester (edit)"),
        "{history}"
    );
    let html = dir.path().join("report.html");
    let o = interfero(
        &db,
        &[
            "report",
            "--country",
            "KZ",
            "--from",
            "2021-01-01",
            "--to",
            "2021-12-31",
            "--out",
            html.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains(&format!("id=\"{id}\"")));
    assert!(page.contains("news.example.kz"));
    let stop = text(&interfero(&db, &["incident", "export", "--format", "stop"]));
    assert_eq!(
        stop.lines().count(),
        1,
        "a website block is not a STOP record: {stop}"
    );
}
