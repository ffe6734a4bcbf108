//! The lab's channel from the probe to the control, cut while a shutdown is in force. A real
//! shutdown cuts every path abroad, the control's included; a lab that left it up would score
//! a reachability rule that reads the control's silence against a kinder network than any real
//! one.

use interfero_lab::ShutdownSwitch;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Longest a connection opened during a cut is held (the probe gives up long before).
const HOLD_MAX: Duration = Duration::from_secs(120);
/// Bytes relayed per read.
const CHUNK: usize = 16 * 1024;

/// Relays connections from `listener` to `upstream` while no shutdown is in force; during one,
/// new connections are held unanswered and data on open ones is dropped, never forwarded, as
/// a cut path drops packets. Ends (aborting every connection) when `stop` completes.
pub async fn relay(
    listener: TcpListener,
    upstream: SocketAddr,
    cut: ShutdownSwitch,
    stop: impl Future<Output = ()>,
) {
    tokio::pin!(stop);
    let mut conns = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            () = &mut stop => break,
            accepted = listener.accept() => {
                let Ok((client, _)) = accepted else { continue };
                conns.spawn(one(client, upstream, cut.clone()));
                while conns.try_join_next().is_some() {}
            }
        }
    }
}

async fn one(client: TcpStream, upstream: SocketAddr, cut: ShutdownSwitch) {
    if cut.in_force() {
        let _ = tokio::time::timeout(HOLD_MAX, drain(client)).await;
        return;
    }
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    let (cr, cw) = client.into_split();
    let (sr, sw) = server.into_split();
    tokio::join!(pump(cr, sw, &cut), pump(sr, cw, &cut));
}

/// Reads and discards until the peer closes.
async fn drain(mut s: TcpStream) {
    let mut buf = vec![0u8; CHUNK];
    while matches!(s.read(&mut buf).await, Ok(n) if n > 0) {}
}

async fn pump(
    mut from: impl AsyncRead + Unpin,
    mut to: impl AsyncWrite + Unpin,
    cut: &ShutdownSwitch,
) {
    let mut buf = vec![0u8; CHUNK];
    loop {
        match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            // Dropped while the cut lasts: nothing crosses, in either direction.
            Ok(_) if cut.in_force() => continue,
            Ok(n) => {
                if to.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown().await;
}
