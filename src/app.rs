//! Wires the commands together: from parsed flags to work, and from outcomes to exit codes. A
//! command's error is printed here, once, with its hint (`CommandError::help`).

use std::process::ExitCode;

use crate::cli::{Cli, ColorChoice, Command};
use crate::commands::{self, CommandError};
use crate::{exit, output};

/// Run the parsed command line and return the process exit code.
pub fn main(cli: Cli) -> ExitCode {
    let watch = matches!(cli.command, Command::Watch(_));
    output::init_logging(&cli.global, watch);
    let color = cli.global.color;
    let quiet = cli.global.quiet;
    let outcome: Result<u8, CommandError> = match cli.command {
        Command::Validate(args) => Ok(commands::validate::run(&args, color)),
        Command::Schema(args) => Ok(commands::schema::run(&args)),
        Command::Completions(args) => Ok(completions(args.shell)),
        Command::Status(args) => commands::status::run(&args, color),
        Command::Plan(args) => commands::plan::run(&args, color),
        Command::Apply(args) => commands::apply::run(&args, color, quiet),
        Command::Watch(args) => commands::watch::run(&args),
        Command::Audit(args) => commands::audit::run(&args, color),
        Command::Savepoint(args) => commands::savepoint::run(&args, color, quiet),
        Command::Savepoints(args) => commands::savepoints::run(&args, color),
        Command::Gc(args) => commands::gc::run(&args, color, quiet),
    };
    match outcome {
        Ok(code) => exit::code(code),
        // watch logs to stderr for a log collector: no colour there.
        Err(e) => output::fail(&e, e.help().as_deref(), if watch { ColorChoice::Never } else { color }),
    }
}

fn completions(shell: clap_complete::Shell) -> u8 {
    use clap::CommandFactory;
    let mut cmd = Cli::command();
    clap_complete::generate(shell, &mut cmd, "flinkops", &mut std::io::stdout());
    exit::OK
}
