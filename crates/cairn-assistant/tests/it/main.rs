//! The crate's integration tests, one binary: linking one test binary per file cost
//! minutes and gigabytes. Tests that measure this process's memory stay binaries of their own.

#[macro_use]
mod support;

mod agent;
mod provider;
