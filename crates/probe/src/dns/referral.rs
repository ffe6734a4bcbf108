//! Reading an authoritative server's reply for the delegation walk: answer, referral (NS and
//! glue, DS), or negative answer (and whose SOA). Pure, bounded, safe on any input.

use super::wire::Question;
use hickory_proto::op::{Message, MessageType};
use hickory_proto::rr::{Name, RData, RecordType};
use interfero_model::measurement::DnsAnswer;
use std::net::IpAddr;

/// Most records read from each section of one reply (a flood must not grow memory).
pub const MAX_RECORDS: usize = 32;

/// Builds a non-recursive query (RD clear: an authoritative server answers from its zone).
pub fn build_query(host: &str, qtype: RecordType) -> Result<Question, String> {
    super::wire::question(host, qtype, false)
}

/// An authoritative server's reply, as the walk reads it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuthReply {
    /// The rcode name (`NOERROR`, `NXDOMAIN` ...).
    pub rcode: String,
    /// The AA bit.
    pub authoritative: bool,
    /// The TC bit.
    pub truncated: bool,
    /// A, AAAA and CNAME records of the answer section (at most [`MAX_RECORDS`]).
    pub answers: Vec<DnsAnswer>,
    /// The zone the authority section's NS records are for, when they are all for one zone.
    pub ns_zone: Option<String>,
    /// Those name servers (lower case, final dot).
    pub ns: Vec<String>,
    /// Glue: addresses of those name servers found in the additional section.
    pub glue: Vec<(String, IpAddr)>,
    /// Whether DS records for `ns_zone` came along.
    pub ds: bool,
    /// The owner of an SOA in the authority section (the zone that answers negatively).
    pub soa_zone: Option<String>,
}

/// What a reply means for the walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Addresses (or a CNAME) for the name, authoritatively.
    Answer,
    /// Authoritative NOERROR without an answer.
    NoData,
    /// Authoritative NXDOMAIN.
    Nxdomain,
    /// A delegation to a zone strictly below `zone` and at or above the name.
    Referral,
    /// Anything else: SERVFAIL, REFUSED, an upward or sideways referral, a non-authoritative
    /// answer, truncation. The server does not serve the name.
    Unusable,
}

/// Lower-case text of a name with its final dot.
pub fn name_text(n: &Name) -> String {
    let mut s = n.to_ascii().to_ascii_lowercase();
    if !s.ends_with('.') {
        s.push('.');
    }
    s
}

/// Whether `child` is `parent` or below it (both with final dots, lower case).
pub fn is_at_or_below(child: &str, parent: &str) -> bool {
    parent == "." || child == parent || child.ends_with(&format!(".{parent}"))
}

/// Reads `bytes` as a reply to `q`; `None` when it is not one (other ID, not a response, or
/// another question); `Some(Err(()))` when it carries our ID but does not decode.
pub fn parse(bytes: &[u8], q: &Question) -> Option<Result<AuthReply, ()>> {
    let id = u16::from_be_bytes([*bytes.first()?, *bytes.get(1)?]);
    if id != q.id {
        return None;
    }
    let Ok(msg) = Message::from_vec(bytes) else {
        return Some(Err(()));
    };
    if msg.metadata.message_type != MessageType::Response {
        return None;
    }
    if let Some(first) = msg.queries.first() {
        if first.query_type != q.qtype || !first.name.eq_ignore_root(&q.name) {
            return None;
        }
    }
    let mut out = AuthReply {
        rcode: super::wire::rcode_name(msg.metadata.response_code),
        authoritative: msg.metadata.authoritative,
        truncated: msg.metadata.truncation,
        ..AuthReply::default()
    };
    out.answers = msg
        .answers
        .iter()
        .take(MAX_RECORDS)
        .filter_map(|r| super::wire::answer(&r.data, r.ttl))
        .collect();
    let mut zones: Vec<String> = Vec::new();
    for r in msg.authorities.iter().take(MAX_RECORDS) {
        let owner = name_text(&r.name);
        match &r.data {
            RData::NS(ns) => {
                if !zones.contains(&owner) {
                    zones.push(owner);
                }
                let n = name_text(&ns.0);
                if !out.ns.contains(&n) {
                    out.ns.push(n);
                }
            }
            RData::SOA(_) => out.soa_zone = Some(owner),
            _ if r.record_type() == RecordType::DS => out.ds = true,
            _ => {}
        }
    }
    // NS records for more than one zone are not a delegation anyone can follow.
    if zones.len() == 1 {
        out.ns_zone = zones.pop();
    } else {
        out.ns.clear();
    }
    for r in msg.additionals.iter().take(MAX_RECORDS) {
        let owner = name_text(&r.name);
        if !out.ns.contains(&owner) {
            continue;
        }
        let ip = match &r.data {
            RData::A(v4) => IpAddr::V4(v4.0),
            RData::AAAA(v6) => IpAddr::V6(v6.0),
            _ => continue,
        };
        out.glue.push((owner, ip));
    }
    Some(Ok(out))
}

impl AuthReply {
    /// What this reply from a server of `zone` means for a walk toward `target` (both lower
    /// case with final dots).
    pub fn kind(&self, zone: &str, target: &str) -> Kind {
        if self.truncated {
            return Kind::Unusable;
        }
        match self.rcode.as_str() {
            "NXDOMAIN" if self.authoritative => return Kind::Nxdomain,
            "NOERROR" => {}
            _ => return Kind::Unusable,
        }
        if self.authoritative && !self.answers.is_empty() {
            return Kind::Answer;
        }
        if let Some(z) = &self.ns_zone {
            // Only downward, toward the name: an upward or sideways referral is lame.
            let down = z != zone && is_at_or_below(z, zone) && is_at_or_below(target, z);
            if down && !self.ns.is_empty() {
                return Kind::Referral;
            }
        }
        if self.authoritative && self.answers.is_empty() {
            return Kind::NoData;
        }
        Kind::Unusable
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::Query;
    use hickory_proto::op::{OpCode, ResponseCode};
    use hickory_proto::rr::rdata::{A, NS, SOA};
    use hickory_proto::rr::Record;

    fn n(s: &str) -> Name {
        Name::from_ascii(s).unwrap()
    }

    fn referral(q: &Question, zone: &str, ns: &str, glue: Option<[u8; 4]>) -> Vec<u8> {
        let mut m = Message::response(q.id, OpCode::Query);
        m.add_query(Query::query(q.name.clone(), q.qtype));
        m.add_authority(Record::from_rdata(n(zone), 60, RData::NS(NS(n(ns)))));
        if let Some(g) = glue {
            m.add_additional(Record::from_rdata(
                n(ns),
                60,
                RData::A(A::from(std::net::Ipv4Addr::from(g))),
            ));
        }
        m.to_vec().unwrap()
    }

    #[test]
    fn reads_a_referral_with_glue() {
        let q = build_query("news.kz", RecordType::A).unwrap();
        let b = referral(&q, "news.kz.", "ns1.host.kz.", Some([127, 0, 0, 7]));
        let r = parse(&b, &q).unwrap().unwrap();
        assert_eq!(r.ns_zone.as_deref(), Some("news.kz."));
        assert_eq!(r.ns, vec!["ns1.host.kz."]);
        assert_eq!(r.glue, vec![("ns1.host.kz.".into(), [127, 0, 0, 7].into())]);
        assert_eq!(r.kind("kz.", "news.kz."), Kind::Referral);
        // The same referral from the name's own zone points sideways: lame.
        assert_eq!(r.kind("news.kz.", "news.kz."), Kind::Unusable);
        // A referral to a zone that does not contain the name is not followed.
        assert_eq!(r.kind("kz.", "other.kz."), Kind::Unusable);
    }

    #[test]
    fn reads_a_negative_answer_and_its_zone() {
        let q = build_query("gone.kz", RecordType::A).unwrap();
        let mut m = Message::response(q.id, OpCode::Query);
        m.metadata.response_code = ResponseCode::NXDomain;
        m.metadata.authoritative = true;
        m.add_query(Query::query(q.name.clone(), q.qtype));
        let soa = SOA::new(n("a.nic.kz."), n("h.nic.kz."), 1, 60, 60, 60, 60);
        m.add_authority(Record::from_rdata(n("kz."), 60, RData::SOA(soa)));
        let r = parse(&m.to_vec().unwrap(), &q).unwrap().unwrap();
        assert_eq!(r.soa_zone.as_deref(), Some("kz."));
        assert_eq!(r.kind("kz.", "gone.kz."), Kind::Nxdomain);
        // Without AA it is no authority's word.
        let mut m2 = m.clone();
        m2.metadata.authoritative = false;
        let r2 = parse(&m2.to_vec().unwrap(), &q).unwrap().unwrap();
        assert_eq!(r2.kind("kz.", "gone.kz."), Kind::Unusable);
    }

    #[test]
    fn ignores_other_ids_and_marks_garbage() {
        let q = build_query("news.kz", RecordType::A).unwrap();
        let mut other = q.clone();
        other.id = q.id.wrapping_add(1);
        assert_eq!(parse(&referral(&other, "kz.", "a.", None), &q), None);
        let mut g = q.id.to_be_bytes().to_vec();
        g.extend_from_slice(&[0x81, 0x80, 0, 1, 0, 9]);
        assert_eq!(parse(&g, &q), Some(Err(())));
        assert!(!build_query("news.kz", RecordType::A)
            .unwrap()
            .bytes
            .is_empty());
    }

    proptest::proptest! {
        #[test]
        fn never_panics_and_stays_bounded(
            mut bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..1500)
        ) {
            let q = build_query("news.kz", RecordType::A).unwrap();
            if bytes.len() >= 2 {
                bytes[0] = (q.id >> 8) as u8;
                bytes[1] = q.id as u8;
            }
            if let Some(Ok(r)) = parse(&bytes, &q) {
                proptest::prop_assert!(r.answers.len() <= MAX_RECORDS);
                proptest::prop_assert!(r.ns.len() <= MAX_RECORDS);
                proptest::prop_assert!(r.glue.len() <= MAX_RECORDS);
                let _ = r.kind(".", "news.kz.");
            }
        }

        #[test]
        fn a_referral_is_followed_only_downward(
            labels in proptest::collection::vec("[a-z]{1,6}", 1..5),
            cut in 0usize..5,
        ) {
            let target = format!("{}.", labels.join("."));
            let q = build_query(&target, RecordType::A).unwrap();
            // The zone asked and the zone referred to, both ancestors of the target.
            let k = cut.min(labels.len());
            let child = format!("{}.", labels[labels.len() - k..].join("."));
            let child = if k == 0 { ".".to_string() } else { child };
            let b = referral(&q, &child, "ns.example.", Some([127, 0, 0, 1]));
            let r = parse(&b, &q).unwrap().unwrap();
            let from_root = r.kind(".", &target);
            proptest::prop_assert_eq!(from_root == Kind::Referral, k > 0);
            // Never followed from the zone itself or from below it.
            proptest::prop_assert_ne!(r.kind(&child, &target), Kind::Referral);
        }
    }
}
