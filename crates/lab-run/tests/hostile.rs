//! Bounded under hostility: many endless-body and slow-drip servers in one run. What is
//! asserted is counted, not timed: every body kept is within the cap, every verdict is right,
//! and no task the run started outlives it.

use interfero_lab_run::lab::Lab;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endless_and_drip_servers_stay_within_per_target_bounds() {
    let world = interfero_lab::bench::hostile_world(40, 0);
    let alive = || {
        tokio::runtime::Handle::current()
            .metrics()
            .num_alive_tasks()
    };
    let idle = alive();
    let lab = Lab::start(&world.scenario).await.expect("lab starts");
    let cap = lab.session.probe.body_cap as u64;
    let results = lab.measure(|_, _| {}).await;
    assert_eq!(results.len(), 40);
    for (t, m) in &results {
        for r in &m.test_keys.requests {
            let kept = r.response.x_body_length.unwrap_or(0);
            assert!(kept <= cap, "{}: kept {kept} bytes, cap {cap}", t.url);
        }
        for tp in &m.test_keys.x_throughput {
            // Paired transfers count bytes, they do not keep them: bounded by their own cap.
            assert!(tp.bytes <= interfero_probe::throughput::BYTE_CAP, "{tp:?}");
        }
        let v = m.verdict.as_ref().expect("judged");
        assert_eq!(v.status, t.expect.status, "{}: {:?}", t.url, v.rules);
    }
    lab.shutdown().await;
    // Lingering DNS listeners end within the linger; give them that long, in bounded steps.
    for _ in 0..50 {
        if alive() <= idle {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        alive() <= idle,
        "{} tasks alive after the run, {idle} before",
        alive()
    );
}
