//! The one integration-test binary (one binary saves link time on 2 cores). One module per area.

mod apply_e2e;
mod apply_health;
mod apply_lock;
mod audit;
mod cli;
mod deploy_examples;
mod fault_run;
mod flink_e2e;
mod flink_mock;
mod flink_support;
mod flink_tls;
mod fuzz;
mod plan_e2e;
mod plan_mock;
mod render_fixtures;
mod render_promises;
mod render_schema;
mod render_snapshots;
mod restore_e2e;
mod spec_cases;
mod spec_examples;
mod store_e2e;
mod support;
mod watch_e2e;
mod watch_faults;
mod watch_support;
