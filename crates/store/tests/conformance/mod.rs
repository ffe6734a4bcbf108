//! The conformance suite: what every [`MeasurementStore`] backend must answer, checked against
//! a reference computed in plain Rust from the same inputs. A backend's test file calls
//! [`run_all`] with a function that makes a fresh, empty store.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap in a test is a failed test
#![allow(dead_code)]

use interfero_model::{Status, Technique, Verdict};
use interfero_store::query::{category_of, domain_of, status_name};
use interfero_store::{
    synthetic, Axis, Bucket, Counts, Event, EventKind, EventQuery, MeasurementStore, Order,
    PageRequest, Query, RunInfo, Stored,
};
use std::collections::BTreeMap;
use std::ops::ControlFlow;

/// How many varied measurements the checks store.
pub const N: usize = 330;

/// Makes a fresh, empty store.
pub type Make<'a> = &'a mut dyn FnMut() -> Box<dyn MeasurementStore>;

/// One check of the suite, given a fresh store.
type Check = fn(&dyn MeasurementStore);

/// Runs every check, each on a fresh store.
pub fn run_all(make: Make<'_>) {
    let checks: [(&str, Check); 10] = [
        ("ids and uids", ids_and_uids),
        ("filters", filters),
        ("pagination", pagination),
        ("aggregation", aggregation),
        ("events", events),
        ("rejudge", rejudge),
        (
            "counts through re-submissions and re-judging",
            counts_stay_exact,
        ),
        ("scan", scan),
        ("export", export),
        ("hostile values", hostile_values),
    ];
    for (name, check) in checks {
        eprintln!("conformance: {name}");
        let store = make();
        check(store.as_ref());
    }
}

fn run(store: &dyn MeasurementStore) -> i64 {
    store
        .begin_run(&RunInfo {
            started: "2026-11-01 00:00:00".into(),
            software_version: "test".into(),
            probe_cc: "KZ".into(),
            probe_asn: "AS9198".into(),
            note: "conformance".into(),
        })
        .expect("begin run")
}

/// Stores the varied data set in two runs; returns what the store answers for all of it.
fn fill(store: &dyn MeasurementStore) -> Vec<Stored> {
    let (a, b) = (run(store), run(store));
    let ms: Vec<_> = (0..N).map(synthetic::varied).collect();
    store
        .insert_many(a, &ms[..N / 2])
        .expect("insert first half");
    for m in &ms[N / 2..] {
        store.insert(b, m).expect("insert one");
    }
    all(store, &Query::default(), Order::Oldest)
}

fn all(store: &dyn MeasurementStore, q: &Query, order: Order) -> Vec<Stored> {
    let mut out = Vec::new();
    store
        .scan(q, order, &mut |s| {
            out.push(s);
            ControlFlow::Continue(())
        })
        .expect("scan");
    out
}

fn ids(v: &[Stored]) -> Vec<i64> {
    v.iter().map(|s| s.id).collect()
}

fn ids_and_uids(store: &dyn MeasurementStore) {
    let r = run(store);
    let m = synthetic::varied(3);
    let id = store.insert(r, &m).expect("insert");
    let again = store.insert(r, &m).expect("insert again");
    assert_eq!(
        id, again,
        "the same measurement twice is stored once, under one id"
    );
    assert_eq!(store.count().expect("count"), 1);
    let got = store.get(id).expect("get").expect("stored");
    assert_eq!(got.measurement, m);
    assert_eq!(got.uid, interfero_store::uid_of(&m));
    assert_eq!(got.run, r);
    let by_uid = store.get_by_uid(&got.uid).expect("by uid").expect("found");
    assert_eq!(by_uid, got);
    assert!(store.get(id + 1000).expect("get").is_none());
    assert!(store.get_by_uid("nope").expect("by uid").is_none());
    // A batch that repeats a stored measurement keeps one copy and answers its id.
    let ids = store
        .insert_many(r, &[synthetic::varied(4), m.clone(), synthetic::varied(4)])
        .expect("batch");
    assert_eq!(ids[1], id);
    assert_eq!(ids[0], ids[2]);
    assert_eq!(store.count().expect("count"), 2);
    // Encoded ahead (the collector's path): the same rows, uids and ids as inserted plainly.
    let fresh = synthetic::varied(5);
    let encoded: Vec<_> = [fresh.clone(), m.clone()]
        .into_iter()
        .map(|m| interfero_store::Encoded::new(m).expect("encode"))
        .collect();
    assert_eq!(encoded[1].uid(), interfero_store::uid_of(&m));
    let ids = store.insert_encoded(r, &encoded).expect("encoded batch");
    assert_eq!(ids[1], id, "an encoded re-submission answers the stored id");
    let got = store.get(ids[0]).expect("get").expect("stored");
    assert_eq!(got.measurement, fresh);
    assert_eq!(got.uid, interfero_store::uid_of(&fresh));
    assert_eq!(store.count().expect("count"), 3);
}

/// The reference: which stored measurements a query keeps, decided in Rust.
fn keeps(q: &Query, s: &Stored) -> bool {
    let m = &s.measurement;
    let t = m.measurement_start_time.as_str();
    let v = m.verdict.as_ref();
    q.since.as_deref().is_none_or(|x| t >= x)
        && q.until.as_deref().is_none_or(|x| t < x)
        && q.probe_cc.as_deref().is_none_or(|x| m.probe_cc == x)
        && q.probe_asn.as_deref().is_none_or(|x| m.probe_asn == x)
        && q.domain.as_deref().is_none_or(|x| domain_of(&m.input) == x)
        && q.input.as_deref().is_none_or(|x| m.input == x)
        && q.category.as_deref().is_none_or(|x| category_of(m) == x)
        && q.status.is_none_or(|x| v.map(|v| v.status) == Some(x))
        && q.technique
            .is_none_or(|x| v.is_some_and(|v| v.techniques.contains(&x)))
        && q.run.is_none_or(|x| s.run == x)
}

fn queries(stored: &[Stored]) -> Vec<Query> {
    let some = |s: &str| Some(s.to_string());
    let second_run = stored.last().map(|s| s.run);
    let d = domain_of(&stored[0].measurement.input);
    vec![
        Query::default(),
        Query {
            since: some("2026-11-10"),
            until: some("2026-11-20"),
            ..Query::default()
        },
        Query {
            probe_cc: some("KZ"),
            ..Query::default()
        },
        Query {
            probe_asn: some("AS48503"),
            ..Query::default()
        },
        Query {
            domain: Some(d.to_uppercase()),
            ..Query::default()
        },
        Query {
            domain: Some(d),
            status: Some(Status::Blocked),
            ..Query::default()
        },
        Query {
            input: Some(stored[5].measurement.input.clone()),
            ..Query::default()
        },
        Query {
            category: some("NEWS"),
            ..Query::default()
        },
        Query {
            status: Some(Status::Blocked),
            ..Query::default()
        },
        Query {
            status: Some(Status::Intercepted),
            probe_cc: some("KG"),
            ..Query::default()
        },
        Query {
            technique: Some(Technique::DnsNxdomain),
            ..Query::default()
        },
        Query {
            technique: Some(Technique::TlsTimeout),
            probe_asn: some("AS8449"),
            ..Query::default()
        },
        Query {
            run: second_run,
            since: some("2026-11-15 12:00:00"),
            ..Query::default()
        },
        Query {
            probe_cc: some("US"),
            ..Query::default()
        },
    ]
}

fn lower_domain(q: &Query) -> Query {
    Query {
        domain: q.domain.as_ref().map(|d| d.to_lowercase()),
        ..q.clone()
    }
}

fn filters(store: &dyn MeasurementStore) {
    let stored = fill(store);
    assert_eq!(stored.len(), N);
    for q in queries(&stored) {
        let want: Vec<i64> = stored
            .iter()
            .filter(|s| keeps(&lower_domain(&q), s))
            .map(|s| s.id)
            .collect();
        let got = ids(&all(store, &q, Order::Oldest));
        let mut got_sorted = got.clone();
        got_sorted.sort_unstable();
        let mut want_sorted = want.clone();
        want_sorted.sort_unstable();
        assert_eq!(got_sorted, want_sorted, "query {q:?}");
        assert_eq!(
            store.count_matching(&q).expect("count"),
            want.len() as u64,
            "{q:?}"
        );
    }
}

fn sorted_by_time(mut v: Vec<Stored>, order: Order) -> Vec<i64> {
    v.sort_by(|a, b| {
        let k = |s: &Stored| (s.measurement.measurement_start_time.clone(), s.id);
        match order {
            Order::Oldest => k(a).cmp(&k(b)),
            Order::Newest => k(b).cmp(&k(a)),
        }
    });
    ids(&v)
}

fn pagination(store: &dyn MeasurementStore) {
    let stored = fill(store);
    for q in [
        Query::default(),
        Query {
            probe_cc: Some("KZ".into()),
            ..Query::default()
        },
    ] {
        for order in [Order::Oldest, Order::Newest] {
            let want = sorted_by_time(
                stored.iter().filter(|s| keeps(&q, s)).cloned().collect(),
                order,
            );
            let mut got = Vec::new();
            let mut request = PageRequest::first(7, order);
            let mut pages = 0;
            loop {
                let page = store.page(&q, &request).expect("page");
                assert!(page.items.len() <= 7);
                pages += 1;
                got.extend(ids(&page.items));
                // A measurement stored while paging never shifts the pages already read.
                if pages == 3 {
                    let r = run(store);
                    store
                        .insert(r, &synthetic::varied(N + 1000))
                        .expect("insert while paging");
                }
                match page.next {
                    Some(c) => {
                        let token = c.encode();
                        request.after =
                            Some(interfero_store::Cursor::decode(&token).expect("cursor"));
                    }
                    None => break,
                }
                assert!(pages < 1000, "pagination does not end");
            }
            let mut unique = got.clone();
            unique.sort_unstable();
            unique.dedup();
            assert_eq!(unique.len(), got.len(), "{order:?}: no item twice");
            assert!(
                got.len() <= want.len() + 1,
                "{order:?}: only the one stored while paging"
            );
            let kept: Vec<i64> = got.iter().copied().filter(|id| want.contains(id)).collect();
            assert_eq!(kept, want, "{order:?} {q:?}: every item once, in order");
        }
    }
    assert!(
        store
            .page(&Query::default(), &PageRequest::first(0, Order::Oldest))
            .expect("page")
            .items
            .len()
            <= 1
    );
    assert!(interfero_store::Cursor::decode("x'; DROP TABLE measurements; --").is_none());
}

fn reference_buckets(stored: &[Stored], q: &Query, x: Axis, y: Option<Axis>) -> Vec<Bucket> {
    let mut cells: BTreeMap<(String, String), Counts> = BTreeMap::new();
    for s in stored.iter().filter(|s| keeps(q, s)) {
        let key = (x.key_of(s), y.map(|y| y.key_of(s)).unwrap_or_default());
        let status = status_name(s.measurement.verdict.as_ref().map(|v| v.status));
        cells.entry(key).or_default().add(status, 1);
    }
    cells
        .into_iter()
        .map(|((x, y), counts)| Bucket { x, y, counts })
        .collect()
}

fn aggregation(store: &dyn MeasurementStore) {
    let stored = fill(store);
    let qs = [
        Query::default(),
        Query {
            probe_cc: Some("KZ".into()),
            since: Some("2026-11-03".into()),
            until: Some("2026-12-01".into()),
            ..Query::default()
        },
        Query {
            category: Some("NEWS".into()),
            ..Query::default()
        },
    ];
    for q in &qs {
        for x in Axis::ALL {
            let got = store.aggregate(q, x, None).expect("aggregate");
            assert_eq!(got, reference_buckets(&stored, q, x, None), "{x:?} {q:?}");
        }
        for (x, y) in [
            (Axis::Day, Axis::Status),
            (Axis::Domain, Axis::Day),
            (Axis::Network, Axis::Day),
            (Axis::Day, Axis::Network),
            (Axis::Country, Axis::Category),
        ] {
            let got = store.aggregate(q, x, Some(y)).expect("aggregate 2");
            assert_eq!(
                got,
                reference_buckets(&stored, q, x, Some(y)),
                "{x:?}×{y:?} {q:?}"
            );
        }
    }
    let total: u64 = store
        .aggregate(&Query::default(), Axis::Day, None)
        .expect("agg")
        .iter()
        .map(|b| b.counts.total)
        .sum();
    assert_eq!(total, N as u64);
}

fn event(input: &str, kind: EventKind, started: &str, cc: &str, asn: &str) -> Event {
    Event {
        input: input.into(),
        kind,
        technique: Some(Technique::TlsTimeout),
        started: started.into(),
        ended: None,
        evidence: vec!["measurement 1".into(), "<b>\"quoted\"</b>".into()],
        probe_cc: cc.into(),
        probe_asn: asn.into(),
    }
}

fn events(store: &dyn MeasurementStore) {
    let e1 = event(
        "https://Hola-News.kz/a",
        EventKind::BlockStarted,
        "2026-11-02 10:00:00",
        "KZ",
        "AS9198",
    );
    let e2 = event(
        "https://hola-news.kz/",
        EventKind::BlockStarted,
        "2026-11-01 09:00:00",
        "KZ",
        "AS48503",
    );
    let mut e3 = event(
        "",
        EventKind::ShutdownStarted,
        "2026-11-03 00:00:00",
        "KZ",
        "AS9198",
    );
    e3.technique = None;
    let e4 = event(
        "https://other.kz/",
        EventKind::Coordinated,
        "2026-11-04 00:00:00",
        "",
        "",
    );
    let id1 = store.record_event(&e1).expect("record");
    let id2 = store.record_event(&e2).expect("record");
    let id3 = store.record_event(&e3).expect("record");
    store.record_event(&e4).expect("record");
    let q = |q: EventQuery| -> Vec<i64> {
        store
            .query_events(&q)
            .expect("events")
            .into_iter()
            .map(|(id, _)| id)
            .collect()
    };
    assert_eq!(q(EventQuery::default()).len(), 4);
    assert_eq!(
        q(EventQuery::default())[..2],
        [id2, id1],
        "oldest first by start time"
    );
    assert_eq!(
        q(EventQuery {
            domain: Some("hola-news.kz".into()),
            ..EventQuery::default()
        }),
        vec![id2, id1]
    );
    assert_eq!(
        q(EventQuery {
            probe_asn: Some("AS9198".into()),
            ..EventQuery::default()
        }),
        vec![id1, id3]
    );
    assert_eq!(
        q(EventQuery {
            kind: Some(EventKind::ShutdownStarted),
            ..EventQuery::default()
        }),
        vec![id3]
    );
    assert_eq!(
        q(EventQuery {
            since: Some("2026-11-02".into()),
            until: Some("2026-11-04".into()),
            ..EventQuery::default()
        }),
        vec![id1, id3]
    );
    assert_eq!(
        q(EventQuery {
            limit: Some(2),
            probe_cc: Some("KZ".into()),
            ..EventQuery::default()
        }),
        vec![id2, id1]
    );
    let back = store
        .query_events(&EventQuery {
            input: Some(e1.input.clone()),
            ..EventQuery::default()
        })
        .expect("events");
    assert_eq!(
        back,
        vec![(id1, e1.clone())],
        "an event reads back as written, vantage point included"
    );
    store.end_event(id1, "2026-11-05 00:00:00").expect("end");
    let open: Vec<i64> = store
        .open_events()
        .expect("open")
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(open, vec![id2, id3]);
    assert_eq!(store.events().expect("all").len(), 4);
}

fn rejudge(store: &dyn MeasurementStore) {
    let stored = fill(store);
    let blocked = Query {
        status: Some(Status::Blocked),
        ..Query::default()
    };
    let before = store.count_matching(&blocked).expect("count");
    assert!(before > 0);
    let target = stored
        .iter()
        .find(|s| {
            s.measurement
                .verdict
                .as_ref()
                .is_some_and(|v| v.status == Status::Blocked)
        })
        .expect("a blocked one");
    let v = Verdict::new(Status::Accessible, 0.9, "rejudged");
    store.set_verdict(target.id, Some(&v)).expect("set verdict");
    assert_eq!(store.count_matching(&blocked).expect("count"), before - 1);
    let got = store.get(target.id).expect("get").expect("stored");
    assert_eq!(got.measurement.verdict, Some(v));
    assert_eq!(got.uid, target.uid, "re-judging keeps the uid");
    assert_eq!(
        got.measurement.test_keys, target.measurement.test_keys,
        "observations unchanged"
    );
    let tls = Query {
        technique: Some(Technique::TlsTimeout),
        ..Query::default()
    };
    assert!(
        !ids(&all(store, &tls, Order::Oldest)).contains(&target.id),
        "techniques follow the new verdict"
    );
    store.set_verdict(target.id, None).expect("unjudge");
    let unjudged = store
        .aggregate(
            &Query {
                input: Some(target.measurement.input.clone()),
                ..Query::default()
            },
            Axis::Status,
            None,
        )
        .expect("agg");
    assert!(unjudged.iter().any(|b| b.x == "unjudged"));
    assert!(store
        .set_verdict(
            target.id + 10_000,
            Some(&Verdict::new(Status::Down, 0.5, "x"))
        )
        .is_err());
    assert_eq!(
        store.count().expect("count"),
        N as u64,
        "nothing added or lost"
    );
}

/// The charts' and counts' answers for `stored` (whole days, so read from per-day counts where
/// a backend keeps them, and the same query by the second, read from the rows).
fn charts_match(store: &dyn MeasurementStore, stored: &[Stored], when: &str) {
    let month = Query {
        probe_cc: Some("KZ".into()),
        since: Some("2026-11-01".into()),
        until: Some("2026-12-01".into()),
        ..Query::default()
    };
    let by_second = Query {
        since: Some("2026-11-01 00:00:00".into()),
        ..month.clone()
    };
    for q in [&Query::default(), &month, &by_second] {
        for (x, y) in [
            (Axis::Day, Some(Axis::Status)),
            (Axis::Domain, Some(Axis::Day)),
            (Axis::Status, None),
        ] {
            assert_eq!(
                store.aggregate(q, x, y).expect("aggregate"),
                reference_buckets(stored, q, x, y),
                "{when}: {x:?}×{y:?} {q:?}"
            );
        }
        for status in [Status::Blocked, Status::Accessible, Status::Down] {
            let q = Query {
                status: Some(status),
                ..q.clone()
            };
            let want = stored.iter().filter(|s| keeps(&q, s)).count() as u64;
            assert_eq!(
                store.count_matching(&q).expect("count"),
                want,
                "{when}: {q:?}"
            );
        }
    }
    assert_eq!(store.count().expect("count"), stored.len() as u64, "{when}");
}

/// Re-submitting stored measurements (in one batch, one by one, and after re-judging) never
/// counts them twice, and re-judging moves a measurement from one status to another in every
/// chart and count, however often it is re-judged.
fn counts_stay_exact(store: &dyn MeasurementStore) {
    let mut stored = fill(store);
    charts_match(store, &stored, "stored once");
    let ms: Vec<_> = (0..N).map(synthetic::varied).collect();
    let again = run(store);
    store.insert_many(again, &ms).expect("re-submit all");
    store.insert_many(again, &ms[..10]).expect("re-submit some");
    for m in &ms[..5] {
        store.insert(again, m).expect("re-submit one");
    }
    charts_match(store, &stored, "re-submitted");
    // Re-judged: to another status, twice in a row, back and forth, to none.
    let blocked = Verdict::new(Status::Blocked, 0.9, "rejudged");
    let down = Verdict::new(Status::Down, 0.5, "rejudged");
    let first = stored[2].measurement.verdict.clone();
    let changes: [(usize, Option<&Verdict>); 7] = [
        (0, Some(&blocked)),
        (1, Some(&down)),
        (1, Some(&blocked)),
        (2, Some(&down)),
        (2, first.as_ref()),
        (3, None),
        (4, Some(&blocked)),
    ];
    for (i, v) in changes {
        store.set_verdict(stored[i].id, v).expect("re-judge");
        stored[i].measurement.verdict = v.cloned();
    }
    charts_match(store, &stored, "re-judged");
    // A copy of a re-judged measurement with its first verdict changes nothing.
    store
        .insert_many(again, &ms[..6])
        .expect("re-submit re-judged");
    store.set_verdict(stored[4].id, Some(&down)).expect("again");
    stored[4].measurement.verdict = Some(down.clone());
    charts_match(store, &stored, "re-submitted after re-judging");
}

fn scan(store: &dyn MeasurementStore) {
    let stored = fill(store);
    let mut seen = 0;
    let n = store
        .scan(&Query::default(), Order::Oldest, &mut |_| {
            seen += 1;
            if seen == 10 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .expect("scan");
    assert_eq!((n, seen), (10, 10), "a scan stops when told");
    // Writing to the store from inside a scan works (no lock held across the callback): this
    // is how a re-judge streams through a database larger than memory.
    let mut rejudged = 0u64;
    let v = Verdict::new(Status::Inconclusive, 0.1, "scan");
    let n = store
        .scan(&Query::default(), Order::Newest, &mut |s| {
            store
                .set_verdict(s.id, Some(&v))
                .expect("write inside scan");
            rejudged += 1;
            ControlFlow::Continue(())
        })
        .expect("scan");
    assert_eq!((n, rejudged), (stored.len() as u64, stored.len() as u64));
    let q = Query {
        status: Some(Status::Inconclusive),
        ..Query::default()
    };
    assert_eq!(store.count_matching(&q).expect("count"), N as u64);
}

fn export(store: &dyn MeasurementStore) {
    let stored = fill(store);
    let mut out = Vec::new();
    let n = store.export_jsonl(None, &mut out).expect("export");
    assert_eq!(n, N as u64);
    let text = String::from_utf8(out).expect("utf-8");
    assert_eq!(text.lines().count(), N);
    let first: interfero_model::Measurement =
        serde_json::from_str(text.lines().next().expect("a line")).expect("json");
    assert!(stored.iter().any(|s| s.measurement == first));
}

fn hostile_values(store: &dyn MeasurementStore) {
    let r = run(store);
    let mut m = synthetic::varied(1);
    m.input = "https://x.kz/'; DROP TABLE measurements; --\u{0}\u{202e}".into();
    m.probe_cc = "K'Z".into();
    m.annotations
        .insert("category_code".into(), "NE\"WS".into());
    let id = store.insert(r, &m).expect("insert hostile");
    let q = Query {
        input: Some(m.input.clone()),
        probe_cc: Some("K'Z".into()),
        category: Some("NE\"WS".into()),
        ..Query::default()
    };
    assert_eq!(ids(&all(store, &q, Order::Oldest)), vec![id]);
    let buckets = store
        .aggregate(&q, Axis::Input, Some(Axis::Category))
        .expect("agg");
    assert_eq!(buckets.len(), 1);
    assert_eq!(buckets[0].x, m.input);
    assert_eq!(store.count().expect("count"), 1);
}
