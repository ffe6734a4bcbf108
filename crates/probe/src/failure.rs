//! Maps I/O errors to OONI failure names.

use interfero_model::Failure;
use std::io;

/// The OONI failure for an I/O error (by kind first, then by raw errno for what kinds hide).
pub fn from_io(e: &io::Error) -> Failure {
    use io::ErrorKind as K;
    match e.kind() {
        K::TimedOut | K::WouldBlock => return Failure::Timeout,
        K::ConnectionRefused => return Failure::ConnectionRefused,
        K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe => {
            return Failure::ConnectionReset
        }
        K::UnexpectedEof => return Failure::Eof,
        K::HostUnreachable => return Failure::HostUnreachable,
        K::NetworkUnreachable => return Failure::NetworkUnreachable,
        _ => {}
    }
    // Linux errno values, for errors that std reports with a generic kind.
    match e.raw_os_error() {
        Some(110) => Failure::Timeout,
        Some(111) => Failure::ConnectionRefused,
        Some(104) | Some(103) | Some(32) => Failure::ConnectionReset,
        Some(113) => Failure::HostUnreachable,
        Some(101) => Failure::NetworkUnreachable,
        _ => Failure::Other(format!("unknown_failure: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_kinds_and_errnos() {
        assert_eq!(
            from_io(&io::Error::from(io::ErrorKind::ConnectionRefused)),
            Failure::ConnectionRefused
        );
        assert_eq!(
            from_io(&io::Error::from_raw_os_error(104)),
            Failure::ConnectionReset
        );
        assert_eq!(
            from_io(&io::Error::from_raw_os_error(113)),
            Failure::HostUnreachable
        );
        assert!(matches!(from_io(&io::Error::other("x")), Failure::Other(_)));
    }
}
