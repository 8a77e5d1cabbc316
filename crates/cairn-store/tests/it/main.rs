//! The store's own tests, one binary: each test is written once, as a specification of what
//! the store promises, and run on SQLite and on PostgreSQL by [`store_tests!`].

#[macro_use]
mod common;

mod audit;
mod crawl;
mod feed;
mod integrations;
mod keys;
mod memory;
mod migrations;
mod people;
mod resources;
mod sign_in;
mod workspace_delete;
