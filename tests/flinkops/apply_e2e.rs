//! `flinkops apply` end to end on real Flink: the built binary, the stateful counter job, and the
//! state it must never lose. Every scenario runs on every cluster `scripts/test` started.

use std::path::PathBuf;
use std::process::Output;

use flinkops::flink::{Client, JobId, JobOverview, JobState};
use flinkops::plan::identity;

use crate::flink_support::{
    Cluster, assert_state_continued, before_change, cluster_dir, on_every_cluster, reported_snapshot,
    state_continued,
};
use crate::support::{flinkops, flinkops_process, job_spec, scratch};

/// A spec directory and state directory for one scenario on one cluster, with unique job names.
pub(crate) struct Scenario {
    pub cluster: Cluster,
    pub dir: PathBuf,
    pub state: PathBuf,
    pub prefix: String,
}

/// How one spec of a scenario looks.
#[derive(Clone)]
pub(crate) struct Spec<'a> {
    pub short: &'a str,
    pub deps: &'a [&'a str],
    pub extra_args: &'a [&'a str],
    pub extra_yaml: &'a str,
    pub health: &'a str,
}

pub(crate) fn spec(short: &str) -> Spec<'_> {
    Spec { short, deps: &[], extra_args: &[], extra_yaml: "", health: "{ stableFor: 3s, timeout: 90s }" }
}

impl Scenario {
    pub(crate) fn new(cluster: &Cluster, what: &str) -> Self {
        let run = &JobId::random().to_string()[..5];
        let prefix = format!("{what}-{}-{run}", cluster.version.replace('.', ""));
        let root = scratch(&prefix);
        let dir = root.join("specs");
        std::fs::create_dir_all(&dir).unwrap();
        Scenario { cluster: cluster.clone(), dir, state: root.join("state"), prefix }
    }

    pub(crate) fn name(&self, short: &str) -> String {
        format!("{}-{short}", self.prefix)
    }

    pub(crate) fn write(&self, s: &Spec) {
        let name = self.name(s.short);
        let deps: Vec<String> = s.deps.iter().map(|d| self.name(d)).collect();
        let mut args = vec![
            "--name".to_string(),
            name.clone(),
            "--rate".into(),
            "100".into(),
            "--keys".into(),
            "8".into(),
        ];
        args.extend(s.extra_args.iter().map(|a| a.to_string()));
        let args: Vec<String> = args.iter().map(|a| format!("\"{a}\"")).collect();
        let text = job_spec(&format!(
            "name: {name}\njar: {jar}\nentryClass: dev.flinkops.testjob.CounterJob\nargs: [{args}]\n\
             dependsOn: [{deps}]\nhealth: {health}\n{extra}",
            jar = self.cluster.jar.display(),
            args = args.join(", "),
            deps = deps.join(", "),
            extra = s.extra_yaml,
            health = s.health,
        ));
        std::fs::write(self.dir.join(format!("{}.yaml", s.short)), text).unwrap();
    }

    pub(crate) fn apply(&self, extra: &[&str]) -> Output {
        self.apply_with_fault(None, extra)
    }

    /// `apply --auto-approve` of this scenario against Flink at `url`, with `extra` flags, not
    /// started yet (for a test that spawns it, kills it, or points it at a proxy).
    pub(crate) fn apply_command(&self, url: &str, extra: &[&str]) -> std::process::Command {
        let mut cmd = flinkops_process();
        cmd.args(["apply", "--auto-approve", "--flink-url", url, "--state-dir"])
            .arg(&self.state)
            .args(extra)
            .arg(&self.dir);
        cmd
    }

    /// `plan` of this scenario against its cluster, with `extra` flags, not started yet.
    pub(crate) fn plan_command(&self, extra: &[&str]) -> std::process::Command {
        let mut cmd = flinkops_process();
        cmd.args(["plan", "--flink-url", &self.cluster.url, "--state-dir"])
            .arg(&self.state)
            .args(extra)
            .arg(&self.dir);
        cmd
    }

    /// `apply` with the test hook `FLINKOPS_FAULT=<fault>` set.
    pub(crate) fn apply_with_fault(&self, fault: Option<&str>, extra: &[&str]) -> Output {
        let mut cmd = self.apply_command(&self.cluster.url, extra);
        if let Some(fault) = fault {
            cmd.env("FLINKOPS_FAULT", fault);
        }
        let out = cmd.output().unwrap();
        eprintln!("--- apply stdout\n{}\n--- apply stderr\n{}", text(&out.stdout), text(&out.stderr));
        out
    }

    /// The active managed job of a spec (there must be exactly one).
    pub(crate) async fn live(&self, client: &Client, short: &str) -> JobId {
        let active = self.active(client, short).await;
        assert_eq!(active.len(), 1, "one live job for {short}: {active:?}");
        active[0].jid.clone()
    }

    /// The managed jobs of a spec that have not ended.
    pub(crate) async fn active(&self, client: &Client, short: &str) -> Vec<JobOverview> {
        let tag = identity::name_tag(&self.name(short));
        let overview = client.jobs_overview().await.unwrap();
        overview
            .jobs
            .into_iter()
            .filter(|j| !j.state.is_terminal() && identity::parse(&j.jid).is_some_and(|m| m.name_tag == tag))
            .collect()
    }

    /// Cancel every job of this scenario still running.
    pub(crate) async fn cleanup(&self, client: &Client) {
        let mine = |j: &JobOverview| !j.state.is_terminal() && j.name.starts_with(&self.prefix);
        let overview = client.jobs_overview().await.unwrap();
        for j in overview.jobs.iter().filter(|j| mine(j)) {
            let _ = client.cancel(&j.jid).await;
        }
        // The test's slots are handed on once its jobs have ended (see `flink_support::clean`).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while std::time::Instant::now() < deadline
            && client.jobs_overview().await.is_ok_and(|o| o.jobs.iter().any(&mine))
        {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
}

pub(crate) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

on_every_cluster! {
    an_upgrade_keeps_the_state_and_a_rerun_changes_nothing (1) => upgrade_keeps_state;
    a_chain_is_started_upstream_first_each_after_the_previous_is_healthy (3) => chain_in_order;
    a_new_version_that_cannot_restore_is_rolled_back_with_its_state (1) => rollback_on_unmappable_state;
    a_new_version_that_crashes_after_starting_is_rolled_back (1) => rollback_on_crash;
    a_failing_savepoint_leaves_the_old_job_running_and_its_dependents_untouched (2) => failing_savepoint;
    suspend_then_resume_keeps_the_state (1) => suspend_resume;
    a_job_another_state_directory_took_over_is_never_acted_on (1) => another_state_directory;
    prune_stops_a_job_whose_spec_is_gone_with_a_savepoint (2) => prune;
    killed_after_the_savepoint_the_next_apply_restores_from_it (1) => killed_after_savepoint;
    a_second_apply_fails_naming_the_first_or_waits_for_it (1) => concurrent_applies;
    a_saved_plan_is_applied_exactly_and_refused_once_stale (1) => saved_plan;
    a_last_state_upgrade_restores_from_the_retained_checkpoint (1) => last_state_from_checkpoint;
    a_last_state_upgrade_without_retained_checkpoints_takes_a_savepoint (1) => last_state_falls_back;
    a_last_state_upgrade_killed_after_the_cancel_restores_from_the_retained_checkpoint (1) => last_state_killed_after_the_cancel;
    a_last_state_upgrade_restores_from_the_checkpoint_on_disk_past_stale_statistics (1) => last_state_past_stale_statistics;
    an_unmanaged_job_is_adopted_with_its_state_only_when_asked (1) => adopt;
    an_adopt_killed_after_its_savepoint_is_finished_from_that_savepoint (1) => adopt_killed_after_savepoint;
    an_adopt_killed_during_its_stop_is_finished_from_the_savepoint_flink_took (1) => adopt_killed_after_stop_request;
    an_unreadable_ledger_record_stops_only_its_job_and_is_never_overwritten (2) => unreadable_record;
    killed_before_the_health_gate_the_next_apply_finishes_it_and_rolls_back (1) => killed_before_the_health_gate;
    killed_during_the_rollback_the_next_apply_converges_with_the_state (1) => killed_during_the_rollback;
    a_stateless_upgrade_cancels_and_starts_empty_as_the_spec_says (1) => stateless;
    a_rescale_up_and_down_is_healthy_and_keeps_the_state (2) => rescale;
    the_state_oracle_fails_when_a_restore_silently_starts_empty (1) => oracle_catches_an_empty_start;
}

/// The parallelism Flink runs `job` at (its widest vertex).
pub(crate) async fn parallelism(client: &Client, job: &JobId) -> u32 {
    let details = client.job(job).await.unwrap();
    details.vertices.iter().map(|v| v.parallelism).max().unwrap_or(0)
}

/// 1 → 2 → 1: after the rescale up, the savepoint holds one source split for two readers, so one
/// source subtask finishes while the job runs on; neither step may be rolled back.
async fn rescale(c: &Cluster) {
    let client = c.client();
    let s = Scenario::new(c, "rescale");
    s.write(&spec("counter"));
    assert_eq!(s.apply(&[]).status.code(), Some(0));
    let mut job = s.live(&client, "counter").await;
    for width in [2, 1] {
        let before = before_change(&client, &job).await;
        let yaml = format!("parallelism: {width}\n");
        s.write(&Spec { extra_yaml: &yaml, ..spec("counter") });
        let out = s.apply(&[]);
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        let said = format!("rescale to {width}:\n{stdout}\n{stderr}");
        assert_eq!(out.status.code(), Some(0), "{said}");
        assert!(stdout.contains("1 upgraded") && !stdout.contains("ROLLED BACK"), "{said}");
        let next = s.live(&client, "counter").await;
        assert_eq!(parallelism(&client, &next).await, width, "Flink runs the new parallelism; {said}");
        assert_state_continued(&client, &before, &next, reported_snapshot(&stdout).as_deref()).await;
        job = next;
    }
    s.cleanup(&client).await;
}

/// The test-only fault `restore-empty` makes apply start the new version without its snapshot
/// while saying it restored from it: the oracle must fail, and fast.
async fn oracle_catches_an_empty_start(c: &Cluster) {
    let client = c.client();
    let s = Scenario::new(c, "oracle");
    s.write(&spec("counter"));
    assert_eq!(s.apply(&[]).status.code(), Some(0));
    let v1 = s.live(&client, "counter").await;
    let before = before_change(&client, &v1).await;
    s.write(&Spec { extra_args: &["--tag", "v2"], ..spec("counter") });
    let out = s.apply_with_fault(Some("restore-empty"), &[]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", text(&out.stderr));
    let reported = reported_snapshot(&stdout).expect("apply claims a restore");
    let v2 = s.live(&client, "counter").await;
    crate::flink_support::wait_tasks_running(&client, &v2).await;
    let started = std::time::Instant::now();
    let verdict = state_continued(&client, &before, &v2, Some(&reported)).await;
    let why = verdict.expect_err("an empty start must fail the oracle");
    assert!(why.contains("started empty"), "{why}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "it failed fast: {:?}",
        started.elapsed()
    );
    s.cleanup(&client).await;
}

async fn upgrade_keeps_state(c: &Cluster) {
    let client = c.client();
    let s = Scenario::new(c, "up");
    s.write(&spec("counter"));
    assert_eq!(s.apply(&[]).status.code(), Some(0));
    let v1 = s.live(&client, "counter").await;
    let before = before_change(&client, &v1).await;

    s.write(&Spec { extra_args: &["--tag", "v2"], ..spec("counter") });
    let out = s.apply(&[]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).contains("Apply complete: 0 deployed, 1 upgraded"), "{}", text(&out.stdout));
    let v2 = s.live(&client, "counter").await;
    assert_ne!(v1, v2);
    assert_eq!(client.job(&v1).await.unwrap().state, JobState::Finished, "stopped with a savepoint");
    assert_state_continued(&client, &before, &v2, reported_snapshot(&text(&out.stdout)).as_deref()).await;

    let again = s.apply(&[]);
    assert_eq!(again.status.code(), Some(0));
    assert!(text(&again.stdout).contains("No changes."), "{}", text(&again.stdout));
    s.cleanup(&client).await;
}

async fn chain_in_order(c: &Cluster) {
    let client = c.client();
    let s = Scenario::new(c, "chain");
    s.write(&spec("a"));
    s.write(&Spec { deps: &["a"], ..spec("b") });
    s.write(&Spec { deps: &["b"], ..spec("c") });
    assert_eq!(s.apply(&[]).status.code(), Some(0));
    let overview = client.jobs_overview().await.unwrap();
    let start = |short: &str| {
        let tag = identity::name_tag(&s.name(short));
        overview
            .jobs
            .iter()
            .find(|j| identity::parse(&j.jid).is_some_and(|m| m.name_tag == tag))
            .unwrap()
            .start_time
    };
    let (a, b, cc) = (start("a"), start("b"), start("c"));
    // Each starts only after the previous one was healthy for stableFor (3 s).
    assert!(b - a >= 3000 && cc - b >= 3000, "start times a={a} b={b} c={cc}");
    s.cleanup(&client).await;
}

async fn rollback_on_unmappable_state(c: &Cluster) {
    let client = c.client();
    let s = Scenario::new(c, "rb");
    s.write(&spec("counter"));
    assert_eq!(s.apply(&[]).status.code(), Some(0));
    let v1 = s.live(&client, "counter").await;
    let before = before_change(&client, &v1).await;

    // A new operator uid: the savepoint's state cannot be mapped, the new version cannot start.
    s.write(&Spec { extra_args: &["--uid-suffix", "x"], ..spec("counter") });
    let out = s.apply(&[]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("ROLLED BACK") && stdout.contains("Cannot map"), "{stdout}");
    let back = s.live(&client, "counter").await;
    let managed = identity::parse(&back).unwrap();
    assert!(managed.fingerprint_tag != identity::parse(&v1).unwrap().fingerprint_tag || back != v1);
    assert_state_continued(&client, &before, &back, Some(&stopped_with(&client, &v1).await)).await;
    s.cleanup(&client).await;
}

async fn failing_savepoint(c: &Cluster) {
    let client = c.client();
    let s = Scenario::new(c, "spfail");
    s.write(&spec("up"));
    s.write(&Spec { deps: &["up"], ..spec("down") });
    assert_eq!(s.apply(&[]).status.code(), Some(0));
    let (up, down) = (s.live(&client, "up").await, s.live(&client, "down").await);

    // Both change; the upstream savepoint cannot be written (/proc refuses new directories).
    s.write(&Spec {
        extra_args: &["--tag", "v2"],
        extra_yaml: "savepoint: { directory: \"file:///proc/flinkops-no\", timeout: 30s }\n",
        ..spec("up")
    });
    s.write(&Spec { deps: &["up"], extra_args: &["--tag", "v2"], ..spec("down") });
    let out = s.apply(&[]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("FAILED") && stdout.contains("the job keeps running"), "{stdout}");
    assert!(stdout.contains("skipped"), "the dependent is skipped: {stdout}");
    assert_eq!(s.live(&client, "up").await, up, "the old upstream job still runs");
    assert_eq!(s.live(&client, "down").await, down, "the dependent was not touched");
    s.cleanup(&client).await;
}

async fn suspend_resume(c: &Cluster) {
    let client = c.client();
    let s = Scenario::new(c, "susp");
    s.write(&spec("counter"));
    assert_eq!(s.apply(&[]).status.code(), Some(0));
    let v1 = s.live(&client, "counter").await;
    let before = before_change(&client, &v1).await;

    s.write(&Spec { extra_yaml: "state: suspended\n", ..spec("counter") });
    assert_eq!(s.apply(&[]).status.code(), Some(0));
    assert_eq!(client.job(&v1).await.unwrap().state, JobState::Finished);

    s.write(&spec("counter"));
    let out = s.apply(&[]);
    assert_eq!(out.status.code(), Some(0));
    let v2 = s.live(&client, "counter").await;
    let suspension = stopped_with(&client, &v1).await;
    assert_eq!(reported_snapshot(&text(&out.stdout)).as_deref(), Some(suspension.as_str()));
    assert_state_continued(&client, &before, &v2, Some(&suspension)).await;
    s.cleanup(&client).await;
}

async fn prune(c: &Cluster) {
    let client = c.client();
    let s = Scenario::new(c, "prune");
    s.write(&spec("gone"));
    assert_eq!(s.apply(&[]).status.code(), Some(0));
    let live = s.live(&client, "gone").await;
    std::fs::remove_file(s.dir.join("gone.yaml")).unwrap();
    s.write(&spec("stays"));
    let out = s.apply(&[]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(client.job(&live).await.unwrap().state, JobState::Running, "not pruned without --prune");
    let out = s.apply(&["--prune"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(client.job(&live).await.unwrap().state, JobState::Finished, "stopped with a savepoint");
    assert!(text(&out.stdout).contains("savepoint"), "{}", text(&out.stdout));
    s.cleanup(&client).await;
}

async fn killed_after_savepoint(c: &Cluster) {
    let client = c.client();
    let s = Scenario::new(c, "kill");
    s.write(&spec("counter"));
    assert_eq!(s.apply(&[]).status.code(), Some(0));
    let v1 = s.live(&client, "counter").await;
    let before = before_change(&client, &v1).await;

    // Die (abort, like SIGKILL: no cleanup) right after the savepoint, before the new version runs.
    s.write(&Spec { extra_args: &["--tag", "v2"], ..spec("counter") });
    let out = s.apply_with_fault(Some("after-savepoint"), &[]);
    assert_eq!(out.status.code(), None, "killed by a signal: {}", text(&out.stderr));
    assert!(text(&out.stderr).contains("savepoint"), "{}", text(&out.stderr));

    // The next run sees the stopped job and restores from its newest snapshot: the savepoint the
    // killed run took (Flink names it, the ledger recorded it).
    let out = s.apply(&[]);
    assert_eq!(out.status.code(), Some(0));
    let v2 = s.live(&client, "counter").await;
    let savepoint = stopped_with(&client, &v1).await;
    assert_eq!(reported_snapshot(&text(&out.stdout)).as_deref(), Some(savepoint.as_str()));
    assert_state_continued(&client, &before, &v2, Some(&savepoint)).await;
    s.cleanup(&client).await;
}

async fn concurrent_applies(c: &Cluster) {
    let client = c.client();
    let s = Scenario::new(c, "lock");
    // The first apply holds the lock through a 40 s health gate, far longer than the second and
    // third applies need on a loaded machine: a short gate let the first one finish before they
    // asked, and they then took the lock themselves.
    s.write(&Spec { health: "{ stableFor: 40s, timeout: 3m }", ..spec("counter") });
    let log = s.dir.parent().unwrap().join("first-apply.log");
    let first_log = std::fs::File::create(&log).unwrap();
    let mut first = s
        .apply_command(&c.url, &[])
        .stdout(first_log.try_clone().unwrap())
        .stderr(first_log)
        .spawn()
        .unwrap();
    let first_said = || std::fs::read_to_string(&log).unwrap_or_default();
    let lock = flinkops::apply::lock::lock_path(&cluster_dir(&s.state, &c.url).await);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while std::fs::read_to_string(&lock).map(|t| t.is_empty()).unwrap_or(true) {
        assert!(
            std::time::Instant::now() < deadline,
            "the first apply never took the lock:\n{}",
            first_said()
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let second = s.apply(&["--lock-timeout", "0s"]);
    let stderr = text(&second.stderr);
    assert_eq!(second.status.code(), Some(1), "{stderr}\nthe first apply said:\n{}", first_said());
    assert!(stderr.contains("holds the lock") && stderr.contains(&first.id().to_string()), "{stderr}");
    // The same cluster through a second URL (a proxy, a port-forward) is the same lock.
    let proxy = crate::fault_run::Proxy::plain(&c.url).await;
    let third = s.apply_command(&proxy.url, &["--lock-timeout", "0s"]).output().unwrap();
    let stderr = text(&third.stderr);
    assert_eq!(
        third.status.code(),
        Some(1),
        "an apply through {} ran beside the first:\n{stderr}\nthe first apply said:\n{}",
        proxy.url,
        first_said()
    );
    assert!(stderr.contains("holds the lock") && stderr.contains(&first.id().to_string()), "{stderr}");

    let waiting = s.apply(&["--lock-timeout", "4m"]);
    assert_eq!(waiting.status.code(), Some(0), "waited, then found nothing left to do");
    assert!(text(&waiting.stdout).contains("No changes."), "{}", text(&waiting.stdout));
    assert!(first.wait().unwrap().success(), "{}", first_said());
    s.cleanup(&client).await;
}

/// A new version that starts, then throws after a second, again and again: never healthy.
pub(crate) fn crashing(short: &str) -> Spec<'_> {
    Spec {
        extra_args: &["--fail-after-seconds", "1"],
        health: "{ stableFor: 5s, timeout: 20s }",
        ..spec(short)
    }
}

async fn rollback_on_crash(c: &Cluster) {
    let client = c.client();
    let s = Scenario::new(c, "crash");
    s.write(&spec("counter"));
    assert_eq!(s.apply(&[]).status.code(), Some(0));
    let v1 = s.live(&client, "counter").await;
    let before = before_change(&client, &v1).await;

    s.write(&crashing("counter"));
    let out = s.apply(&[]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("ROLLED BACK") && stdout.contains("not healthy"), "{stdout}");
    let back = s.live(&client, "counter").await;
    assert_ne!(back, v1);
    assert_state_continued(&client, &before, &back, Some(&stopped_with(&client, &v1).await)).await;
    s.cleanup(&client).await;
}

/// Killed right after the new version was submitted, before its health gate: the ledger still
/// names the previous version. The next run finishes the gate — and since this new version
/// crashes, rolls back to the previous one from the same savepoint. Left alone (the old
/// behaviour: the live job "runs the spec"), the crashing version would stay.
async fn killed_before_the_health_gate(c: &Cluster) {
    let client = c.client();
    let s = Scenario::new(c, "killgate");
    s.write(&spec("counter"));
    assert_eq!(s.apply(&[]).status.code(), Some(0));
    let v1 = s.live(&client, "counter").await;
    let before = before_change(&client, &v1).await;

    s.write(&crashing("counter"));
    let out = s.apply_with_fault(Some("after-start"), &[]);
    assert_eq!(out.status.code(), None, "killed by a signal: {}", text(&out.stderr));
    let v2 = s.live(&client, "counter").await;
    assert_ne!(v2, v1, "the new version was submitted");

    let out = s.apply(&[]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("confirm") && stdout.contains("ROLLED BACK"), "{stdout}");
    let back = s.live(&client, "counter").await;
    assert!(back != v1 && back != v2, "the previous version runs again as a new job");
    assert_state_continued(&client, &before, &back, Some(&stopped_with(&client, &v1).await)).await;
    s.cleanup(&client).await;
}

/// Killed right after the rollback resubmitted the previous version: the next run sees the
/// previous version running where the spec wants the new one, upgrades again (the crashing version
/// is rolled back again), and the job ends on the previous version with its state.
async fn killed_during_the_rollback(c: &Cluster) {
    let client = c.client();
    let s = Scenario::new(c, "killrb");
    s.write(&spec("counter"));
    assert_eq!(s.apply(&[]).status.code(), Some(0));
    let v1 = s.live(&client, "counter").await;
    let before = before_change(&client, &v1).await;

    s.write(&crashing("counter"));
    let out = s.apply_with_fault(Some("after-rollback-start"), &[]);
    assert_eq!(out.status.code(), None, "killed by a signal: {}", text(&out.stderr));
    assert!(text(&out.stderr).contains("rolling back"), "{}", text(&out.stderr));

    let out = s.apply(&[]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("ROLLED BACK"), "{stdout}");
    let back = s.live(&client, "counter").await;
    assert_state_continued(&client, &before, &back, None).await;
    s.cleanup(&client).await;
}

async fn saved_plan(c: &Cluster) {
    let client = c.client();
    let s = Scenario::new(c, "saved");
    s.write(&spec("counter"));
    let plan_file = s.state.parent().unwrap().join("plan.json");
    let plan = |s: &Scenario| {
        flinkops()
            .args(["plan", "--flink-url", &c.url, "--out"])
            .arg(&plan_file)
            .arg("--state-dir")
            .arg(&s.state)
            .arg(&s.dir)
            .assert()
            .success();
    };
    let apply_file = || {
        let out = flinkops()
            .args(["apply", "--flink-url", &c.url, "--state-dir"])
            .arg(&s.state)
            .arg(&plan_file)
            .output()
            .unwrap();
        eprintln!("{}\n{}", text(&out.stdout), text(&out.stderr));
        out
    };
    plan(&s);
    // A saved plan needs no confirmation: it was reviewed when it was made.
    assert_eq!(apply_file().status.code(), Some(0));
    let v1 = s.live(&client, "counter").await;

    s.write(&Spec { extra_args: &["--tag", "v2"], ..spec("counter") });
    plan(&s);
    client.cancel(&v1).await.unwrap(); // the cluster changes after the plan was made
    crate::flink_support::wait_state(&client, &v1, JobState::Canceled).await;
    let out = apply_file();
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("stale"), "{}", text(&out.stderr));
    let overview = client.jobs_overview().await.unwrap();
    let tag = identity::name_tag(&s.name("counter"));
    assert!(
        overview
            .jobs
            .iter()
            .all(|j| j.state.is_terminal() || identity::parse(&j.jid).is_none_or(|m| m.name_tag != tag)),
        "nothing was started from a stale plan"
    );
    s.cleanup(&client).await;
}

const LAST_STATE_RETAINED: &str = "upgradeMode: last-state\nflinkConfiguration:\n  execution.checkpointing.interval: 1s\n  \
                                   execution.checkpointing.externalized-checkpoint-retention: RETAIN_ON_CANCELLATION\n";

async fn last_state_from_checkpoint(c: &Cluster) {
    let client = c.client();
    let s = Scenario::new(c, "lastst");
    s.write(&Spec { extra_yaml: LAST_STATE_RETAINED, ..spec("counter") });
    assert_eq!(s.apply(&[]).status.code(), Some(0));
    let v1 = s.live(&client, "counter").await;
    let before = before_change(&client, &v1).await;
    // A checkpoint completed after that reading holds at least that count.
    crate::flink_support::wait_checkpoint_after(&client, &v1, jiff::Timestamp::now().as_millisecond()).await;

    s.write(&Spec { extra_args: &["--tag", "v2"], extra_yaml: LAST_STATE_RETAINED, ..spec("counter") });
    let out = s.apply(&[]);
    assert_eq!(out.status.code(), Some(0));
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(stderr.contains("retained checkpoint") && stdout.contains("/chk-"), "{stdout}\n{stderr}");
    assert!(!stderr.contains("with a savepoint"), "no savepoint was taken: {stderr}");
    let v2 = s.live(&client, "counter").await;
    let reported = reported_snapshot(&stdout).expect("apply says which checkpoint it restored from");
    assert!(reported.contains("/chk-"), "{reported}");
    assert_state_continued(&client, &before, &v2, Some(&reported)).await;
    s.cleanup(&client).await;
}

/// Checkpoints every 100 ms, one retained (Flink's default): a checkpoint named a moment before
/// the cancel may be deleted by the time the cancel ends. The upgrade must restore from the
/// checkpoint the cancel ended on — the newest complete `chk-N` in the job's directory — not
/// give up with the job stopped, nor restore from an older one. (On this machine Flink's answer
/// after the cancel was fresh enough for the old code too; the test guards the path.)
async fn last_state_past_stale_statistics(c: &Cluster) {
    const FAST: &str = "upgradeMode: last-state\nflinkConfiguration:\n  execution.checkpointing.interval: 100ms\n  \
                        execution.checkpointing.externalized-checkpoint-retention: RETAIN_ON_CANCELLATION\n";
    let client = c.client();
    let s = Scenario::new(c, "laststale");
    s.write(&Spec { extra_yaml: FAST, ..spec("counter") });
    assert_eq!(s.apply(&[]).status.code(), Some(0));
    let v1 = s.live(&client, "counter").await;
    let before = before_change(&client, &v1).await;

    s.write(&Spec { extra_args: &["--tag", "v2"], extra_yaml: FAST, ..spec("counter") });
    let out = s.apply(&[]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let v2 = s.live(&client, "counter").await;
    let reported = reported_snapshot(&stdout).expect("apply says which checkpoint it restored from");
    assert!(reported.contains(&format!("/{v1}/chk-")), "{reported}");
    // The newest complete checkpoint of v1 on disk is the one restored from.
    let dir = std::path::Path::new(reported.trim_start_matches("file:")).parent().unwrap().to_path_buf();
    let newest = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| {
            let e = e.ok()?;
            let n: u64 = e.file_name().to_str()?.strip_prefix("chk-")?.parse().ok()?;
            e.path().join("_metadata").is_file().then_some(n)
        })
        .max();
    assert_eq!(
        newest.map(|n| format!("chk-{n}")).as_deref(),
        reported.rsplit('/').next(),
        "{reported} in {dir:?}"
    );
    assert_state_continued(&client, &before, &v2, Some(&reported)).await;
    s.cleanup(&client).await;
}

/// Killed right after a last-state upgrade cancelled the job, before its checkpoint was
/// recorded: the next run finds the cancelled job's retained checkpoint and starts the new
/// version from it.
async fn last_state_killed_after_the_cancel(c: &Cluster) {
    let client = c.client();
    let s = Scenario::new(c, "lastkill");
    s.write(&Spec { extra_yaml: LAST_STATE_RETAINED, ..spec("counter") });
    assert_eq!(s.apply(&[]).status.code(), Some(0));
    let v1 = s.live(&client, "counter").await;
    let before = before_change(&client, &v1).await;
    crate::flink_support::wait_checkpoint_after(&client, &v1, jiff::Timestamp::now().as_millisecond()).await;

    s.write(&Spec { extra_args: &["--tag", "v2"], extra_yaml: LAST_STATE_RETAINED, ..spec("counter") });
    let out = s.apply_with_fault(Some("after-cancel"), &[]);
    assert_eq!(out.status.code(), None, "killed by a signal: {}", text(&out.stderr));
    assert!(s.active(&client, "counter").await.is_empty(), "the job was cancelled");

    let out = s.apply(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v2 = s.live(&client, "counter").await;
    let reported = reported_snapshot(&text(&out.stdout)).expect("apply says what it restored from");
    assert!(reported.contains(&format!("/{v1}/chk-")), "{reported}");
    assert_state_continued(&client, &before, &v2, Some(&reported)).await;
    s.cleanup(&client).await;
}

async fn last_state_falls_back(c: &Cluster) {
    let client = c.client();
    let s = Scenario::new(c, "lastfb");
    s.write(&Spec { extra_yaml: "upgradeMode: last-state\n", ..spec("counter") });
    assert_eq!(s.apply(&[]).status.code(), Some(0));
    let v1 = s.live(&client, "counter").await;
    let before = before_change(&client, &v1).await;
    s.write(&Spec {
        extra_args: &["--tag", "v2"],
        extra_yaml: "upgradeMode: last-state\n",
        ..spec("counter")
    });
    let out = s.apply(&[]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stderr).contains("taking a savepoint instead"), "{}", text(&out.stderr));
    let v2 = s.live(&client, "counter").await;
    // The cancel that would have lost the state was never made.
    assert_state_continued(&client, &before, &v2, Some(&stopped_with(&client, &v1).await)).await;
    s.cleanup(&client).await;
}

/// Two state directories with a spec of the same name on one cluster (two repositories, one
/// job name): the second takes the job over (it has no record of the name, so it cannot tell
/// its job from one whose ledger was lost), and from then on the first never acts on it: its
/// plan and apply refuse, naming the job, and the job keeps running untouched. Before, the first
/// redeployed its own version over the second's, and the two would take turns.
async fn another_state_directory(c: &Cluster) {
    let client = c.client();
    let a = Scenario::new(c, "twodirs");
    a.write(&spec("counter"));
    assert_eq!(a.apply(&[]).status.code(), Some(0));
    let root = a.dir.parent().unwrap().to_path_buf();
    let b = Scenario {
        cluster: c.clone(),
        dir: root.join("specs-b"),
        state: root.join("state-b"),
        prefix: a.prefix.clone(),
    };
    std::fs::create_dir_all(&b.dir).unwrap();
    b.write(&Spec { extra_args: &["--tag", "b"], ..spec("counter") });
    assert_eq!(b.apply(&[]).status.code(), Some(0));
    let theirs = b.live(&client, "counter").await;

    let plan = a.plan_command(&[]).output().unwrap();
    let planned = text(&plan.stdout) + &text(&plan.stderr);
    assert_eq!(plan.status.code(), Some(1), "{planned}");
    assert!(planned.contains(&theirs.to_string()) && planned.contains("never started it"), "{planned}");
    let out = a.apply(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_eq!(a.live(&client, "counter").await, theirs, "the other state directory's job was acted on");
    a.cleanup(&client).await;
}

/// One record file that cannot be read (here: not JSON) stops flinkops from acting on that job,
/// never from acting on the others, and is never overwritten: the next apply upgrades the other
/// job and leaves this one running its old version.
async fn unreadable_record(c: &Cluster) {
    let client = c.client();
    let s = Scenario::new(c, "ledgerbad");
    s.write(&spec("a"));
    s.write(&spec("b"));
    assert_eq!(s.apply(&[]).status.code(), Some(0));
    let (a1, b1) = (s.live(&client, "a").await, s.live(&client, "b").await);
    let ledger = flinkops::ledger::Ledger::new(&cluster_dir(&s.state, &c.url).await);
    let file = ledger.dir().join(format!("{}.json", s.name("b")));
    assert!(file.is_file(), "{}", file.display());
    std::fs::write(&file, "{ written by something else").unwrap();

    s.write(&Spec { extra_args: &["--tag", "v2"], ..spec("a") });
    s.write(&Spec { extra_args: &["--tag", "v2"], ..spec("b") });
    let out = s.apply(&[]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        format!("{stdout}{stderr}").contains(&format!("{}.json", s.name("b"))),
        "the error names the file: {stdout}\n{stderr}"
    );
    assert_ne!(s.live(&client, "a").await, a1, "the other job was upgraded");
    assert_eq!(s.live(&client, "b").await, b1, "this one was not touched");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "{ written by something else", "not overwritten");
    s.cleanup(&client).await;
}

/// Someone started the job by hand, under the name the spec will have: its id and jar.
async fn start_by_hand(c: &Cluster, client: &Client, name: &str) -> (JobId, flinkops::flink::JarId) {
    let jar = client.upload_jar(&c.jar).await.unwrap();
    let request = flinkops::flink::RunRequest {
        entry_class: Some("dev.flinkops.testjob.CounterJob".into()),
        program_args: vec![
            "--name".into(),
            name.into(),
            "--rate".into(),
            "100".into(),
            "--keys".into(),
            "8".into(),
        ],
        job_id: Some(JobId::random()),
        ..flinkops::flink::RunRequest::new(1)
    };
    let by_hand = client.run_jar(&jar, &request).await.unwrap();
    crate::flink_support::wait_tasks_running(client, &by_hand).await;
    (by_hand, jar)
}

async fn adopt(c: &Cluster) {
    let client = c.client();
    let s = Scenario::new(c, "adopt");
    let name = s.name("counter");
    let (by_hand, jar) = start_by_hand(c, &client, &name).await;
    let before = before_change(&client, &by_hand).await;

    s.write(&spec("counter"));
    let refused = s.apply(&[]);
    assert_eq!(refused.status.code(), Some(1), "never deploys a second copy next to it");
    assert_eq!(client.job(&by_hand).await.unwrap().state, JobState::Running, "untouched without --adopt");

    let out = s.apply(&["-o", "json", "--adopt"]);
    assert_eq!(out.status.code(), Some(0));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["formatVersion"], 1);
    let result = &report["results"][0];
    assert_eq!(
        (result["name"].as_str(), result["outcome"].as_str()),
        (Some(name.as_str()), Some("done")),
        "{report:#}"
    );
    assert_eq!(result["action"]["type"], "adopt");
    assert!(report["summary"].as_str().unwrap().starts_with("Apply complete"), "{report:#}");
    let managed = s.live(&client, "counter").await;
    assert_eq!(client.job(&by_hand).await.unwrap().state, JobState::Finished, "stopped with a savepoint");
    let adopted_from = stopped_with(&client, &by_hand).await;
    assert_eq!(reported_snapshot(&text(&out.stdout)).as_deref(), Some(adopted_from.as_str()));
    assert_state_continued(&client, &before, &managed, Some(&adopted_from)).await;
    let _ = client.delete_jar(&jar).await;
    s.cleanup(&client).await;
}

/// An `--adopt` killed right after the savepoint of the unmanaged job: that savepoint is named
/// after the unmanaged job's id, not the spec's name tag, and only the ledger knows it is this
/// spec's state. The next apply must start from it, not empty.
async fn adopt_killed_after_savepoint(c: &Cluster) {
    adopt_killed_at(c, "after-savepoint").await;
}

/// The same, killed right after Flink accepted the stop: the ledger holds only the write-ahead
/// record of the stop (its trigger id), and the next run must ask Flink what it produced.
async fn adopt_killed_after_stop_request(c: &Cluster) {
    adopt_killed_at(c, "after-stop-request").await;
}

async fn adopt_killed_at(c: &Cluster, fault: &str) {
    let client = c.client();
    let s = Scenario::new(c, "adoptkill");
    let (by_hand, jar) = start_by_hand(c, &client, &s.name("counter")).await;
    let before = before_change(&client, &by_hand).await;
    s.write(&spec("counter"));
    let out = s.apply_with_fault(Some(fault), &["--adopt"]);
    assert_eq!(out.status.code(), None, "killed by a signal: {}", text(&out.stderr));
    let adopted_from = stopped_with(&client, &by_hand).await;

    let out = s.apply(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let managed = s.live(&client, "counter").await;
    assert_eq!(reported_snapshot(&text(&out.stdout)).as_deref(), Some(adopted_from.as_str()));
    assert_state_continued(&client, &before, &managed, Some(&adopted_from)).await;
    let _ = client.delete_jar(&jar).await;
    s.cleanup(&client).await;
}

async fn stateless(c: &Cluster) {
    let client = c.client();
    let s = Scenario::new(c, "nostate");
    s.write(&Spec { extra_yaml: "upgradeMode: stateless\n", ..spec("counter") });
    assert_eq!(s.apply(&[]).status.code(), Some(0));
    let v1 = s.live(&client, "counter").await;
    let before = before_change(&client, &v1).await;
    s.write(&Spec {
        extra_args: &["--tag", "v2"],
        extra_yaml: "upgradeMode: stateless\n",
        ..spec("counter")
    });
    let out = s.apply(&[]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).contains("starts empty (upgradeMode: stateless)"), "{}", text(&out.stdout));
    assert!(
        !text(&out.stderr).contains("savepoint"),
        "no savepoint for a stateless job: {}",
        text(&out.stderr)
    );
    assert_eq!(client.job(&v1).await.unwrap().state, JobState::Canceled);
    let v2 = s.live(&client, "counter").await;
    let verdict = state_continued(&client, &before, &v2, None).await;
    assert!(verdict.is_err(), "started empty on purpose, so the state oracle must say so: {verdict:?}");
    s.cleanup(&client).await;
}

/// The savepoint Flink says `job` was stopped with (`latest.savepoint` of the ended job).
pub(crate) async fn stopped_with(client: &Client, job: &JobId) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        // `/checkpoints` is cached for ~3 s: the stop's savepoint shows a little late.
        let latest = client.checkpoints(job).await.unwrap().latest.savepoint;
        if let Some(path) = latest.and_then(|s| s.external_path) {
            return path;
        }
        assert!(std::time::Instant::now() < deadline, "Flink reports no savepoint of {job}");
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}
