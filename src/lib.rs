//! flinkops: declarative GitOps for Apache Flink jobs.
//!
//! Data flows one way: specs → desired state → (with observed state) → plan → render | apply.
//! `spec` reads and validates the YAML job specs, `flink` talks to Flink's REST API, `pipeline`
//! takes specs to a plan for every command and for `watch`, `commands` holds one file per command,
//! `app` runs them; `main.rs` only parses flags. The layers and what each may import are in the
//! README (Layout) and enforced by `tests/flinkops/layers.rs`.

pub mod app;
pub mod apply;
pub mod audit;
pub mod cli;
pub mod cluster;
pub mod commands;
pub mod exit;
pub mod flink;
pub mod ledger;
pub mod output;
pub mod pipeline;
pub mod plan;
pub mod render;
pub mod restore;
pub mod retention;
pub mod spec;
pub mod status;
pub mod watch;
