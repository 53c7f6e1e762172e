//! `flinkops watch`: the long-running reconcile loop. (Being built.)

use std::process::ExitCode;

use crate::cli::{GlobalArgs, WatchArgs};

pub fn run(_args: &WatchArgs, _global: &GlobalArgs) -> ExitCode {
    crate::exit::code(crate::exit::ERROR)
}
