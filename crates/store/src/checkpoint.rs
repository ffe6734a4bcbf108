//! WAL checkpoints off the writing thread.
//!
//! In WAL mode every commit is appended to the WAL, and a checkpoint copies those pages back
//! into the database file. By default the connection that commits checkpoints by itself, inside
//! the commit, every 1,000 pages: on the collector that is the one writer thread every durable
//! acknowledgement waits for, and each checkpoint held every submission waiting behind it.
//!
//! Here the writing connection does not checkpoint by itself. A thread with its own connection
//! copies the WAL back each time it grew by [`STEP`] pages, while the writer goes on
//! committing (a passive checkpoint takes no lock a writer needs). SQLite starts the WAL over
//! only after a checkpoint that copied all of it, which a checkpoint racing a busy writer
//! seldom manages; so when the WAL reaches [`CAP`] pages the writer checkpoints once itself,
//! with little left to copy since the thread copied the rest, and the WAL starts over. The WAL
//! stays under [`CAP`] pages and one commit.

use crate::StoreError;
use rusqlite::wal::CheckpointMode;
use rusqlite::{Connection, MAIN_DB};
use std::path::Path;
use std::sync::{mpsc, Arc, Condvar, Mutex};

/// WAL pages the WAL grows by between two checkpoints of the thread.
pub(crate) const STEP: i32 = 2_000;

/// WAL pages at which the writer checkpoints itself, so that the WAL starts over (40 MB).
pub(crate) const CAP: i32 = 10_000;

/// How many checkpoints ran, where (for tests and figures).
#[derive(Debug, Default)]
pub(crate) struct Counts {
    /// (checkpoints of the thread, checkpoints of the writer).
    done: Mutex<(u64, u64)>,
    changed: Condvar,
}

impl Counts {
    fn add(&self, background: bool) {
        let mut d = self.done.lock().unwrap_or_else(|p| p.into_inner());
        if background {
            d.0 += 1;
        } else {
            d.1 += 1;
        }
        self.changed.notify_all();
    }

    /// (checkpoints of the thread, checkpoints of the writer) so far.
    #[cfg(test)]
    pub(crate) fn get(&self) -> (u64, u64) {
        *self.done.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits until the thread has checkpointed at least `n` times (or `limit` passed).
    #[cfg(test)]
    pub(crate) fn wait_background(&self, n: u64, limit: std::time::Duration) -> u64 {
        let d = self.done.lock().unwrap_or_else(|p| p.into_inner());
        let (d, _) = self
            .changed
            .wait_timeout_while(d, limit, |d| d.0 < n)
            .unwrap_or_else(|p| p.into_inner());
        d.0
    }
}

/// Makes `writer`'s checkpoints run on a thread of their own, with a connection of its own to
/// the database at `path`. The thread ends when `writer` is closed.
pub(crate) fn off_thread(writer: &mut Connection, path: &Path) -> Result<Arc<Counts>, StoreError> {
    off_thread_every(writer, path, STEP, CAP)
}

/// [`off_thread`] with the thread woken every `step` pages and the writer checkpointing at
/// `cap` pages.
fn off_thread_every(
    writer: &mut Connection,
    path: &Path,
    step: i32,
    cap: i32,
) -> Result<Arc<Counts>, StoreError> {
    let checkpointer = crate::sqlite::connect(path)?;
    let counts = Arc::new(Counts::default());
    // At most one wake-up waits: a thread that is behind catches up in one checkpoint.
    let (wake, woken) = mpsc::sync_channel::<()>(1);
    let c = counts.clone();
    std::thread::Builder::new()
        .name("sqlite-checkpoint".into())
        .spawn(move || {
            while woken.recv().is_ok() {
                // A failure (another checkpoint running, the disk full) leaves the pages in
                // the WAL, where they are safe; the next wake-up or the writer tries again.
                if checkpointer
                    .wal_checkpoint_v2(Some(MAIN_DB), CheckpointMode::PASSIVE)
                    .is_ok()
                {
                    c.add(true);
                }
            }
        })
        .map_err(|source| StoreError::Thread { source })?;
    let mut next = step;
    let c = counts.clone();
    writer.wal_hook(Some(move |wal: &mut rusqlite::hooks::Wal, pages: i32| {
        if pages < next - step {
            // The WAL started over.
            next = step;
        }
        if pages >= cap {
            // An error is the thread's checkpoint running: this commit stands either way,
            // and the next one tries again.
            if wal.checkpoint_v2(CheckpointMode::PASSIVE).is_ok() {
                c.add(false);
            }
            next = step;
        } else if pages >= next {
            let _ = wake.try_send(());
            next = pages + step;
        }
        Ok(())
    }))?;
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_thread_checkpoints_and_the_wal_stays_under_its_cap() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.db");
        let mut conn = crate::sqlite::connect(&path).unwrap();
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        conn.execute_batch("CREATE TABLE t (b BLOB)").unwrap();
        let (step, cap) = (20, 100);
        let counts = off_thread_every(&mut conn, &path, step, cap).unwrap();
        let page = 4096u64;
        let mut largest = 0;
        for i in 0..1_000u32 {
            // About two pages a commit.
            conn.execute("INSERT INTO t VALUES (?1)", [vec![i as u8; 6_000]])
                .unwrap();
            let wal = std::fs::metadata(dir.path().join("c.db-wal"))
                .unwrap()
                .len();
            largest = largest.max(wal);
        }
        // SQLite's own checkpoints (every 1,000 pages) would let it reach 4 MB.
        assert!(
            largest <= (cap as u64 + 4) * (page + 24) + 32,
            "the WAL reached {largest} bytes"
        );
        let (_, inline) = counts.get();
        assert!(inline >= 1, "the writer started the WAL over");
        assert!(
            counts.wait_background(1, Duration::from_secs(60)) >= 1,
            "the thread checkpointed"
        );
        drop(conn);
        let n: i64 = crate::sqlite::connect(&path)
            .unwrap()
            .query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1_000);
    }
}
