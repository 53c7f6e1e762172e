//! What `savepoint`, `savepoints`, `gc` and `plan --refresh-only` share over several clusters
//! (cluster documents): each cluster is worked on as the single-cluster command works on its one
//! cluster, with its own client, ledger (and lock), and a cluster that cannot be reached, locked
//! or observed fails its part alone: the others are done, the output names it under its heading,
//! and the exit code says something failed. See docs/fleet.md, "Snapshot commands".
//!
//! `savepoint` and `gc` reach only the clusters of the jobs asked for (every cluster without
//! `--job`), lock them in identity-key order and observe them (`pipeline::fleet::gather`, as
//! `apply` does), and plan them together (`plan::fleet::plan`), so that a job is acted on only
//! where `apply` would act on it.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::sync::Arc;

use serde::Serialize;

use super::{CommandError, Target};
use crate::apply::lock::ApplyLock;
use crate::flink::Client;
use crate::ledger::{Ledger, Record};
use crate::output::Styles;
use crate::pipeline::fleet::{APPLY_OBSERVE_DEADLINE, LockWith, Member, check_cluster_name, gather, members};
use crate::plan::fleet::{Outcome, cluster_of, desired_on};
use crate::plan::{Options, Plan};
use crate::render::clean;
use crate::spec::Desired;

/// One cluster locked, observed and planned.
pub struct Part {
    /// Its own jobs (`plan::fleet::desired_on`): a job is acted on on its spec's cluster only.
    pub desired: Desired,
    pub client: Client,
    pub ledger: Ledger,
    pub plan: Plan,
    pub records: BTreeMap<String, Record>,
}

/// One cluster of the run: its part, or why it could not be worked on (the error and the fix).
pub struct Group<T> {
    pub name: String,
    pub part: Result<T, String>,
}

/// The clusters of a `savepoint` or `gc` run, their locks held while this lives.
pub struct LockedFleet {
    pub clusters: Vec<Group<Part>>,
    _locks: Vec<ApplyLock>,
}

/// The members a run over `desired` works on: the clusters of the `--job` names, or all.
/// `--cluster-name` is refused over several clusters before any request, as `apply` does.
pub fn chosen_members(t: &Target<'_>, desired: &Desired) -> Result<Vec<Member>, CommandError> {
    let all = members(t.connection, &desired.clusters)?;
    check_cluster_name(&all, t.state.cluster_name.as_deref())?;
    let wanted: BTreeSet<&str> = t.jobs.iter().filter_map(|j| desired.jobs.get(j)).map(cluster_of).collect();
    Ok(all.into_iter().filter(|m| t.jobs.is_empty() || wanted.contains(m.name.as_str())).collect())
}

/// Every cluster of the specs for a read-only command (`savepoints`, `plan --refresh-only`), each
/// connection under `--max-time`; `--cluster-name` refused over several before any request.
pub fn read_members(
    connection: &crate::cli::ConnectionArgs,
    limit: &crate::cli::TimeLimitArgs,
    state: &crate::cli::StateArgs,
    desired: &Desired,
) -> Result<Vec<Member>, CommandError> {
    let members: Vec<Member> = members(connection, &desired.clusters)?
        .into_iter()
        .map(|m| Member { connection: m.connection.limited(limit), ..m })
        .collect();
    check_cluster_name(&members, state.cluster_name.as_deref())?;
    Ok(members)
}

/// Reach the chosen clusters, lock them in identity order, observe and plan them as `apply`
/// would (default options).
pub async fn plan_locked(t: &Target<'_>, desired: Desired, quiet: bool) -> Result<LockedFleet, CommandError> {
    let members = chosen_members(t, &desired)?;
    let desired = Arc::new(desired);
    let command = format!("flinkops {} {}", t.command, t.path.display());
    let lock = LockWith { command: &command, timeout: t.lock_timeout, quiet };
    let opts = Options::default();
    let name = t.state.cluster_name.as_deref();
    let mut gathered =
        gather(members, &t.state.state_dir, name, lock, (&desired, &opts), APPLY_OBSERVE_DEADLINE).await;
    let plan = super::plan::fleet_plan(&desired, &gathered.inputs, t.path, &opts)?;
    let mut clusters = Vec::new();
    for c in plan.clusters {
        let part = match c.outcome {
            Outcome::Planned { plan } => {
                let reached =
                    gathered.reached.iter().find(|(n, _)| *n == c.name).and_then(|(_, r)| r.as_ref().ok());
                let observed = gathered
                    .inputs
                    .iter_mut()
                    .find(|i| i.name == c.name)
                    .and_then(|i| i.observation.as_mut().ok());
                match (reached, observed) {
                    (Some(r), Some(o)) => Ok(Part {
                        desired: desired_on(&desired, &c.name),
                        client: r.client.clone(),
                        ledger: Ledger::new(&r.dir),
                        plan: *plan,
                        records: std::mem::take(&mut o.ledger),
                    }),
                    _ => Err("planned but not reached (a bug: please report it)".to_owned()),
                }
            }
            Outcome::Unobserved { error, .. } => Err(error),
        };
        clusters.push(Group { name: c.name, part });
    }
    Ok(LockedFleet { clusters, _locks: std::mem::take(&mut gathered.locks) })
}

impl Part {
    /// An execution context on this cluster (its client, ledger and records).
    pub fn context(&self, color: crate::cli::ColorChoice, quiet: bool) -> crate::apply::steps::Context {
        crate::pipeline::context(self.client.clone(), self.ledger.clone(), self.records.clone(), color, quiet)
    }
}

/// `work` on every cluster's part, all clusters at once; a cluster that failed stays failed.
pub async fn each_part<'a, T, R, Fut>(
    clusters: &'a [Group<T>],
    work: impl Fn(&'a str, &'a T) -> Fut,
) -> Vec<Group<R>>
where
    Fut: std::future::Future<Output = R>,
{
    let runs = clusters.iter().map(|c| {
        let started = c.part.as_ref().map(|p| work(&c.name, p));
        async move {
            let part = match started {
                Ok(run) => Ok(run.await),
                Err(e) => Err(e.clone()),
            };
            Group { name: c.name.clone(), part }
        }
    });
    futures_util::future::join_all(runs).await
}

/// Whether some cluster failed its part.
pub fn any_failed<T>(clusters: &[Group<T>]) -> bool {
    clusters.iter().any(|c| c.part.is_err())
}

/// A cluster in a JSON report over several clusters (`formatVersion: 2`): its name, and why it
/// could not be worked on.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterEntry<'a> {
    pub name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<&'a str>,
}

impl<'a> ClusterEntry<'a> {
    pub fn all<T>(clusters: &'a [Group<T>]) -> Vec<Self> {
        clusters
            .iter()
            .map(|c| ClusterEntry { name: &c.name, error: c.part.as_ref().err().map(String::as_str) })
            .collect()
    }
}

/// An item of a JSON report over several clusters, with the cluster it is on.
#[derive(Serialize)]
pub struct InCluster<'a, T: Serialize> {
    pub cluster: &'a str,
    #[serde(flatten)]
    pub item: &'a T,
}

/// Every item of every cluster, with its cluster's name.
pub fn flat<'a, T: Serialize>(clusters: &'a [Group<Vec<T>>]) -> Vec<InCluster<'a, T>> {
    clusters
        .iter()
        .filter_map(|c| c.part.as_ref().ok().map(|items| (c, items)))
        .flat_map(|(c, items)| items.iter().map(|item| InCluster { cluster: &c.name, item }))
        .collect()
}

/// Each cluster's text under its heading (`Cluster `east`:`), a cluster that failed with its
/// error, and a closing line naming the failed ones.
pub fn write_grouped<T>(
    clusters: &[Group<T>],
    s: &Styles,
    out: &mut dyn Write,
    mut each: impl FnMut(&T, &mut dyn Write) -> std::io::Result<()>,
) -> std::io::Result<()> {
    for (i, c) in clusters.iter().enumerate() {
        if i > 0 {
            writeln!(out)?;
        }
        match &c.part {
            Ok(part) => {
                writeln!(out, "{}Cluster `{}`:{}", s.bold.render(), clean(&c.name), s.bold.render_reset())?;
                each(part, out)?;
            }
            Err(error) => {
                writeln!(
                    out,
                    "{}Cluster `{}` (not observed):{}",
                    s.bold.render(),
                    clean(&c.name),
                    s.bold.render_reset()
                )?;
                writeln!(out, "{}Error:{} {}", s.error.render(), s.error.render_reset(), clean(error))?;
            }
        }
    }
    failed_line(clusters, s, out)
}

/// `N cluster(s) could not be observed: west.` when some failed.
pub fn failed_line<T>(clusters: &[Group<T>], s: &Styles, out: &mut dyn Write) -> std::io::Result<()> {
    let failed: Vec<String> =
        clusters.iter().filter(|c| c.part.is_err()).map(|c| format!("`{}`", clean(&c.name))).collect();
    if failed.is_empty() {
        return Ok(());
    }
    writeln!(
        out,
        "\n{}{} cluster(s) could not be observed: {} (see above).{}",
        s.error.render(),
        failed.len(),
        failed.join(", "),
        s.error.render_reset()
    )
}
