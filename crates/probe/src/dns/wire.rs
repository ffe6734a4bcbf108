//! DNS messages in and out: building a query and reading a reply into observations. Pure
//! functions, no I/O, safe on any input.
//!
//! The codec is hickory-proto's; only the exchange around it is ours, because a resolver
//! library (hickory-resolver, the system's stub) returns one answer and hides the rest, while
//! a forged answer racing the real one is exactly what this probe must see.

use hickory_proto::op::{Message, MessageType, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};
use interfero_model::measurement::DnsAnswer;
use interfero_model::Failure;

/// Most answer records kept from one reply (a flood must not grow memory).
const MAX_ANSWERS: usize = 64;

/// A query ready to send, with what a reply must match.
#[derive(Debug, Clone)]
pub struct Question {
    /// The message ID.
    pub id: u16,
    /// The fully qualified name asked for.
    pub name: Name,
    /// A or AAAA.
    pub qtype: RecordType,
    /// The encoded query.
    pub bytes: Vec<u8>,
}

/// Builds a recursive query for `host` of type `qtype` with a random ID.
pub fn build_query(host: &str, qtype: RecordType) -> Result<Question, String> {
    question(host, qtype, true)
}

/// A query for `host` of type `qtype` with a random ID; `recursion_desired` clear for an
/// authoritative server (the delegation walk).
pub(super) fn question(
    host: &str,
    qtype: RecordType,
    recursion_desired: bool,
) -> Result<Question, String> {
    let mut name = Name::from_utf8(host).map_err(|e| e.to_string())?;
    name.set_fqdn(true);
    let mut msg = Message::query();
    msg.metadata.recursion_desired = recursion_desired;
    msg.add_query(Query::query(name.clone(), qtype));
    let bytes = msg.to_vec().map_err(|e| e.to_string())?;
    Ok(Question {
        id: msg.metadata.id,
        name,
        qtype,
        bytes,
    })
}

/// A reply to our query, as observed.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// A well-formed reply.
    Decoded {
        /// The rcode name (`NOERROR`, `NXDOMAIN` ...).
        rcode: String,
        /// Its A, AAAA and CNAME records.
        answers: Vec<DnsAnswer>,
        /// Whether the TC bit was set.
        truncated: bool,
        /// The failure it means, if any.
        failure: Option<Failure>,
    },
    /// Bytes carrying our ID that do not decode as DNS.
    Undecodable,
}

/// Reads `bytes` as a reply to `q`; `None` when it is not a reply to `q` (other ID or question).
pub fn parse_reply(bytes: &[u8], q: &Question) -> Option<Reply> {
    // The ID is the first two bytes: check it before decoding so that garbage carrying our ID
    // is evidence (a misbehaving or injected reply) while unrelated packets are ignored.
    let id = u16::from_be_bytes([*bytes.first()?, *bytes.get(1)?]);
    if id != q.id {
        return None;
    }
    let Ok(msg) = Message::from_vec(bytes) else {
        return Some(Reply::Undecodable);
    };
    if msg.metadata.message_type != MessageType::Response {
        return None;
    }
    // Replies to errors sometimes omit the question; a present question must be ours.
    if let Some(first) = msg.queries.first() {
        if first.query_type != q.qtype || !first.name.eq_ignore_root(&q.name) {
            return None;
        }
    }
    let rcode = msg.metadata.response_code;
    let answers: Vec<DnsAnswer> = msg
        .answers
        .iter()
        .filter_map(|r| answer(&r.data, r.ttl))
        .take(MAX_ANSWERS)
        .collect();
    let truncated = msg.metadata.truncation;
    let wanted = if q.qtype == RecordType::AAAA {
        "AAAA"
    } else {
        "A"
    };
    let failure = match rcode {
        ResponseCode::NoError => {
            if truncated || answers.iter().any(|a| a.answer_type == wanted) {
                None
            } else {
                Some(Failure::DnsNoAnswer)
            }
        }
        ResponseCode::NXDomain => Some(Failure::DnsNxdomain),
        ResponseCode::ServFail => Some(Failure::DnsServfail),
        ResponseCode::Refused => Some(Failure::DnsRefused),
        _ => Some(Failure::DnsMisbehaving),
    };
    Some(Reply::Decoded {
        rcode: rcode_name(rcode),
        answers,
        truncated,
        failure,
    })
}

/// The record as an observation, for A, AAAA and CNAME.
pub(super) fn answer(data: &RData, ttl: u32) -> Option<DnsAnswer> {
    let mut a = DnsAnswer {
        ttl: Some(ttl),
        ..DnsAnswer::default()
    };
    match data {
        RData::A(v4) => {
            a.answer_type = "A".into();
            a.ipv4 = Some(v4.0.to_string());
        }
        RData::AAAA(v6) => {
            a.answer_type = "AAAA".into();
            a.ipv6 = Some(v6.0.to_string());
        }
        RData::CNAME(c) => {
            a.answer_type = "CNAME".into();
            a.hostname = Some(c.0.to_ascii());
        }
        _ => return None,
    }
    Some(a)
}

/// The conventional upper-case name of an rcode.
pub fn rcode_name(rc: ResponseCode) -> String {
    match rc {
        ResponseCode::NoError => "NOERROR".into(),
        ResponseCode::FormErr => "FORMERR".into(),
        ResponseCode::ServFail => "SERVFAIL".into(),
        ResponseCode::NXDomain => "NXDOMAIN".into(),
        ResponseCode::NotImp => "NOTIMP".into(),
        ResponseCode::Refused => "REFUSED".into(),
        other => format!("RCODE{}", u16::from(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::rr::rdata::{A, CNAME};
    use hickory_proto::rr::Record;

    fn reply(q: &Question, rc: ResponseCode, recs: Vec<Record>) -> Vec<u8> {
        let mut m = Message::response(q.id, hickory_proto::op::OpCode::Query);
        m.metadata.response_code = rc;
        m.add_query(Query::query(q.name.clone(), q.qtype));
        m.add_answers(recs);
        m.to_vec().unwrap()
    }

    #[test]
    fn reads_answers_and_cnames() {
        let q = build_query("example.org", RecordType::A).unwrap();
        let cname = Name::from_ascii("cdn.example.net.").unwrap();
        let recs = vec![
            Record::from_rdata(q.name.clone(), 60, RData::CNAME(CNAME(cname.clone()))),
            Record::from_rdata(cname, 30, RData::A(A::new(10, 0, 0, 1))),
        ];
        let Some(Reply::Decoded {
            rcode,
            answers,
            failure,
            ..
        }) = parse_reply(&reply(&q, ResponseCode::NoError, recs), &q)
        else {
            panic!("not decoded");
        };
        assert_eq!(rcode, "NOERROR");
        assert_eq!(failure, None);
        assert_eq!(answers[0].hostname.as_deref(), Some("cdn.example.net."));
        assert_eq!(answers[1].ipv4.as_deref(), Some("10.0.0.1"));
    }

    #[test]
    fn ignores_other_ids_and_questions() {
        let q = build_query("example.org", RecordType::A).unwrap();
        let mut other = q.clone();
        other.id = q.id.wrapping_add(1);
        assert_eq!(
            parse_reply(&reply(&other, ResponseCode::NoError, vec![]), &q),
            None
        );
        let wrong = build_query("other.org", RecordType::A).unwrap();
        let mut wrong_q = wrong.clone();
        wrong_q.id = q.id;
        assert_eq!(
            parse_reply(&reply(&wrong_q, ResponseCode::NoError, vec![]), &q),
            None
        );
        assert_eq!(parse_reply(&[], &q), None);
    }

    #[test]
    fn garbage_with_our_id_is_undecodable() {
        let q = build_query("example.org", RecordType::AAAA).unwrap();
        let mut b = q.id.to_be_bytes().to_vec();
        b.extend_from_slice(&[0x81, 0x80, 0, 1, 0, 9]);
        assert_eq!(parse_reply(&b, &q), Some(Reply::Undecodable));
    }

    proptest::proptest! {
        #[test]
        fn never_panics(mut bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..600)) {
            let q = build_query("example.org", RecordType::A).unwrap();
            let _ = parse_reply(&bytes, &q);
            if bytes.len() >= 2 {
                bytes[0] = (q.id >> 8) as u8;
                bytes[1] = q.id as u8;
            }
            let _ = parse_reply(&bytes, &q);
        }
    }
}
