//! The scheduled work of `watch` besides converging specs: periodic savepoints (`savepoint.every`,
//! decided by `schedule`) and gc (`--gc-every`, decided by `retention` exactly as `flinkops gc`).
//!
//! Both run inside a reconcile, after its actions, under the same apply lock: a savepoint never
//! interleaves with an upgrade of its job (watch's own, or an `apply` elsewhere, which holds the
//! lock), and gc never disposes of a snapshot an upgrade is about to start from. A failure is
//! logged with its cause and counted in `/metrics`; the job is not touched otherwise, and the
//! next tick tries again after a back-off. Nothing here starts once shutdown began.
//!
//! Each cluster has its own schedule (`Schedules`: failures, last gc, wake-up per cluster): over
//! several clusters, each runs under that cluster's lock, from and into that cluster's ledger,
//! all clusters at once, so one slow or failing cluster neither delays nor stops the others.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use jiff::Timestamp;
use tokio_util::sync::CancellationToken;

use super::metrics::Metrics;
use super::schedule::{self, Failures, Input, Verdict};
use crate::apply::dispose as gc;
use crate::apply::progress::Progress;
use crate::apply::steps::{Context, SavepointSettings, StepError};
use crate::flink::{Client, JobId};
use crate::ledger::{Ledger, Record, SavepointReason};
use crate::plan::Plan;
use crate::retention::Verdict as Kept;
use crate::spec::Desired;

/// One cluster's periodic work to run now, under its lock (held by the caller): its client, its
/// ledger, its own jobs (`plan::fleet::desired_on`), its plan and its records.
pub struct Chores {
    pub client: Client,
    pub ledger: Ledger,
    pub desired: Desired,
    pub plan: Plan,
    pub records: BTreeMap<String, Record>,
}

/// Every cluster's schedule, by cluster name: failures, the last gc and the next wake-up are kept
/// per cluster (a job's failures on one cluster never back off another's).
pub struct Schedules {
    backoff: Duration,
    gc_every: Option<Duration>,
    concurrency: usize,
    by_cluster: BTreeMap<String, Periodic>,
}

impl Schedules {
    pub fn new(backoff: Duration, gc_every: Option<Duration>, concurrency: usize) -> Self {
        Self { backoff, gc_every, concurrency, by_cluster: BTreeMap::new() }
    }

    /// The schedule of `cluster` (a new one, nothing remembered, the first time).
    pub fn of(&mut self, cluster: &str) -> &mut Periodic {
        let (backoff, gc_every, concurrency) = (self.backoff, self.gc_every, self.concurrency);
        self.by_cluster
            .entry(cluster.to_owned())
            .or_insert_with(|| Periodic::new(backoff, gc_every, concurrency))
    }

    /// The earliest wake-up of any cluster's schedule.
    pub fn wake(&self) -> Option<Instant> {
        self.by_cluster.values().filter_map(Periodic::wake).min()
    }

    /// Forget the clusters no longer in the specs.
    pub fn keep_only<'a>(&mut self, clusters: impl IntoIterator<Item = &'a String>) {
        let keep: BTreeSet<&String> = clusters.into_iter().collect();
        self.by_cluster.retain(|name, _| keep.contains(name));
    }

    /// Run every cluster's chores at once, each with its own schedule; the records of each
    /// afterwards, by cluster.
    pub async fn run_all(
        &mut self,
        mut chores: BTreeMap<String, Chores>,
        metrics: &Metrics,
        shutdown: &CancellationToken,
    ) -> BTreeMap<String, BTreeMap<String, Record>> {
        for name in chores.keys() {
            self.of(name);
        }
        let runs = self.by_cluster.iter_mut().filter_map(|(name, periodic)| {
            let c = chores.remove(name)?;
            Some(async move {
                let (desired, plan) = (&c.desired, &c.plan);
                let records = periodic
                    .run(c.client, c.ledger, desired, plan, c.records, (metrics, name), shutdown)
                    .await;
                (name.clone(), records)
            })
        });
        futures_util::future::join_all(runs).await.into_iter().collect()
    }
}

/// Failures and the last gc, remembered between reconciles.
pub struct Periodic {
    backoff: Duration,
    gc_every: Option<Duration>,
    concurrency: usize,
    failures: Failures,
    last_gc: Option<Instant>,
    /// When the schedule next needs a reconcile, as of the last look.
    wake: Option<Instant>,
}

/// What a look at the schedule found.
pub struct Due {
    /// Specs whose periodic savepoint is due, with their running job.
    pub savepoints: Vec<(String, JobId)>,
    pub gc: bool,
}

impl Due {
    pub fn any(&self) -> bool {
        !self.savepoints.is_empty() || self.gc
    }
}

impl Periodic {
    pub fn new(backoff: Duration, gc_every: Option<Duration>, concurrency: usize) -> Self {
        Self { backoff, gc_every, concurrency, failures: Failures::default(), last_gc: None, wake: None }
    }

    /// When the next savepoint or gc falls due (always in the future); `None`: nothing scheduled,
    /// or something is overdue and waits for the next trigger (the lock was held).
    pub fn wake(&self) -> Option<Instant> {
        self.wake.filter(|at| *at > Instant::now())
    }

    /// What is due now, from the plan and the ledger; remembers when the rest falls due.
    pub async fn due(
        &mut self,
        client: &Client,
        desired: &Desired,
        plan: &Plan,
        records: &BTreeMap<String, Record>,
    ) -> Due {
        let started = start_times(client, desired, plan, records).await;
        let now = Timestamp::now();
        let verdicts = self.verdicts(desired, plan, records, &started, now);
        let names: Vec<&str> = verdicts.iter().map(|(n, _)| n.as_str()).collect();
        self.failures.keep_only(&names);
        let mut wake = self.gc_every.zip(self.last_gc).map(|(every, last)| last + every);
        let mut savepoints = Vec::new();
        for (name, verdict) in &verdicts {
            let at = match verdict {
                Verdict::Due => {
                    let live = plan.jobs.iter().find(|p| &p.name == name);
                    if let Some(id) = schedule::due_job(live) {
                        savepoints.push((name.clone(), id.clone()));
                    }
                    continue;
                }
                Verdict::NotYet { at } | Verdict::BackingOff { at, .. } => *at,
                Verdict::Skip { why } => {
                    tracing::debug!(job = %name, "no periodic savepoint now: {why:?}");
                    continue;
                }
            };
            let later = Instant::now() + Duration::try_from(at.duration_since(now)).unwrap_or_default();
            wake = Some(wake.map_or(later, |w| w.min(later)));
        }
        self.wake = wake;
        Due { savepoints, gc: self.gc_due() }
    }

    fn gc_due(&self) -> bool {
        self.gc_every.is_some_and(|every| self.last_gc.is_none_or(|last| last.elapsed() >= every))
    }

    /// The cluster could not be reached, locked or observed in this reconcile: nothing runs on it.
    /// A gc that fell due counts as a failed run, and the next is `--gc-every` later, as after any
    /// failed run; the savepoints are due again as soon as it is observed (its ledger keeps the
    /// schedule). Logged when anything was scheduled there.
    pub fn missed(&mut self, desired: &Desired, (metrics, cluster): (&Metrics, &str)) {
        let jobs = desired.jobs.values().filter(|j| j.savepoint.every.is_some()).count();
        let gc = self.gc_due();
        if gc {
            self.last_gc = Some(Instant::now());
            metrics.gc_ran(cluster, false);
        }
        self.wake = None;
        let mut what = Vec::new();
        if jobs > 0 {
            what.push(format!("the periodic savepoints of its {jobs} job(s) with savepoint.every"));
        }
        if gc {
            what.push("its gc (counted as a failed run; the next is --gc-every later)".to_owned());
        }
        if !what.is_empty() {
            tracing::warn!(
                cluster,
                "the cluster is not observed: {} wait until it is; the other clusters' go on",
                what.join(" and ")
            );
        }
    }

    fn verdicts(
        &self,
        desired: &Desired,
        plan: &Plan,
        records: &BTreeMap<String, Record>,
        started: &BTreeMap<String, Timestamp>,
        now: Timestamp,
    ) -> Vec<(String, Verdict)> {
        let mut out = Vec::new();
        for (name, job) in &desired.jobs {
            let Some(every) = &job.savepoint.every else { continue };
            let input = Input {
                name,
                every: every.value.as_std(),
                newest: newest(records.get(name)),
                started: started.get(name).copied(),
                plan: plan.jobs.iter().find(|p| &p.name == name),
            };
            let verdict = schedule::decide(&input, self.failures.get(name), self.backoff, now);
            out.push((name.clone(), verdict));
        }
        out
    }

    /// Take the due savepoints, then gc if due, under the apply lock the caller holds. Returns the
    /// records as they are afterwards.
    #[allow(clippy::too_many_arguments)]
    pub async fn run(
        &mut self,
        client: Client,
        ledger: Ledger,
        desired: &Desired,
        plan: &Plan,
        records: BTreeMap<String, Record>,
        (metrics, cluster): (&Metrics, &str),
        shutdown: &CancellationToken,
    ) -> BTreeMap<String, Record> {
        let due = self.due(&client, desired, plan, &records).await;
        if !due.any() || shutdown.is_cancelled() {
            return records;
        }
        let ctx =
            Context { shutdown: shutdown.clone(), ..Context::new(client, ledger, records, Progress::log()) };
        self.savepoints(&ctx, desired, due.savepoints, (metrics, cluster)).await;
        if due.gc && !shutdown.is_cancelled() {
            let records = ctx.records.lock().unwrap_or_else(|e| e.into_inner()).clone();
            self.gc(&ctx, desired, plan, &records, (metrics, cluster)).await;
        }
        let records = ctx.records.lock().unwrap_or_else(|e| e.into_inner()).clone();
        // The next look at the schedule, from what was just recorded.
        let _ = self.due(&ctx.client, desired, plan, &records).await;
        records
    }

    async fn savepoints(
        &mut self,
        ctx: &Context,
        desired: &Desired,
        due: Vec<(String, JobId)>,
        (metrics, cluster): (&Metrics, &str),
    ) {
        let due = due.into_iter().filter_map(|(name, live)| Some((desired.jobs.get(&name)?, live)));
        let taken: Vec<(String, Result<String, StepError>)> = futures_util::stream::iter(due)
            .map(|(job, live)| async move {
                let settings = SavepointSettings::of(job);
                let got = ctx.take_savepoint(&job.name, &live, &settings, SavepointReason::Periodic).await;
                (job.name.clone(), got)
            })
            .buffer_unordered(self.concurrency.max(1))
            .collect()
            .await;
        for (name, got) in taken {
            metrics.periodic_savepoint(cluster, &name, got.is_ok());
            match got {
                Ok(path) => {
                    self.failures.succeeded(&name);
                    tracing::info!(job = %name, path = %path, "periodic savepoint taken");
                }
                Err(why) => {
                    self.failures.failed(&name, why.to_string(), Timestamp::now());
                    let n = self.failures.get(&name).map_or(1, |f| f.count);
                    tracing::warn!(
                        job = %name,
                        failures = n,
                        "periodic savepoint failed ({why}); the job was not touched, and it is tried again after a back-off"
                    );
                }
            }
        }
    }

    async fn gc(
        &mut self,
        ctx: &Context,
        desired: &Desired,
        plan: &Plan,
        records: &BTreeMap<String, Record>,
        (metrics, cluster): (&Metrics, &str),
    ) {
        self.last_gc = Some(Instant::now());
        let (decisions, warnings) =
            gc::decide(&ctx.client, desired, records, plan, &[], &BTreeSet::new()).await;
        for w in &warnings {
            tracing::warn!("gc: {w}");
        }
        let doomed: Vec<_> = decisions.iter().filter(|d| matches!(d.verdict, Kept::Dispose { .. })).collect();
        let results = gc::dispose_all(ctx, desired, &doomed).await;
        let failed = results.iter().filter(|r| r.error.is_some()).count();
        for r in &results {
            metrics.disposed(cluster, &r.job, r.error.is_none());
            if let Some(why) = &r.error {
                tracing::warn!(job = %r.job, path = %r.path, "gc: {why}");
            }
        }
        metrics.gc_ran(cluster, failed == 0 && warnings.is_empty());
        let kept = decisions.len() - doomed.len();
        if results.is_empty() {
            tracing::debug!("gc: nothing to dispose of, {kept} savepoint(s) kept");
        } else {
            tracing::info!("gc: {} disposed of, {failed} failed, {kept} kept", results.len() - failed);
        }
    }
}

/// When the newest recorded savepoint of a record was taken.
fn newest(record: Option<&Record>) -> Option<Timestamp> {
    record?.newest_savepoint()?.taken_at.parse().ok()
}

/// When the running job of each scheduled spec without a recorded savepoint started (the schedule
/// counts from there). Asks Flink only when there is such a spec; empty when it cannot.
async fn start_times(
    client: &Client,
    desired: &Desired,
    plan: &Plan,
    records: &BTreeMap<String, Record>,
) -> BTreeMap<String, Timestamp> {
    let wanted: Vec<(&String, &JobId)> = desired
        .jobs
        .iter()
        .filter(|(name, job)| job.savepoint.every.is_some() && newest(records.get(*name)).is_none())
        .filter_map(|(name, _)| Some((name, &plan.jobs.iter().find(|p| &p.name == name)?.live.as_ref()?.id)))
        .collect();
    if wanted.is_empty() {
        return BTreeMap::new();
    }
    let Ok(overview) = client.jobs_overview().await else { return BTreeMap::new() };
    wanted
        .into_iter()
        .filter_map(|(name, id)| {
            let j = overview.jobs.iter().find(|j| &j.jid == id)?;
            Some((name.clone(), Timestamp::from_millisecond(j.start_time).ok()?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flink::JobState;
    use crate::ledger::SavepointRecord;
    use crate::plan::fixtures::*;
    use crate::plan::{Observed, Options};

    /// Jobs running as written, each with `every: 6h` and the history given as (reason, hours ago),
    /// oldest first.
    fn world(
        jobs: &[(&str, &[(SavepointReason, i64)])],
        now: Timestamp,
    ) -> (Desired, Plan, BTreeMap<String, Record>) {
        let six_hours = crate::spec::read::parse_duration("6h").unwrap();
        let specs: Vec<crate::spec::Job> = jobs
            .iter()
            .map(|(name, _)| {
                let mut j = job(name);
                j.savepoint.every = Some(crate::spec::model::Located::new(six_hours, Default::default()));
                j
            })
            .collect();
        let records = ledger(specs.iter().zip(jobs).map(|(j, (_, history))| {
            let mut r = record_of(j);
            for (reason, hours) in *history {
                let at = now - jiff::SignedDuration::from_hours(*hours);
                r.savepoints.push(SavepointRecord::new(
                    format!("file:/sp/{hours}"),
                    None,
                    at.to_string(),
                    *reason,
                ));
            }
            r
        }));
        let d = desired(specs.clone());
        let observed = Observed {
            jobs: specs.iter().enumerate().map(|(i, j)| live_of(j, i as u8, JobState::Running)).collect(),
            ..Default::default()
        };
        let p = crate::plan::plan(&d, &observed, &records, &Options::default());
        (d, p, records)
    }

    #[test]
    fn a_restarted_watch_reads_the_schedule_from_the_ledger() {
        let now: Timestamp = "2026-12-10T12:00:00Z".parse().unwrap();
        let (d, p, records) = world(
            &[
                ("fresh", &[(SavepointReason::Periodic, 7), (SavepointReason::Upgrade, 1)]),
                ("stale", &[(SavepointReason::Manual, 7)]),
                ("checkpointed", &[(SavepointReason::Periodic, 7), (SavepointReason::RetainedCheckpoint, 1)]),
            ],
            now,
        );
        // A new Periodic: nothing remembered, as after a restart.
        let fresh = Periodic::new(Duration::from_secs(60), None, 4);
        let verdicts: BTreeMap<String, Verdict> =
            fresh.verdicts(&d, &p, &records, &BTreeMap::new(), now).into_iter().collect();
        assert!(
            matches!(verdicts["fresh"], Verdict::NotYet { .. }),
            "an upgrade's savepoint resets the clock"
        );
        assert_eq!(verdicts["stale"], Verdict::Due);
        assert_eq!(verdicts["checkpointed"], Verdict::Due, "a retained checkpoint is not a savepoint");
    }

    #[test]
    fn each_cluster_keeps_its_own_failures() {
        let now: Timestamp = "2026-12-10T12:00:00Z".parse().unwrap();
        let (d, p, records) = world(&[("orders", &[(SavepointReason::Periodic, 7)])], now);
        let mut all = Schedules::new(Duration::from_secs(60), None, 4);
        all.of("east").failures.failed("orders", "boom".into(), now);
        let verdict = |s: &mut Schedules, cluster: &str| {
            s.of(cluster).verdicts(&d, &p, &records, &BTreeMap::new(), now).remove(0).1
        };
        assert!(matches!(verdict(&mut all, "east"), Verdict::BackingOff { failures: 1, .. }));
        assert_eq!(verdict(&mut all, "west"), Verdict::Due, "east's failure does not back west off");
        all.keep_only(&["west".to_string()]);
        assert_eq!(verdict(&mut all, "east"), Verdict::Due, "a cluster gone from the specs is forgotten");
    }

    #[test]
    fn a_cluster_not_observed_counts_one_failed_gc_per_interval_on_its_own_series() {
        let (d, _, _) = world(&[("orders", &[])], Timestamp::now());
        let metrics = Metrics::new();
        let mut all = Schedules::new(Duration::from_secs(60), Some(Duration::from_secs(3600)), 4);
        metrics.gc_enabled("east");
        metrics.gc_enabled("west");
        all.of("west").missed(&d, (&metrics, "west"));
        all.of("west").missed(&d, (&metrics, "west"));
        let text = metrics.encode(0.0);
        assert!(text.contains("flinkops_gc_runs_total{cluster=\"west\",result=\"failed\"} 1\n"), "{text}");
        assert!(text.contains("flinkops_gc_runs_total{cluster=\"east\",result=\"failed\"} 0\n"), "{text}");
        assert!(!all.of("west").gc_due(), "the next gc is --gc-every later");
        assert!(all.of("east").gc_due(), "east's gc is its own");
        assert_eq!(all.wake(), None);
    }
}
