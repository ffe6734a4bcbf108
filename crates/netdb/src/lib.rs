//! The embedded IP-to-network table: which autonomous system announces an address, its name,
//! and the country it is registered in. Built from ip-location-db's `asn` and `asn-country`
//! packages on the npm registry (RouteViews, the five RIRs and DB-IP's IP-to-ASN Lite, CC BY 4.0;
//! see `data/netdb/README.md`), refreshed with `data/netdb/refresh.sh`, and compiled into the
//! binary, so that naming a network never asks anyone else about an address.
//!
//! The table is an aid to reading, not evidence on its own: it says who *announces* a prefix,
//! which is how networks are named for people, how a probe learns its own network from the
//! address the control saw, and a weak corroboration that two addresses belong to one operator.

mod format;

pub use format::{Table, TableError};

use std::net::IpAddr;
use std::sync::OnceLock;

/// The table compiled into this build (gzip of [`format`]'s encoding).
static EMBEDDED: &[u8] = include_bytes!("../../../data/netdb/netdb.bin.gz");

/// A network as the table knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network<'a> {
    /// The autonomous system number.
    pub asn: u32,
    /// The AS's organisation name (empty when the table has none).
    pub name: &'a str,
    /// The ISO 3166 country the range is registered in (`ZZ` when unknown).
    pub cc: [u8; 2],
}

impl Network<'_> {
    /// `AS9198`.
    pub fn as_label(&self) -> String {
        format!("AS{}", self.asn)
    }

    /// The country code as text.
    pub fn country(&self) -> &str {
        std::str::from_utf8(&self.cc).unwrap_or("ZZ")
    }
}

/// The embedded table, decoded on first use. A damaged embedded table (which the tests rule
/// out) gives an empty table rather than a panic: networks are then unnamed.
pub fn embedded() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| Table::from_gzip(EMBEDDED).unwrap_or_default())
}

/// The network announcing `ip`, from the embedded table.
pub fn lookup(ip: IpAddr) -> Option<Network<'static>> {
    embedded().lookup(ip)
}

/// The name of an AS (`9198` → its organisation), from the embedded table.
pub fn name_of(asn: u32) -> Option<&'static str> {
    embedded().name_of(asn)
}

/// Parses `AS9198`, `as9198` or `9198`.
pub fn parse_asn(s: &str) -> Option<u32> {
    let s = s.trim();
    let digits = s
        .strip_prefix("AS")
        .or_else(|| s.strip_prefix("as"))
        .unwrap_or(s);
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_table_decodes_and_is_large() {
        let t = embedded();
        let (v4, v6, names) = t.sizes();
        assert!(v4 > 100_000, "{v4} IPv4 ranges");
        assert!(v6 > 10_000, "{v6} IPv6 ranges");
        assert!(names > 50_000, "{names} AS names");
    }

    #[test]
    fn documentation_and_private_ranges_are_nobodys() {
        for ip in [
            "127.0.0.1",
            "198.18.0.1",
            "192.0.2.1",
            "::1",
            "2001:db8::1",
            "fe80::1",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(lookup(ip), None, "{ip}");
        }
    }

    #[test]
    fn kazakh_networks_are_named_and_placed() {
        assert_eq!(name_of(9198), Some("JSC Kazakhtelecom"));
        let t = embedded();
        let ranges = t.ranges_of(9198);
        assert!(ranges.len() > 10, "{} ranges of AS9198", ranges.len());
        // Any address inside one of its ranges is found as that network, registered in KZ.
        let (first, last) = ranges[ranges.len() / 2];
        let mid = u32::from(first) + (u32::from(last) - u32::from(first)) / 2;
        let n = lookup(IpAddr::V4(mid.into())).unwrap();
        assert_eq!(
            (n.asn, n.country(), n.as_label()),
            (9198, "KZ", "AS9198".to_string())
        );
    }

    #[test]
    fn parse_asn_forms() {
        assert_eq!(parse_asn("AS9198"), Some(9198));
        assert_eq!(parse_asn(" as48503 "), Some(48503));
        assert_eq!(parse_asn("9198"), Some(9198));
        assert_eq!(parse_asn("ASx"), None);
    }
}
