//! The one integration-test binary (one binary saves link time on 2 cores). One module per area.

mod cli;
mod spec_cases;
mod spec_examples;
mod support;
