//! Cross-network evidence without anyone running a command: the collector's store is
//! correlated on a schedule (`serve --correlate 1h`), and each new finding is recorded as a
//! `coordinated` event, once.

use interfero_analysis::crossnet::{Correlator, Finding};
use interfero_analysis::{judge, Context};
use interfero_store::{Event, EventKind, EventQuery, MeasurementStore, Order, Query, StoreError};
use std::collections::HashSet;
use std::ops::ControlFlow;

/// The evidence line that names a finding for deduplication: its signature and first sighting
/// (a finding that later spreads to one more network is the same finding).
fn key_line(f: &Finding) -> String {
    format!(
        "signature: {} {}",
        f.signature.technique.as_str(),
        f.signature.artefact
    )
}

/// Correlates every measurement in `store` (each judged again from its observations, so no
/// stored verdict, a submitter's or an older rule's, is taken as it is) and records the
/// findings not recorded before; returns how many were new. Memory is bounded by the distinct
/// signatures and networks, not by the store.
pub fn correlate_store(
    store: &dyn MeasurementStore,
    window_secs: i64,
) -> Result<usize, StoreError> {
    let mut c = Correlator::default();
    let ctx = Context::default();
    store.scan(&Query::default(), Order::Oldest, &mut |s| {
        let mut m = s.measurement;
        if m.test_name == "web_connectivity" {
            m.verdict = Some(judge(&m.input, &m.test_keys, &ctx));
        }
        c.add(&m);
        ControlFlow::Continue(())
    })?;
    let known: HashSet<(String, String)> = store
        .query_events(&EventQuery {
            kind: Some(EventKind::Coordinated),
            ..EventQuery::default()
        })?
        .into_iter()
        .filter_map(|(_, e)| {
            let key = e
                .evidence
                .iter()
                .find(|l| l.starts_with("signature: "))?
                .clone();
            Some((key, e.started))
        })
        .collect();
    let mut new = 0;
    for f in c.findings(window_secs) {
        let started = f.networks.first().map(|n| n.1.clone()).unwrap_or_default();
        let key = key_line(&f);
        if known.contains(&(key.clone(), started.clone())) {
            continue;
        }
        store.record_event(&Event {
            input: f.inputs.first().cloned().unwrap_or_default(),
            kind: EventKind::Coordinated,
            technique: Some(f.signature.technique),
            started,
            ended: None,
            evidence: vec![f.evidence.clone(), key],
            // It spans networks (named in the evidence): no single vantage point.
            probe_cc: String::new(),
            probe_asn: String::new(),
        })?;
        new += 1;
    }
    Ok(new)
}
