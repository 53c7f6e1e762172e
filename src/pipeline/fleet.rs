//! The pipeline over every cluster of the specs (a fleet): each cluster is reached (client,
//! identity, state directory) and observed by the single-cluster steps of `pipeline`, all
//! clusters at once, one task per cluster with its own deadline. What comes out is one
//! `ClusterInput` per cluster for `plan::fleet::plan`.
//!
//! A cluster that cannot be reached or observed in time is `Unobserved`, with the error and the
//! fix in words and, when the state directory knows its URL (`cluster::last_known_at`), its
//! ledger: the other clusters are observed as usual. With no cluster document the connection
//! flags' cluster, named `default`, is the only one.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::{Connection, Observation, observe};
use crate::cli::{ConnectionArgs, ConnectionError};
use crate::flink::Client;
use crate::ledger::{Ledger, Record};
use crate::plan::Options;
use crate::plan::fleet::{ClusterInput, ClusterObservation, Unobserved, desired_on};
use crate::spec::{Desired, clusters::Cluster};

/// How long observing one cluster may take in `apply` (which has no `--max-time`): a cluster that
/// accepts connections and never answers is given up on after this, the others go on.
pub const APPLY_OBSERVE_DEADLINE: Duration = Duration::from_secs(300);

/// One cluster of the specs and how to reach it.
#[derive(Debug, Clone)]
pub struct Member {
    /// The cluster document's name (`default` for the flags' cluster).
    pub name: String,
    pub connection: Connection,
    /// The document's `defaults.savepointDirectory`.
    pub savepoint_dir: Option<String>,
    /// Where the document was written (`file:line`); `None` for the flags' cluster.
    pub origin: Option<String>,
}

impl Member {
    /// What to do about `e` on this cluster: for a cluster document, words that name the document
    /// where the flags' hint would name `FLINK_URL` (which did not give this URL).
    pub fn hint(&self, e: &crate::flink::Error) -> Option<String> {
        hint(&self.name, self.origin.as_deref(), e)
    }
}

/// Every cluster of the specs, by name: each cluster document, or the flags' `default`.
pub fn members(
    flags: &ConnectionArgs,
    clusters: &BTreeMap<String, Cluster>,
) -> Result<Vec<Member>, ConnectionError> {
    let env = |name: &str| std::env::var(name).ok();
    Ok(flags
        .fleet_configs_with(clusters, &env)?
        .into_iter()
        .map(|(name, config)| Member {
            savepoint_dir: clusters.get(&name).and_then(|c| c.savepoint_directory.clone()),
            origin: clusters.get(&name).map(|c| c.origin.clone()),
            name,
            connection: Connection { config },
        })
        .collect())
}

/// `--cluster-name` names one cluster: refused over several, where it would name none of them
/// (ignoring it would keep each cluster's ledger and lock where the user did not ask).
pub fn check_cluster_name(members: &[Member], cluster_name: Option<&str>) -> Result<(), ConnectionError> {
    if cluster_name.is_none() || members.len() < 2 {
        return Ok(());
    }
    let names: Vec<&str> = members.iter().map(|m| m.name.as_str()).collect();
    Err(ConnectionError::ClusterNameForFleet { count: names.len(), names: names.join(", ") })
}

/// Whether the run reads the state directory only (`plan`) or writes it (`apply`, `watch`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

/// A cluster reached: its client, the key of its identity and its state directory.
#[derive(Debug, Clone)]
pub struct Reached {
    pub name: String,
    pub client: Client,
    /// `cluster::Identity::key`: orders the locks of a run over several clusters.
    pub identity: String,
    pub dir: PathBuf,
    savepoint_dir: Option<String>,
    origin: Option<String>,
}

/// A cluster reached, or why not.
pub type Reach = (String, Result<Reached, Unobserved>);

/// Reach every member at once: a client, the identity (`--cluster-name` only when there is one
/// cluster: one name cannot name several), the state directory (`claim`ed for `Access::Write`).
pub async fn reach_all(
    members: Vec<Member>,
    state_dir: &Path,
    cluster_name: Option<&str>,
    access: Access,
    deadline: Duration,
) -> Vec<Reach> {
    let name = cluster_name.filter(|_| members.len() == 1).map(str::to_owned);
    let state_dir = state_dir.to_path_buf();
    let tasks = members.into_iter().map(|m| {
        let (state_dir, name) = (state_dir.clone(), name.clone());
        let url = m.connection.config.base_url.clone();
        let late = {
            let (state_dir, url, label) = (state_dir.clone(), url.clone(), m.name.clone());
            move || (label, Err(unobserved(&state_dir, &url, timed_out(deadline))))
        };
        let work = async move {
            let reached = reach(&m, &state_dir, name.as_deref(), access).await;
            (m.name, reached.map_err(|error| unobserved(&state_dir, &url, error)))
        };
        (work, late)
    });
    each(tasks, deadline).await
}

/// Observe every reached cluster at once, each for its own jobs of `desired`; the ones not
/// reached pass through as `Unobserved`.
pub async fn observe_reached(
    reached: &[Reach],
    desired: &Arc<Desired>,
    opts: &Options,
    deadline: Duration,
) -> Vec<ClusterInput> {
    let tasks = reached.iter().map(|(name, r)| {
        let (name, r, desired, opts) = (name.clone(), r.clone(), Arc::clone(desired), opts.clone());
        let label = name.clone();
        let dir = r.as_ref().ok().map(|r| r.dir.clone());
        let work = async move {
            let observation = match r {
                Ok(reached) => observe_one(&reached, &desired, &opts).await,
                Err(u) => Err(u),
            };
            ClusterInput { name, observation }
        };
        let late = move || ClusterInput {
            name: label,
            observation: Err(Unobserved {
                error: timed_out(deadline),
                ledger: dir.and_then(|d| read_ledger(&d)),
            }),
        };
        (work, late)
    });
    each(tasks, deadline).await
}

/// Reach and observe every cluster of the specs (read-only: `plan`, `watch`).
pub async fn observe_fleet(
    members: Vec<Member>,
    state_dir: &Path,
    cluster_name: Option<&str>,
    desired: &Arc<Desired>,
    opts: &Options,
    deadline: Duration,
) -> Vec<ClusterInput> {
    let reached = reach_all(members, state_dir, cluster_name, Access::Read, deadline).await;
    observe_reached(&reached, desired, opts, deadline).await
}

async fn reach(m: &Member, state_dir: &Path, name: Option<&str>, access: Access) -> Result<Reached, String> {
    let client = m.connection.client().map_err(|e| flink_words(&e, m.hint(&e)))?;
    let identity = crate::cluster::resolve(&client, name).await.map_err(|e| cluster_words(&e, m))?;
    let dir = match access {
        Access::Read => crate::cluster::locate(state_dir, &identity, client.base_url()),
        Access::Write => crate::cluster::claim(state_dir, &identity, client.base_url()),
    }
    .map_err(|e| cluster_words(&e, m))?;
    Ok(Reached {
        name: m.name.clone(),
        client,
        identity: identity.key,
        dir,
        savepoint_dir: m.savepoint_dir.clone(),
        origin: m.origin.clone(),
    })
}

/// One reached cluster's observation, as `plan::fleet` takes it.
async fn observe_one(
    r: &Reached,
    desired: &Desired,
    opts: &Options,
) -> Result<ClusterObservation, Unobserved> {
    let own = desired_on(desired, &r.name);
    // As `plan::fleet` plans each cluster: the scope is applied across the fleet afterwards, and a
    // job another cluster's `--target` pulls in needs its checks' facts too.
    let control = crate::plan::Control { target: Vec::new(), exclude: Vec::new(), ..opts.control.clone() };
    let opts = &Options { control, ..opts.clone() };
    let ledger = Ledger::new(&r.dir);
    let failed = |e: crate::flink::Error| Unobserved {
        error: flink_words(&e, hint(&r.name, r.origin.as_deref(), &e)),
        ledger: read_ledger(&r.dir),
    };
    let Observation { observed, records, cluster } =
        observe(&r.client, &ledger, &own, opts).await.map_err(failed)?;
    let savepoint_dir = match (&r.savepoint_dir, &observed.cluster_savepoint_dir) {
        (Some(dir), _) => Some(dir.clone()),
        (None, Some(asked)) => asked.clone(),
        (None, None) => r.client.jobmanager_config().await.ok().and_then(|c| c.dirs().savepoints),
    };
    Ok(ClusterObservation {
        identity: r.identity.clone(),
        cluster: Some(cluster),
        observed,
        ledger: records,
        savepoint_dir,
    })
}

/// An unreached cluster, with the ledger of the directory last reached at its URL.
fn unobserved(state_dir: &Path, url: &str, error: String) -> Unobserved {
    Unobserved { error, ledger: crate::cluster::last_known_at(state_dir, url).and_then(|d| read_ledger(&d)) }
}

/// The records of the ledger in `dir`, `None` when it cannot be read.
pub fn read_ledger(dir: &Path) -> Option<BTreeMap<String, Record>> {
    Ledger::new(dir).read_all().ok().map(|all| all.ok)
}

fn timed_out(deadline: Duration) -> String {
    format!(
        "no answer within {}s (the cluster accepts connections but does not answer, or is overloaded); \
         check it with `flinkops status`, or plan again with a longer --max-time",
        deadline.as_secs()
    )
}

fn flink_words(e: &crate::flink::Error, fix: Option<String>) -> String {
    with_fix(crate::output::error_chain(e), fix)
}

fn cluster_words(e: &crate::cluster::Error, m: &Member) -> String {
    let fix = match e {
        crate::cluster::Error::Flink(e) => m.hint(e),
        _ => e.help(),
    };
    with_fix(crate::output::error_chain(e), fix)
}

/// The hint for `e` on cluster `name`: `Error::help` for the flags' cluster; for a cluster
/// document written at `origin`, the hints that name `FLINK_URL`, `--flink-url` or the TLS flags
/// are said of the document instead (connection flags are refused beside cluster documents).
fn hint(name: &str, origin: Option<&str>, e: &crate::flink::Error) -> Option<String> {
    origin.and_then(|origin| document_hint(name, origin, e)).or_else(|| e.help().map(str::to_owned))
}

/// The hint for `e` on the cluster of document `name` written at `origin`, when `Error::help`
/// would name `FLINK_URL`, `--flink-url` or the TLS flags; `None` for the other errors, whose
/// hint holds for a document too.
pub fn document_hint(name: &str, origin: &str, e: &crate::flink::Error) -> Option<String> {
    use crate::flink::Error::*;
    let check = match e {
        ConnectionRefused { .. } | Unreachable { .. } => {
            "is Flink running there, and is that `url` the address of its REST API (the JobManager's \
             rest.port, 8081 by default)?"
        }
        InvalidResponse { .. } | TooLarge { .. } | Redirected { .. } => {
            "is that `url` the Flink REST API itself, including any path prefix of a proxy?"
        }
        Tls { .. } => {
            "check its `caFile` (the CA that signed Flink's or the proxy's certificate), that the host in \
             its `url` is one the certificate names, and for mutual TLS `clientCertFile` and `clientKeyFile`"
        }
        _ => return None,
    };
    Some(format!("the URL is the `url` of cluster `{name}` ({origin}): {check}"))
}

fn with_fix(error: String, fix: Option<String>) -> String {
    match fix {
        Some(fix) => format!("{error}; {fix}"),
        None => error,
    }
}

/// Run every task at once, each on its own tokio task and under its own deadline (`late` gives
/// its result when the deadline passes first); the results in the tasks' order.
async fn each<W, L, R>(tasks: impl Iterator<Item = (W, L)>, deadline: Duration) -> Vec<R>
where
    W: Future<Output = R> + Send + 'static,
    L: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let mut set = tokio::task::JoinSet::new();
    for (i, (work, late)) in tasks.enumerate() {
        set.spawn(async move {
            match tokio::time::timeout(deadline, work).await {
                Ok(r) => (i, r),
                Err(_) => (i, late()),
            }
        });
    }
    let mut out = Vec::new();
    while let Some(done) = set.join_next().await {
        // A task panicked: that is a bug, and it is not hidden.
        out.push(done.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic())));
    }
    out.sort_by_key(|(i, _)| *i);
    out.into_iter().map(|(_, r)| r).collect()
}

/// How a run over several clusters takes each cluster's lock.
#[derive(Debug, Clone, Copy)]
pub struct LockWith<'a> {
    /// What the lock file shows (`flinkops apply DIR`, `flinkops watch DIR`).
    pub command: &'a str,
    /// How long to wait for a lock another process holds (`watch`: not at all, it tries again).
    pub timeout: Duration,
    pub quiet: bool,
}

/// The clusters of a run reached, locked and observed, ready for `plan::fleet::plan`. The locks
/// are held while this lives.
pub struct Gathered {
    pub reached: Vec<Reach>,
    pub locks: Vec<crate::apply::lock::ApplyLock>,
    pub inputs: Vec<ClusterInput>,
    /// The clusters whose lock another process holds (an apply), by name, with the lock's words
    /// naming the holder: reached but not observed this run (`watch` skips them for the tick).
    pub busy: BTreeMap<String, String>,
}

/// What `apply` and each `watch` tick over several clusters share before planning: reach every
/// member (write access), lock the reached ones in identity order, observe them all at once.
pub async fn gather(
    members: Vec<Member>,
    state_dir: &Path,
    cluster_name: Option<&str>,
    lock: LockWith<'_>,
    (desired, opts): (&Arc<Desired>, &Options),
    deadline: Duration,
) -> Gathered {
    let mut reached = reach_all(members, state_dir, cluster_name, Access::Write, deadline).await;
    let (locks, busy) = lock_in_order(&mut reached, lock);
    let inputs = observe_reached(&reached, desired, opts, deadline).await;
    Gathered { reached, locks, inputs, busy }
}

/// Lock every reached cluster, in identity-key order (two runs locking two clusters in opposite
/// orders would wait for each other), before it is observed, so that the plan applied is the one
/// observed under the locks, as for one cluster. A cluster whose lock cannot be taken is not
/// observed (its jobs fail this run); the others go on. Also returns the clusters whose lock
/// another process holds, with the holder in words.
fn lock_in_order(
    reached: &mut [Reach],
    with: LockWith<'_>,
) -> (Vec<crate::apply::lock::ApplyLock>, BTreeMap<String, String>) {
    let mut order: Vec<usize> = (0..reached.len()).filter(|i| reached[*i].1.is_ok()).collect();
    order.sort_by_key(|i| reached[*i].1.as_ref().map(|r| r.identity.clone()).unwrap_or_default());
    let (mut locks, mut busy) = (Vec::new(), BTreeMap::new());
    for i in order {
        let Ok(r) = &reached[i].1 else { continue };
        match super::lock_cluster(&r.dir, &r.client, with.command, with.timeout, with.quiet) {
            Ok(lock) => locks.push(lock),
            Err(e) => {
                if let crate::apply::lock::LockError::Held { holder, .. } = &e
                    && !this_process(holder.as_deref())
                {
                    busy.insert(reached[i].0.clone(), e.to_string());
                }
                let error = format!("{}; {}", crate::output::error_chain(&e), e.help());
                // Its ledger still says which jobs it has (read, never written, without the lock).
                reached[i].1 = Err(Unobserved { error, ledger: read_ledger(&r.dir) });
            }
        }
    }
    (locks, busy)
}

/// Whether the lock's holder is this process: two cluster documents whose clusters report one
/// identity share one directory, and the second lock is refused to this very run. That is no
/// concurrent apply (busy) but a configuration to fix, and stays an error.
fn this_process(holder: Option<&crate::apply::lock::HolderInfo>) -> bool {
    let me = crate::apply::lock::Holder::current("");
    holder.is_some_and(|h| h.pid == me.pid && h.host == me.host)
}

impl Gathered {
    /// One execution context per observed cluster, by name, made by `make` from its client, its
    /// ledger and the records read with its observation; its progress lines name the cluster.
    pub fn contexts(
        &mut self,
        make: impl Fn(Client, Ledger, BTreeMap<String, Record>) -> crate::apply::steps::Context,
    ) -> BTreeMap<String, crate::apply::steps::Context> {
        let mut out = BTreeMap::new();
        for input in self.inputs.iter_mut() {
            let (Ok(observation), Some((_, Ok(r)))) =
                (&mut input.observation, self.reached.iter().find(|(n, _)| *n == input.name))
            else {
                continue;
            };
            let records = std::mem::take(&mut observation.ledger);
            let mut context = make(r.client.clone(), Ledger::new(&r.dir), records);
            context.progress.name_cluster(&input.name);
            out.insert(input.name.clone(), context);
        }
        out
    }
}

/// Run the fleet plan's waves with one context per observed cluster; each job of a cluster that
/// could not be observed fails. Also removes the jar uploads no job refers to any more: the
/// results by cluster, and how many uploads were removed.
pub async fn execute(
    plan: &crate::plan::fleet::FleetPlan,
    contexts: &BTreeMap<String, crate::apply::steps::Context>,
    desired: &Desired,
    concurrency: usize,
) -> (Vec<(String, crate::apply::execute::JobResult)>, usize) {
    use crate::apply::execute::{self, ClusterRun};
    let runs: Vec<ClusterRun> = plan
        .plans()
        .filter_map(|(name, plan)| contexts.get(name).map(|ctx| ClusterRun { name, ctx, plan }))
        .collect();
    let mut results = execute::execute_fleet(&runs, &plan.waves, desired, concurrency).await;
    results.extend(unobserved_results(plan));
    let mut removed = 0;
    for ctx in contexts.values() {
        removed += ctx.remove_dropped_jars().await;
    }
    (results, removed)
}

/// A failed result for each job of a cluster that could not be observed.
fn unobserved_results(
    plan: &crate::plan::fleet::FleetPlan,
) -> Vec<(String, crate::apply::execute::JobResult)> {
    use crate::apply::execute::{JobResult, Outcome};
    use crate::plan::fleet::Outcome as ClusterOutcome;
    plan.clusters
        .iter()
        .filter_map(|c| match &c.outcome {
            ClusterOutcome::Unobserved { error, jobs } => Some((c, error, jobs)),
            ClusterOutcome::Planned { .. } => None,
        })
        .flat_map(|(c, error, jobs)| {
            jobs.iter().map(move |job| {
                let reason = crate::apply::outcome::StepError::ClusterUnobserved {
                    cluster: c.name.clone(),
                    error: error.clone(),
                };
                let result = JobResult {
                    name: job.clone(),
                    action: crate::plan::Action::Conflict,
                    outcome: Outcome::Failed { reason },
                    seconds: 0.0,
                };
                (c.name.clone(), result)
            })
        })
        .collect()
}
