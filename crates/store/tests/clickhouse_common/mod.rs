//! What the ClickHouse tests share: a private server, the one-line skip when none can be
//! started, and a statement sent over plain HTTP.
#![allow(dead_code)] // each test file uses what it needs

use interfero_store::clickhouse::{server_binary, LocalServer};
use std::io::{Read, Write};

/// True (after saying so in one line) when `clickhouse-server` is not installed.
pub fn skip() -> bool {
    if server_binary().is_some() {
        return false;
    }
    eprintln!("skipped: clickhouse-server is not installed (apt-get install clickhouse-server)");
    true
}

/// A private server in its own directory on loopback ports (kept while the directory is), or
/// `None` after [`skip`] said why not.
pub fn local() -> Option<(tempfile::TempDir, LocalServer)> {
    if skip() {
        return None;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let server = LocalServer::start(dir.path(), None).expect("start clickhouse-server");
    Some((dir, server))
}

/// One SQL statement over plain HTTP to the server on `port`; its answer's body, trimmed,
/// which must come with a 200.
pub fn sql(port: u16, query: &str) -> String {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let req = format!(
        "POST / HTTP/1.0\r\nContent-Length: {}\r\n\r\n{query}",
        query.len()
    );
    s.write_all(req.as_bytes()).expect("send");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    let (head, body) = out.split_once("\r\n\r\n").expect("a response");
    assert!(
        head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200"),
        "{out}"
    );
    body.trim().to_string()
}
