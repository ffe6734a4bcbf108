//! stub
pub mod fingerprint;
