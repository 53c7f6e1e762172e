//! Wires the commands together: from parsed flags to work, and from outcomes to exit codes.

use std::process::ExitCode;

use crate::cli::{Cli, Command};
use crate::{exit, output};

/// Run the parsed command line and return the process exit code.
pub fn main(cli: Cli) -> ExitCode {
    output::init_logging(&cli.global, matches!(cli.command, Command::Watch(_)));
    let color = cli.global.color;
    match cli.command {
        Command::Validate(args) => crate::commands::validate::run(&args, color),
        Command::Schema(args) => crate::commands::schema::run(&args),
        Command::Completions(args) => completions(args.shell),
        Command::Status(args) => crate::commands::status::run(&args, color),
        Command::Plan(args) => crate::commands::plan::run(&args, color),
        Command::Apply(args) => crate::commands::apply::run(&args, color, cli.global.quiet),
        Command::Watch(args) => crate::commands::watch::run(&args),
        Command::Audit(args) => crate::commands::audit::run(&args, color),
        Command::Savepoint(args) => crate::commands::savepoint::run(&args, color, cli.global.quiet),
        Command::Savepoints(args) => crate::commands::savepoints::run(&args, color),
        Command::Gc(args) => crate::commands::gc::run(&args, color, cli.global.quiet),
    }
}

fn completions(shell: clap_complete::Shell) -> ExitCode {
    use clap::CommandFactory;
    let mut cmd = Cli::command();
    clap_complete::generate(shell, &mut cmd, "flinkops", &mut std::io::stdout());
    exit::code(exit::OK)
}
