//! The measurements waiting to be sent: one INSERT per batch (by count, bytes or age), never
//! one row at a time. A measurement already waiting is not added twice (the first copy wins,
//! as on the server); a re-judged verdict for a waiting one replaces its row in place.

use super::daily::DailyKey;
use super::rows::{version, MeasurementRow};
use super::Batch;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// A row to send: `was` is the `daily_counts` key of the stored row it replaces (a re-judged
/// measurement), `None` for a measurement that is new as far as this store knows.
#[derive(Debug)]
pub(crate) struct Entry {
    pub(crate) row: MeasurementRow,
    pub(crate) was: Option<DailyKey>,
}

/// Rows waiting, in arrival order, with an index by id.
#[derive(Debug, Default)]
pub(crate) struct Pending {
    rows: Vec<(MeasurementRow, u64, Option<DailyKey>)>,
    by_id: HashMap<u64, usize>,
    bytes: usize,
    since: Option<Instant>,
}

/// About how many bytes a row takes in an INSERT.
fn size(r: &MeasurementRow) -> usize {
    r.json.len() + r.input.len() + r.uid.len() + r.domain.len() + 96
}

impl Pending {
    /// Adds a new measurement's row (revision 0) unless one with its id waits already.
    pub(crate) fn add(&mut self, row: MeasurementRow) {
        if self.by_id.contains_key(&row.id) {
            return;
        }
        self.push(row, 0, None);
    }

    /// Adds a re-judged row with revision `rev` that replaces a stored row counted under `was`,
    /// or replaces the waiting row of that id (keeping its revision and what it replaces: the
    /// server has not seen it).
    pub(crate) fn replace(&mut self, row: MeasurementRow, rev: u64, was: Option<DailyKey>) {
        if let Some(&i) = self.by_id.get(&row.id) {
            let (old, _, _) = &self.rows[i];
            self.bytes = self.bytes.saturating_sub(size(old)) + size(&row);
            self.rows[i].0 = row;
            return;
        }
        self.push(row, rev, was);
    }

    fn push(&mut self, row: MeasurementRow, rev: u64, was: Option<DailyKey>) {
        self.bytes += size(&row);
        self.by_id.insert(row.id, self.rows.len());
        self.rows.push((row, rev, was));
        self.since.get_or_insert_with(Instant::now);
    }

    /// The waiting row with this id.
    pub(crate) fn get(&self, id: u64) -> Option<&MeasurementRow> {
        self.by_id.get(&id).map(|&i| &self.rows[i].0)
    }

    /// How many wait.
    pub(crate) fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether a batch is due: enough rows or bytes, or the first has waited `batch.ms`.
    pub(crate) fn due(&self, batch: &Batch) -> bool {
        self.rows.len() >= batch.rows
            || self.bytes >= batch.bytes
            || self
                .since
                .is_some_and(|t| t.elapsed() >= Duration::from_millis(batch.ms))
    }

    /// Takes every waiting row, with its version for write `tick`.
    pub(crate) fn take(&mut self, tick: u64) -> Vec<Entry> {
        self.by_id.clear();
        self.bytes = 0;
        self.since = None;
        std::mem::take(&mut self.rows)
            .into_iter()
            .map(|(mut row, rev, was)| {
                row.version = version(rev, tick);
                Entry { row, was }
            })
            .collect()
    }

    /// Puts rows that failed to send back in front (they keep their versions' revisions).
    pub(crate) fn restore(&mut self, entries: Vec<Entry>) {
        let later = std::mem::take(&mut self.rows);
        self.by_id.clear();
        self.bytes = 0;
        self.since = Some(Instant::now());
        for e in entries {
            let rev = super::rows::revision(e.row.version);
            self.push(e.row, rev, e.was);
        }
        // A row that arrived meanwhile for the same measurement is newer (a re-judging).
        for (r, rev, was) in later {
            self.replace(r, rev, was);
        }
    }
}
