//! The probe under careless and hostile use, from outside: the real binary, loopback only.
//! Nothing the user kept is destroyed by a usage error, and the exit code tells what happened.

use std::io::Read as _;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn interfero() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_interfero"));
    // Never the user's own database, never the system resolver.
    c.env("INTERFERO_DB", "/nonexistent-interfero-test/never.db");
    c
}

/// Arguments that measure a loopback target fast and offline: a refused port, no canaries.
const OFFLINE: [&str; 5] = ["--resolver", "127.0.0.1:9", "--canaries", "none", "--quiet"];

fn run(args: &[&str]) -> Output {
    interfero()
        .arg("run")
        .args(args)
        .output()
        .expect("interfero runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn a_bad_db_leaves_an_existing_out_file_alone() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("old.jsonl");
    std::fs::write(&out, "{\"input\":\"kept\"}\n").unwrap();
    let bad_db = dir.path().join("not-a-db");
    std::fs::write(&bad_db, vec![0x5a_u8; 4096]).unwrap();
    let o = run(&[
        &["http://127.0.0.1:1/", "--out", out.to_str().unwrap()][..],
        &["--db", bad_db.to_str().unwrap()],
        &OFFLINE,
    ]
    .concat());
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "{\"input\":\"kept\"}\n",
        "the earlier --out was truncated by a usage error"
    );
    assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
}

#[test]
fn out_may_not_overwrite_the_list() {
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("list.txt");
    std::fs::write(&list, "http://127.0.0.1:1/\n").unwrap();
    let l = list.to_str().unwrap();
    let o = run(&[&["--list", l, "--out", l, "--no-db"][..], &OFFLINE].concat());
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_eq!(
        std::fs::read_to_string(&list).unwrap(),
        "http://127.0.0.1:1/\n"
    );
}

#[test]
fn a_db_in_a_missing_directory_is_refused_not_created() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("typo/sub/x.db");
    let o = run(&[
        &["http://127.0.0.1:1/", "--db", db.to_str().unwrap()][..],
        &OFFLINE,
    ]
    .concat());
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        !dir.path().join("typo").exists(),
        "the directories were created"
    );
    assert!(stderr(&o).contains("does not exist"), "{}", stderr(&o));
}

#[test]
fn a_failed_out_write_is_not_success() {
    if !Path::new("/dev/full").exists() {
        return;
    }
    let o = run(&[
        &["http://127.0.0.1:1/", "--out", "/dev/full", "--no-db"][..],
        &OFFLINE,
    ]
    .concat());
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("writing --out"), "{}", stderr(&o));
}

#[test]
fn a_measured_run_exits_zero() {
    let o = run(&[&["http://127.0.0.1:1/", "--no-db"][..], &OFFLINE].concat());
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn bad_numbers_and_urls_are_usage_errors_before_measuring() {
    for args in [
        &["http://127.0.0.1:1/", "--parallel", "0"][..],
        &["http://127.0.0.1:1/", "--resolver", "127.0.0.1:0"],
        &["http://127.0.0.1:0/"],
        &["http://127.0.0.1:1/", "--control", "htp//typo"],
        &["http://127.0.0.1:1/", "--control", "http://127.0.0.1:0/"],
    ] {
        let o = run(&[args, &["--no-db", "--canaries", "none", "--quiet"]].concat());
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
    }
    let o = interfero()
        .args([
            "watch",
            "http://127.0.0.1:1/",
            "--interval",
            "0s",
            "--no-db",
        ])
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(2),
        "watch --interval 0: {}",
        stderr(&o)
    );
    for n in ["100000000", "0"] {
        let o = interfero()
            .args(["lab", "bench", "--targets", n])
            .output()
            .unwrap();
        assert_eq!(
            o.status.code(),
            Some(2),
            "lab bench --targets {n}: {}",
            stderr(&o)
        );
    }
}

#[test]
fn watch_honours_no_db_out_and_quiet() {
    let dir = tempfile::tempdir().unwrap();
    let default_db = dir.path().join("default.db");
    let out = dir.path().join("w.jsonl");
    let o = Command::new(env!("CARGO_BIN_EXE_interfero"))
        .env("INTERFERO_DB", &default_db)
        .args([
            "watch",
            "http://127.0.0.1:1/",
            "--rounds",
            "2",
            "--interval",
            "1s",
        ])
        .args(["--no-db", "--out", out.to_str().unwrap()])
        .args(OFFLINE)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(!default_db.exists(), "--no-db wrote the default database");
    let lines = std::fs::read_to_string(&out).unwrap();
    assert_eq!(lines.lines().count(), 2, "{lines}");
    assert!(
        o.stdout.is_empty(),
        "--quiet printed {:?}",
        String::from_utf8_lossy(&o.stdout)
    );
}

#[test]
fn a_hostile_list_is_reported_in_bounded_escaped_lines() {
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("list.txt");
    let mut text = format!("https://a.kz/{}\n", "x".repeat(50 << 20));
    for i in 0..200 {
        text.push_str(&format!("bad\u{1b}]0;owned\u{7} line {i}\n"));
    }
    text.push_str("http://127.0.0.1:1/\n");
    std::fs::write(&list, text).unwrap();
    let o = run(&[&["--list", list.to_str().unwrap(), "--no-db"][..], &OFFLINE].concat());
    let err = stderr(&o);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        err.chars().take(2000).collect::<String>()
    );
    assert!(err.len() < 20_000, "{} bytes of errors", err.len());
    assert!(!err.contains('\u{1b}') && !err.contains('\u{7}'));
}

#[test]
fn help_lists_the_exit_codes() {
    let o = interfero().args(["run", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&o.stdout);
    assert!(
        help.contains("Exit codes:") && help.contains("130"),
        "{help}"
    );
}

#[test]
fn an_interrupted_run_says_so_in_its_exit_code() {
    // A server that accepts and never answers: the measurement hangs until interrupted.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o.jsonl");
    let mut child = interfero()
        .args([
            "run",
            &url,
            "http://127.0.0.1:1/",
            "--parallel",
            "1",
            "--no-db",
        ])
        .args(["--out", out.to_str().unwrap()])
        .args(OFFLINE)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The probe is measuring once it connects.
    let (_held, _) = listener.accept().unwrap();
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap()
        .success());
    let status = child.wait().unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(status.code(), Some(130), "{err}");
    assert!(err.contains("interrupted"), "{err}");
}

/// A measurement line whose `input` and OONI `blocking` a hostile probe chose.
fn hostile_line(input: &str, blocking: &str) -> String {
    serde_json::json!({
        "input": input,
        "test_name": "web_connectivity",
        "test_keys": {"blocking": blocking, "accessible": false},
    })
    .to_string()
}

#[test]
fn analyze_keeps_terminal_sequences_off_the_table() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("m.jsonl");
    let line = hostile_line("https://a.kz/\u{1b}[2J\u{1b}]0;owned\u{7}", "dns");
    std::fs::write(&f, format!("{line}\n")).unwrap();
    let o = interfero()
        .args(["analyze", f.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(table.contains("a.kz"), "{table}");
    assert!(
        !table.contains('\u{1b}') && !table.contains('\u{7}'),
        "{table:?}"
    );
}

#[test]
fn compare_ooni_escapes_what_the_files_say() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("<img src=x onerror=alert(1)>.jsonl");
    let blocking = "x\n# Injected heading <script>alert(1)</script>";
    std::fs::write(&f, format!("{}\n", hostile_line("https://a.kz/", blocking))).unwrap();
    let md = dir.path().join("cmp.md");
    let o = interfero()
        .args(["analyze", dir.path().to_str().unwrap(), "--quiet"])
        .args(["--compare-ooni", md.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let doc = std::fs::read_to_string(&md).unwrap();
    assert!(!doc.contains("<script"), "{doc}");
    assert!(!doc.contains("<img"), "{doc}");
    assert!(!doc.lines().any(|l| l.starts_with("# Injected")), "{doc}");
}

#[test]
fn analyze_skips_a_non_utf8_file_and_reads_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a-bad.jsonl"), b"\xff\xfe\x00garbage\n").unwrap();
    std::fs::write(
        dir.path().join("b-good.jsonl"),
        format!("{}\n", hostile_line("https://good.kz/", "false")),
    )
    .unwrap();
    let o = interfero()
        .args(["analyze", dir.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("good.kz"));
    assert!(stderr(&o).contains("not UTF-8"), "{}", stderr(&o));
}

#[test]
fn analyze_out_may_not_overwrite_its_input() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("m.jsonl");
    let line = format!("{}\n", hostile_line("https://a.kz/", "false"));
    std::fs::write(&f, &line).unwrap();
    let p = f.to_str().unwrap();
    let o = interfero()
        .args(["analyze", p, "--out", p])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&f).unwrap(), line);
}

#[test]
fn a_schema_conflict_is_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("other.db");
    // A database another program made, with a table of the same name and another shape.
    let status = Command::new("sqlite3")
        .arg(&db)
        .arg("CREATE TABLE measurements (x TEXT); CREATE TABLE runs (y TEXT);")
        .status();
    if !status.is_ok_and(|s| s.success()) {
        return; // no sqlite3 on this machine
    }
    let o = run(&[
        &["http://127.0.0.1:1/", "--db", db.to_str().unwrap()][..],
        &OFFLINE,
    ]
    .concat());
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
}

#[test]
fn correlate_does_not_invent_a_database_nor_overwrite_an_input() {
    let dir = tempfile::tempdir().unwrap();
    let typo = dir.path().join("colector.db");
    let o = interfero()
        .args(["correlate", "--db", typo.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(!typo.exists(), "an empty database was created");
    let f = dir.path().join("m.jsonl");
    let line = format!("{}\n", hostile_line("https://a.kz/", "false"));
    std::fs::write(&f, &line).unwrap();
    let p = f.to_str().unwrap();
    let o = interfero()
        .args(["correlate", p, "--out", p])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&f).unwrap(), line);
}

#[test]
fn lab_demo_keeps_its_measurements_apart_from_the_users() {
    let dir = tempfile::tempdir().unwrap();
    let user_db = dir.path().join("interfero.db");
    // Naming the user's own database is refused before any world starts.
    let o = Command::new(env!("CARGO_BIN_EXE_interfero"))
        .env("INTERFERO_DB", &user_db)
        .args(["lab", "demo", "--db", user_db.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("kept apart"), "{}", stderr(&o));
    assert!(
        !user_db.exists(),
        "the refused demo created the user's database"
    );
    // By default the demo writes lab.db beside the user's database, and marks its run.
    let o = Command::new(env!("CARGO_BIN_EXE_interfero"))
        .env("INTERFERO_DB", &user_db)
        .args(["lab", "demo"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(!user_db.exists(), "lab demo wrote into the user's database");
    use interfero_store::MeasurementStore as _;
    let lab = interfero_store::SqliteStore::open(&dir.path().join("lab.db")).unwrap();
    assert!(
        lab.count().unwrap() > 10,
        "{} in lab.db",
        lab.count().unwrap()
    );
    // Every measurement names the lab scenario it was invented by.
    let mut jsonl = Vec::new();
    lab.export_jsonl(None, &mut jsonl).unwrap();
    let jsonl = String::from_utf8(jsonl).unwrap();
    assert!(
        jsonl
            .lines()
            .all(|l| l.contains("\"lab_scenario\":\"kz-demo\"")),
        "{jsonl}"
    );
}
