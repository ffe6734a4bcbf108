//! Pages of the capture index, in the style of the measurements' query ([`crate::query`]):
//! which captures ([`CaptureQuery`]), a page of them ([`CapturePageRequest`]) that starts after
//! a keyset position ([`CaptureCursor`]: the last item's time and id), so a listing never loads
//! the whole index and pages never overlap or skip.

use crate::captures::{row, CaptureEntry, CaptureIndex, COLUMNS};
use crate::query::Order;
use crate::StoreError;
use rusqlite::types::Value;
use serde::{Deserialize, Serialize};

/// Which captures: every set field must match; an unset field does not filter.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaptureQuery {
    /// Exactly this URL (as asked for).
    pub url: Option<String>,
    /// The URL's host, lowercase (`vlast.kz`).
    pub host: Option<String>,
    /// `probe` or `control`.
    pub vantage: Option<String>,
    /// Started at or after this time (RFC 3339 text, or a prefix such as `2026-12-02`).
    pub since: Option<String>,
    /// Started before this time.
    pub until: Option<String>,
}

/// Where a page of captures starts: just after the last item of the previous page. Opaque to
/// users; [`CaptureCursor::encode`] and [`CaptureCursor::decode`] give its URL form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaptureCursor {
    /// The last item's start time.
    pub started: String,
    /// The last item's id.
    pub id: String,
}

impl CaptureCursor {
    /// The cursor as one URL-safe token (`<id>.<time>`).
    pub fn encode(&self) -> String {
        format!("{}.{}", self.id, self.started)
    }

    /// Reads [`CaptureCursor::encode`]'s form; `None` for anything else.
    pub fn decode(s: &str) -> Option<CaptureCursor> {
        let (id, started) = s.split_once('.')?;
        let id_ok = !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_hexdigit());
        let time_ok = started.len() <= 40
            && started
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-:.+".contains(&b));
        (id_ok && time_ok).then(|| CaptureCursor {
            started: started.to_string(),
            id: id.to_ascii_lowercase(),
        })
    }
}

/// One page of captures.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapturePageRequest {
    /// Start after this position (`None`: from the beginning).
    pub after: Option<CaptureCursor>,
    /// At most this many items (capped at [`crate::MAX_PAGE`]).
    pub limit: usize,
    /// The order (by start time, ties by id).
    pub order: Order,
}

/// A page of captures and where the next one starts (`None` when this was the last).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapturePage {
    /// The items, in the requested order.
    pub items: Vec<CaptureEntry>,
    /// Pass this as [`CapturePageRequest::after`] for the next page.
    pub next: Option<CaptureCursor>,
}

impl CaptureIndex {
    /// One page of the captures `q` selects: at most `page.limit` (capped), one more read to
    /// know whether another page follows.
    pub fn page(
        &self,
        q: &CaptureQuery,
        page: &CapturePageRequest,
    ) -> Result<CapturePage, StoreError> {
        let limit = page.limit.clamp(1, crate::MAX_PAGE);
        let mut sql = format!("SELECT {COLUMNS} FROM captures WHERE 1 = 1");
        let mut args: Vec<Value> = Vec::new();
        let mut with = |clause: &str, v: &Option<String>, args: &mut Vec<Value>| {
            if let Some(v) = v {
                args.push(Value::Text(v.clone()));
                sql.push_str(&format!(" AND {clause} ?{}", args.len()));
            }
        };
        with("url =", &q.url, &mut args);
        let host = q
            .host
            .as_ref()
            .map(|h| h.trim_end_matches('.').to_ascii_lowercase());
        with("host =", &host, &mut args);
        with("vantage =", &q.vantage, &mut args);
        with("started >=", &q.since, &mut args);
        with("started <", &q.until, &mut args);
        let (cmp, dir) = match page.order {
            Order::Oldest => (">", "ASC"),
            Order::Newest => ("<", "DESC"),
        };
        if let Some(c) = &page.after {
            args.push(Value::Text(c.started.clone()));
            args.push(Value::Text(c.id.clone()));
            let (t, i) = (args.len() - 1, args.len());
            sql.push_str(&format!(" AND (started, id) {cmp} (?{t}, ?{i})"));
        }
        sql.push_str(&format!(
            " ORDER BY started {dir}, id {dir} LIMIT {}",
            limit + 1
        ));
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(args), row)?;
        let mut items = rows.collect::<Result<Vec<_>, _>>()?;
        let more = items.len() > limit;
        items.truncate(limit);
        let next = more.then(|| items.last()).flatten().map(|e| CaptureCursor {
            started: e.started.clone(),
            id: e.id.clone(),
        });
        Ok(CapturePage { items, next })
    }

    /// The captures of `url` from `vantage` just before and just after `started` (by time,
    /// ties by id): the previous and the next capture of the same URL.
    pub fn neighbours(
        &self,
        e: &CaptureEntry,
    ) -> Result<(Option<CaptureEntry>, Option<CaptureEntry>), StoreError> {
        let q = CaptureQuery {
            url: Some(e.url.clone()),
            vantage: Some(e.vantage.clone()),
            ..CaptureQuery::default()
        };
        let at = Some(CaptureCursor {
            started: e.started.clone(),
            id: e.id.clone(),
        });
        let one = |order| CapturePageRequest {
            after: at.clone(),
            limit: 1,
            order,
        };
        let prev = self.page(&q, &one(Order::Newest))?.items.pop();
        let next = self.page(&q, &one(Order::Oldest))?.items.pop();
        Ok((prev, next))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str, url: &str, vantage: &str, started: &str) -> CaptureEntry {
        CaptureEntry {
            id: id.into(),
            url: url.into(),
            vantage: vantage.into(),
            started: started.into(),
            status: 200,
            ..CaptureEntry::default()
        }
    }

    fn index() -> CaptureIndex {
        let idx = CaptureIndex::open_in_memory().unwrap();
        for i in 0..7u8 {
            let t = format!("2026-12-0{}T00:00:00.000Z", 1 + i / 2);
            let url = if i % 3 == 0 {
                "https://Vlast.example/a"
            } else {
                "https://ratel.example/b"
            };
            let v = if i % 2 == 0 { "probe" } else { "control" };
            idx.add(&entry(&format!("{i:02x}"), url, v, &t)).unwrap();
        }
        idx
    }

    #[test]
    fn pages_walk_every_capture_once_newest_first() {
        let idx = index();
        let q = CaptureQuery::default();
        let mut req = CapturePageRequest {
            after: None,
            limit: 3,
            order: Order::Newest,
        };
        let mut seen = Vec::new();
        loop {
            let p = idx.page(&q, &req).unwrap();
            assert!(p.items.len() <= 3);
            seen.extend(p.items.iter().map(|e| e.started.clone() + &e.id));
            match p.next {
                // The cursor survives its URL form.
                Some(c) => req.after = CaptureCursor::decode(&c.encode()),
                None => break,
            }
        }
        let mut want = seen.clone();
        want.sort();
        want.reverse();
        assert_eq!(seen, want);
        assert_eq!(seen.len(), 7);
    }

    #[test]
    fn filters_by_host_url_and_vantage() {
        let idx = index();
        let all = CapturePageRequest {
            after: None,
            limit: 100,
            order: Order::Oldest,
        };
        let by = |q: CaptureQuery| idx.page(&q, &all).unwrap().items.len();
        let host = |h: &str| CaptureQuery {
            host: Some(h.into()),
            ..CaptureQuery::default()
        };
        assert_eq!(by(host("vlast.example")), 3);
        assert_eq!(by(host("VLAST.example.")), 3);
        assert_eq!(
            by(CaptureQuery {
                host: Some("ratel.example".into()),
                vantage: Some("control".into()),
                ..CaptureQuery::default()
            }),
            2
        );
        assert_eq!(
            by(CaptureQuery {
                url: Some("https://Vlast.example/a".into()),
                ..CaptureQuery::default()
            }),
            3
        );
        let e = idx.get("03").unwrap().unwrap();
        let (prev, next) = idx.neighbours(&e).unwrap();
        assert_eq!(
            prev.map(|e| e.id),
            None,
            "00 is the probe's, 03 the control's"
        );
        assert_eq!(next.map(|e| e.id), None);
        let e = idx.get("00").unwrap().unwrap();
        assert_eq!(
            idx.neighbours(&e).unwrap().1.map(|e| e.id).as_deref(),
            Some("06")
        );
    }

    #[test]
    fn bad_cursors_are_refused() {
        assert!(CaptureCursor::decode("zz.2026").is_none());
        assert!(CaptureCursor::decode("ab.2026-12-02T00:00:00Z' OR 1=1").is_none());
        assert!(CaptureCursor::decode("nodot").is_none());
    }
}
