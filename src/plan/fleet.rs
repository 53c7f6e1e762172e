//! One plan across several clusters: each cluster planned by `planner::plan` on its own jobs,
//! then the passes that need the whole fleet — dependencies that cross clusters (blocked starts,
//! waves) and `--target` / `--exclude` — run once over every cluster's jobs together.
//!
//! A job whose `cluster:` changed becomes a `move` (see `moves`) before those passes.
//!
//! A cluster that could not be observed is planned as an error for each of its jobs: nothing is
//! decided for them, a start elsewhere that waits for one of them is blocked, and every other
//! cluster is planned as usual. Pure like the planner: the caller observes the clusters (each
//! with its own ledger) and passes the observations or the errors in.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::model::{Action, ClusterRef, JobPlan, Plan, Summary, Wave, WaveKind};
use super::observed::Observed;
use super::planner::{self, Options};
use super::reasons::Reason;
use crate::ledger::Record;
use crate::spec::Desired;
use crate::spec::clusters::DEFAULT_CLUSTER;

/// What the caller learnt about one cluster before planning.
#[derive(Debug, Clone)]
pub struct ClusterInput {
    /// The cluster document's name (`default` for the connection flags' cluster).
    pub name: String,
    /// Its observation, or why it could not be observed.
    pub observation: Result<ClusterObservation, Unobserved>,
}

/// A cluster that could not be observed.
#[derive(Debug, Clone, Default)]
pub struct Unobserved {
    /// Why, in words, with the fix.
    pub error: String,
    /// Its ledger, when the state directory knows it by the cluster's URL (`cluster.json`), for
    /// the jobs it had: a first deployment elsewhere of one of those (or of any job, when the
    /// ledger is unknown) waits, since the job may run there (see `moves`).
    pub ledger: Option<BTreeMap<String, Record>>,
}

/// One cluster as observed.
#[derive(Debug, Clone, Default)]
pub struct ClusterObservation {
    /// The key of its identity (`cluster::Identity::key`): where its ledger and lock live.
    pub identity: String,
    /// The REST URL and the Flink version it reported.
    pub cluster: Option<ClusterRef>,
    pub observed: Observed,
    /// Its own ledger: records of another cluster never decide this one's jobs.
    pub ledger: BTreeMap<String, Record>,
    /// Where a job that names no savepoint directory writes its savepoints on this cluster: the
    /// cluster document's `defaults.savepointDirectory`, else Flink's
    /// `execution.checkpointing.savepoint-dir`. `None`: none, or not known.
    pub savepoint_dir: Option<String>,
}

/// The decided actions of every cluster and the order across them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FleetPlan {
    /// One entry per cluster, by name.
    pub clusters: Vec<ClusterPlan>,
    /// The order apply runs the actions of all clusters in: stops first (downstream first),
    /// then starts wave by wave (upstream first), a dependency on another cluster included.
    pub waves: Vec<FleetWave>,
}

/// One cluster's part of a fleet plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterPlan {
    pub name: String,
    /// The key of its identity, when it could be observed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    pub outcome: Outcome,
}

/// A cluster's plan, or why it has none.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", rename_all_fields = "camelCase", tag = "type")]
pub enum Outcome {
    /// Observed and planned: its waves are its share of the fleet's.
    Planned { plan: Box<Plan> },
    /// Not observed: none of its jobs can be decided (each is failed for the run).
    Unobserved {
        /// Why, with the fix.
        error: String,
        /// Its jobs, by name.
        jobs: Vec<String>,
    },
}

/// Jobs of any clusters that may run at the same time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FleetWave {
    pub kind: WaveKind,
    /// Sorted by cluster, then job.
    pub jobs: Vec<JobAt>,
}

/// A job on a cluster.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobAt {
    pub cluster: String,
    pub job: String,
}

/// The cluster a job runs on, by name.
pub fn cluster_of(job: &crate::spec::Job) -> &str {
    job.cluster.as_deref().unwrap_or(DEFAULT_CLUSTER)
}

/// The jobs of one cluster, with that cluster's document.
pub fn desired_on(desired: &Desired, cluster: &str) -> Desired {
    Desired {
        jobs: desired
            .jobs
            .iter()
            .filter(|(_, j)| cluster_of(j) == cluster)
            .map(|(n, j)| (n.clone(), j.clone()))
            .collect(),
        clusters: desired
            .clusters
            .iter()
            .filter(|(n, _)| *n == cluster)
            .map(|(n, c)| (n.clone(), c.clone()))
            .collect(),
    }
}

/// Decide every cluster's actions and the order across clusters. `clusters` lists each cluster
/// once (a job whose cluster is not listed is planned nowhere: the caller lists them all).
pub fn plan(desired: &Desired, clusters: &[ClusterInput], opts: &Options) -> FleetPlan {
    // Scope (`--target` / `--exclude`) runs once across the fleet: an upstream job to pull in
    // may be on another cluster.
    let per_cluster = Options {
        control: super::Control { target: Vec::new(), exclude: Vec::new(), ..opts.control.clone() },
        ..opts.clone()
    };
    let mut out: Vec<ClusterPlan> = clusters
        .iter()
        .map(|c| {
            let own = desired_on(desired, &c.name);
            match &c.observation {
                Ok(o) => {
                    let mut p = planner::plan(&own, &o.observed, &o.ledger, &per_cluster);
                    p.cluster.clone_from(&o.cluster);
                    // The options as given: the scope was applied across the fleet.
                    p.options.control = opts.control.clone();
                    let outcome = Outcome::Planned { plan: Box::new(p) };
                    ClusterPlan { name: c.name.clone(), identity: Some(o.identity.clone()), outcome }
                }
                Err(u) => ClusterPlan {
                    name: c.name.clone(),
                    identity: None,
                    outcome: Outcome::Unobserved {
                        error: u.error.clone(),
                        jobs: own.jobs.into_keys().collect(),
                    },
                },
            }
        })
        .collect();
    super::moves::plan(&mut out, desired, clusters, opts);
    let waves = across(&mut out, desired, opts);
    FleetPlan { clusters: out, waves }
}

/// The passes over every cluster's jobs together: blocked starts, scope, waves. Each planned
/// cluster's own `waves` become its share of the fleet's.
fn across(clusters: &mut [ClusterPlan], desired: &Desired, opts: &Options) -> Vec<FleetWave> {
    // (cluster, job, whether it stands in for a job of an unobserved cluster)
    let mut all: Vec<(String, JobPlan, bool)> = Vec::new();
    for c in clusters.iter_mut() {
        match &mut c.outcome {
            Outcome::Planned { plan } => all.extend(plan.jobs.drain(..).map(|j| (c.name.clone(), j, false))),
            // Jobs of an unobserved cluster count as conflicts, so that what waits for them is
            // blocked; they are not written back.
            Outcome::Unobserved { jobs, .. } => {
                all.extend(jobs.iter().filter_map(|n| desired.jobs.get(n)).map(|job| {
                    let why = Reason::ClusterUnobserved { cluster: c.name.clone() };
                    (c.name.clone(), planner::base(job, Action::Conflict, why), true)
                }))
            }
        }
    }
    // Orphans first: `mark_blocked` reads the last entry of a name, which must be the spec's own
    // when a job of the same name runs, without its spec, on another cluster.
    all.sort_by_key(|(_, j, _)| j.origin.is_some());
    let (mut names, mut jobs, mut stand_in) = (Vec::new(), Vec::new(), Vec::new());
    for (c, j, s) in all {
        names.push(c);
        jobs.push(j);
        stand_in.push(s);
    }
    planner::mark_blocked(&mut jobs, desired);
    super::control::scope(&mut jobs, desired, &opts.control);
    let keyed = names.iter().zip(&jobs).map(|(c, j)| (JobAt { cluster: c.clone(), job: j.name.clone() }, j));
    let waves: Vec<FleetWave> =
        planner::ordered(keyed, desired).into_iter().map(|(kind, jobs)| FleetWave { kind, jobs }).collect();
    for ((cluster, job), _) in names.into_iter().zip(jobs).zip(stand_in).filter(|(_, s)| !s) {
        if let Some(Outcome::Planned { plan }) =
            clusters.iter_mut().find(|c| c.name == cluster).map(|c| &mut c.outcome)
        {
            plan.jobs.push(job);
        }
    }
    for c in clusters.iter_mut() {
        if let Outcome::Planned { plan } = &mut c.outcome {
            plan.jobs.sort_by(|a, b| a.name.cmp(&b.name));
            plan.waves = share(&waves, &c.name);
        }
    }
    waves
}

/// One cluster's jobs of the fleet's waves, in the same order (waves with none left out).
fn share(waves: &[FleetWave], cluster: &str) -> Vec<Wave> {
    waves
        .iter()
        .map(|w| Wave {
            kind: w.kind,
            jobs: w.jobs.iter().filter(|j| j.cluster == cluster).map(|j| j.job.clone()).collect(),
        })
        .filter(|w| !w.jobs.is_empty())
        .collect()
}

impl FleetPlan {
    /// Hold back jobs after planning (`watch`'s back-offs and self-heal holds), by cluster then
    /// job, as `planner::hold` does on one cluster: each planned cluster's plan is held, and the
    /// fleet's waves lose the jobs now blocked (the executor runs the fleet's waves). A consumer
    /// on another cluster of a held job is skipped by the executor (its upstream did not run).
    pub fn hold(&mut self, desired: &Desired, held: &BTreeMap<String, BTreeMap<String, String>>) {
        let mut blocked = Vec::new();
        for c in self.clusters.iter_mut() {
            let (Outcome::Planned { plan }, Some(reasons)) = (&mut c.outcome, held.get(&c.name)) else {
                continue;
            };
            planner::hold(plan, desired, reasons);
            let now = plan.jobs.iter().filter(|j| j.blocked_by.is_some());
            blocked.extend(now.map(|j| JobAt { cluster: c.name.clone(), job: j.name.clone() }));
        }
        for wave in self.waves.iter_mut() {
            wave.jobs.retain(|at| !blocked.contains(at));
        }
        self.waves.retain(|w| !w.jobs.is_empty());
    }

    /// The plan of cluster `name`, when it was observed.
    pub fn plan_of(&self, name: &str) -> Option<&Plan> {
        self.clusters.iter().find(|c| c.name == name).and_then(|c| match &c.outcome {
            Outcome::Planned { plan } => Some(plan.as_ref()),
            Outcome::Unobserved { .. } => None,
        })
    }

    /// Whether some cluster could not be observed (the run fails, whatever else it does).
    pub fn has_unobserved(&self) -> bool {
        self.clusters.iter().any(|c| matches!(c.outcome, Outcome::Unobserved { .. }))
    }

    /// The plans of the observed clusters, with their names.
    pub fn plans(&self) -> impl Iterator<Item = (&str, &Plan)> {
        self.clusters.iter().filter_map(|c| match &c.outcome {
            Outcome::Planned { plan } => Some((c.name.as_str(), plan.as_ref())),
            Outcome::Unobserved { .. } => None,
        })
    }

    /// The plans of the observed clusters, to change (the command sets where the specs are).
    pub fn plans_mut(&mut self) -> impl Iterator<Item = &mut Plan> {
        self.clusters.iter_mut().filter_map(|c| match &mut c.outcome {
            Outcome::Planned { plan } => Some(plan.as_mut()),
            Outcome::Unobserved { .. } => None,
        })
    }

    /// Whether applying would change anything on some cluster.
    pub fn has_changes(&self) -> bool {
        self.plans().any(|(_, p)| p.has_changes())
    }

    /// Whether apply could not act on some job: a problem in a cluster's plan, or a cluster not
    /// observed.
    pub fn has_problems(&self) -> bool {
        self.has_unobserved() || self.plans().any(|(_, p)| !p.problems.is_empty())
    }

    /// The counts of every cluster's summary line together.
    pub fn summary(&self) -> Summary {
        self.plans().map(|(_, p)| p.summary()).fold(Summary::default(), |a, b| Summary {
            deploy: a.deploy + b.deploy,
            upgrade: a.upgrade + b.upgrade,
            settings: a.settings + b.settings,
            stop: a.stop + b.stop,
            moves: a.moves + b.moves,
        })
    }

    /// Every job name of the fleet, observed or not: what `--target` and the other name flags
    /// may name.
    pub fn job_names(&self) -> Vec<&str> {
        self.clusters
            .iter()
            .flat_map(|c| -> Vec<&str> {
                match &c.outcome {
                    Outcome::Planned { plan } => plan.jobs.iter().map(|j| j.name.as_str()).collect(),
                    Outcome::Unobserved { jobs, .. } => jobs.iter().map(String::as_str).collect(),
                }
            })
            .collect()
    }
}

#[cfg(test)]
#[path = "fleet_tests.rs"]
pub(crate) mod tests;
