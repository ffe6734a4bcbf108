//! What every server of this crate shares: serving (connections, heads, TLS, client
//! addresses, logs, shutdown), admission limits, bearer tokens and error answers. A new server
//! (collector, API, explorer) takes these rather than its own.

pub mod auth;
pub mod errors;
pub mod limits;
pub mod serving;
