//! Typed errors of the lab.

use thiserror::Error;

/// Why a scenario could not be loaded or a world could not start.
#[derive(Debug, Error)]
pub enum LabError {
    /// No built-in scenario has that name.
    #[error("no built-in scenario named {0:?} (known: {1})")]
    UnknownBuiltin(String, String),
    /// The scenario file could not be read.
    #[error("reading scenario {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The scenario is not valid TOML of the expected shape.
    #[error("parsing scenario: {0}")]
    Parse(#[from] toml::de::Error),
    /// The scenario parsed but says something inconsistent.
    #[error("invalid scenario: {0}")]
    Invalid(String),
    /// A certificate could not be made.
    #[error("certificate: {0}")]
    Cert(#[from] rcgen::Error),
    /// A TLS configuration could not be built.
    #[error("tls: {0}")]
    Tls(#[from] rustls::Error),
    /// A socket could not be bound or configured.
    #[error("network: {0}")]
    Io(#[from] std::io::Error),
    /// The kernel world cannot run here (not root, no `nft`, no network namespaces): a reason
    /// to skip, in one line.
    #[error("kernel world unavailable: {0}")]
    KernelUnavailable(String),
    /// A command that sets up or tears down the kernel world failed.
    #[error("`{cmd}` failed: {detail}")]
    Command {
        /// The command line.
        cmd: String,
        /// Exit status and what it printed on stderr.
        detail: String,
    },
    /// Every loopback block tried was already in use.
    #[error("no free loopback block 127.X.Y.0/24 after {0} attempts")]
    NoFreeBlock(usize),
}
