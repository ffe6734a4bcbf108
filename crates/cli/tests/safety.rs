//! The shipped binary, run as the README says: a control exposed to the internet cannot be
//! made to reach this machine's private space, and the userspace lab never sends a packet off
//! the machine (it runs inside a network namespace that has nothing but loopback, so any
//! escape fails loudly).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap in a test is a failed test

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_interfero");

/// A plain HTTP site on 127.0.0.1 that counts its connections.
fn counting_site() -> (SocketAddr, Arc<AtomicUsize>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            h.fetch_add(1, Ordering::SeqCst);
            let mut s = s;
            let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
            let mut buf = [0u8; 2048];
            let _ = s.read(&mut buf);
            let _ = s.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Length: 27\r\nConnection: close\r\n\r\n<title>internal</title>\r\n\r\n",
            );
        }
    });
    (addr, hits)
}

/// Kills the control when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `interfero control` on an ephemeral loopback port; its address.
fn control(extra: &[&str]) -> (Running, SocketAddr) {
    let mut child = Command::new(BIN)
        .args([
            "control",
            "--listen",
            "127.0.0.1:0",
            "--resolver",
            "127.0.0.1:9",
        ])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let running = Running(child);
    let mut lines = BufReader::new(stderr);
    let mut first = String::new();
    lines.read_line(&mut first).unwrap();
    // Keep draining what it prints, so that it never writes into a closed pipe.
    std::thread::spawn(move || std::io::copy(&mut lines, &mut std::io::sink()));
    let addr = first
        .split("://")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no address in {first:?}"));
    (running, addr)
}

fn post(addr: SocketAddr, body: &str) -> (u16, serde_json::Value) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "POST / HTTP/1.1\r\nHost: c\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut raw = String::new();
    let _ = s.read_to_string(&mut raw);
    let status = raw
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let json = raw
        .split_once("\r\n\r\n")
        .and_then(|(_, b)| serde_json::from_str(b).ok())
        .unwrap_or_default();
    (status, json)
}

#[test]
fn a_control_started_as_the_readme_says_refuses_loopback() {
    let (site, hits) = counting_site();
    let (_control, addr) = control(&[]);
    let port = site.port();
    for (url, connect) in [
        (format!("http://127.0.0.1:{port}/"), vec![]),
        (format!("http://[::ffff:127.0.0.1]:{port}/"), vec![]),
        (
            "http://name-that-does-not-resolve.example/".to_string(),
            vec![format!("127.0.0.1:{port}")],
        ),
    ] {
        let body = serde_json::json!({
            "http_request": url, "tcp_connect": connect, "x_throughput": true
        })
        .to_string();
        let (status, answer) = post(addr, &body);
        assert_eq!(status, 200, "{url}: {answer}");
        let refused = answer["http_request"]["failure"] == "x_destination_refused"
            || answer["tcp_connect"]
                .as_object()
                .is_some_and(|m| m.values().all(|t| t["failure"] == "x_destination_refused"));
        assert!(refused, "{url}: {answer}");
    }
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "the site was never contacted"
    );
}

#[test]
fn allow_private_is_the_labs_opt_in() {
    let (site, hits) = counting_site();
    let (_control, addr) = control(&["--allow-private"]);
    let body = serde_json::json!({
        "http_request": format!("http://127.0.0.1:{}/", site.port()),
    })
    .to_string();
    let (status, answer) = post(addr, &body);
    assert_eq!(status, 200);
    assert_eq!(answer["http_request"]["status_code"], 200, "{answer}");
    assert!(hits.load(Ordering::SeqCst) >= 1);
}

/// `skipped: REASON` on the terminal itself: the harness captures `eprintln!` and shows it only
/// for a failure, and a root-only test must not pass silently.
fn skipped(reason: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr().lock(), "skipped: isolated lab: {reason}");
}

/// A network namespace whose only way out is a tripwire: a default route into a veth pair
/// that ends inside the same namespace. Nothing can leave it, and every packet meant for
/// anywhere but loopback is counted on the tripwire. Deleted when dropped (also on failure).
struct Isolated(String);

impl Isolated {
    fn new(tag: &str) -> Option<Isolated> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            skipped("the isolated-lab test needs root (network namespaces)");
            return None;
        }
        let name = format!("ifr-{}-{tag}", std::process::id());
        if !ip(&["netns", "add", &name]) {
            skipped("`ip netns add` is not available here");
            return None;
        }
        let ns = Isolated(name);
        let n = ns.0.as_str();
        let ok = ip(&[
            "-n", n, "link", "add", "trip0", "type", "veth", "peer", "name", "trip1",
        ]) && ns.exec(&["sysctl", "-qw", "net.ipv6.conf.trip0.disable_ipv6=1"])
            && ns.exec(&["sysctl", "-qw", "net.ipv6.conf.trip1.disable_ipv6=1"])
            && ip(&["-n", n, "link", "set", "lo", "up"])
            && ip(&["-n", n, "link", "set", "trip0", "up"])
            && ip(&["-n", n, "link", "set", "trip1", "up"])
            && ip(&["-n", n, "addr", "add", "198.19.254.1/24", "dev", "trip0"])
            && ip(&["-n", n, "route", "add", "default", "dev", "trip0"]);
        assert!(ok, "could not set up {n}");
        assert_eq!(ns.escaped(), 0);
        Some(ns)
    }

    fn exec(&self, cmd: &[&str]) -> bool {
        Command::new("ip")
            .args(["netns", "exec", &self.0])
            .args(cmd)
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Packets that tried to leave loopback.
    fn escaped(&self) -> u64 {
        let out = Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.0,
                "cat",
                "/sys/class/net/trip0/statistics/tx_packets",
            ])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
    }
}

impl Drop for Isolated {
    fn drop(&mut self) {
        ip(&["netns", "del", &self.0]);
    }
}

fn ip(args: &[&str]) -> bool {
    Command::new("ip")
        .args(args)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn the_userspace_lab_never_sends_a_packet_off_loopback() {
    let Some(ns) = Isolated::new("eval") else {
        return;
    };
    let out = Command::new("ip")
        .args([
            "netns",
            "exec",
            &ns.0,
            BIN,
            "lab",
            "eval",
            "--scenario",
            "suite",
            "--json",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let scored = report["scored"].as_u64().unwrap();
    assert!(scored > 30, "{report}");
    assert_eq!(
        report["correct"].as_u64(),
        Some(scored),
        "misses: {}",
        report["misses"]
    );
    assert_eq!(ns.escaped(), 0, "a packet tried to leave the lab");
}

#[test]
fn the_command_lab_up_prints_keeps_a_probe_in_the_lab() {
    let Some(ns) = Isolated::new("up") else {
        return;
    };
    let mut up = Command::new("ip")
        .args(["netns", "exec", &ns.0, BIN, "lab", "up", "suite"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = up.id();
    let mut lines = BufReader::new(up.stdout.take().unwrap()).lines();
    let (mut command, mut targets, mut in_targets) = (None, Vec::new(), false);
    for line in lines.by_ref() {
        let line = line.unwrap();
        let t = line.trim();
        if t.starts_with("interfero run") {
            command = Some(t.to_string());
        } else if t == "targets:" {
            in_targets = true;
        } else if in_targets && t.starts_with("http") {
            targets.push(t.to_string());
        } else if t.starts_with("Ctrl-C") {
            break;
        }
    }
    let command = command.expect("lab up printed no command");
    assert!(command.contains("--lab-only"), "{command}");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.jsonl");
    let mut args: Vec<String> = command
        .split_whitespace()
        .skip(1)
        .map(String::from)
        .collect();
    // The printed command names one target; measure every one, the bogon answer included.
    args.pop();
    args.extend(targets);
    args.extend(["--no-db", "--quiet", "--out"].map(String::from));
    args.push(out.display().to_string());
    let run = Command::new("ip")
        .args(["netns", "exec", &ns.0, BIN])
        .args(&args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    // SAFETY: kill sends a signal to the child we started; Ctrl-C stops the world cleanly.
    unsafe { libc::kill(pid as i32, libc::SIGINT) };
    let _ = up.wait();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let measured = std::fs::read_to_string(&out).unwrap().lines().count();
    assert!(measured > 30, "{measured} measurements");
    assert_eq!(ns.escaped(), 0, "the probe sent a packet out of the lab");
}
