//! `flinkops status`: the jobs a Flink cluster knows, with their tasks, uptime, latest checkpoint
//! and latest savepoint. Read-only; `crate::status` fetches and renders the snapshot.

use std::io::{self, Write};

use super::CommandError;
use crate::cli::{ColorChoice, OutputFormat, StatusArgs};
use crate::exit;
use crate::output::Styles;
use crate::pipeline::{Connection, Threads};
use crate::status::{fetch, render_json, render_text};

/// Run `flinkops status`: fetch, render to stdout, report errors with a hint on stderr.
pub fn run(args: &StatusArgs, color: ColorChoice) -> Result<u8, CommandError> {
    let connection = Connection::flags(&args.connection)?.limited(&args.limit);
    let report = super::block_on(Threads::One, async { Ok(fetch(&connection.client()?).await?) })?;
    let mut stdout = io::stdout().lock();
    let written = match args.output {
        OutputFormat::Text => render_text(&report, &Styles::stdout(color), &mut stdout),
        OutputFormat::Json => render_json(&report, &mut stdout),
    };
    super::written(written.and_then(|()| stdout.flush()))?;
    Ok(exit::OK)
}
