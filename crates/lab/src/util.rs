//! Small helpers: randomness without a dependency, and the censor's three ways to end a socket.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::net::TcpStream;

/// How long a held ("stalled") socket is kept at most: longer than any probe timeout, short
/// enough that a forgotten client does not pin the task forever.
pub(crate) const HOLD_MAX: Duration = Duration::from_secs(120);

/// A random u64 (not cryptographic; for addresses, tokens and lengths).
pub(crate) fn random_u64() -> u64 {
    let mut h = RandomState::new().build_hasher();
    h.write_u64(0x9e37_79b9_7f4a_7c15);
    h.finish()
}

/// A random number in `lo..=hi`.
pub(crate) fn random_in(lo: u64, hi: u64) -> u64 {
    lo + random_u64() % (hi.saturating_sub(lo).saturating_add(1)).max(1)
}

/// Reads and discards until the client goes away or `HOLD_MAX` passes; never answers.
pub(crate) async fn hold<S: AsyncRead + Unpin>(mut s: S) {
    let mut buf = [0u8; 1024];
    let _ = tokio::time::timeout(HOLD_MAX, async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    })
    .await;
}

/// Arms an abortive close: when the socket is dropped, the kernel sends RST instead of FIN.
pub(crate) fn arm_reset(tcp: &TcpStream) {
    let _ = socket2::SockRef::from(tcp).set_linger(Some(Duration::ZERO));
}
