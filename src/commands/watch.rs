//! `flinkops watch`: run the long-running loop (`crate::watch`) on a runtime of its own, and turn
//! a failure to start into its message and exit code.

use std::process::ExitCode;

use crate::cli::WatchArgs;
use crate::output::fail;
use crate::pipeline::{self, Threads};
use crate::watch::{Error, watch};

pub fn run(args: &WatchArgs) -> ExitCode {
    let runtime = match pipeline::runtime(Threads::Workers) {
        Ok(rt) => rt,
        Err(e) => return fail(&Error::Runtime(e), None, crate::cli::ColorChoice::Never),
    };
    match runtime.block_on(watch(args)) {
        Ok(()) => crate::exit::code(crate::exit::OK),
        Err(e) => fail(&e, e.help().as_deref(), crate::cli::ColorChoice::Never),
    }
}
