//! Two probes on two networks measuring the same censor: the interception certificate they
//! both meet links them, the sites they both reach do not.

use interfero_analysis::crossnet::correlate;
use interfero_lab::Scenario;
use interfero_lab_run::lab::Lab;
use interfero_model::{Target, Technique};
use interfero_session::{run, Vantage};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_interception_root_on_two_networks_is_linked() {
    let s = Scenario::builtin("kz-demo").expect("scenario");
    let lab = Lab::start(&s).await.expect("lab");
    let targets: Vec<Target> = lab
        .world
        .targets()
        .into_iter()
        .filter(|t| {
            t.expect.techniques.contains(&Technique::TlsMitm) || t.name.contains("accessible")
        })
        .map(|t| Target {
            url: t.url,
            category_code: None,
        })
        .collect();
    assert!(!targets.is_empty());
    let mut all = Vec::new();
    for asn in ["AS64500", "AS64501"] {
        let mut session = lab.session.clone();
        session.vantage = Vantage {
            probe_cc: "KZ".into(),
            probe_asn: asn.into(),
        };
        let (_keep, stop) = tokio::sync::watch::channel(false);
        run(&session, targets.clone(), stop, |m| all.push(m)).await;
    }
    lab.shutdown().await;
    let findings = correlate(&all, 3600);
    let mitm: Vec<_> = findings
        .iter()
        .filter(|f| f.signature.technique == Technique::TlsMitm)
        .collect();
    assert_eq!(mitm.len(), 1, "{findings:#?}");
    assert!(mitm[0].signature.identical_artefact());
    assert_eq!(mitm[0].networks.len(), 2);
    assert!(mitm[0].evidence.contains("AS64500") && mitm[0].evidence.contains("AS64501"));
}
