//! Commands that combine the layers (specs, Flink, ledger, planner, renderers). Each is thin:
//! gather inputs, call the pure parts, render, choose the exit code.

pub mod gc;
pub mod plan;
pub mod savepoint;
pub mod savepoints;
