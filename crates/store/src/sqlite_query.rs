//! The SQLite side of the query interface: [`Query`] and [`EventQuery`] as WHERE clauses with
//! bound values (never text pasted into SQL), keyset pagination on (time, id), and grouped
//! counts.

use crate::sqlite::decode;
use crate::{
    Axis, Bucket, Counts, Cursor, EventQuery, MeasurementId, Order, Page, PageRequest, Query,
    RunId, StoreError, Stored, MAX_PAGE,
};
use rusqlite::types::Value;
use rusqlite::{params_from_iter, Connection};

/// Conditions and their values, in order of the `?` placeholders.
#[derive(Default)]
struct Where {
    conditions: Vec<String>,
    values: Vec<Value>,
}

impl Where {
    fn push_text(&mut self, condition: String, value: String) {
        self.conditions.push(condition);
        self.values.push(Value::Text(value));
    }

    fn text(&mut self, condition: &str, value: &Option<String>) {
        if let Some(v) = value {
            self.conditions.push(condition.to_string());
            self.values.push(Value::Text(v.clone()));
        }
    }

    fn clause(&self) -> String {
        if self.conditions.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", self.conditions.join(" AND "))
        }
    }
}

fn measurement_where(q: &Query) -> Where {
    measurement_where_in(q, "", Techniques::Column)
}

/// How a technique filter is answered.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Techniques {
    /// On the `techniques` column (a scan of whatever rows the other conditions select).
    Column,
    /// By the join with `measurement_techniques` (aliased `t`) that drives the query.
    Joined,
}

/// The conditions of `q` on the measurements' columns, each column named with `prefix`
/// (`"m."` in a join).
fn measurement_where_in(q: &Query, prefix: &str, techniques: Techniques) -> Where {
    let mut w = Where::default();
    let time = if techniques == Techniques::Joined {
        // The join's own time column: the range is then read from its index.
        "t."
    } else {
        prefix
    };
    for (column, op, value) in q.text_conditions() {
        let table = if column == "measurement_start_time" {
            time
        } else {
            prefix
        };
        w.push_text(format!("{table}{column} {op} ?"), value);
    }
    match techniques {
        Techniques::Column => w.text(
            &format!("instr(' ' || {prefix}techniques || ' ', ?) > 0"),
            &q.technique.map(|t| format!(" {} ", t.as_str())),
        ),
        Techniques::Joined => w.text(
            "t.technique = ?",
            &q.technique.map(|t| t.as_str().to_string()),
        ),
    }
    if let Some(run) = q.run {
        w.conditions.push(format!("{prefix}run_id = ?"));
        w.values.push(Value::Integer(run));
    }
    w
}

/// Whether a page of `q` is best read from `measurement_techniques`: a technique is asked
/// for and no filter with an index narrower than it (a domain's or a URL's few thousand rows,
/// a run's) is. A rare technique then costs its own rows, not a scan of the time index.
fn by_technique(q: &Query) -> bool {
    q.technique.is_some() && q.domain.is_none() && q.input.is_none() && q.run.is_none()
}

/// Builds a [`Stored`] from a row's columns.
pub(crate) fn stored(
    id: MeasurementId,
    uid: String,
    run: RunId,
    json: &str,
) -> Result<Stored, StoreError> {
    Ok(Stored {
        id,
        uid,
        run,
        measurement: decode(id, json)?,
    })
}

pub(crate) fn page(conn: &Connection, q: &Query, p: &PageRequest) -> Result<Page, StoreError> {
    // With a technique, the join with its table comes first (CROSS JOIN keeps that order)
    // and orders the page by its (technique, time, id) key; the measurement is then read
    // by id.
    let (mut w, from, key) = if by_technique(q) {
        (
            measurement_where_in(q, "m.", Techniques::Joined),
            "measurement_techniques t CROSS JOIN measurements m ON m.id = t.id",
            "t.",
        )
    } else {
        (measurement_where(q), "measurements m", "m.")
    };
    let (keyset, dir) = match p.order {
        Order::Oldest => (">", "ASC"),
        Order::Newest => ("<", "DESC"),
    };
    if let Some(after) = &p.after {
        w.conditions.push(format!(
            "({key}measurement_start_time, {key}id) {keyset} (?, ?)"
        ));
        w.values.push(Value::Text(after.time.clone()));
        w.values.push(Value::Integer(after.id));
    }
    let limit = p.limit.clamp(1, MAX_PAGE);
    // One more than asked tells whether another page follows without a second query.
    w.values
        .push(Value::Integer(i64::try_from(limit + 1).unwrap_or(i64::MAX)));
    let sql = format!(
        "SELECT m.id, m.uid, m.run_id, m.json FROM {from} {} \
         ORDER BY {key}measurement_start_time {dir}, {key}id {dir} LIMIT ?",
        w.clause()
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query(params_from_iter(&w.values))?;
    let mut items = Vec::with_capacity(limit.min(1_000));
    let mut more = false;
    while let Some(r) = rows.next()? {
        if items.len() == limit {
            more = true;
            break;
        }
        let json: String = r.get(3)?;
        items.push(stored(r.get(0)?, r.get(1)?, r.get(2)?, &json)?);
    }
    let next = if more {
        items.last().map(|s: &Stored| Cursor {
            time: s.measurement.measurement_start_time.clone(),
            id: s.id,
        })
    } else {
        None
    };
    Ok(Page { items, next })
}

/// The conditions of `q` on `daily_counts`. For a bound `s` of at most 10 characters,
/// `time >= s` holds exactly when `substr(time, 1, 10) >= s` (and so for `<`): the two texts
/// differ only after the 10th character.
fn rollup_where(q: &Query) -> Where {
    let mut w = Where::default();
    w.text("day >= ?", &q.since);
    w.text("day < ?", &q.until);
    w.text("probe_cc = ?", &q.probe_cc);
    w.text("probe_asn = ?", &q.probe_asn);
    w.text(
        "domain = ?",
        &q.domain.as_ref().map(|d| d.to_ascii_lowercase()),
    );
    w.text("category = ?", &q.category);
    w.text("status = ?", &q.status.map(|s| s.as_str().to_string()));
    w.text(
        "instr(' ' || techniques || ' ', ?) > 0",
        &q.technique.map(|t| format!(" {} ", t.as_str())),
    );
    w
}

fn rollup_axis(a: Axis) -> &'static str {
    match a {
        Axis::Day => "day",
        Axis::Month => "substr(day, 1, 7)",
        Axis::Country => "probe_cc",
        Axis::Network => "probe_asn",
        Axis::Domain => "domain",
        Axis::Category => "category",
        // Only the axes `Query::whole_days` admits reach here.
        _ => "status",
    }
}

pub(crate) fn count(conn: &Connection, q: &Query) -> Result<u64, StoreError> {
    if q.whole_days(&[]) {
        let w = rollup_where(q);
        let sql = format!(
            "SELECT coalesce(SUM(n), 0) FROM daily_counts {}",
            w.clause()
        );
        let n: i64 = conn
            .prepare_cached(&sql)?
            .query_row(params_from_iter(&w.values), |r| r.get(0))?;
        return Ok(u64::try_from(n).unwrap_or(0));
    }
    let w = measurement_where(q);
    let sql = format!("SELECT COUNT(*) FROM measurements {}", w.clause());
    let n: i64 = conn
        .prepare_cached(&sql)?
        .query_row(params_from_iter(&w.values), |r| r.get(0))?;
    Ok(u64::try_from(n).unwrap_or(0))
}

fn axis_expr(a: Axis) -> &'static str {
    match a {
        Axis::Hour => "substr(measurement_start_time, 1, 13)",
        Axis::Day => "substr(measurement_start_time, 1, 10)",
        Axis::Month => "substr(measurement_start_time, 1, 7)",
        Axis::Country => "probe_cc",
        Axis::Network => "probe_asn",
        Axis::Domain => "domain",
        Axis::Input => "input",
        Axis::Category => "category",
        Axis::Status => "coalesce(status, 'unjudged')",
        Axis::Run => "CAST(run_id AS TEXT)",
    }
}

pub(crate) fn aggregate(
    conn: &Connection,
    q: &Query,
    x: Axis,
    y: Option<Axis>,
) -> Result<Vec<Bucket>, StoreError> {
    let axes: Vec<Axis> = std::iter::once(x).chain(y).collect();
    let sql_and_where = if q.whole_days(&axes) {
        let w = rollup_where(q);
        let y_expr = y.map(rollup_axis).unwrap_or("''");
        let sql = format!(
            "SELECT {x} AS x, {y_expr} AS y, status AS s, SUM(n) AS c \
             FROM daily_counts {} GROUP BY x, y, s HAVING c > 0 ORDER BY x, y",
            w.clause(),
            x = rollup_axis(x),
        );
        (sql, w)
    } else {
        let w = measurement_where(q);
        let y_expr = y.map(axis_expr).unwrap_or("''");
        let sql = format!(
            "SELECT {x} AS x, {y_expr} AS y, coalesce(status, 'unjudged') AS s, COUNT(*) \
             FROM measurements {} GROUP BY x, y, s ORDER BY x, y",
            w.clause(),
            x = axis_expr(x),
        );
        (sql, w)
    };
    let (sql, w) = sql_and_where;
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query(params_from_iter(&w.values))?;
    let mut out: Vec<Bucket> = Vec::new();
    while let Some(r) = rows.next()? {
        let (bx, by, status, n): (String, String, String, i64) =
            (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?);
        let n = u64::try_from(n).unwrap_or(0);
        match out.last_mut() {
            Some(b) if b.x == bx && b.y == by => b.counts.add(&status, n),
            _ => {
                let mut counts = Counts::default();
                counts.add(&status, n);
                out.push(Bucket {
                    x: bx,
                    y: by,
                    counts,
                });
            }
        }
    }
    // SQLite sorts text by bytes (BINARY collation), as `str` does, so the order is the one
    // every backend must give (the conformance suite checks it).
    Ok(out)
}

pub(crate) fn event_where(q: &EventQuery) -> (String, Vec<Value>) {
    let mut w = Where::default();
    for (column, op, value) in q.text_conditions() {
        w.push_text(format!("{column} {op} ?"), value);
    }
    let mut clause = w.clause();
    // LIMIT must follow ORDER BY, which the caller appends: a limit is applied by keeping
    // the clause's shape (`... ORDER BY started, id`) and filtering with a subquery on ids.
    if let Some(limit) = q.limit {
        let keep = format!(
            "{} id IN (SELECT id FROM events {} ORDER BY started, id LIMIT {})",
            if clause.is_empty() { "WHERE" } else { "AND" },
            clause,
            limit.min(MAX_PAGE * 10)
        );
        let mut values = w.values.clone();
        values.extend(w.values);
        clause = format!("{clause} {keep}");
        return (clause, values);
    }
    (clause, w.values)
}
