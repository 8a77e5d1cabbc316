//! The crate's integration tests, one binary: linking one test binary per file cost
//! minutes and gigabytes. Tests that measure this process's memory stay binaries of their own.

#[macro_use]
mod common;

mod access_model;
mod accounts;
mod api;
mod ask_stream;
mod assistant;
mod audit_chain;
mod audit_coverage;
mod conflicts;
mod contract;
mod dbt_merge;
mod dbt_validation;
mod dotted_names;
mod edge_limits;
mod egress_preview;
mod erasure_audit;
mod erasure_in_flight;
mod integration_outage;
mod integration_policy;
mod integrations;
mod mcp;
mod noninterference;
mod operator;
mod outage;
mod parameters;
mod path_ids;
mod prompt_erasure;
mod provider_egress;
mod pseudonyms;
mod question_set;
mod retrieval;
mod scheduled_sync;
mod semantic;
mod settings;
mod sql;
mod sql_visibility;
mod sync_bulk;
mod table_relations;
mod workspace_delete;
