//! The pipeline every command that talks to a cluster shares, in its order: load the specs
//! (`load_specs`) → resolve the connection (`Connection::resolve`: the cluster document or the
//! flags) → build the client (`Connection::client`) and the runtime (`runtime`) → take the
//! cluster's lock (`lock_cluster`, for the commands that write) → observe and plan
//! (`observe_and_plan`) → the execution context (`context`).
//!
//! A run over several clusters (`fleet`) runs the same steps once per cluster, concurrently.
//!
//! It lives outside `commands/` because `watch`'s reconciler runs the same steps on every
//! reconcile, and `watch` may not import command code. Each function is handed the cluster it
//! works on (a `Connection`, a `Client`) and reads no flags of its own, so that a run over several
//! clusters can call it once per cluster.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use crate::apply::lock::{ApplyLock, Holder, LockError};
use crate::apply::progress::Progress;
use crate::apply::steps::Context;
use crate::cli::{ColorChoice, ConnectionArgs, ConnectionError, TimeLimitArgs};
use crate::flink::{Client, ClientConfig};
use crate::ledger::{Ledger, Record};
use crate::output::Styles;
use crate::plan::{self, ClusterRef, Observed, Options, Plan};
use crate::spec::{self, Inputs, clusters::Cluster, jarcache::JarHashCache};

pub mod fleet;

/// How to reach one cluster: resolved once, from the specs' cluster document or the connection
/// flags, then handed on as a value.
#[derive(Debug, Clone)]
pub struct Connection {
    config: ClientConfig,
}

impl Connection {
    /// The specs' one `kind: FlinkCluster` document, or the flags when there is none (the
    /// cluster named `default`); see `ConnectionArgs::client_config_for`.
    pub fn resolve(
        flags: &ConnectionArgs,
        clusters: &BTreeMap<String, Cluster>,
    ) -> Result<Self, ConnectionError> {
        Ok(Self { config: flags.client_config_for(clusters)? })
    }

    /// The flags alone, for a command that reads no specs (`status`).
    /// A connection with the configuration `config`, as `Connection::flags` would make it.
    pub fn of(config: ClientConfig) -> Self {
        Self { config }
    }

    /// The URL this connection reaches Flink at.
    pub fn base_url(&self) -> &str {
        &self.config.base_url
    }

    pub fn flags(flags: &ConnectionArgs) -> Result<Self, ConnectionError> {
        Ok(Self { config: flags.client_config()? })
    }

    /// The connection with `--max-time` on all its calls together (the read-only commands).
    #[must_use]
    pub fn limited(self, limit: &TimeLimitArgs) -> Self {
        Self { config: limit.apply(self.config) }
    }

    /// The cluster's REST URL, for messages.
    pub fn url(&self) -> &str {
        &self.config.base_url
    }

    /// A client for the cluster.
    pub fn client(&self) -> Result<Client, crate::flink::Error> {
        Client::new(self.config.clone())
    }
}

/// How many threads a command's runtime has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Threads {
    /// The read-only commands: their calls are a few at a time, on one thread.
    One,
    /// The commands that act: a step, its health gate's polls and the lock's progress side by
    /// side.
    Workers,
}

/// The async runtime a command runs on.
pub fn runtime(threads: Threads) -> std::io::Result<tokio::runtime::Runtime> {
    match threads {
        Threads::One => tokio::runtime::Builder::new_current_thread().enable_all().build(),
        Threads::Workers => {
            tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()
        }
    }
}

/// Load and check the specs with the process environment and the jar hash cache of the state
/// directory. The caller reports the diagnostics and must not act on a load with errors.
pub fn load_checked(path: &Path, state_dir: &Path) -> spec::Loaded {
    let cache = JarHashCache::load(state_dir);
    let env = |k: &str| std::env::var(k).ok();
    let hash = |p: &Path| cache.hash(p);
    let loaded = spec::load_with(path, &Inputs { env: &env, hash_jar: &hash, allow_missing_jar: false });
    cache.save();
    loaded
}

/// Load and check the specs, printing diagnostics; `None` when any is an error.
pub fn load_specs(path: &Path, state_dir: &Path, color: ColorChoice) -> Option<spec::Desired> {
    let loaded = load_checked(path, state_dir);
    report_diagnostics(&loaded, path, color).then_some(loaded.desired)
}

/// Print a load's diagnostics on stderr; whether it has no error (and may be acted on).
pub fn report_diagnostics(loaded: &spec::Loaded, path: &Path, color: ColorChoice) -> bool {
    let errors = loaded.error_count();
    if !loaded.diagnostics.is_empty() {
        use std::io::IsTerminal;
        let mut err = std::io::stderr().lock();
        let _ = spec::diag::render(
            &loaded.diagnostics,
            crate::output::use_color(color, std::io::stderr().is_terminal()),
            &mut err,
        );
    }
    if errors > 0 {
        let s = Styles::stderr(color);
        eprintln!(
            "{}error:{} {errors} problem(s) in the job specs under {}; nothing was planned and Flink was not contacted",
            s.error.render(),
            s.error.render_reset(),
            path.display()
        );
        return false;
    }
    true
}

/// The execution context of a command that acts on the cluster: its client, its ledger and the
/// records read with the plan, with progress on stderr (none under `--quiet`).
pub fn context(
    client: Client,
    ledger: Ledger,
    records: BTreeMap<String, Record>,
    color: ColorChoice,
    quiet: bool,
) -> Context {
    Context::new(client, ledger, records, Progress::stderr(Styles::stderr(color), quiet))
}

/// Take the lock of a cluster's state directory for `command` (what the lock file shows, never
/// the raw argv: a --flink-header value may be a secret), saying on stderr who holds it while
/// waiting up to `timeout`.
pub fn lock_cluster(
    cluster_dir: &Path,
    client: &Client,
    command: &str,
    timeout: Duration,
    quiet: bool,
) -> Result<ApplyLock, LockError> {
    let holder = Holder::current(command);
    crate::apply::lock::acquire(cluster_dir, client.base_url(), timeout, &holder, |info, waited| {
        if !quiet {
            let by = info.map_or_else(
                || "another process".to_string(),
                |h| format!("pid {} on {} (`{}`, since {})", h.pid, h.host, h.command, h.started_at),
            );
            eprintln!(
                "waiting for the apply lock held by {by}: {}s of {}s",
                waited.as_secs(),
                timeout.as_secs()
            );
        }
    })
}

/// What one cluster's observation holds: its jobs and the facts the planner needs, its ledger
/// records, its URL and Flink version.
#[derive(Debug, Clone)]
pub struct Observation {
    pub observed: Observed,
    pub records: BTreeMap<String, Record>,
    pub cluster: ClusterRef,
}

/// Observe the cluster (`/config`, `/jobs/overview`) and read its ledger, for the jobs of
/// `desired` (which the caller has narrowed to this cluster's). A spec whose record cannot be
/// read is a conflict (see `Observed::unreadable_records`); the others are planned as usual.
pub async fn observe(
    client: &Client,
    ledger: &Ledger,
    desired: &spec::Desired,
    opts: &Options,
) -> Result<Observation, crate::flink::Error> {
    let version = client.version().await?;
    let overview = client.jobs_overview().await?;
    let (records, unreadable) = match ledger.read_all() {
        Ok(all) => (all.ok, all.unreadable),
        // No record can be trusted to be absent: none of the specs is acted on.
        Err(e) => {
            let why = crate::output::error_chain(&e);
            (BTreeMap::new(), desired.jobs.keys().map(|name| (name.clone(), why.clone())).collect())
        }
    };
    let mut observed = Observed::from(&overview);
    observed.unreadable_records = unreadable;
    observed.snapshots = gather_snapshots(client, desired, &observed, &records).await;
    observed.cluster_savepoint_dir = cluster_savepoint_dir(client, &observed).await;
    // What the checks before a stop need is asked only for the jobs a first plan would stop or
    // start (planning is pure and cheap; the caller plans again with what was learnt).
    let first = plan::plan(desired, &observed, &records, opts);
    observe_for_checks(client, &first, &mut observed).await;
    let cluster = ClusterRef { url: client.base_url().to_string(), flink_version: version.to_string() };
    Ok(Observation { observed, records, cluster })
}

/// Observe the cluster, read the ledger and plan: the one path `plan` and `apply` share for a
/// single cluster, so that both decide alike. Also returns the ledger records, which apply goes
/// on to update.
pub async fn observe_and_plan(
    client: &Client,
    ledger: &Ledger,
    desired: &spec::Desired,
    specs: &Path,
    opts: &Options,
) -> Result<(Plan, BTreeMap<String, Record>), crate::flink::Error> {
    let Observation { observed, records, cluster } = observe(client, ledger, desired, opts).await?;
    let mut plan = plan::plan(desired, &observed, &records, opts);
    plan.cluster = Some(cluster);
    plan.specs = Some(absolute(specs));
    Ok((plan, records))
}

/// The specs' path as a plan records it (absolute, so that `apply PLANFILE` finds it from
/// anywhere).
pub fn absolute(specs: &Path) -> String {
    std::path::absolute(specs).unwrap_or_else(|_| specs.to_path_buf()).display().to_string()
}

/// The cluster's default savepoint directory, asked only when a managed job runs (only those can
/// be stopped with a savepoint); `None` when not asked or Flink cannot say (the stop then fails,
/// if it does, with the job still running).
async fn cluster_savepoint_dir(client: &Client, observed: &Observed) -> Option<Option<String>> {
    let managed = observed.jobs.iter().any(|j| j.is_active() && plan::identity::parse(&j.id).is_some());
    if !managed {
        return None;
    }
    client.jobmanager_config().await.ok().map(|c| c.dirs().savepoints)
}

/// Ask Flink what the checks before anything stops need (see `plan::checks`): the checkpoint
/// statistics of every live job the plan would stop with state, and the cluster's slots (in all,
/// free, and those each job to be replaced holds) when something would start. What Flink cannot
/// say is left out, and the check that needs it passes.
async fn observe_for_checks(client: &Client, plan: &Plan, observed: &mut Observed) {
    use crate::spec::model::UpgradeMode;
    use plan::{Action, checks};
    let stops: Vec<_> = plan
        .jobs
        .iter()
        .filter(|j| {
            matches!(j.action, Action::Suspend | Action::Stop | Action::Adopt)
                || matches!(j.action, Action::Upgrade { mode } if mode != UpgradeMode::Stateless)
        })
        .filter_map(|j| j.live.as_ref().map(|l| l.id.clone()))
        .collect();
    observed.checkpoints = crate::status::fetch_checkpoints(client, stops)
        .await
        .into_iter()
        .map(|(id, cp)| (id, checks::CheckpointFacts::of(&cp)))
        .collect();
    if plan.jobs.iter().any(|j| j.action.starts_a_job())
        && let Some(overview) = fixed_slots(client).await
    {
        observed.total_slots = Some(overview.slots_total);
        observed.free_slots = Some(overview.slots_available);
        let replaced =
            plan.jobs.iter().filter(|j| matches!(j.action, Action::Upgrade { .. } | Action::Adopt));
        for live in replaced.filter_map(|j| j.live.as_ref()) {
            if let Ok(details) = client.job(&live.id).await {
                observed.slots_held.insert(live.id.clone(), checks::slots_held(&details));
            }
        }
    }
}

/// The cluster's slots, or `None` when they do not bound what can start (see
/// `checks::slots_are_fixed`) or Flink cannot say.
pub async fn fixed_slots(client: &Client) -> Option<crate::flink::ClusterOverview> {
    let config = client.jobmanager_config().await.ok()?;
    if !plan::checks::slots_are_fixed(&config) {
        return None;
    }
    client.cluster_overview().await.ok()
}

/// For every spec that should run but has no live job (and would start from its latest state):
/// every snapshot the sources name, so that the plan shows what it will start from.
async fn gather_snapshots(
    client: &Client,
    desired: &spec::Desired,
    observed: &Observed,
    records: &BTreeMap<String, Record>,
) -> BTreeMap<String, crate::restore::Evidence> {
    use crate::spec::model::{JobState, RestoreFrom, UpgradeMode};
    use futures_util::StreamExt;
    let wanted = desired.jobs.values().filter(|j| {
        j.state == JobState::Running
            && j.upgrade_mode != UpgradeMode::Stateless
            && j.restore.from.value == RestoreFrom::Latest
    });
    let with_lists: Vec<_> = wanted
        .filter(|job| !observed.jobs.iter().any(|l| l.name == job.name && l.is_active()))
        .filter_map(|job| {
            // A renamed spec's state may be in its old names' jobs (`previousNames`).
            let tags = plan::renames::tags(job);
            let listed: Vec<_> = observed
                .jobs
                .iter()
                .filter(|l| plan::identity::parse(&l.id).is_some_and(|m| tags.contains(&m.name_tag)))
                .map(|l| (l.id.clone(), !l.is_active()))
                .collect();
            listed.iter().all(|(_, ended)| *ended).then_some((job, listed))
        })
        .collect();
    if with_lists.is_empty() {
        return BTreeMap::new();
    }
    let cluster = &crate::restore::gather::cluster_dirs(client).await;
    // The futures are made before they are streamed: a closure inside the stream's type hides
    // from the compiler that the whole is `Send` (a fleet observes each cluster on a task).
    let gathering: Vec<_> = with_lists
        .into_iter()
        .map(|(job, listed)| async move {
            let record = plan::renames::record_for(job, records);
            let evidence = crate::restore::gather::gather(client, job, record, &listed, cluster).await;
            (job.name.clone(), evidence)
        })
        .collect();
    futures_util::stream::iter(gathering).buffer_unordered(8).collect().await
}
