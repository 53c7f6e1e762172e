//! The long-running loop of `flinkops watch`. Triggers (spec changes, the resync interval, SIGHUP, a
//! back-off that ran out, a periodic savepoint or gc falling due) → one level-triggered
//! `reconcile` through the same load → observe → plan → apply path as `apply` → `/healthz`,
//! `/readyz`, `/metrics`. Shaped like kube-rs's
//! controller: `reconcile` is safe to run again at any time; `policy` decides what to hold back.
//!
//! Shutdown (SIGTERM, SIGINT): no new action starts; the one in flight gets `--shutdown-grace` to
//! finish. Every step is recorded in the ledger before it runs, so even a step cut short leaves a
//! record the next run finishes from (a job stopped with a savepoint is restarted from it).

pub mod files;
pub mod metrics;
pub mod once;
pub mod periodic;
pub mod policy;
pub mod reconcile;
pub mod schedule;
pub mod server;

use std::sync::Arc;
use std::time::Duration;

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::time::{Instant, sleep_until};
use tokio_util::sync::CancellationToken;

use crate::cli::WatchArgs;
use crate::flink::Client;
use crate::plan::Options;
use crate::spec::Desired;
use policy::Policies;
use reconcile::{Reconciler, Settings};
use server::Shared;

/// How often to try watching the spec directory again while it cannot be watched (it does not
/// exist yet: git-sync's first clone is still running).
const REWATCH_EVERY: Duration = Duration::from_secs(2);

/// Why watch could not start (once running, it reports problems on `/readyz` and keeps going).
/// Its hints are in `commands::CommandError::help`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot listen on {addr}")]
    Listen {
        addr: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot install the signal handlers")]
    Signals(#[source] std::io::Error),
    #[error("cannot create the state directory {path}")]
    StateDir {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// What watch keeps converged: the one cluster a client talks to, or every cluster document of
/// the specs (each tick then runs apply's fleet path, `reconcile::Fleet`).
pub enum Start {
    One(Client),
    Fleet(reconcile::Fleet),
}

impl Start {
    /// Where Flink is, for the log.
    fn urls(&self) -> String {
        match self {
            Start::One(client) => client.base_url().to_owned(),
            Start::Fleet(f) => f.urls.iter().map(|(n, u)| format!("{n}={u}")).collect::<Vec<_>>().join(", "),
        }
    }
}

/// Watch what `start` names until SIGTERM or SIGINT (`commands::watch` chooses it), or
/// reconcile once (`--once`); the exit code. `desired` is the specs as they were when the
/// cluster was chosen (`--once` checks its `--target`/`--exclude` names against them).
pub async fn watch(args: &WatchArgs, start: Start, desired: &Desired) -> Result<u8, Error> {
    crate::ledger::create_private_dir(&args.state.state_dir)
        .map_err(|source| Error::StateDir { path: args.state.state_dir.clone(), source })?;
    if let Some(warning) = crate::ledger::relative_state_dir_warning(&args.state.state_dir) {
        tracing::warn!("{warning}");
    }
    let shutdown = CancellationToken::new();
    listen_for_signals(&shutdown)?;
    let shared = Arc::new(Shared::default());
    // Every cluster's series from the start, at 0, before the first reconcile ends.
    match desired.clusters.keys().next() {
        Some(_) => desired.clusters.keys().for_each(|name| shared.metrics.cluster(name)),
        None => shared.metrics.cluster(crate::spec::clusters::DEFAULT_CLUSTER),
    }
    if args.once {
        return Ok(once::run(reconciler(args, start, shared), args, desired, &shutdown).await);
    }
    let server = serve(args.listen, shared.clone(), shutdown.clone()).await?;
    let mut triggers = Triggers::new(args)?;
    let flink = start.urls();
    let mut reconciler = reconciler(args, start, shared);
    tracing::info!(
        specs = %args.path.display(),
        flink,
        resync = ?args.resync,
        self_heal = !args.no_self_heal,
        poll = args.poll,
        gc_every = ?args.gc_every,
        "watching"
    );
    let mut why = "start";
    loop {
        let run = reconciler.reconcile(why, &shutdown);
        tokio::pin!(run);
        let report = tokio::select! {
            report = &mut run => report,
            () = shutdown.cancelled() => {
                finish_in_flight(run, args.shutdown_grace).await;
                break;
            }
        };
        why = triggers.next(&shutdown, report.next_retry.map(Instant::from_std)).await;
        if shutdown.is_cancelled() {
            break;
        }
    }
    if let Err(e) = server.await {
        tracing::warn!("the HTTP server ended badly: {e}");
    }
    tracing::info!("stopped");
    Ok(crate::exit::OK)
}

/// The reconciler of this watch (or of its one pass, `--once`).
fn reconciler(args: &WatchArgs, start: Start, shared: Arc<Shared>) -> Reconciler {
    let base_url = match &start {
        Start::One(client) => client.base_url().to_string(),
        Start::Fleet(_) => String::new(),
    };
    let reconciler = Reconciler::new(
        Settings {
            specs: args.path.clone(),
            state: args.state.clone(),
            options: Options { prune: args.prune, adopt: args.adopt, control: once::control(args) },
            concurrency: usize::from(args.concurrency),
            retry_backoff: args.retry_backoff,
            gc_every: args.gc_every,
        },
        connector(args),
        base_url,
        Policies::new(args.retry_backoff, args.max_retries, !args.no_self_heal),
        shared,
    );
    match start {
        Start::One(_) => reconciler,
        Start::Fleet(fleet) => reconciler.over_fleet(fleet),
    }
}

/// A fresh client per reconcile, from the connection flags or the specs' cluster document as
/// they are then (token and password files are read again each time).
fn connector(args: &WatchArgs) -> reconcile::Connect {
    let connection = args.connection.clone();
    Box::new(move |clusters| {
        let config = connection.client_config_for(clusters).map_err(|e| format!("{e} ({})", e.help()))?;
        Client::new(config).map_err(|e| crate::output::error_chain(&e))
    })
}

/// What wakes the loop up between reconciles.
struct Triggers<'a> {
    args: &'a WatchArgs,
    hup: tokio::signal::unix::Signal,
    tx: tokio::sync::mpsc::UnboundedSender<()>,
    changes: UnboundedReceiver<()>,
    /// `None` while the spec directory cannot be watched (it does not exist yet).
    files: Option<files::SpecWatcher>,
}

impl<'a> Triggers<'a> {
    fn new(args: &'a WatchArgs) -> Result<Self, Error> {
        let hup = signal(SignalKind::hangup()).map_err(Error::Signals)?;
        let (tx, changes) = tokio::sync::mpsc::unbounded_channel();
        let files = start_watching(args, &tx, true);
        Ok(Self { args, hup, tx, changes, files })
    }

    /// Wait for the next reason to reconcile, and say which. `retry_at`: when a held job may be
    /// tried again or the schedule (`periodic`) next falls due.
    async fn next(&mut self, shutdown: &CancellationToken, retry_at: Option<Instant>) -> &'static str {
        let resync_at = Instant::now() + self.args.resync;
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return "shutdown",
                _ = self.hup.recv() => return "SIGHUP",
                Some(()) = self.changes.recv() => {
                    settle(&mut self.changes, self.args.debounce).await;
                    if let Some(w) = self.files.as_mut() && let Err(e) = w.rewatch() {
                        let e = crate::output::error_chain(&e);
                        tracing::warn!("{e}; trying again every {REWATCH_EVERY:?}");
                        self.files = None;
                    }
                    return "spec change";
                }
                () = sleep_until(resync_at) => return "resync",
                () = sleep_until(retry_at.unwrap_or(resync_at)), if retry_at.is_some() => return "a back-off ran out, or a savepoint or gc fell due",
                () = tokio::time::sleep(REWATCH_EVERY), if self.files.is_none() => {
                    self.files = start_watching(self.args, &self.tx, false);
                    if self.files.is_some() {
                        return "spec directory can be watched again";
                    }
                }
            }
        }
    }
}

/// Let the reconcile in flight finish (it starts nothing new once `shutdown` is cancelled), for
/// at most `grace`.
async fn finish_in_flight(run: impl std::future::Future<Output = reconcile::Report>, grace: Duration) {
    tracing::info!(
        "shutting down: the action in flight may take up to {grace:?} to finish; nothing new starts"
    );
    match tokio::time::timeout(grace, run).await {
        Ok(_) => tracing::info!("the reconcile in flight finished"),
        Err(_) => tracing::error!(
            "the grace period ran out with an action in flight; exiting anyway. Its step is recorded in the \
             ledger, and the next run (apply or watch) finishes it from there"
        ),
    }
}

/// SIGTERM or SIGINT: cancel `shutdown`. A second one exits at once.
fn listen_for_signals(shutdown: &CancellationToken) -> Result<(), Error> {
    let mut term = signal(SignalKind::terminate()).map_err(Error::Signals)?;
    let mut int = signal(SignalKind::interrupt()).map_err(Error::Signals)?;
    let shutdown = shutdown.clone();
    tokio::spawn(async move {
        for round in 0.. {
            let name = tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
            };
            if round == 0 {
                tracing::info!("{name} received");
                shutdown.cancel();
            } else {
                tracing::error!("{name} received again: exiting now; the ledger records the step in flight");
                std::process::exit(i32::from(crate::exit::ERROR));
            }
        }
    });
    Ok(())
}

/// Bind `addr` and serve the endpoints until `shutdown`.
async fn serve(
    addr: std::net::SocketAddr,
    shared: Arc<Shared>,
    shutdown: CancellationToken,
) -> Result<tokio::task::JoinHandle<std::io::Result<()>>, Error> {
    let listener =
        tokio::net::TcpListener::bind(addr).await.map_err(|source| Error::Listen { addr, source })?;
    let bound = listener.local_addr().map_err(|source| Error::Listen { addr, source })?;
    tracing::info!(address = %bound, "serving /healthz, /readyz and /metrics on http://{bound}");
    let app = server::router(shared);
    Ok(tokio::spawn(async move {
        axum::serve(listener, app).with_graceful_shutdown(async move { shutdown.cancelled().await }).await
    }))
}

/// Watch the spec directory, or `None` (logged) when it cannot be watched yet.
fn start_watching(
    args: &WatchArgs,
    tx: &tokio::sync::mpsc::UnboundedSender<()>,
    first: bool,
) -> Option<files::SpecWatcher> {
    let poll = args.poll.then_some(args.poll_interval);
    match files::SpecWatcher::new(&args.path, &args.state.state_dir, poll, tx.clone()) {
        Ok(w) => Some(w),
        Err(e) if first => {
            tracing::warn!("{}; trying again every {REWATCH_EVERY:?}", crate::output::error_chain(&e));
            None
        }
        Err(e) => {
            tracing::debug!("{}", crate::output::error_chain(&e));
            None
        }
    }
}

/// Wait until the files have been quiet for `debounce` (a git checkout or an editor's save is many
/// events), at most 10 × `debounce`: one reconcile for the lot, since it reloads everything.
async fn settle(changes: &mut UnboundedReceiver<()>, debounce: Duration) {
    let deadline = Instant::now() + debounce * 10;
    while let Ok(Some(())) =
        tokio::time::timeout_at(deadline.min(Instant::now() + debounce), changes.recv()).await
    {}
}
