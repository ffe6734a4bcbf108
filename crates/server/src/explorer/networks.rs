//! Network names for AS numbers, so pages say "JSC Kazakhtelecom (AS9198)" rather than a bare
//! number. No IP-to-network table ships with Interfero yet, so this is a small table of the
//! networks that Interfero's lab and synthetic data use (`networks.tsv`, embedded in the
//! binary); an unknown AS is shown as its number alone, never guessed.

/// The embedded table: `AS<number>\t<name>` a line.
const TABLE: &str = include_str!("networks.tsv");

/// The registered name of `asn` (`AS9198`), if the table has it.
pub fn name_of(asn: &str) -> Option<&'static str> {
    TABLE
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .find(|(a, _)| *a == asn)
        .map(|(_, n)| n.trim())
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
        assert_eq!(super::label("AS9198"), "JSC Kazakhtelecom (AS9198)");
        assert_eq!(super::label("AS64999"), "AS64999");
    }
}
