//! Helpers shared by the explorer's tests.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap in a test is a failed test
#![allow(dead_code)]

pub mod fixture;
pub mod http;
pub mod webdriver;
