//! The table in memory and on disk. The encoding is ours (a few sorted arrays, little-endian,
//! gzip-compressed): a general format such as MMDB would need a reader crate and a tree walk
//! for what is here one binary search over sorted ranges.
//!
//! ```text
//! "IFNETDB1"
//! u32 names     then per name:  u32 asn, u16 len, len bytes UTF-8
//! u32 v4        then per range: u32 first, u32 last, u32 asn
//! u32 v6        then per range: u128 first, u128 last, u32 asn
//! u32 cc4       then per range: u32 first, u32 last, 2 bytes country
//! u32 cc6       then per range: u128 first, u128 last, 2 bytes country
//! ```

use crate::Network;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::IpAddr;

const MAGIC: &[u8; 8] = b"IFNETDB1";

/// The largest decoded table accepted (the real one is ~15 MB): a bound on what a damaged or
/// hostile file can make us allocate.
const MAX_DECODED: u64 = 128 << 20;

/// Why a table could not be read or built.
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    /// The bytes are not a table of this format.
    #[error("not an Interfero network table: {0}")]
    Format(&'static str),
    /// Reading or decompressing failed.
    #[error("cannot read the network table: {0}")]
    Io(#[from] std::io::Error),
    /// A CSV source has a bad row.
    #[error("{source_name} line {line}: {message}")]
    Csv {
        /// Which file.
        source_name: String,
        /// Its line number (1-based).
        line: u64,
        /// What is wrong.
        message: String,
    },
}

/// Ranges `first..=last` with a value, sorted by `first`, not overlapping.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Ranges<K, V> {
    first: Vec<K>,
    last: Vec<K>,
    value: Vec<V>,
}

impl<K: Ord + Copy, V: Copy + PartialEq> Ranges<K, V> {
    fn find(&self, k: K) -> Option<V> {
        let i = self.first.partition_point(|f| *f <= k).checked_sub(1)?;
        (k <= self.last[i]).then(|| self.value[i])
    }

    /// Sorts, drops overlaps (the earlier range wins) and merges neighbours with one value.
    fn normalise(rows: &mut [(K, K, V)], next: impl Fn(K) -> Option<K>) -> Ranges<K, V> {
        rows.sort_by_key(|r| r.0);
        let mut out = Ranges {
            first: Vec::with_capacity(rows.len()),
            last: Vec::with_capacity(rows.len()),
            value: Vec::with_capacity(rows.len()),
        };
        for &(f, l, v) in rows.iter() {
            if l < f {
                continue;
            }
            if let Some(&prev_last) = out.last.last() {
                if f <= prev_last {
                    continue;
                }
                let n = out.value.len() - 1;
                if out.value[n] == v && next(prev_last) == Some(f) {
                    out.last[n] = l;
                    continue;
                }
            }
            out.first.push(f);
            out.last.push(l);
            out.value.push(v);
        }
        out
    }
}

/// The IP-to-network table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Table {
    names: HashMap<u32, String>,
    v4: Ranges<u32, u32>,
    v6: Ranges<u128, u32>,
    cc4: Ranges<u32, [u8; 2]>,
    cc6: Ranges<u128, [u8; 2]>,
}

fn v4(ip: std::net::Ipv4Addr) -> u32 {
    u32::from(ip)
}

fn v6(ip: std::net::Ipv6Addr) -> u128 {
    u128::from(ip)
}

impl Table {
    /// The network announcing `ip` (an IPv4-mapped IPv6 address is looked up as IPv4).
    pub fn lookup(&self, ip: IpAddr) -> Option<Network<'_>> {
        let ip = match ip {
            IpAddr::V6(a) => a.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            a => a,
        };
        let (asn, cc) = match ip {
            IpAddr::V4(a) => (self.v4.find(v4(a))?, self.cc4.find(v4(a))),
            IpAddr::V6(a) => (self.v6.find(v6(a))?, self.cc6.find(v6(a))),
        };
        Some(Network {
            asn,
            name: self.names.get(&asn).map(String::as_str).unwrap_or(""),
            cc: cc.unwrap_or(*b"ZZ"),
        })
    }

    /// The name of an AS.
    pub fn name_of(&self, asn: u32) -> Option<&str> {
        self.names.get(&asn).map(String::as_str)
    }

    /// (IPv4 ranges, IPv6 ranges, AS names).
    pub fn sizes(&self) -> (usize, usize, usize) {
        (self.v4.first.len(), self.v6.first.len(), self.names.len())
    }

    /// Every IPv4 range of an AS, as (first, last) addresses (for tests and for the network
    /// pages of the explorer).
    pub fn ranges_of(&self, asn: u32) -> Vec<(std::net::Ipv4Addr, std::net::Ipv4Addr)> {
        (0..self.v4.first.len())
            .filter(|&i| self.v4.value[i] == asn)
            .map(|i| (self.v4.first[i].into(), self.v4.last[i].into()))
            .collect()
    }

    /// Builds a table from ip-location-db's CSV files: `asn` rows are
    /// `first,last,asn,name` and `country` rows `first,last,CC`, addresses as text, IPv4 and
    /// IPv6 mixed freely. A bad row is an error naming its file and line.
    pub fn from_csv(
        asn: &mut [(&str, &mut dyn Read)],
        country: &mut [(&str, &mut dyn Read)],
    ) -> Result<Table, TableError> {
        let mut names = HashMap::new();
        let (mut a4, mut a6, mut c4, mut c6) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (name, r) in asn.iter_mut() {
            each_row(name, r, |line, rec| {
                let (f, l) = range(rec, line, name)?;
                let n: u32 = field(rec, 2, line, name)?
                    .parse()
                    .map_err(|_| bad(name, line, "the AS number is not a number"))?;
                if let Some(org) = rec.get(3).filter(|o| !o.is_empty()) {
                    names.entry(n).or_insert_with(|| org.to_string());
                }
                match (f, l) {
                    (IpAddr::V4(f), IpAddr::V4(l)) => a4.push((v4(f), v4(l), n)),
                    (IpAddr::V6(f), IpAddr::V6(l)) => a6.push((v6(f), v6(l), n)),
                    _ => return Err(bad(name, line, "the range mixes IPv4 and IPv6")),
                }
                Ok(())
            })?;
        }
        for (name, r) in country.iter_mut() {
            each_row(name, r, |line, rec| {
                let (f, l) = range(rec, line, name)?;
                let cc = field(rec, 2, line, name)?.as_bytes();
                let cc: [u8; 2] = match cc {
                    [a, b] if a.is_ascii_uppercase() && b.is_ascii_uppercase() => [*a, *b],
                    _ => return Err(bad(name, line, "the country is not two capital letters")),
                };
                match (f, l) {
                    (IpAddr::V4(f), IpAddr::V4(l)) => c4.push((v4(f), v4(l), cc)),
                    (IpAddr::V6(f), IpAddr::V6(l)) => c6.push((v6(f), v6(l), cc)),
                    _ => return Err(bad(name, line, "the range mixes IPv4 and IPv6")),
                }
                Ok(())
            })?;
        }
        Ok(Table {
            names,
            v4: Ranges::normalise(&mut a4, |k| k.checked_add(1)),
            v6: Ranges::normalise(&mut a6, |k| k.checked_add(1)),
            cc4: Ranges::normalise(&mut c4, |k| k.checked_add(1)),
            cc6: Ranges::normalise(&mut c6, |k| k.checked_add(1)),
        })
    }

    /// The table's encoding, gzip-compressed.
    pub fn to_gzip(&self) -> Result<Vec<u8>, TableError> {
        let mut raw = Vec::new();
        raw.extend_from_slice(MAGIC);
        let mut names: Vec<(&u32, &String)> = self.names.iter().collect();
        names.sort();
        put_len(&mut raw, names.len())?;
        for (asn, name) in names {
            raw.extend_from_slice(&asn.to_le_bytes());
            let bytes = name.as_bytes();
            let bytes = &bytes[..floor_char_boundary(name, bytes.len().min(u16::MAX as usize))];
            raw.extend_from_slice(&(bytes.len() as u16).to_le_bytes());
            raw.extend_from_slice(bytes);
        }
        put_ranges(
            &mut raw,
            &self.v4,
            |k| k.to_le_bytes().to_vec(),
            |v| v.to_le_bytes().to_vec(),
        )?;
        put_ranges(
            &mut raw,
            &self.v6,
            |k| k.to_le_bytes().to_vec(),
            |v| v.to_le_bytes().to_vec(),
        )?;
        put_ranges(
            &mut raw,
            &self.cc4,
            |k| k.to_le_bytes().to_vec(),
            |v| v.to_vec(),
        )?;
        put_ranges(
            &mut raw,
            &self.cc6,
            |k| k.to_le_bytes().to_vec(),
            |v| v.to_vec(),
        )?;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(&raw)?;
        Ok(gz.finish()?)
    }

    /// Reads [`Table::to_gzip`]'s bytes. Never panics on any input; refuses tables whose
    /// ranges are unsorted or overlapping (a lookup would then be wrong).
    pub fn from_gzip(bytes: &[u8]) -> Result<Table, TableError> {
        let mut raw = Vec::new();
        flate2::read::GzDecoder::new(bytes)
            .take(MAX_DECODED + 1)
            .read_to_end(&mut raw)?;
        if raw.len() as u64 > MAX_DECODED {
            return Err(TableError::Format("larger than any real table"));
        }
        let mut r = Reader { b: &raw, at: 0 };
        if r.take(8)? != MAGIC {
            return Err(TableError::Format("wrong magic"));
        }
        let mut names = HashMap::new();
        for _ in 0..r.len()? {
            let asn = r.u32()?;
            let n = usize::from(u16::from_le_bytes(r.array()?));
            let name = std::str::from_utf8(r.take(n)?)
                .map_err(|_| TableError::Format("a name is not UTF-8"))?;
            names.insert(asn, name.to_string());
        }
        Ok(Table {
            names,
            v4: get_ranges(&mut r, |r| r.u32(), |r| r.u32())?,
            v6: get_ranges(&mut r, |r| Ok(u128::from_le_bytes(r.array()?)), |r| r.u32())?,
            cc4: get_ranges(&mut r, |r| r.u32(), |r| r.array())?,
            cc6: get_ranges(
                &mut r,
                |r| Ok(u128::from_le_bytes(r.array()?)),
                |r| r.array(),
            )?,
        })
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn bad(name: &str, line: u64, message: &str) -> TableError {
    TableError::Csv {
        source_name: name.to_string(),
        line,
        message: message.to_string(),
    }
}

fn each_row(
    name: &str,
    r: &mut dyn Read,
    mut f: impl FnMut(u64, &csv::StringRecord) -> Result<(), TableError>,
) -> Result<(), TableError> {
    let mut rd = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(r);
    for (i, rec) in rd.records().enumerate() {
        let line = i as u64 + 1;
        let rec = rec.map_err(|e| bad(name, line, &e.to_string()))?;
        f(line, &rec)?;
    }
    Ok(())
}

fn field<'a>(
    rec: &'a csv::StringRecord,
    i: usize,
    line: u64,
    name: &str,
) -> Result<&'a str, TableError> {
    rec.get(i)
        .map(str::trim)
        .ok_or_else(|| bad(name, line, "too few fields"))
}

fn range(rec: &csv::StringRecord, line: u64, name: &str) -> Result<(IpAddr, IpAddr), TableError> {
    let ip = |i| -> Result<IpAddr, TableError> {
        field(rec, i, line, name)?
            .parse()
            .map_err(|_| bad(name, line, "not an IP address"))
    };
    Ok((ip(0)?, ip(1)?))
}

fn put_len(out: &mut Vec<u8>, n: usize) -> Result<(), TableError> {
    let n = u32::try_from(n).map_err(|_| TableError::Format("too many entries"))?;
    out.extend_from_slice(&n.to_le_bytes());
    Ok(())
}

fn put_ranges<K: Copy, V: Copy>(
    out: &mut Vec<u8>,
    r: &Ranges<K, V>,
    key: impl Fn(K) -> Vec<u8>,
    value: impl Fn(V) -> Vec<u8>,
) -> Result<(), TableError> {
    put_len(out, r.first.len())?;
    for i in 0..r.first.len() {
        out.extend(key(r.first[i]));
        out.extend(key(r.last[i]));
        out.extend(value(r.value[i]));
    }
    Ok(())
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], TableError> {
        let end = self.at.checked_add(n).filter(|e| *e <= self.b.len());
        let end = end.ok_or(TableError::Format("truncated"))?;
        let s = &self.b[self.at..end];
        self.at = end;
        Ok(s)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], TableError> {
        self.take(N)?
            .try_into()
            .map_err(|_| TableError::Format("truncated"))
    }

    fn u32(&mut self) -> Result<u32, TableError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    /// A count, bounded by the bytes left (each entry takes at least one byte).
    fn len(&mut self) -> Result<usize, TableError> {
        let n = self.u32()? as usize;
        if n > self.b.len() - self.at {
            return Err(TableError::Format("a count larger than the file"));
        }
        Ok(n)
    }
}

fn get_ranges<'a, K: Ord + Copy, V: Copy>(
    r: &mut Reader<'a>,
    key: impl Fn(&mut Reader<'a>) -> Result<K, TableError>,
    value: impl Fn(&mut Reader<'a>) -> Result<V, TableError>,
) -> Result<Ranges<K, V>, TableError> {
    let n = r.len()?;
    let mut out = Ranges {
        first: Vec::with_capacity(n),
        last: Vec::with_capacity(n),
        value: Vec::with_capacity(n),
    };
    for _ in 0..n {
        let (f, l, v) = (key(r)?, key(r)?, value(r)?);
        let ordered = l >= f && out.last.last().is_none_or(|p| f > *p);
        if !ordered {
            return Err(TableError::Format("ranges unsorted or overlapping"));
        }
        out.first.push(f);
        out.last.push(l);
        out.value.push(v);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> Table {
        let asn = "198.51.100.0,198.51.100.127,64500,\"Example, Inc.\"\n\
                   198.51.100.128,198.51.100.255,64500,\"Example, Inc.\"\n\
                   203.0.113.0,203.0.113.255,64501,Other Net\n\
                   2001:db8::,2001:db8:ffff:ffff:ffff:ffff:ffff:ffff,64502,V6 Net\n";
        let cc = "198.51.100.0,198.51.100.255,KZ\n2001:db8::,2001:db8::ffff,KG\n";
        Table::from_csv(
            &mut [("asn.csv", &mut asn.as_bytes())],
            &mut [("cc.csv", &mut cc.as_bytes())],
        )
        .unwrap()
    }

    #[test]
    fn lookups_merge_and_round_trip() {
        let t = sample();
        assert_eq!(t.sizes().0, 2, "neighbouring ranges of one AS are merged");
        let n = t.lookup("198.51.100.200".parse().unwrap()).unwrap();
        assert_eq!((n.asn, n.name, n.country()), (64500, "Example, Inc.", "KZ"));
        let n = t.lookup("203.0.113.9".parse().unwrap()).unwrap();
        assert_eq!((n.asn, n.country()), (64501, "ZZ"));
        let n = t.lookup("::ffff:203.0.113.9".parse().unwrap()).unwrap();
        assert_eq!(n.asn, 64501, "IPv4-mapped addresses are IPv4");
        let n = t.lookup("2001:db8::5".parse().unwrap()).unwrap();
        assert_eq!((n.asn, n.country()), (64502, "KG"));
        assert_eq!(t.lookup("192.0.2.1".parse().unwrap()), None);
        assert_eq!(Table::from_gzip(&t.to_gzip().unwrap()).unwrap(), t);
    }

    #[test]
    fn bad_rows_name_their_line() {
        let asn = "198.51.100.0,198.51.100.255,64500,A\n198.51.100.x,198.51.100.255,1,B\n";
        let e = Table::from_csv(&mut [("asn.csv", &mut asn.as_bytes())], &mut []).unwrap_err();
        assert_eq!(e.to_string(), "asn.csv line 2: not an IP address");
        let cc = "198.51.100.0,198.51.100.255,kz\n";
        let e = Table::from_csv(&mut [], &mut [("cc.csv", &mut cc.as_bytes())]).unwrap_err();
        assert!(e.to_string().contains("line 1: the country"), "{e}");
    }

    #[test]
    fn unsorted_tables_are_refused() {
        let mut t = sample();
        t.v4.first.swap(0, 1);
        t.v4.last.swap(0, 1);
        assert!(Table::from_gzip(&t.to_gzip().unwrap()).is_err());
    }

    proptest! {
        #[test]
        fn any_bytes_are_refused_or_read_without_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = Table::from_gzip(&bytes);
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(MAGIC).unwrap();
            gz.write_all(&bytes).unwrap();
            let _ = Table::from_gzip(&gz.finish().unwrap());
        }

        #[test]
        fn lookups_agree_with_a_linear_search(
            ranges in proptest::collection::vec((any::<u32>(), 0u32..1000, 0u32..5), 0..40),
            probes in proptest::collection::vec(any::<u32>(), 0..40),
        ) {
            let mut rows: Vec<(u32, u32, u32)> =
                ranges.iter().map(|&(f, len, v)| (f, f.saturating_add(len), v)).collect();
            let r = Ranges::normalise(&mut rows.clone(), |k| k.checked_add(1));
            rows.sort_by_key(|r| r.0);
            // The reference keeps the same rows normalise keeps: first wins on overlap.
            let mut kept: Vec<(u32, u32, u32)> = Vec::new();
            for row in rows {
                if kept.last().is_none_or(|p| row.0 > p.1) {
                    kept.push(row);
                }
            }
            for p in probes.into_iter().chain(kept.iter().map(|k| k.1)) {
                let want = kept.iter().find(|k| k.0 <= p && p <= k.1).map(|k| k.2);
                prop_assert_eq!(r.find(p), want);
            }
        }
    }
}
