//! The ClickHouse side of the query interface: [`Query`] and [`EventQuery`] as WHERE clauses
//! whose values are bound by the client (escaped by `clickhouse::Query::bind`, never pasted),
//! keyset pagination on (time, id), and the expressions each [`Axis`] groups by.

use crate::{Axis, EventQuery, Query};

/// A value bound to a `?` placeholder.
#[derive(Debug, Clone)]
pub(crate) enum Bound {
    Text(String),
    Int(i64),
    Id(u64),
}

/// Conditions and their values, in the order of their placeholders.
#[derive(Debug, Default, Clone)]
pub(crate) struct Where {
    conditions: Vec<String>,
    values: Vec<Bound>,
}

impl Where {
    fn text(&mut self, condition: &'static str, value: &Option<String>) {
        if let Some(v) = value {
            self.conditions.push(condition.to_string());
            self.values.push(Bound::Text(v.clone()));
        }
    }

    /// Adds a condition with its values.
    pub(crate) fn push(
        &mut self,
        condition: impl Into<String>,
        values: impl IntoIterator<Item = Bound>,
    ) {
        self.conditions.push(condition.into());
        self.values.extend(values);
    }

    /// `WHERE …` (or nothing).
    pub(crate) fn clause(&self) -> String {
        if self.conditions.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", self.conditions.join(" AND "))
        }
    }

    /// Binds the values to `q`, in order.
    pub(crate) fn bind(&self, mut q: clickhouse::query::Query) -> clickhouse::query::Query {
        for v in &self.values {
            q = match v {
                Bound::Text(s) => q.bind(s.as_str()),
                Bound::Int(i) => q.bind(*i),
                Bound::Id(i) => q.bind(*i),
            };
        }
        q
    }
}

/// The conditions of a measurement query. Times are compared as text, exactly as SQLite does
/// (a prefix such as `2026-11-10` works), on the text column that leads the sorting key after
/// country and network, so ClickHouse's primary index narrows the range.
pub(crate) fn measurement_where(q: &Query) -> Where {
    let mut w = Where::default();
    for (column, op, value) in q.text_conditions() {
        w.push(format!("{column} {op} ?"), [Bound::Text(value)]);
    }
    w.text(
        "has(techniques, ?)",
        &q.technique.map(|t| t.as_str().to_string()),
    );
    if let Some(run) = q.run {
        w.push("run_id = ?", [Bound::Int(run)]);
    }
    w
}

/// `?, ?, …` for `n` values.
pub(crate) fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}

/// What one axis groups by. `status` holds `''` for an unjudged measurement.
pub(crate) fn axis_expr(a: Axis) -> &'static str {
    match a {
        Axis::Hour => "substring(measurement_start_time, 1, 13)",
        Axis::Day => "substring(measurement_start_time, 1, 10)",
        Axis::Month => "substring(measurement_start_time, 1, 7)",
        Axis::Country => "toString(probe_cc)",
        Axis::Network => "toString(probe_asn)",
        Axis::Domain => "toString(domain)",
        Axis::Input => "input",
        Axis::Category => "toString(category)",
        Axis::Status => "toString(status)",
        Axis::Run => "toString(run_id)",
    }
}

/// The status a cell's measurements are counted under (`unjudged` when they have none; the
/// server groups by the stored value, the name is given here).
pub(crate) fn status_name(stored: &str) -> &str {
    if stored.is_empty() {
        "unjudged"
    } else {
        stored
    }
}

/// The conditions of an event query (the caller orders by `started, id` and limits).
pub(crate) fn event_where(q: &EventQuery) -> Where {
    let mut w = Where::default();
    for (column, op, value) in q.text_conditions() {
        w.push(format!("{column} {op} ?"), [Bound::Text(value)]);
    }
    w
}
