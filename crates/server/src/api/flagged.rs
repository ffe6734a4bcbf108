//! Reading the measurements that pass OONI's flags (`anomaly`, `confirmed`, `failure`). No
//! store indexes the flags, but each follows from the status (and, for `confirmed` on a block,
//! a technique): when the flags asked for can only hold for a few statuses (`anomaly=true`:
//! intercepted, blocked, throttled, offline), each of those statuses is read by its own
//! index, newest (or oldest) first, and the streams are merged in the store's (time, id)
//! order. A network where anomalies are rare then costs its anomalies, not a scan of all its
//! measurements. Flags that unjudged measurements may pass (`failure=true`,
//! `anomaly=false`), which no status names, are read by scanning, within a bound.

use super::ooni_flags;
use interfero_model::{Measurement, Status, Technique, Verdict};
use interfero_store::{Cursor, MeasurementStore, Order, PageRequest, Query, StoreError, Stored};
use std::collections::VecDeque;

/// The flags asked for: (anomaly, confirmed, failure), `None` where not asked.
pub(crate) type Flags = (Option<bool>, Option<bool>, Option<bool>);

/// The most measurements read to answer one request that filters on the flags: the page may
/// then be short, with `next_url` going on.
pub(crate) const FLAG_SCAN: usize = 20_000;

/// Measurements read at a time while scanning.
const SCAN_PAGE: usize = 1000;

fn passes(flags: Flags, got: (bool, bool, bool)) -> bool {
    flags.0.is_none_or(|w| w == got.0)
        && flags.1.is_none_or(|w| w == got.1)
        && flags.2.is_none_or(|w| w == got.2)
}

/// The statuses a measurement passing `flags` may have, when those are fewer than all and no
/// unjudged measurement can pass (`None` otherwise: then only a scan finds them).
fn statuses(flags: Flags) -> Option<Vec<Status>> {
    let judged = |s: Status, t: &[Technique]| {
        let mut v = Verdict::new(s, 1.0, "");
        v.techniques = t.to_vec();
        ooni_flags(&Measurement {
            verdict: Some(v),
            ..Measurement::default()
        })
    };
    let unjudged = ooni_flags(&Measurement::default());
    if passes(flags, unjudged) {
        return None;
    }
    let may: Vec<Status> = Status::ALL
        .into_iter()
        .filter(|&s| {
            passes(flags, judged(s, &[])) || passes(flags, judged(s, &[Technique::HttpBlockpage]))
        })
        .collect();
    (may.len() < Status::ALL.len()).then_some(may)
}

/// One query read page by page.
struct Stream {
    query: Query,
    buf: VecDeque<Stored>,
    after: Option<Cursor>,
    done: bool,
}

fn position(s: &Stored) -> Cursor {
    Cursor {
        time: s.measurement.measurement_start_time.clone(),
        id: s.id,
    }
}

/// Reads until `limit` measurements of `q` passing `flags` follow `offset` skipped ones (or
/// the scan bound is reached); returns them and the cursor of the next page.
pub(crate) fn collect(
    store: &dyn MeasurementStore,
    q: &Query,
    after: Option<Cursor>,
    order: Order,
    offset: usize,
    limit: usize,
    flags: Flags,
) -> Result<(Vec<Stored>, Option<Cursor>), StoreError> {
    let filtering = flags != (None, None, None);
    let (queries, chunk) = match (filtering, statuses(flags)) {
        (false, _) => (vec![q.clone()], offset + limit),
        (true, Some(may)) => {
            let queries = may
                .into_iter()
                .filter(|s| q.status.is_none_or(|w| w == *s))
                .map(|s| Query {
                    status: Some(s),
                    ..q.clone()
                })
                .collect();
            (queries, (offset + limit).min(SCAN_PAGE))
        }
        (true, None) => (vec![q.clone()], SCAN_PAGE),
    };
    let mut streams: Vec<Stream> = queries
        .into_iter()
        .map(|query| Stream {
            query,
            buf: VecDeque::new(),
            after: after.clone(),
            done: false,
        })
        .collect();
    let (mut read, mut skipped) = (0usize, 0usize);
    let mut out = Vec::with_capacity(limit);
    loop {
        // Every stream that may hold the next measurement has one read ahead.
        for s in streams.iter_mut().filter(|s| s.buf.is_empty() && !s.done) {
            let req = PageRequest {
                after: s.after.take(),
                limit: chunk.max(1),
                order,
            };
            let page = store.page(&s.query, &req)?;
            s.done = page.next.is_none() || page.items.is_empty();
            s.after = page.next;
            s.buf.extend(page.items);
        }
        let first = streams
            .iter()
            .enumerate()
            .filter_map(|(i, s)| {
                s.buf
                    .front()
                    .map(|m| (i, (&m.measurement.measurement_start_time, m.id)))
            })
            .reduce(|a, b| {
                let b_first = match order {
                    Order::Oldest => b.1 < a.1,
                    Order::Newest => b.1 > a.1,
                };
                if b_first {
                    b
                } else {
                    a
                }
            })
            .map(|(i, _)| i);
        let Some(m) = first.and_then(|i| streams[i].buf.pop_front()) else {
            return Ok((out, None));
        };
        read += 1;
        let cursor = position(&m);
        if passes(flags, ooni_flags(&m.measurement)) {
            if skipped < offset {
                skipped += 1;
            } else {
                out.push(m);
                if out.len() == limit {
                    return Ok((out, Some(cursor)));
                }
            }
        }
        if read >= FLAG_SCAN + offset + limit {
            return Ok((out, Some(cursor)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use interfero_store::{synthetic, RunInfo, SqliteStore};

    #[test]
    fn only_flags_no_unjudged_measurement_passes_are_read_by_status() {
        assert_eq!(
            statuses((Some(true), None, None)),
            Some(vec![
                Status::Blocked,
                Status::Throttled,
                Status::Intercepted,
                Status::Offline
            ])
        );
        assert_eq!(
            statuses((None, Some(true), None)),
            Some(vec![Status::Blocked, Status::Intercepted])
        );
        assert_eq!(statuses((None, None, Some(true))), None, "unjudged fail");
        assert_eq!(statuses((Some(false), None, None)), None, "unjudged pass");
    }

    /// Every way of asking, paged to the end with the cursors, gives exactly the measurements
    /// a filter over all of them gives, in order, each once.
    #[test]
    fn pages_of_flagged_measurements_are_those_of_a_full_scan() {
        let store = SqliteStore::open_in_memory().unwrap();
        let run = store.begin_run(&RunInfo::default()).unwrap();
        let all: Vec<_> = (0..3000).map(synthetic::varied).collect();
        store.insert_many(run, &all).unwrap();
        let asks: [Flags; 6] = [
            (Some(true), None, None),
            (Some(false), None, None),
            (None, Some(true), None),
            (None, None, Some(true)),
            (Some(true), Some(false), None),
            (None, None, None),
        ];
        let queries = [
            Query::default(),
            Query {
                probe_asn: Some("AS48503".into()),
                ..Query::default()
            },
            Query {
                status: Some(Status::Blocked),
                ..Query::default()
            },
        ];
        for flags in asks {
            for q in &queries {
                for order in [Order::Oldest, Order::Newest] {
                    let full = store
                        .page(q, &PageRequest::first(10_000, order))
                        .unwrap()
                        .items;
                    let want: Vec<i64> = full
                        .iter()
                        .filter(|s| passes(flags, ooni_flags(&s.measurement)))
                        .map(|s| s.id)
                        .collect();
                    let mut got = Vec::new();
                    let mut after = None;
                    loop {
                        let (items, next) = collect(&store, q, after, order, 0, 70, flags).unwrap();
                        got.extend(items.iter().map(|s| s.id));
                        match next {
                            Some(c) => after = Some(c),
                            None => break,
                        }
                    }
                    assert_eq!(got, want, "{flags:?} {q:?} {order:?}");
                    // An offset skips that many passing ones.
                    let (items, _) = collect(&store, q, None, order, 25, 10, flags).unwrap();
                    let ids: Vec<i64> = items.iter().map(|s| s.id).collect();
                    let end = want.len().min(35);
                    assert_eq!(ids, want[want.len().min(25)..end], "{flags:?} offset");
                }
            }
        }
    }
}
