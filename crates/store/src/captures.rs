//! The index of archived captures: which URL, from where, when, with what answer and which
//! digests; the captures themselves are WARC files in the archive (`interfero-archive`) beside
//! the database, named by `id`. Its tables are its own and versioned on their own
//! (`capture_meta`), so the index lives in the same SQLite file as the measurements whatever
//! version their schema is at, through its own connection.

use crate::StoreError;
use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

/// The version of the capture tables this build writes.
pub const CAPTURES_VERSION: i64 = 2;

/// Each entry upgrades the capture tables by one version; append, never edit.
const MIGRATIONS: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS captures (
        id TEXT PRIMARY KEY,
        url TEXT NOT NULL,
        vantage TEXT NOT NULL,
        started TEXT NOT NULL,
        finished TEXT NOT NULL,
        status INTEGER NOT NULL,
        final_url TEXT NOT NULL,
        payload_digest TEXT NOT NULL,
        truncated INTEGER NOT NULL,
        failure TEXT
    );
    CREATE INDEX IF NOT EXISTS captures_url ON captures(url, started);",
    // The host (for filtering by site), the page's size and the embedded images kept; the
    // hosts of rows listed before are filled in by `fill_hosts` after the migration.
    "ALTER TABLE captures ADD COLUMN host TEXT NOT NULL DEFAULT '';
    ALTER TABLE captures ADD COLUMN size INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE captures ADD COLUMN images INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX IF NOT EXISTS captures_time ON captures(started, id);
    CREATE INDEX IF NOT EXISTS captures_host ON captures(host, started, id);",
];

/// The columns every listing reads, in [`row`]'s order.
pub(crate) const COLUMNS: &str = "id, url, vantage, started, finished, status, final_url,
    payload_digest, truncated, failure, size, images";

/// One capture as the index lists it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaptureEntry {
    /// The capture's id in the archive (hex SHA-256 of its WARC bytes).
    pub id: String,
    /// The URL asked for.
    pub url: String,
    /// `probe` or `control`.
    pub vantage: String,
    /// UTC start, RFC 3339.
    pub started: String,
    /// UTC end, RFC 3339.
    pub finished: String,
    /// The final page's HTTP status (0 when none came).
    pub status: u16,
    /// The final page's URL (after redirects).
    pub final_url: String,
    /// The final page's payload digest (`sha256:BASE32`), empty when none.
    pub payload_digest: String,
    /// A body was cut at the cap.
    pub truncated: bool,
    /// Why no page came, when none did.
    pub failure: Option<String>,
    /// The final page's body size in bytes (as kept; 0 in entries listed before it was kept).
    #[serde(default)]
    pub size: u64,
    /// How many embedded images were kept with the page.
    #[serde(default)]
    pub images: u32,
}

/// One row of [`COLUMNS`] as an entry.
pub(crate) fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<CaptureEntry> {
    Ok(CaptureEntry {
        id: r.get(0)?,
        url: r.get(1)?,
        vantage: r.get(2)?,
        started: r.get(3)?,
        finished: r.get(4)?,
        status: r.get(5)?,
        final_url: r.get(6)?,
        payload_digest: r.get(7)?,
        truncated: r.get(8)?,
        failure: r.get(9)?,
        size: r.get::<_, i64>(10)?.max(0) as u64,
        images: r.get::<_, i64>(11)?.clamp(0, u32::MAX as i64) as u32,
    })
}

/// The capture index in a SQLite file (usually the measurement database).
#[derive(Debug)]
pub struct CaptureIndex {
    conn: Mutex<Connection>,
}

impl CaptureIndex {
    /// Opens the index in the database at `path`, creating its tables when missing.
    pub fn open(path: &Path) -> Result<CaptureIndex, StoreError> {
        Self::setup(crate::sqlite::connect(path)?, path)
    }

    /// An index that lives as long as this value.
    pub fn open_in_memory() -> Result<CaptureIndex, StoreError> {
        let path = Path::new(":memory:");
        Self::setup(crate::sqlite::connect_in_memory()?, path)
    }

    fn setup(mut conn: Connection, path: &Path) -> Result<CaptureIndex, StoreError> {
        conn.busy_timeout(Duration::from_secs(10))?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS capture_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)",
        )?;
        let found: i64 = conn
            .query_row(
                "SELECT value FROM capture_meta WHERE key = 'version'",
                [],
                |r| r.get(0),
            )
            .optional()?
            .unwrap_or(0);
        if found > CAPTURES_VERSION {
            return Err(StoreError::TooNew {
                path: path.to_path_buf(),
                found,
                known: CAPTURES_VERSION,
            });
        }
        for (from, sql) in (found..).zip(MIGRATIONS.iter().skip(found.max(0) as usize)) {
            let version = from + 1;
            let fail = |source| StoreError::Migrate { version, source };
            let tx = conn.transaction().map_err(fail)?;
            tx.execute_batch(sql).map_err(fail)?;
            tx.execute(
                "INSERT OR REPLACE INTO capture_meta (key, value) VALUES ('version', ?1)",
                [version],
            )
            .map_err(fail)?;
            tx.commit().map_err(fail)?;
        }
        if found < 2 {
            fill_hosts(&mut conn)?;
        }
        Ok(CaptureIndex {
            conn: Mutex::new(conn),
        })
    }

    /// Lists a capture; listing the same id again changes nothing. True when it was new.
    pub fn add(&self, e: &CaptureEntry) -> Result<bool, StoreError> {
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let n = conn.execute(
            "INSERT OR IGNORE INTO captures
             (id, url, vantage, started, finished, status, final_url, payload_digest, truncated,
              failure, host, size, images)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            params![
                e.id,
                e.url,
                e.vantage,
                e.started,
                e.finished,
                e.status,
                e.final_url,
                e.payload_digest,
                e.truncated,
                e.failure,
                crate::query::domain_of(&e.url),
                e.size.min(i64::MAX as u64) as i64,
                e.images
            ],
        )?;
        Ok(n == 1)
    }

    /// The captures of `url` (every URL with `None`), oldest first. Loads them all: for
    /// pages of a listing, see [`CaptureIndex::page`].
    pub fn list(&self, url: Option<&str>) -> Result<Vec<CaptureEntry>, StoreError> {
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM captures WHERE (?1 IS NULL OR url = ?1) ORDER BY started, rowid"
        ))?;
        let rows = stmt.query_map(params![url], row)?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// The capture with this id, when listed.
    pub fn get(&self, id: &str) -> Result<Option<CaptureEntry>, StoreError> {
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let mut stmt =
            conn.prepare_cached(&format!("SELECT {COLUMNS} FROM captures WHERE id = ?1"))?;
        Ok(stmt.query_row(params![id], row).optional()?)
    }

    pub(crate) fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Fills the host column of rows listed before it existed.
fn fill_hosts(conn: &mut Connection) -> Result<(), StoreError> {
    let rows: Vec<(String, String)> = {
        let mut stmt = conn.prepare("SELECT id, url FROM captures WHERE host = ''")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect::<Result<_, _>>()?
    };
    let tx = conn.transaction()?;
    for (id, url) in rows {
        tx.execute(
            "UPDATE captures SET host = ?1 WHERE id = ?2",
            params![crate::query::domain_of(&url), id],
        )?;
    }
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str, started: &str) -> CaptureEntry {
        CaptureEntry {
            id: id.into(),
            url: "https://news.example/a".into(),
            vantage: "probe".into(),
            started: started.into(),
            status: 200,
            ..CaptureEntry::default()
        }
    }

    #[test]
    fn captures_are_listed_once_oldest_first_beside_measurements() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("i.db");
        // The measurement store and the index share the file without touching each other.
        let _store = crate::SqliteStore::open(&db).unwrap();
        let idx = CaptureIndex::open(&db).unwrap();
        assert!(idx.add(&entry("b", "2026-12-03T00:00:00.000Z")).unwrap());
        assert!(idx.add(&entry("a", "2026-12-02T00:00:00.000Z")).unwrap());
        assert!(!idx.add(&entry("a", "2026-12-02T00:00:00.000Z")).unwrap());
        drop(idx);
        let idx = CaptureIndex::open(&db).unwrap();
        let ids: Vec<_> = idx
            .list(Some("https://news.example/a"))
            .unwrap()
            .into_iter()
            .map(|e| e.id)
            .collect();
        assert_eq!(ids, ["a", "b"]);
        assert_eq!(idx.get("b").unwrap().map(|e| e.status), Some(200));
        assert!(idx.list(Some("https://other.example/")).unwrap().is_empty());
    }
}
