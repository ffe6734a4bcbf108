//! Network names for AS numbers, so pages say "JSC Kazakhtelecom (AS9198)" rather than a bare
//! number: from the embedded IP-to-network table (`interfero-netdb`, compiled into the binary,
//! so naming a network asks no one). An AS the table does not name is shown as its number.

/// The registered name of `asn` (`AS9198`), if the table has one.
pub fn name_of(asn: &str) -> Option<&'static str> {
    let n = interfero_netdb::parse_asn(asn)?;
    interfero_netdb::name_of(n).filter(|s| !s.is_empty())
}

/// `Name (AS9198)`, or `AS9198` when the name is not known.
pub fn label(asn: &str) -> String {
    match name_of(asn) {
        Some(n) => format!("{n} ({asn})"),
        None => asn.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn known_and_unknown_networks() {
        let kt = super::label("AS9198");
        assert!(kt.ends_with(" (AS9198)") && kt.len() > 10, "{kt}");
        assert_eq!(super::label("AS4200000001"), "AS4200000001");
        assert_eq!(super::label("not-a-network"), "not-a-network");
    }
}
