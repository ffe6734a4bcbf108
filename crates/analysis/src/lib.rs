//! Interfero's analysis: pure functions from observations and a control to a verdict.
//! No I/O, no clock, no randomness, so every rule can be tested exhaustively and rerun on
//! stored measurements.

pub mod addr;
pub mod change;
pub mod crossnet;
pub mod delegation;
pub mod diff;
pub mod facts;
pub mod family;
pub mod fingerprint;
pub mod locate;
pub mod ooni;
pub mod pagetext;
pub mod reach;
pub mod rules;
pub mod service;
pub mod steps;
pub mod throttle;
pub mod timeline;
pub mod trust;

pub use rules::{judge, Context};
