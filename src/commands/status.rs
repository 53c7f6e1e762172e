//! `flinkops status`: the jobs a Flink cluster knows, with their tasks, uptime, latest checkpoint
//! and latest savepoint. Read-only; `crate::status` fetches and renders the snapshot.

use std::io::{self, Write};
use std::process::ExitCode;

use crate::cli::{ColorChoice, OutputFormat, StatusArgs};
use crate::exit;
use crate::output::Styles;
use crate::pipeline::{self, Connection, Threads};
use crate::status::{fetch, render_json, render_text};

/// Run `flinkops status`: fetch, render to stdout, report errors with a hint on stderr.
pub fn run(args: &StatusArgs, color: ColorChoice) -> ExitCode {
    let runtime = match pipeline::runtime(Threads::One) {
        Ok(rt) => rt,
        Err(e) => return crate::output::fail(&e, None, color),
    };
    let connection = match Connection::flags(&args.connection) {
        Ok(connection) => connection.limited(&args.limit),
        Err(e) => return crate::output::fail(&e, Some(e.help()), color),
    };
    let report = runtime.block_on(async { fetch(&connection.client()?).await });
    let report = match report {
        Ok(report) => report,
        Err(e) => return crate::output::fail(&e, e.help(), color),
    };
    let mut stdout = io::stdout().lock();
    let written = match args.output {
        OutputFormat::Text => render_text(&report, &Styles::stdout(color), &mut stdout),
        OutputFormat::Json => render_json(&report, &mut stdout),
    };
    match written.and_then(|()| stdout.flush()) {
        Ok(()) => exit::code(exit::OK),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => exit::code(exit::OK),
        Err(e) => crate::output::fail(&e, None, color),
    }
}
