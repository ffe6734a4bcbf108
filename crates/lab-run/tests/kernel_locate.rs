//! Where the censor sits, in the kernel world: the censor acts in router `censor_hop` of a
//! multi-hop path, and the TTL-limited trace made after each blocked verdict must find that
//! hop exactly, with the right class (on-path injection, in-path drop). Needs root and `nft`:
//! skips with a message otherwise. Every namespace is removed, also when an assertion fails.

use interfero_lab::kernel::{self, lab_namespaces};
use interfero_lab::{KernelOptions, Scenario};
use interfero_lab_run::lab::Lab;

fn available() -> bool {
    match kernel::check() {
        Ok(()) => true,
        Err(e) => {
            eprintln!("skipping the kernel localisation test: {e}");
            false
        }
    }
}

/// (target, verdict status, located hop, class, evidence line) of every measured target.
type Found = Vec<(String, String, Option<u8>, String, String)>;

async fn locate(opts: KernelOptions) -> (Found, String) {
    let s = Scenario::builtin("locate").expect("built-in scenario");
    let lab = Lab::start_kernel(&s, opts).await.expect("lab starts");
    let tag = lab
        .kernel()
        .map(|k| k.tag().to_string())
        .unwrap_or_default();
    let results = lab.measure(|_, _| {}).await;
    lab.shutdown().await;
    let found = results
        .into_iter()
        .filter_map(|(t, m)| {
            let v = m.verdict?;
            let loc = v.x_censor.clone().unwrap_or_default();
            let line = v
                .evidence
                .iter()
                .find(|e| e.starts_with("censor"))
                .cloned()
                .unwrap_or_default();
            Some((t.name, v.status.to_string(), loc.hop, loc.class, line))
        })
        .collect();
    (found, tag)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn censor_found_at_its_hop() {
    if !available() {
        return;
    }
    for (hops, censor_hop) in [(4, 2), (5, 4)] {
        let (found, tag) = locate(KernelOptions { hops, censor_hop }).await;
        // Nothing is left behind, whatever the verdicts were.
        let left: Vec<String> = lab_namespaces(false)
            .into_iter()
            .filter(|n| n.starts_with(&format!("{tag}-")))
            .collect();
        assert!(left.is_empty(), "namespaces left behind: {left:?}");
        for (name, class) in [
            ("dns.injection.on-path", "on-path"),
            ("tls.reset.on-path", "on-path"),
            ("tls.stall.in-path", "in-path"),
        ] {
            let got = found.iter().find(|f| f.0 == name).expect("measured");
            eprintln!("{hops} hops, censor at {censor_hop}: {name}: {}", got.4);
            assert_eq!(got.1, "blocked", "{name}: {got:?}");
            assert_eq!(
                (got.2, got.3.as_str()),
                (Some(censor_hop), class),
                "{name}: {got:?}"
            );
        }
        let open = found.iter().find(|f| f.0 == "open").expect("measured");
        assert_eq!((open.1.as_str(), open.2), ("accessible", None), "{open:?}");
    }
}
