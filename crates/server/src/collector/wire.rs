//! OONI's probe-services wire format (bk-003 as OONI's backend serves it): report ids, the
//! metadata a report fixes, and bodies compressed with zstd or gzip.
//!
//! A `report_id` has OONI's shape, `YYYYMMDDThhmmssZ_<test name without '_'>_<CC>_<ASN>_n1_<16
//! chars>`, and its last part is 6 random bytes and 6 bytes of an HMAC-SHA256, under the
//! collector's key, of everything before them (each 8 base64 characters): the collector recognises the reports it opened
//! without keeping a table of them (nothing to write when a report opens, nothing lost when
//! it restarts with the same key), and an id it never issued is refused.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::io::Read;

type HmacSha256 = Hmac<Sha256>;

/// The metadata a report fixes for every measurement submitted to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportMeta {
    /// The test name without underscores (`webconnectivity`), as in the id.
    pub test: String,
    /// The country code (`KZ`, `ZZ` when unknown).
    pub cc: String,
    /// The network (`AS9198`, `AS0` when unknown).
    pub asn: String,
}

/// `web_connectivity` → `webconnectivity` (how the id spells test names).
pub fn squash(test_name: &str) -> String {
    test_name.chars().filter(|c| *c != '_').collect()
}

/// OONI's rules for a test name: lowercase ASCII letters, digits and `_`, 2 to 30 long.
pub fn valid_test_name(t: &str) -> bool {
    (2..=30).contains(&t.len())
        && t.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// A country code as OONI's open call normalises it: two uppercase letters, else `ZZ`.
pub fn normal_cc(cc: &str) -> String {
    if cc.len() == 2 && cc.bytes().all(|b| b.is_ascii_uppercase()) {
        cc.to_string()
    } else {
        "ZZ".into()
    }
}

/// A network as OONI's open call normalises it: `AS` and digits (a number below 2^32), else
/// `AS0`.
pub fn normal_asn(asn: &str) -> String {
    match asn.strip_prefix("AS").map(str::parse::<u32>) {
        Some(Ok(n)) => format!("AS{n}"),
        _ => "AS0".into(),
    }
}

/// Issues and checks report ids under one key.
#[derive(Clone)]
pub struct ReportIds {
    key: [u8; 32],
}

impl std::fmt::Debug for ReportIds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReportIds(<key>)")
    }
}

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD_NO_PAD;

impl ReportIds {
    /// Ids signed with `key` (keep it across restarts so that open reports stay open).
    pub fn new(key: [u8; 32]) -> ReportIds {
        ReportIds { key }
    }

    /// The 8 characters that sign `prefix` and `nonce` (6 bytes of HMAC-SHA256, folded).
    fn mac(&self, prefix: &str, nonce: &str) -> String {
        // `new_from_slice` fails only for key lengths HMAC cannot take; 32 bytes always works.
        let mut out = [0u8; 6];
        if let Ok(mut m) = HmacSha256::new_from_slice(&self.key) {
            m.update(prefix.as_bytes());
            m.update(b"_");
            m.update(nonce.as_bytes());
            out.copy_from_slice(&m.finalize().into_bytes()[..6]);
        }
        fold(&out)
    }

    /// A new id for a report of `meta` opened at `now` (`YYYYMMDDThhmmssZ`), with `nonce`
    /// random bytes.
    pub fn issue(&self, now: &str, meta: &ReportMeta, nonce: [u8; 6]) -> String {
        let prefix = format!("{now}_{}_{}_{}_n1", meta.test, meta.cc, meta.asn);
        let nonce = fold(&nonce);
        let mac = self.mac(&prefix, &nonce);
        format!("{prefix}_{nonce}{mac}")
    }

    /// The metadata of a report this collector opened, or `None` for anything else.
    pub fn check(&self, id: &str) -> Option<ReportMeta> {
        if id.len() > 120 || !id.is_ascii() {
            return None;
        }
        let parts: Vec<&str> = id.split('_').collect();
        let [time, test, cc, asn, coll, tail] = parts.as_slice() else {
            return None;
        };
        if time.len() != 16 || *coll != "n1" || tail.len() != 16 {
            return None;
        }
        let prefix = &id[..id.len() - tail.len() - 1];
        let (nonce, mac) = tail.split_at(8);
        subtle_eq(self.mac(prefix, nonce).as_bytes(), mac.as_bytes()).then(|| ReportMeta {
            test: (*test).to_string(),
            cc: (*cc).to_string(),
            asn: (*asn).to_string(),
        })
    }
}

/// 6 bytes as 8 base64 characters, with '+' and '/' replaced by 'o' as OONI does (so the id
/// stays one URL path segment).
fn fold(bytes: &[u8; 6]) -> String {
    B64.encode(bytes).replace(['+', '/'], "o")
}

/// Constant-time equality of two byte strings of public length.
fn subtle_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// Why a body could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// More than the cap once decompressed.
    TooLarge,
    /// Not valid data of its encoding.
    Corrupt(String),
    /// An encoding not accepted.
    Unsupported(String),
}

/// The body as the submitter meant it: `Content-Encoding` zstd or gzip undone, with at most
/// `cap` bytes produced (a small body that inflates to gigabytes is refused, not expanded).
pub fn decode(encoding: Option<&str>, body: &[u8], cap: usize) -> Result<Vec<u8>, DecodeError> {
    let enc = encoding.map(|e| e.trim().to_ascii_lowercase());
    let reader: Box<dyn Read + '_> = match enc.as_deref() {
        None | Some("") | Some("identity") => {
            if body.len() > cap {
                return Err(DecodeError::TooLarge);
            }
            return Ok(body.to_vec());
        }
        Some("zstd") => Box::new(
            zstd::stream::read::Decoder::new(body)
                .map_err(|e| DecodeError::Corrupt(e.to_string()))?,
        ),
        Some("gzip") | Some("x-gzip") => Box::new(flate2::read::GzDecoder::new(body)),
        Some(other) => return Err(DecodeError::Unsupported(other.to_string())),
    };
    let mut out = Vec::new();
    reader
        .take(cap as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| DecodeError::Corrupt(e.to_string()))?;
    if out.len() > cap {
        return Err(DecodeError::TooLarge);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> ReportMeta {
        ReportMeta {
            test: "webconnectivity".into(),
            cc: "KZ".into(),
            asn: "AS9198".into(),
        }
    }

    #[test]
    fn ids_have_oonis_shape_and_only_ours_pass() {
        let ids = ReportIds::new([7; 32]);
        for n in 0..200u8 {
            let id = ids.issue("20261202T101010Z", &meta(), [n, n ^ 0x5a, 3, n, 0xff, 0xfb]);
            assert_eq!(id.split('_').count(), 6, "{id}");
            assert!(id.starts_with("20261202T101010Z_webconnectivity_KZ_AS9198_n1_"));
            assert!(!id.contains('+') && !id.contains('/'), "{id}");
            assert_eq!(ids.check(&id), Some(meta()), "{id}");
            assert_eq!(ReportIds::new([8; 32]).check(&id), None, "another key");
            let forged = id.replace("_KZ_", "_RU_");
            assert_eq!(ids.check(&forged), None, "other metadata");
        }
        assert_eq!(ids.check("x"), None);
        assert_eq!(
            ids.check("20261202T101010Z_webconnectivity_KZ_AS9198_n1_AAAAAAAAAAAAAAAA"),
            None
        );
    }

    #[test]
    fn zstd_and_gzip_are_undone_within_the_cap() {
        use std::io::Write;
        let data = vec![b'a'; 100_000];
        let z = zstd::stream::encode_all(&data[..], 3).unwrap();
        assert_eq!(decode(Some("zstd"), &z, 200_000).unwrap(), data);
        assert_eq!(decode(Some("zstd"), &z, 1000), Err(DecodeError::TooLarge));
        let mut g = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        g.write_all(&data).unwrap();
        let g = g.finish().unwrap();
        assert_eq!(decode(Some("gzip"), &g, 200_000).unwrap(), data);
        assert_eq!(decode(Some("gzip"), &g, 99_999), Err(DecodeError::TooLarge));
        assert!(matches!(
            decode(Some("zstd"), b"not zstd", 10),
            Err(DecodeError::Corrupt(_))
        ));
        assert!(matches!(
            decode(Some("br"), b"x", 10),
            Err(DecodeError::Unsupported(_))
        ));
    }

    #[test]
    fn normalising_follows_ooni() {
        assert_eq!(normal_cc("kz"), "ZZ");
        assert_eq!(normal_cc("KZ"), "KZ");
        assert_eq!(normal_asn("AS9198"), "AS9198");
        assert_eq!(normal_asn("9198"), "AS0");
        assert!(valid_test_name("web_connectivity"));
        assert!(!valid_test_name("Web"));
    }
}
