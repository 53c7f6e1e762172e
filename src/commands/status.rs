//! `flinkops status`: the jobs a Flink cluster knows, with their tasks, uptime, latest checkpoint
//! and latest savepoint. Read-only; `crate::status` fetches and renders the snapshot.
//!
//! Given a spec directory with several cluster documents, every cluster is observed at once and
//! shown under its name; a cluster that cannot be reached is shown as such (and the exit code is
//! 1), the others as usual. One cluster (a document, or the flags) is shown exactly as before.

use std::io::{self, Write};
use std::path::Path;

use super::CommandError;
use crate::cli::{ColorChoice, OutputFormat, StatusArgs};
use crate::exit;
use crate::output::Styles;
use crate::pipeline::fleet::Member;
use crate::pipeline::{Connection, Threads};
use crate::spec::clusters::Cluster;
use crate::status::{
    ClusterStatus, FleetStatus, fetch, render_fleet_json, render_fleet_text, render_json, render_text,
};

/// Run `flinkops status`: fetch, render to stdout, report errors with a hint on stderr.
pub fn run(args: &StatusArgs, color: ColorChoice) -> Result<u8, CommandError> {
    let clusters = match &args.path {
        Some(path) => match load_clusters(path, color) {
            Some(clusters) => clusters,
            None => return Ok(exit::ERROR),
        },
        None => Default::default(),
    };
    if clusters.len() > 1 {
        return fleet(args, &clusters, color);
    }
    let connection = Connection::resolve(&args.connection, &clusters)?.limited(&args.limit);
    let report = super::block_on(Threads::One, async { Ok(fetch(&connection.client()?).await?) })
        .map_err(|e| e.on_document(&clusters))?;
    let mut stdout = io::stdout().lock();
    let written = match args.output {
        OutputFormat::Text => render_text(&report, &Styles::stdout(color), &mut stdout),
        OutputFormat::Json => render_json(&report, &mut stdout),
    };
    super::written(written.and_then(|()| stdout.flush()))?;
    Ok(exit::OK)
}

/// The cluster documents of the specs under `path`, diagnostics on stderr; `None` when the specs
/// have errors. Jars are neither hashed nor required: status only reads the documents.
fn load_clusters(path: &Path, color: ColorChoice) -> Option<std::collections::BTreeMap<String, Cluster>> {
    let env = |k: &str| std::env::var(k).ok();
    let hash = |_: &Path| Ok(String::new());
    let inputs = crate::spec::Inputs { env: &env, hash_jar: &hash, allow_missing_jar: true };
    let loaded = crate::spec::load_with(path, &inputs);
    crate::pipeline::report_diagnostics(&loaded, path, color).then_some(loaded.desired.clusters)
}

/// Several clusters: each observed at once under `--max-time`, shown under its name.
fn fleet(
    args: &StatusArgs,
    clusters: &std::collections::BTreeMap<String, Cluster>,
    color: ColorChoice,
) -> Result<u8, CommandError> {
    let members = crate::pipeline::fleet::members(&args.connection, clusters)?;
    let limit = &args.limit;
    let status = super::block_on(Threads::One, async {
        let each = members.into_iter().map(|m| observe(m, limit));
        Ok(FleetStatus::new(futures_util::future::join_all(each).await))
    })?;
    let mut stdout = io::stdout().lock();
    let written = match args.output {
        OutputFormat::Text => render_fleet_text(&status, &Styles::stdout(color), &mut stdout),
        OutputFormat::Json => render_fleet_json(&status, &mut stdout),
    };
    super::written(written.and_then(|()| stdout.flush()))?;
    let unreachable = status.unreachable();
    if unreachable > 0 {
        let s = Styles::stderr(color);
        let (e, reset) = (s.error.render(), s.error.render_reset());
        eprintln!(
            "{e}error:{reset} {unreachable} of {} clusters could not be observed (see above)",
            status.clusters.len()
        );
        return Ok(exit::ERROR);
    }
    Ok(exit::OK)
}

/// One cluster's status, or why it could not be read.
async fn observe(m: Member, limit: &crate::cli::TimeLimitArgs) -> ClusterStatus {
    let connection = m.connection.clone().limited(limit);
    let url = connection.url().to_owned();
    let fetched = match connection.client() {
        Ok(client) => fetch(&client).await,
        Err(e) => Err(e),
    };
    match fetched {
        Ok(report) => ClusterStatus::reachable(&m.name, report),
        Err(e) => ClusterStatus::unreachable(&m.name, &url, e.to_string(), m.hint(&e)),
    }
}
