//! Lab runs: the product's real probe, control and sessions run against a lab world whose
//! every rule is known — `lab demo`, `lab eval`, `lab watch`, `lab locate`, `lab bench` and
//! `lab siege`, and the end-to-end tests. Beside the product, never under it: no product crate
//! depends on this one.

pub mod bench;
pub mod bench_report;
pub mod ideal;
pub mod lab;
pub mod labarchive;
mod labcut;
pub mod labwatch;
pub mod locate;
pub mod siege;
pub mod throughput;
pub mod usage;
