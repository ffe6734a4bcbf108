//! Every measurement says how its user's address was scrubbed, and says so plainly when it
//! could not be (no control to report the public address). Lab on loopback.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap in a test is a failed test

use interfero_lab_run::lab::Lab;
use interfero_model::Target;
use interfero_session::{measure_one, Session};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_record_says_whether_the_address_could_be_scrubbed() {
    let scenario = interfero_lab::Scenario::builtin("suite").unwrap();
    let lab = Lab::start(&scenario).await.expect("lab starts");
    let t = Target::parse("https://static.test:8443/").unwrap();
    let m = measure_one(&lab.session, &t, "2026-12-02 10:00:00").await;
    let s = m.test_keys.x_address_scrub.expect("recorded");
    assert!(s.public_address && s.incomplete.is_none(), "{s:?}");
    // The control's report of the address is never kept.
    assert!(m.test_keys.control.unwrap().x_client_address.is_none());

    let alone = Session {
        control: None,
        ..lab.session.clone()
    };
    let m = measure_one(&alone, &t, "2026-12-02 10:00:00").await;
    let s = m.test_keys.x_address_scrub.expect("recorded");
    assert!(!s.public_address, "{s:?}");
    let why = s.incomplete.expect("says scrubbing was incomplete");
    assert!(why.starts_with("no --control"), "{why}");
    lab.shutdown().await;
}

/// With a table of networks, the measurement names the network of the address the control
/// saw, and keeps no trace of the address's report; without one (hidden), it names none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_network_is_named_from_the_address_the_control_saw() {
    use interfero_netdb::Table;
    use std::sync::Arc;
    let scenario = interfero_lab::Scenario::builtin("suite").unwrap();
    let lab = Lab::start(&scenario).await.expect("lab starts");
    let t = Target::parse("https://static.test:8443/").unwrap();
    // The lab's control sees the probe on loopback, which no real table names.
    let mut asn: &[u8] = b"127.0.0.0,127.255.255.255,64511,SAMPLE loopback\n";
    let mut cc: &[u8] = b"127.0.0.0,127.255.255.255,KZ\n";
    let table = Table::from_csv(&mut [("asn", &mut asn)], &mut [("cc", &mut cc)]).unwrap();
    let mut probe = (*lab.session.probe).clone();
    probe.networks = Some(Box::leak(Box::new(table)));
    let named = Session {
        probe: Arc::new(probe),
        ..lab.session.clone()
    };
    let m = measure_one(&named, &t, "2026-12-02 10:00:00").await;
    assert_eq!(
        (m.probe_asn.as_str(), m.probe_cc.as_str()),
        ("AS64511", "KZ")
    );
    assert!(m.test_keys.control.unwrap().x_client_address.is_none());
    let hidden = measure_one(&lab.session, &t, "2026-12-02 10:00:00").await;
    assert_eq!(hidden.probe_asn, "AS0", "no table: nothing looked up");
    lab.shutdown().await;
}
