//! Scenario time and rule windows.
//!
//! Scenario time is seconds since the scenario's start ("day 0, 00:00"). It is a settable clock,
//! not the wall clock, so that a `watch` run can replay "LinkedIn blocked for three days" in
//! seconds. Written in TOML as `"d3 08:00"` (absolute: day 3 at 08:00), `"d3"` (day 3 at 00:00)
//! or `"08:00"` (every day at 08:00; only inside daily windows).

use serde::{Deserialize, Serialize};
use std::fmt;

const DAY: u64 = 86_400;

/// A point in scenario time: seconds since day 0, 00:00.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct ScenarioTime(pub u64);

impl ScenarioTime {
    /// The time `day` days and `hour:minute` after the start.
    pub fn at(day: u64, hour: u64, minute: u64) -> ScenarioTime {
        ScenarioTime(day * DAY + hour * 3600 + minute * 60)
    }

    /// Seconds since midnight of the current scenario day.
    pub fn time_of_day(self) -> u64 {
        self.0 % DAY
    }

    /// Parses `"dN HH:MM"` or `"dN"`; a bare `"HH:MM"` means day 0.
    pub fn parse(s: &str) -> Option<ScenarioTime> {
        match parse_point(s)? {
            Point::Absolute(t) => Some(t),
            Point::Daily(secs) => Some(ScenarioTime(secs)),
        }
    }
}

impl fmt::Display for ScenarioTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tod = self.time_of_day();
        write!(
            f,
            "d{} {:02}:{:02}",
            self.0 / DAY,
            tod / 3600,
            (tod % 3600) / 60
        )
    }
}

enum Point {
    Absolute(ScenarioTime),
    Daily(u64),
}

fn parse_hm(s: &str) -> Option<u64> {
    let (h, m) = s.split_once(':')?;
    let (h, m): (u64, u64) = (h.trim().parse().ok()?, m.trim().parse().ok()?);
    // 24:00 is allowed so that a daily window can end at midnight.
    if h > 24 || m > 59 || (h == 24 && m != 0) {
        return None;
    }
    Some(h * 3600 + m * 60)
}

fn parse_point(s: &str) -> Option<Point> {
    let s = s.trim();
    if let Some(rest) = s.strip_prefix('d') {
        let (day, hm) = match rest.split_once(' ') {
            Some((d, hm)) => (d, Some(hm)),
            None => (rest, None),
        };
        let day: u64 = day.parse().ok()?;
        let secs = match hm {
            Some(hm) => parse_hm(hm)?,
            None => 0,
        };
        return Some(Point::Absolute(ScenarioTime(day.checked_mul(DAY)? + secs)));
    }
    parse_hm(s).map(Point::Daily)
}

/// A span of scenario time during which a rule is in force, as written in TOML.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    /// Start, inclusive.
    pub from: String,
    /// End, exclusive.
    pub to: String,
}

/// A parsed window: absolute, or repeating every day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Span {
    /// From one scenario time to another.
    Absolute(ScenarioTime, ScenarioTime),
    /// Every day between two times of day (wrapping past midnight when `from > to`).
    Daily(u64, u64),
}

impl Window {
    /// Parses the window; both ends must be of the same kind (absolute or daily).
    pub fn span(&self) -> Result<Span, String> {
        let bad = || {
            format!(
                "window {:?}..{:?}: expected \"dN HH:MM\" or \"HH:MM\"",
                self.from, self.to
            )
        };
        match (
            parse_point(&self.from).ok_or_else(bad)?,
            parse_point(&self.to).ok_or_else(bad)?,
        ) {
            (Point::Absolute(a), Point::Absolute(b)) if a < b => Ok(Span::Absolute(a, b)),
            (Point::Daily(a), Point::Daily(b)) if a != b => Ok(Span::Daily(a, b)),
            _ => Err(format!(
                "window {:?}..{:?}: ends must be both absolute or both daily, and from before to",
                self.from, self.to
            )),
        }
    }
}

impl Span {
    /// Whether `t` falls inside the span.
    pub fn contains(self, t: ScenarioTime) -> bool {
        match self {
            Span::Absolute(a, b) => a <= t && t < b,
            Span::Daily(a, b) => {
                let tod = t.time_of_day();
                if a < b {
                    a <= tod && tod < b
                } else {
                    tod >= a || tod < b
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_contains() {
        assert_eq!(
            ScenarioTime::parse("d3 08:30"),
            Some(ScenarioTime::at(3, 8, 30))
        );
        assert_eq!(ScenarioTime::parse("d2"), Some(ScenarioTime::at(2, 0, 0)));
        assert_eq!(ScenarioTime::parse("x"), None);
        assert_eq!(ScenarioTime::at(1, 2, 3).to_string(), "d1 02:03");
        let w = Window {
            from: "d0".into(),
            to: "d3".into(),
        }
        .span()
        .unwrap();
        assert!(w.contains(ScenarioTime::at(2, 23, 59)));
        assert!(!w.contains(ScenarioTime::at(3, 0, 0)));
        let night = Window {
            from: "22:00".into(),
            to: "06:00".into(),
        }
        .span()
        .unwrap();
        assert!(night.contains(ScenarioTime::at(5, 23, 0)));
        assert!(!night.contains(ScenarioTime::at(5, 12, 0)));
        assert!(Window {
            from: "d1".into(),
            to: "08:00".into()
        }
        .span()
        .is_err());
    }
}
