//! The crate's integration tests, one binary: linking one test binary per file cost
//! minutes and gigabytes. Tests that measure this process's memory stay binaries of their own.

#[macro_use]
mod common;
#[macro_use]
mod query_support;

mod connect_timeout;
mod crawl_mariadb;
mod crawl_postgres;
mod crawl_sqlite;
mod dbt_import;
mod guard_corpus_mysql;
mod guard_corpus_postgres;
mod guard_corpus_sqlite;
mod query_mysql;
mod query_postgres;
mod query_sqlite;
mod session_settings;
