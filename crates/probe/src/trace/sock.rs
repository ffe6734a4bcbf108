//! Socket plumbing for TTL-limited probes on Linux: `IP_RECVERR` makes the kernel queue the
//! ICMP errors a socket's packets provoke (time exceeded, with the router's address) on the
//! socket itself, so no raw socket and no privilege is needed. Every buffer is bounded and
//! every control message is length-checked before it is read.

use std::io;
use std::net::Ipv4Addr;
use std::os::fd::RawFd;
use std::time::Duration;

/// An ICMP error queued on a socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IcmpError {
    /// The router (or host) that sent it.
    pub(crate) from: Option<Ipv4Addr>,
    /// ICMP type (11: time exceeded, 3: unreachable).
    pub(crate) icmp_type: u8,
    /// ICMP code.
    pub(crate) code: u8,
}

/// Most errors read off one queue in one go (a flood must not grow memory).
const MAX_ERRORS: usize = 16;
const SO_EE_ORIGIN_ICMP: u8 = 2;

fn set_int(fd: RawFd, level: i32, name: i32, value: i32) -> io::Result<()> {
    // SAFETY: the pointer and length describe `value`, which lives for the call.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (&value as *const i32).cast(),
            std::mem::size_of::<i32>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Asks the kernel to queue ICMP errors on `fd` (IPv4).
pub(crate) fn enable_recverr(fd: RawFd) -> io::Result<()> {
    set_int(fd, libc::IPPROTO_IP, libc::IP_RECVERR, 1)
}

/// Asks the kernel to report each datagram's IP TTL (a forged answer's TTL often differs).
pub(crate) fn enable_recvttl(fd: RawFd) -> io::Result<()> {
    set_int(fd, libc::IPPROTO_IP, libc::IP_RECVTTL, 1)
}

/// Waits up to `timeout` for `events` on `fd`; the events that happened (0 on timeout).
pub(crate) fn poll(fd: RawFd, events: i16, timeout: Duration) -> io::Result<i16> {
    let mut p = libc::pollfd {
        fd,
        events,
        revents: 0,
    };
    let ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
    // SAFETY: one valid pollfd, for the duration of the call.
    let rc = unsafe { libc::poll(&mut p, 1, ms) };
    match rc {
        n if n < 0 => {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                Ok(0)
            } else {
                Err(e)
            }
        }
        0 => Ok(0),
        _ => Ok(p.revents),
    }
}

/// A control message: level, type, data.
type Cmsg = (i32, i32, Vec<u8>);

/// One `recvmsg`: bytes into `buf`, the control messages into a bounded buffer.
fn recvmsg(fd: RawFd, buf: &mut [u8], flags: i32) -> io::Result<(usize, Vec<Cmsg>)> {
    // u64 words keep the control buffer aligned for cmsghdr.
    let mut control = [0u64; 64];
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    let mut offender: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    // SAFETY: zeroed msghdr is a valid "nothing" value; every pointer set below outlives the
    // call and its length is that of the buffer it points to.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_name = (&mut offender as *mut libc::sockaddr_in).cast();
    msg.msg_namelen = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&control);
    // SAFETY: msg describes valid buffers (above).
    let n = unsafe { libc::recvmsg(fd, &mut msg, flags | libc::MSG_DONTWAIT) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut cmsgs = Vec::new();
    // SAFETY: the CMSG_* macros walk the control buffer the kernel filled, bounded by
    // msg_controllen; each data slice is bounded by its header's length, checked against the
    // end of the buffer.
    unsafe {
        let base = control.as_ptr() as usize;
        let end = base + msg.msg_controllen.min(std::mem::size_of_val(&control));
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() && cmsgs.len() < MAX_ERRORS {
            let data = libc::CMSG_DATA(c) as usize;
            let len = ((*c).cmsg_len as usize).saturating_sub(data - c as usize);
            if data + len > end {
                break;
            }
            let bytes = std::slice::from_raw_parts(data as *const u8, len).to_vec();
            cmsgs.push(((*c).cmsg_level, (*c).cmsg_type, bytes));
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    Ok((usize::try_from(n).unwrap_or(0), cmsgs))
}

/// Reads a `sock_extended_err` followed by the offender's `sockaddr_in`, checking lengths.
pub(crate) fn parse_extended_err(b: &[u8]) -> Option<IcmpError> {
    let origin = *b.get(4)?;
    if origin != SO_EE_ORIGIN_ICMP {
        return None;
    }
    let icmp_type = *b.get(5)?;
    let code = *b.get(6)?;
    // sockaddr_in after the 16-byte struct: family (native u16), port, address.
    let from = b.get(16..18).and_then(|fam| {
        let family = u16::from_ne_bytes([*fam.first()?, *fam.get(1)?]);
        if i32::from(family) != libc::AF_INET {
            return None;
        }
        let a: [u8; 4] = b.get(20..24)?.try_into().ok()?;
        Some(Ipv4Addr::from(a))
    });
    Some(IcmpError {
        from,
        icmp_type,
        code,
    })
}

/// Drains the ICMP errors queued on `fd` (at most [`MAX_ERRORS`]).
pub(crate) fn drain_errors(fd: RawFd) -> Vec<IcmpError> {
    let mut out = Vec::new();
    let mut buf = [0u8; 512];
    while out.len() < MAX_ERRORS {
        let Ok((_, cmsgs)) = recvmsg(fd, &mut buf, libc::MSG_ERRQUEUE) else {
            break;
        };
        out.extend(
            cmsgs
                .iter()
                .filter(|(level, kind, _)| *level == libc::IPPROTO_IP && *kind == libc::IP_RECVERR)
                .filter_map(|(_, _, data)| parse_extended_err(data)),
        );
    }
    out
}

/// Receives one datagram (or stream bytes) without blocking, with its IP TTL when reported.
pub(crate) fn recv_with_ttl(fd: RawFd, buf: &mut [u8]) -> io::Result<(usize, Option<u8>)> {
    let (n, cmsgs) = recvmsg(fd, buf, 0)?;
    let ttl = cmsgs
        .iter()
        .find(|(level, kind, _)| *level == libc::IPPROTO_IP && *kind == libc::IP_TTL)
        .and_then(|(_, _, d)| {
            let v = i32::from_ne_bytes(d.get(..4)?.try_into().ok()?);
            u8::try_from(v).ok()
        });
    Ok((n, ttl))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extended_errors_are_length_checked() {
        let mut b = vec![0u8; 32];
        b[4] = SO_EE_ORIGIN_ICMP;
        b[5] = 11;
        b[16..18].copy_from_slice(&(libc::AF_INET as u16).to_ne_bytes());
        b[20..24].copy_from_slice(&[198, 18, 1, 1]);
        let e = parse_extended_err(&b).unwrap();
        assert_eq!(e.icmp_type, 11);
        assert_eq!(e.from, Some(Ipv4Addr::new(198, 18, 1, 1)));
        for cut in 0..b.len() {
            let _ = parse_extended_err(&b[..cut]);
        }
        assert_eq!(parse_extended_err(&b[..18]).unwrap().from, None);
        b[4] = 1; // a local error, not ICMP
        assert_eq!(parse_extended_err(&b), None);
    }
}
