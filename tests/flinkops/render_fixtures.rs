//! The plans the render tests render, built through the public API: YAML specs written to a
//! temporary directory and loaded with `spec::load_with` (so `${VAR}` is resolved and marked
//! sensitive as in real use), live jobs with the ids flinkops gives its jobs, and ledger records
//! of what was applied before.

use std::path::Path;

use flinkops::flink::{JobId, JobState};
use flinkops::ledger::{AppliedSpec, Record, SavepointReason, SavepointRecord};
use flinkops::plan::model::ClusterRef;
use flinkops::plan::{Control, LiveJob, Observed, Options, Plan, identity, plan};
use flinkops::restore::{Candidate, Evidence};
use flinkops::spec::{self, Desired, Inputs, Job};

/// The database password `orders-enrich` was last applied with.
pub const SECRET_OLD: &str = "hunter2-old-Pa55w0rd";
/// The database password in the environment now.
pub const SECRET_NEW: &str = "s3cr3t-new-Pa55w0rd";

/// A job spec with a URL jar (nothing to hash) plus `body`.
fn spec(name: &str, body: &str) -> String {
    crate::support::job_spec(&format!(
        "name: {name}\njar: https://repo.example.com/jars/{name}-1.0.jar\njarSha256: {}\nentryClass: dev.example.{}\n{body}",
        "ab".repeat(32),
        name.replace('-', "_"),
    ))
}

/// The example pipeline: ingest → enrich → aggregate, and an independent forwarder.
/// `enrich` is the spec for `orders-enrich` (see [`ENRICH_V1`], [`ENRICH_V2`]).
pub fn pipeline_with(enrich: &str, forwarder_state: &str) -> Vec<String> {
    vec![
        spec("orders-ingest", "args: [--rate, \"20\"]\nparallelism: 2\n"),
        spec("orders-enrich", enrich),
        spec(
            "orders-aggregate",
            "args: [--window, 1m]\nupgradeMode: last-state\ndependsOn: [orders-enrich]\n",
        ),
        spec(
            "metrics-forwarder",
            &format!("upgradeMode: stateless\nrestore:\n  from: none\nstate: {forwarder_state}\n"),
        ),
    ]
}

pub const ENRICH_V1: &str = "\
args: [--db-password, \"${ORDERS_DB_PASSWORD}\", --tag, v1]
parallelism: 1
flinkConfiguration:
  execution.checkpointing.interval: 10s
  pipeline.name: orders-enrich-v1
dependsOn: [orders-ingest]
";

/// v1 with: a new password, parallelism 1 → 4, `pipeline.name` removed,
/// `state.backend.type` added, and the savepoint timeout (a setting) raised.
pub const ENRICH_V2: &str = "\
args: [--db-password, \"${ORDERS_DB_PASSWORD}\", --tag, v1]
parallelism: 4
flinkConfiguration:
  execution.checkpointing.interval: 10s
  state.backend.type: rocksdb
savepoint:
  timeout: 15m
dependsOn: [orders-ingest]
";

pub fn pipeline() -> Vec<String> {
    pipeline_with(ENRICH_V1, "running")
}

/// Load spec texts as `flinkops plan` would, with `ORDERS_DB_PASSWORD` set to `secret`.
pub fn load(specs: &[String], secret: &str) -> Desired {
    let dir = tempfile::tempdir().unwrap();
    for (i, text) in specs.iter().enumerate() {
        std::fs::write(dir.path().join(format!("job-{i}.yaml")), text).unwrap();
    }
    let env = |k: &str| (k == "ORDERS_DB_PASSWORD").then(|| secret.to_string());
    let hash = |p: &Path| -> std::io::Result<String> { panic!("URL jars are not hashed: {}", p.display()) };
    let loaded =
        spec::load_with(dir.path(), &Inputs { env: &env, hash_jar: &hash, allow_missing_jar: false });
    // Only the warning that apply cannot fetch URL jars (plans are made all the same).
    assert!(loaded.diagnostics.iter().all(|d| d.code == "url-jar"), "{:#?}", loaded.diagnostics);
    let mut desired = loaded.desired;
    // The origin names the temporary directory: keep the file name only, for stable snapshots.
    for job in desired.jobs.values_mut() {
        job.origin = job.origin.rsplit('/').next().unwrap().to_string();
    }
    desired
}

pub fn job<'d>(desired: &'d Desired, name: &str) -> &'d Job {
    &desired.jobs[name]
}

/// A live job flinkops started for `job` (submission `n` picks the id).
pub fn live(job: &Job, n: u8, state: JobState) -> LiveJob {
    live_job(identity::job_id(&job.name, &job.fingerprint, [0, 0, n]), &job.name, state)
}

/// A job flinkops did not start.
pub fn unmanaged(name: &str, n: u8, state: JobState) -> LiveJob {
    live_job(JobId::from_bytes([n; 16]), name, state)
}

fn live_job(id: JobId, name: &str, state: JobState) -> LiveJob {
    let ended = state.is_terminal();
    LiveJob {
        id,
        name: name.to_string(),
        state,
        start_time: 1_700_000_000_000,
        end_time: if ended { 1_700_000_100_000 } else { -1 },
        tasks_running: if state == JobState::Running { 2 } else { 0 },
        tasks_finished: 0,
        tasks_total: 2,
    }
}

/// Every job of `desired` running as applied.
pub fn all_running(desired: &Desired) -> Vec<LiveJob> {
    desired.jobs.values().map(|j| live(j, 1, JobState::Running)).collect()
}

/// The ledger record after `job` was applied.
pub fn record(job: &Job) -> Record {
    let mut r = Record::new(&job.name);
    r.applied = Some(AppliedSpec::of(job));
    r
}

pub fn records(desired: &Desired) -> Vec<Record> {
    desired.jobs.values().map(record).collect()
}

/// Plan against the example cluster.
pub fn plan_of(desired: &Desired, live: Vec<LiveJob>, ledger: Vec<Record>, opts: Options) -> Plan {
    let ledger = ledger.into_iter().map(|r| (r.name.clone(), r)).collect();
    let mut p = plan(desired, &Observed { jobs: live, ..Default::default() }, &ledger, &opts);
    p.cluster =
        Some(ClusterRef { url: "http://flink.example.com:8081".into(), flink_version: "2.1.0".into() });
    p
}

fn plain() -> Options {
    Options::default()
}

/// A named plan, for tests that go over all of them.
pub struct Case {
    pub name: &'static str,
    pub plan: Plan,
}

pub fn nothing_running() -> Plan {
    plan_of(&load(&pipeline(), SECRET_OLD), vec![], vec![], plain())
}

pub fn in_sync() -> Plan {
    let d = load(&pipeline(), SECRET_OLD);
    plan_of(&d, all_running(&d), records(&d), plain())
}

/// `orders-enrich` v1 (old password) runs; the specs say v2 (new password).
pub fn one_changed() -> Plan {
    let old = load(&pipeline(), SECRET_OLD);
    let new = load(&pipeline_with(ENRICH_V2, "running"), SECRET_NEW);
    plan_of(&new, all_running(&old), records(&old), plain())
}

/// `one_changed` on a busy cluster: the upgrade of `orders-enrich` (parallelism 4) does not fit
/// the slots free now plus the one its old version frees: a warning, and the upgrade stays planned.
pub fn checks() -> Plan {
    let old = load(&pipeline(), SECRET_OLD);
    let new = load(&pipeline_with(ENRICH_V2, "running"), SECRET_NEW);
    let live = all_running(&old);
    let enrich = live.iter().find(|l| l.name == "orders-enrich").unwrap().id.clone();
    let mut observed =
        Observed { jobs: live, total_slots: Some(8), free_slots: Some(2), ..Default::default() };
    observed.slots_held.insert(enrich, 1);
    let ledger = records(&old).into_iter().map(|r| (r.name.clone(), r)).collect();
    let mut p = plan(&new, &observed, &ledger, &plain());
    p.cluster =
        Some(ClusterRef { url: "http://flink.example.com:8081".into(), flink_version: "2.1.0".into() });
    p
}

/// `orders-ingest` failed; `orders-aggregate` restarts with no task running.
pub fn one_failed() -> Plan {
    let d = load(&pipeline(), SECRET_OLD);
    let mut live = all_running(&d);
    for l in &mut live {
        if l.name == "orders-ingest" {
            *l = self::live(job(&d, "orders-ingest"), 1, JobState::Failed);
        } else if l.name == "orders-aggregate" {
            l.state = JobState::Restarting;
            l.tasks_running = 0;
        }
    }
    plan_of(&d, live, records(&d), plain())
}

/// `legacy-sessionizer` still runs, its spec deleted; with or without `--prune`.
pub fn orphan(prune: bool) -> Plan {
    let d = load(&pipeline(), SECRET_OLD);
    let gone = load(&[spec("legacy-sessionizer", "parallelism: 2\n")], SECRET_OLD);
    let mut live = all_running(&d);
    live.push(self::live(job(&gone, "legacy-sessionizer"), 1, JobState::Running));
    let mut ledger = records(&d);
    ledger.push(record(job(&gone, "legacy-sessionizer")));
    plan_of(&d, live, ledger, Options { prune, ..Options::default() })
}

/// `legacy-sessionizer` was renamed `sessionizer`: with `previousNames` a rename that carries
/// its state, without it an orphan beside an empty first deployment, each with the hint.
pub fn renamed(listed: bool) -> Plan {
    let gone = load(&[spec("legacy-sessionizer", "parallelism: 2\n")], SECRET_OLD);
    let previous = if listed { "previousNames: [legacy-sessionizer]\n" } else { "" };
    let mut specs = pipeline();
    specs.push(spec("sessionizer", &format!("parallelism: 2\n{previous}")));
    let d = load(&specs, SECRET_OLD);
    let mut live = all_running(&d);
    live.retain(|l| l.name != "sessionizer");
    live.push(self::live(job(&gone, "legacy-sessionizer"), 1, JobState::Running));
    let mut ledger: Vec<Record> = records(&d).into_iter().filter(|r| r.name != "sessionizer").collect();
    let mut old = record(job(&gone, "legacy-sessionizer"));
    old.job_id = Some(self::live(job(&gone, "legacy-sessionizer"), 1, JobState::Running).id);
    ledger.push(old);
    plan_of(&d, live, ledger, plain())
}

/// `orders-enrich` now says `cluster: us` and runs on `eu`: the `us` part of a fleet plan moves
/// it (stop with a savepoint on `eu`, start on `us` from it).
pub fn moved() -> Plan {
    use flinkops::plan::fleet::{self, ClusterInput, ClusterObservation};
    let mut d = load(&pipeline(), SECRET_OLD);
    for j in d.jobs.values_mut() {
        j.cluster = Some("us".into());
    }
    let (moving, staying): (Vec<LiveJob>, Vec<LiveJob>) =
        all_running(&d).into_iter().partition(|l| l.name == "orders-enrich");
    let (moving_record, records): (Vec<Record>, Vec<Record>) =
        records(&d).into_iter().partition(|r| r.name == "orders-enrich");
    let input = |name: &str, jobs: Vec<LiveJob>, ledger: Vec<Record>| ClusterInput {
        name: name.into(),
        observation: Ok(ClusterObservation {
            identity: format!("{name}-1a2b3c4d"),
            cluster: Some(ClusterRef {
                url: format!("http://flink-{name}.example.com:8081"),
                flink_version: "2.1.0".into(),
            }),
            observed: Observed { jobs, ..Default::default() },
            ledger: ledger.into_iter().map(|r| (r.name.clone(), r)).collect(),
            savepoint_dir: Some("s3://flink/savepoints".into()),
        }),
    };
    let fleet =
        fleet::plan(&d, &[input("eu", moving, moving_record), input("us", staying, records)], &plain());
    fleet.plan_of("us").expect("us is observed").clone()
}

/// Someone runs a job by hand; all specs are in sync.
pub fn unmanaged_job() -> Plan {
    let d = load(&pipeline(), SECRET_OLD);
    let mut live = all_running(&d);
    live.push(unmanaged("adhoc-sql-gateway", 0x07, JobState::Running));
    live.push(unmanaged("one-off-backfill", 0x08, JobState::Finished));
    plan_of(&d, live, records(&d), plain())
}

/// A job named `orders-ingest` runs that flinkops did not start: ingest cannot be deployed, and
/// enrich and aggregate, downstream of it, are blocked. The forwarder is deployed.
pub fn conflict(adopt: bool) -> Plan {
    let d = load(&pipeline(), SECRET_OLD);
    let live = vec![unmanaged("orders-ingest", 0x42, JobState::Running)];
    plan_of(&d, live, vec![], Options { adopt, ..Options::default() })
}

/// Two live jobs run `orders-ingest` (someone resubmitted it by hand): apply cannot choose.
pub fn two_live_jobs() -> Plan {
    let d = load(&pipeline(), SECRET_OLD);
    let mut live = all_running(&d);
    live.push(self::live(job(&d, "orders-ingest"), 2, JobState::Running));
    plan_of(&d, live, records(&d), plain())
}

/// Only `savepoint.timeout` of `orders-ingest` changed: recorded, the job is not touched.
pub fn settings_only() -> Plan {
    let ingest_v2 =
        spec("orders-ingest", "args: [--rate, \"20\"]\nparallelism: 2\nsavepoint:\n  timeout: 20m\n");
    let old = load(&pipeline(), SECRET_OLD);
    let mut specs = pipeline();
    specs[0] = ingest_v2;
    let new = load(&specs, SECRET_OLD);
    plan_of(&new, all_running(&old), records(&old), plain())
}

/// The forwarder's spec says `state: suspended` while it runs.
pub fn suspend() -> Plan {
    let old = load(&pipeline(), SECRET_OLD);
    let new = load(&pipeline_with(ENRICH_V1, "suspended"), SECRET_OLD);
    plan_of(&new, all_running(&old), records(&old), plain())
}

/// Ingest was suspended by flinkops (a savepoint in the ledger); its spec says running again.
pub fn resume() -> Plan {
    let d = load(&pipeline(), SECRET_OLD);
    let mut live = all_running(&d);
    let ingest = job(&d, "orders-ingest");
    let stopped = self::live(ingest, 1, JobState::Finished);
    live.retain(|l| l.name != "orders-ingest");
    live.push(stopped.clone());
    let mut ledger = records(&d);
    let rec = ledger.iter_mut().find(|r| r.name == "orders-ingest").unwrap();
    rec.applied.as_mut().unwrap().state = flinkops::spec::model::JobState::Suspended;
    rec.job_id = Some(stopped.id.clone());
    let path = "s3://flink/savepoints/savepoint-17f61c-2b5f0e1d3a4c";
    rec.savepoints.push(SavepointRecord::new(
        path,
        Some(stopped.id.clone()),
        "2026-01-05T09:30:00Z".into(),
        SavepointReason::Suspend,
    ));
    // What `plan` gathered: the suspension savepoint, named by Flink and the ledger, and an older
    // retained checkpoint.
    let taken_ms = 1_767_605_400_000; // 2026-01-05T09:30:00Z
    let candidate = |path: &str, origin: &str, taken_ms| Candidate {
        path: path.into(),
        origin: origin.into(),
        taken_ms,
        checkpoint_id: None,
        job_id: Some(stopped.id.clone()),
        problem: None,
    };
    let evidence = Evidence {
        found: vec![
            candidate(path, &format!("Flink: latest savepoint of {}", stopped.id), taken_ms),
            candidate("s3://flink/checkpoints/x/chk-41", "retained checkpoint 41", taken_ms - 60_000),
        ],
        ran_before: true,
        ..Default::default()
    };
    let ledger = ledger.into_iter().map(|r| (r.name.clone(), r)).collect();
    let observed = Observed {
        jobs: live,
        snapshots: [("orders-ingest".to_string(), evidence)].into(),
        now_ms: taken_ms + 2 * 3_600_000 + 5 * 60_000,
        ..Default::default()
    };
    let mut p = plan(&d, &observed, &ledger, &plain());
    p.cluster =
        Some(ClusterRef { url: "http://flink.example.com:8081".into(), flink_version: "2.1.0".into() });
    p
}

/// Ingest runs another version and there is no ledger (CI without the state directory).
pub fn upgrade_without_ledger() -> Plan {
    let old = load(&pipeline(), SECRET_OLD);
    let mut specs = pipeline();
    specs[0] = spec("orders-ingest", "args: [--rate, \"40\"]\nparallelism: 2\n");
    let new = load(&specs, SECRET_OLD);
    let mut p = plan_of(&new, all_running(&old), vec![], plain());
    p.cluster = None;
    p
}

fn controlled(f: impl FnOnce(&mut Control)) -> Options {
    let mut control = Control::default();
    f(&mut control);
    Options { control, ..Options::default() }
}

/// Nothing runs; `--target orders-enrich`: ingest is pulled in (enrich waits for it), the
/// aggregate and the forwarder are skipped.
pub fn targeted() -> Plan {
    let d = load(&pipeline(), SECRET_OLD);
    plan_of(&d, vec![], vec![], controlled(|c| c.target = vec!["orders-enrich".into()]))
}

/// `orders-enrich` changed, `--exclude orders-enrich`: nothing to do in this run, and the plan
/// does not say the jobs match the specs.
pub fn excluded() -> Plan {
    let old = load(&pipeline(), SECRET_OLD);
    let new = load(&pipeline_with(ENRICH_V2, "running"), SECRET_NEW);
    plan_of(&new, all_running(&old), records(&old), controlled(|c| c.exclude = vec!["orders-enrich".into()]))
}

/// Everything in sync; `--replace orders-ingest`.
pub fn replaced() -> Plan {
    let d = load(&pipeline(), SECRET_OLD);
    plan_of(&d, all_running(&d), records(&d), controlled(|c| c.replace = vec!["orders-ingest".into()]))
}

/// `legacy-sessionizer` (last applied with `protect: true`) runs, its spec deleted; `--prune`.
pub fn protected_orphan() -> Plan {
    let d = load(&pipeline(), SECRET_OLD);
    let gone = load(&[spec("legacy-sessionizer", "parallelism: 2\nprotect: true\n")], SECRET_OLD);
    let mut live = all_running(&d);
    live.push(self::live(job(&gone, "legacy-sessionizer"), 1, JobState::Running));
    let mut ledger = records(&d);
    ledger.push(record(job(&gone, "legacy-sessionizer")));
    plan_of(&d, live, ledger, Options { prune: true, ..Options::default() })
}

/// Every plan above, by name.
pub fn all() -> Vec<Case> {
    vec![
        Case { name: "nothing_running", plan: nothing_running() },
        Case { name: "in_sync", plan: in_sync() },
        Case { name: "one_changed", plan: one_changed() },
        Case { name: "one_failed", plan: one_failed() },
        Case { name: "orphan", plan: orphan(false) },
        Case { name: "orphan_pruned", plan: orphan(true) },
        Case { name: "unmanaged", plan: unmanaged_job() },
        Case { name: "conflict", plan: conflict(false) },
        Case { name: "adopt", plan: conflict(true) },
        Case { name: "two_live_jobs", plan: two_live_jobs() },
        Case { name: "settings_only", plan: settings_only() },
        Case { name: "suspend", plan: suspend() },
        Case { name: "resume", plan: resume() },
        Case { name: "upgrade_without_ledger", plan: upgrade_without_ledger() },
        Case { name: "checks", plan: checks() },
        Case { name: "targeted", plan: targeted() },
        Case { name: "excluded", plan: excluded() },
        Case { name: "replaced", plan: replaced() },
        Case { name: "protected_orphan", plan: protected_orphan() },
        Case { name: "rename", plan: renamed(true) },
        Case { name: "rename_without_previous_names", plan: renamed(false) },
        Case { name: "moved", plan: moved() },
    ]
}

/// The four outputs of one plan.
pub struct Rendered {
    pub human: String,
    pub coloured: String,
    pub json: String,
    pub markdown: String,
}

pub fn render(plan: &Plan) -> Rendered {
    use flinkops::output::Styles;
    let text = |f: &dyn Fn(&mut Vec<u8>) -> std::io::Result<()>| {
        let mut out = Vec::new();
        f(&mut out).unwrap();
        String::from_utf8(out).unwrap()
    };
    Rendered {
        human: text(&|o| flinkops::render::human(plan, &Styles::plain(), o)),
        coloured: text(&|o| flinkops::render::human(plan, &Styles::colored(), o)),
        json: text(&|o| flinkops::render::json(plan, o)),
        markdown: text(&|o| flinkops::render::markdown(plan, o)),
    }
}
