//! Which network (AS number, country) an address belongs to, from a table of address ranges:
//! the probe names its own network from the address the control saw, without keeping the
//! address. The table's text format is iptoasn's `ip2asn-combined.tsv` (`range_start`,
//! `range_end`, `AS_number`, `country_code`, `AS_description`, tab-separated), so a real dump
//! reads as is; the embedded one ([`NetworkTable::sample`], `data/networks/sample.tsv`) holds
//! only documentation and lab ranges, clearly marked, as no real table could be fetched where
//! it was built.

use std::net::IpAddr;

/// One network of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Network {
    /// The AS number.
    pub asn: u32,
    /// The country code (`ZZ` when the table does not say).
    pub cc: String,
    /// The AS's name.
    pub name: String,
}

impl Network {
    /// `AS9198`, as `probe_asn` spells it.
    pub fn probe_asn(&self) -> String {
        format!("AS{}", self.asn)
    }
}

/// A line of the table that does not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message} (expected range_start TAB range_end TAB AS number TAB country TAB name)")]
pub struct TableError {
    /// The line number (from 1).
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// Address ranges and their networks, sorted for lookup.
#[derive(Debug, Clone, Default)]
pub struct NetworkTable {
    v4: Vec<(u32, u32, usize)>,
    v6: Vec<(u128, u128, usize)>,
    networks: Vec<Network>,
}

fn v6_of(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(v4.to_ipv6_mapped()),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

impl NetworkTable {
    /// Reads a table; `#` lines and blank lines are skipped, ranges of AS 0 ("not routed")
    /// are left out.
    pub fn parse(text: &str) -> Result<NetworkTable, TableError> {
        let mut t = NetworkTable::default();
        for (n, line) in text.lines().enumerate() {
            let bad = |message: String| TableError {
                line: n + 1,
                message,
            };
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let f: Vec<&str> = line.split('\t').collect();
            if f.len() < 4 {
                return Err(bad(format!("{} fields", f.len())));
            }
            let start: IpAddr = f[0]
                .trim()
                .parse()
                .map_err(|_| bad(format!("{:?} is not an address", f[0])))?;
            let end: IpAddr = f[1]
                .trim()
                .parse()
                .map_err(|_| bad(format!("{:?} is not an address", f[1])))?;
            let asn: u32 = f[2]
                .trim()
                .trim_start_matches("AS")
                .parse()
                .map_err(|_| bad(format!("{:?} is not an AS number", f[2])))?;
            if asn == 0 {
                continue;
            }
            let cc = f[3].trim();
            let cc = if cc.len() == 2 && cc.bytes().all(|b| b.is_ascii_alphabetic()) {
                cc.to_ascii_uppercase()
            } else {
                "ZZ".to_string()
            };
            let name = f.get(4).map(|s| s.trim().to_string()).unwrap_or_default();
            let idx = t.networks.len();
            t.networks.push(Network { asn, cc, name });
            match (start, end) {
                (IpAddr::V4(a), IpAddr::V4(b)) if a <= b => t.v4.push((a.into(), b.into(), idx)),
                (IpAddr::V6(_), IpAddr::V6(_)) if v6_of(start) <= v6_of(end) => {
                    t.v6.push((v6_of(start), v6_of(end), idx))
                }
                _ => {
                    return Err(bad(
                        "the range ends before it starts, or mixes IPv4 and IPv6".into(),
                    ))
                }
            }
        }
        t.v4.sort_unstable();
        t.v6.sort_unstable();
        Ok(t)
    }

    /// The embedded sample table (documentation and lab ranges only).
    pub fn sample() -> NetworkTable {
        // The shipped file is checked by a test: it always parses.
        NetworkTable::parse(include_str!("../../../data/networks/sample.tsv")).unwrap_or_default()
    }

    /// How many ranges the table holds.
    pub fn len(&self) -> usize {
        self.v4.len() + self.v6.len()
    }

    /// Whether the table holds no range.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The network of `ip`, if a range holds it (an IPv4-mapped IPv6 address is its IPv4).
    pub fn lookup(&self, ip: IpAddr) -> Option<&Network> {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        let idx = match ip {
            IpAddr::V4(v4) => find(&self.v4, u32::from(v4)),
            IpAddr::V6(_) => find(&self.v6, v6_of(ip)),
        }?;
        self.networks.get(idx)
    }
}

/// The range holding `x`: the last one starting at or before it, if it ends at or after it.
fn find<T: Ord + Copy>(ranges: &[(T, T, usize)], x: T) -> Option<usize> {
    let i = ranges.partition_point(|r| r.0 <= x);
    let r = ranges.get(i.checked_sub(1)?)?;
    (x <= r.1).then_some(r.2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_sample_parses_and_finds_lab_addresses() {
        let t = NetworkTable::parse(include_str!("../../../data/networks/sample.tsv")).unwrap();
        assert_eq!(t.len(), 5);
        let lab = t.lookup("198.18.0.7".parse().unwrap()).unwrap();
        assert_eq!(lab.probe_asn(), "AS64499");
        assert!(lab.name.starts_with("SAMPLE"));
        assert_eq!(t.lookup("2001:db8::1".parse().unwrap()).unwrap().asn, 64500);
        assert_eq!(
            t.lookup("::ffff:192.0.2.9".parse().unwrap()).unwrap().asn,
            64496
        );
        assert!(t.lookup("8.8.8.8".parse().unwrap()).is_none());
        assert!(t.lookup("198.20.0.0".parse().unwrap()).is_none());
    }

    #[test]
    fn reads_iptoasn_lines_and_says_which_line_is_bad() {
        let text = "1.0.0.0\t1.0.0.255\t13335\tUS\tCLOUDFLARENET\n\
                    1.0.1.0\t1.0.3.255\t0\tNone\tNot routed\n\
                    2.0.0.0\t2.0.0.255\t9198\tKZ\tKAZTELECOM\n";
        let t = NetworkTable::parse(text).unwrap();
        assert_eq!(t.len(), 2, "not-routed ranges are left out");
        let kz = t.lookup("2.0.0.200".parse().unwrap()).unwrap();
        assert_eq!((kz.probe_asn().as_str(), kz.cc.as_str()), ("AS9198", "KZ"));
        assert!(t.lookup("1.0.2.1".parse().unwrap()).is_none());
        let e = NetworkTable::parse("1.0.0.0\tx\t1\tUS\n").unwrap_err();
        assert_eq!(e.line, 1);
    }
}
