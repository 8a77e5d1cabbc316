//! The crate's integration tests, one binary: linking one test binary per file cost
//! minutes and gigabytes. Tests that measure this process's memory stay binaries of their own.

mod backup_restore;
mod bench_sync;
mod common;
mod logs;
mod model_install;
mod operator_audit;
mod readme_run;
mod shutdown;
