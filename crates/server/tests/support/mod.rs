//! Helpers shared by the explorer's tests.
#![allow(dead_code)]

pub mod fixture;
pub mod http;
pub mod webdriver;
