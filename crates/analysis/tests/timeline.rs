//! Verdicts over rounds become episodes with begin and end times.

use interfero_analysis::timeline::{Change, Episode, Timeline};
use interfero_model::{Status, Technique, Verdict};

fn v(status: Status, t: Option<Technique>) -> Verdict {
    let mut v = Verdict::new(status, 0.9, "rule");
    if let Some(t) = t {
        v.add(t);
    }
    v
}

fn round(t: &mut Timeline, at: &str, vs: &[(&str, Status, Option<Technique>)]) -> Vec<String> {
    let verdicts: Vec<(String, Verdict)> = vs
        .iter()
        .map(|(u, s, te)| (u.to_string(), v(*s, *te)))
        .collect();
    t.round(at, &verdicts)
        .into_iter()
        .map(|c| match c {
            Change::Began { episode, at, .. } => format!("{at} +{episode:?}"),
            Change::Ended { episode, at } => format!("{at} -{episode:?}"),
        })
        .collect()
}

use Status::*;
const A: &str = "https://a.example/";
const B: &str = "https://b.example/";

#[test]
fn a_block_begins_and_ends_once() {
    let mut t = Timeline::default();
    let stall = Some(Technique::TlsTimeout);
    assert!(round(&mut t, "1", &[(A, Accessible, None)]).is_empty());
    let c = round(&mut t, "2", &[(A, Blocked, stall)]);
    assert_eq!(c.len(), 1);
    assert!(
        c[0].starts_with("2 +Block") && c[0].contains("TlsTimeout"),
        "{c:?}"
    );
    // Still blocked: nothing new.
    assert!(round(&mut t, "3", &[(A, Blocked, stall)]).is_empty());
    let c = round(&mut t, "4", &[(A, Accessible, None)]);
    assert_eq!(c.len(), 1);
    assert!(c[0].starts_with("4 -Block"));
    assert!(t.open().is_empty());
}

#[test]
fn a_new_technique_closes_one_episode_and_opens_another() {
    let mut t = Timeline::default();
    round(&mut t, "1", &[(A, Blocked, Some(Technique::DnsNxdomain))]);
    let c = round(&mut t, "2", &[(A, Blocked, Some(Technique::TlsTimeout))]);
    assert_eq!(c.len(), 2, "{c:?}");
    assert!(c[0].contains("-Block") && c[0].contains("DnsNxdomain"));
    assert!(c[1].contains("+Block") && c[1].contains("TlsTimeout"));
}

#[test]
fn a_shutdown_is_one_episode_for_the_vantage_point_and_keeps_blocks_open() {
    let mut t = Timeline::default();
    let stall = Some(Technique::TlsTimeout);
    round(&mut t, "1", &[(A, Blocked, stall), (B, Accessible, None)]);
    let off = Some(Technique::Shutdown);
    let c = round(&mut t, "2", &[(A, Offline, off), (B, Offline, off)]);
    assert_eq!(c, vec!["2 +Shutdown".to_string()]);
    // During the shutdown the block is neither seen nor disproved: it stays open.
    assert_eq!(t.open().len(), 2);
    let c = round(&mut t, "3", &[(A, Blocked, stall), (B, Accessible, None)]);
    assert_eq!(c, vec!["3 -Shutdown".to_string()]);
}

#[test]
fn one_stray_offline_verdict_is_not_a_shutdown() {
    let mut t = Timeline::default();
    let c = round(
        &mut t,
        "1",
        &[
            (A, Offline, Some(Technique::Shutdown)),
            (B, Accessible, None),
            ("https://c.example/", Accessible, None),
        ],
    );
    assert!(c.is_empty(), "{c:?}");
}

#[test]
fn down_and_inconclusive_change_nothing() {
    let mut t = Timeline::default();
    round(&mut t, "1", &[(A, Blocked, Some(Technique::TcpReset))]);
    assert!(round(&mut t, "2", &[(A, Inconclusive, None)]).is_empty());
    assert!(round(&mut t, "3", &[(A, Down, None)]).is_empty());
    assert_eq!(t.open().len(), 1);
}

#[test]
fn a_block_already_there_says_so_and_resume_continues_episodes() {
    let mut t = Timeline::default();
    let verdicts = vec![(A.to_string(), v(Blocked, Some(Technique::DnsNxdomain)))];
    let c = t.round("1", &verdicts);
    let Some(Change::Began { evidence, .. }) = c.first() else {
        panic!("{c:?}")
    };
    assert!(evidence[0].contains("already"));
    let mut resumed = Timeline::resume(t.open());
    assert!(resumed.round("2", &verdicts).is_empty());
    let c = resumed.round("3", &[(A.to_string(), v(Accessible, None))]);
    assert!(matches!(
        c.as_slice(),
        [Change::Ended {
            episode: Episode::Block { .. },
            ..
        }]
    ));
}

#[test]
fn a_suspension_is_dated_by_its_removal_and_its_restoration() {
    let mut t = Timeline::default();
    let removed = Some(Technique::DnsDelegationRemoved);
    assert!(round(&mut t, "1", &[(A, Accessible, None)]).is_empty());
    let c = round(&mut t, "2", &[(A, Down, removed)]);
    assert_eq!(c.len(), 1, "{c:?}");
    assert!(c[0].starts_with("2 +Delegation"), "{c:?}");
    // Still removed, then a round that says nothing (inconclusive): no change.
    assert!(round(&mut t, "3", &[(A, Down, removed)]).is_empty());
    assert!(round(&mut t, "4", &[(A, Inconclusive, None)]).is_empty());
    assert_eq!(t.open().len(), 1);
    // Delegated again, even if now blocked by the resolver: restored (and a block begins).
    let c = round(&mut t, "5", &[(A, Blocked, Some(Technique::DnsNxdomain))]);
    assert!(c.iter().any(|x| x.starts_with("5 -Delegation")), "{c:?}");
    assert!(c.iter().any(|x| x.starts_with("5 +Block")), "{c:?}");
    // A resumed timeline keeps the open suspension.
    let mut r = Timeline::resume(vec![Episode::Delegation { input: B.into() }]);
    let c = round(&mut r, "6", &[(B, Accessible, None)]);
    assert_eq!(c, vec![format!("6 -Delegation {{ input: \"{B}\" }}")]);
}
