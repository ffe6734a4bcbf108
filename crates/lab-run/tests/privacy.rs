//! Every measurement says how its user's address was scrubbed, and says so plainly when it
//! could not be (no control to report the public address). Lab on loopback.

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
