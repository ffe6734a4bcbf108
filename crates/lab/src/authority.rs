//! The lab's own DNS hierarchy, served by authoritative servers (UDP, port 5353) beside the
//! resolvers, so that a probe can walk a delegation without leaving the lab:
//!
//! - `.5` the root: delegates `test.` to `a.nic.test.` (glue `.6`), NXDOMAIN for the rest;
//! - `.6` the registry's `test.` zone: delegates each registered domain (the last two labels
//!   of a site's name) to `ns1.hosting.test.` (glue `.7`), a lame one to
//!   `ns1.gone-hosting.test.` (glue `.8`, where nothing listens), and answers NXDOMAIN for
//!   a removed one or a name it never delegated;
//! - `.7` the publisher's server: the sites' addresses (the probe-side one), NXDOMAIN for a
//!   name of a delegated domain that has no record (`dns = "absent"`).
//!
//! Every server answers everyone alike: the censor acts at the resolver, not here. Queries
//! are hostile input: every parse is checked.

use crate::scenario::SiteDelegation;
use crate::world::Shared;
use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, NS, SOA};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::Arc;
use tokio::net::UdpSocket;

/// The registry's top-level zone of the lab.
pub(crate) const TLD: &str = "test";
/// Which server of the hierarchy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Level {
    /// The root zone.
    Root,
    /// The `test.` zone.
    Tld,
    /// The publisher's zones (every delegated domain).
    Publisher,
}

/// Last octets of the servers in the world's block.
pub(crate) const ROOT_HOST: u8 = 5;
pub(crate) const TLD_HOST: u8 = 6;
pub(crate) const PUBLISHER_HOST: u8 = 7;
/// Where a lame delegation points: an address of the block where nothing listens.
pub(crate) const LAME_HOST: u8 = 8;
const TTL: u32 = 300;

/// The registered domain of a lab name: its last two labels (`news.test` for `a.news.test`).
pub(crate) fn registered(name: &str) -> Option<String> {
    let labels: Vec<&str> = name.trim_end_matches('.').split('.').collect();
    (labels.len() >= 2).then(|| labels[labels.len() - 2..].join("."))
}

fn name(s: &str) -> Option<Name> {
    Name::from_ascii(format!("{}.", s.trim_end_matches('.'))).ok()
}

fn soa(zone: &str) -> Option<Record> {
    let z = name(zone).unwrap_or_else(Name::root);
    let mname = name(&format!("a.nic.{TLD}"))?;
    let rname = name(&format!("hostmaster.nic.{TLD}"))?;
    let data = SOA::new(mname, rname, 1, 3600, 600, 86400, 60);
    Some(Record::from_rdata(z, TTL, RData::SOA(data)))
}

fn response(q: &Message, rcode: ResponseCode, aa: bool) -> Message {
    let mut m = Message::response(q.metadata.id, OpCode::Query);
    m.metadata.response_code = rcode;
    m.metadata.authoritative = aa;
    if let Some(question) = q.queries.first() {
        m.add_query(question.clone());
    }
    m
}

fn referral(q: &Message, zone: &str, ns: &str, glue: Ipv4Addr) -> Option<Message> {
    let mut m = response(q, ResponseCode::NoError, false);
    let ns_name = name(ns)?;
    m.add_authority(Record::from_rdata(
        name(zone)?,
        TTL,
        RData::NS(NS(ns_name.clone())),
    ));
    m.add_additional(Record::from_rdata(ns_name, TTL, RData::A(A(glue))));
    Some(m)
}

fn negative(q: &Message, rcode: ResponseCode, zone: &str) -> Message {
    let mut m = response(q, rcode, true);
    if let Some(r) = soa(zone) {
        m.add_authority(r);
    }
    m
}

/// The reply of the server at `level` to `query` (none: not a query we answer).
pub(crate) fn answer(sh: &Shared, level: Level, query: &[u8]) -> Option<Vec<u8>> {
    let q = Message::from_vec(query).ok()?;
    if q.metadata.message_type != MessageType::Query {
        return None;
    }
    let Some(question) = q.queries.first() else {
        return response(&q, ResponseCode::FormErr, false).to_vec().ok();
    };
    let qname = question
        .name()
        .to_ascii()
        .trim_end_matches('.')
        .to_ascii_lowercase();
    let in_tld = qname == TLD || qname.ends_with(&format!(".{TLD}"));
    let m = match level {
        Level::Root if qname.is_empty() => negative(&q, ResponseCode::NoError, "."),
        Level::Root if in_tld => referral(&q, TLD, &format!("a.nic.{TLD}"), sh.block_ip(TLD_HOST))?,
        Level::Root => negative(&q, ResponseCode::NXDomain, "."),
        Level::Tld if !in_tld => response(&q, ResponseCode::Refused, false),
        Level::Tld if qname == TLD => negative(&q, ResponseCode::NoError, TLD),
        Level::Tld => {
            let domain = registered(&qname)?;
            match sh.registry.get(&domain) {
                Some(SiteDelegation::Normal) => referral(
                    &q,
                    &domain,
                    &format!("ns1.hosting.{TLD}"),
                    sh.block_ip(PUBLISHER_HOST),
                )?,
                Some(SiteDelegation::Lame) => referral(
                    &q,
                    &domain,
                    &format!("ns1.gone-hosting.{TLD}"),
                    sh.block_ip(LAME_HOST),
                )?,
                Some(SiteDelegation::Removed) | None => negative(&q, ResponseCode::NXDomain, TLD),
            }
        }
        Level::Publisher => {
            let domain = registered(&qname).unwrap_or_default();
            if sh.registry.get(&domain) != Some(&SiteDelegation::Normal) {
                response(&q, ResponseCode::Refused, false)
            } else {
                match sh.zone.get(&qname) {
                    None => negative(&q, ResponseCode::NXDomain, &domain),
                    Some(e) if question.query_type() == RecordType::A => {
                        let mut m = response(&q, ResponseCode::NoError, true);
                        for ip in &e.probe {
                            m.add_answer(Record::from_rdata(
                                question.name().clone(),
                                TTL,
                                RData::A(A(*ip)),
                            ));
                        }
                        m
                    }
                    Some(_) => negative(&q, ResponseCode::NoError, &domain),
                }
            }
        }
    };
    m.to_vec().ok()
}

/// Registered domain → delegation, for every site (whatever its `dns`) and the blockpage.
pub(crate) fn registry(s: &crate::scenario::Scenario) -> HashMap<String, SiteDelegation> {
    let mut r = HashMap::new();
    if let Some(d) = registered(crate::pki::BLOCKPAGE_NAME) {
        r.insert(d, SiteDelegation::Normal);
    }
    for site in &s.sites {
        if let Some(d) = registered(&site.name.to_ascii_lowercase()) {
            let e = r.entry(d).or_insert(SiteDelegation::Normal);
            if site.delegation != SiteDelegation::Normal {
                *e = site.delegation;
            }
        }
    }
    r
}

/// Serves one authoritative server over UDP until the world stops.
pub(crate) async fn serve(sh: Arc<Shared>, sock: UdpSocket, level: Level) {
    let sock = Arc::new(sock);
    let mut buf = vec![0u8; 4096];
    loop {
        let Ok((n, peer)) = sock.recv_from(&mut buf).await else {
            continue;
        };
        let Some(bytes) = answer(&sh, level, buf.get(..n).unwrap_or_default()) else {
            continue;
        };
        let delay = sh.rtt();
        if delay.is_zero() {
            let _ = sock.send_to(&bytes, peer).await;
        } else {
            let sock = sock.clone();
            sh.tasks.spawn(async move {
                tokio::time::sleep(delay).await;
                let _ = sock.send_to(&bytes, peer).await;
            });
        }
    }
}
