//! The `flinkops` binary: parse flags, set up output, run, map the outcome to an exit code. Nothing else.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = flinkops::cli::Cli::parse();
    flinkops::app::main(cli)
}
