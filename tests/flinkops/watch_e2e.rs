//! `flinkops watch` end to end on real Flink: the built binary as a sidecar process, its HTTP
//! endpoints, and the stateful counter job through spec edits, hand-made cancellations, broken
//! specs, failed upgrades and SIGTERM. Every scenario runs on every cluster `scripts/test` started.

use std::time::Duration;

use flinkops::flink::{Client, JobId, JobState};
use flinkops::plan::identity;

use crate::apply_e2e::parallelism;
use crate::apply_e2e::{Scenario, Spec, spec};
use crate::flink_support::{Cluster, assert_state_continued, before_change, on_every_cluster};
use crate::watch_support::Watch;

/// How long watch may take to act on something (a resync is 2 s in these tests).
const DEADLINE: Duration = Duration::from_secs(120);

/// Start watch on the scenario's specs with a 2 s resync and short back-offs.
async fn start(s: &Scenario, extra: &[&str]) -> Watch {
    let mut flags = vec!["--resync", "2s", "--debounce", "300ms", "--retry-backoff", "2s"];
    flags.extend_from_slice(extra);
    Watch::spawn(&s.cluster.url, &s.dir, &s.state, "127.0.0.1:0", &flags, DEADLINE).listening().await
}

/// The one active job of a spec once all its tasks run or finished, if there is exactly one.
async fn running(client: &Client, s: &Scenario, short: &str) -> Option<JobId> {
    match s.active(client, short).await.as_slice() {
        // Finished tasks count: a rescaled source finishes the subtasks it has no split for.
        [j] if j.state == JobState::Running
            && j.tasks.running > 0
            && j.tasks.running + j.tasks.other.get("finished").copied().unwrap_or(0) == j.tasks.total =>
        {
            Some(j.jid.clone())
        }
        _ => None,
    }
}

/// Until a job other than `not` runs the spec with all tasks.
async fn wait_running_other_than(client: &Client, s: &Scenario, short: &str, not: Option<&JobId>) -> JobId {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        if let Some(id) = running(client, s, short).await.filter(|id| Some(id) != not) {
            return id;
        }
        assert!(tokio::time::Instant::now() < deadline, "no new running job for {short} (old: {not:?})");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

on_every_cluster! {
    watch_upgrades_on_an_edit_heals_a_cancelled_job_and_holds_on_broken_specs (1) => converge_heal_break;
    a_failed_upgrade_under_watch_is_rolled_back_once_and_held_until_the_spec_changes (1) => failed_upgrade_held;
    sigterm_during_an_upgrade_leaves_one_consistent_job_and_a_restarted_watch_converges (1) => sigterm_mid_upgrade;
    watch_rescales_up_and_down_healthy_with_the_state (2) => watch_rescale;
}

async fn watch_rescale(c: &Cluster) {
    let client = c.client();
    let s = Scenario::new(c, "wscale");
    s.write(&spec("counter"));
    let name = s.name("counter");
    let mut w = start(&s, &[]).await;
    let mut job = wait_running_other_than(&client, &s, "counter", None).await;
    w.wait_ready(200, "ready").await;
    for (round, width) in [2, 1].into_iter().enumerate() {
        let before = before_change(&client, &job).await;
        let yaml = format!("parallelism: {width}\n");
        s.write(&Spec { extra_yaml: &yaml, ..spec("counter") });
        let next = wait_running_other_than(&client, &s, "counter", Some(&job)).await;
        assert_state_continued(&client, &before, &next, None).await;
        w.wait_metric(
            &format!("flinkops_upgrades_total{{cluster=\"default\",job=\"{name}\"}}"),
            (round + 1) as f64,
        )
        .await;
        w.wait_ready(200, "ready").await;
        assert_eq!(parallelism(&client, &next).await, width);
        job = next;
    }
    let rollbacks =
        w.metric_value(&format!("flinkops_rollbacks_total{{cluster=\"default\",job=\"{name}\"}}")).await;
    assert!(rollbacks.is_none_or(|n| n == 0.0), "no rescale was rolled back: {rollbacks:?}\n{}", w.log());
    w.signal("TERM");
    assert_eq!(w.exited(Duration::from_secs(30)).await, 0);
    s.cleanup(&client).await;
}

async fn converge_heal_break(c: &Cluster) {
    let client = c.client();
    let s = Scenario::new(c, "watch");
    s.write(&spec("counter"));
    let name = s.name("counter");
    let mut w = start(&s, &[]).await;
    let v1 = wait_running_other_than(&client, &s, "counter", None).await;
    w.wait_ready(200, "ready").await;
    let before = before_change(&client, &v1).await;

    // An edit is seen (no resync needed: the file event) and upgraded with the state.
    s.write(&Spec { extra_args: &["--tag", "v2"], ..spec("counter") });
    let v2 = wait_running_other_than(&client, &s, "counter", Some(&v1)).await;
    assert_eq!(client.job(&v1).await.unwrap().state, JobState::Finished, "stopped with a savepoint");
    assert_state_continued(&client, &before, &v2, None).await;
    w.wait_log("the upgrade to finish", |log| {
        log.contains("Apply complete: 0 deployed, 1 upgraded").then_some(())
    })
    .await;
    w.wait_metric(&format!("flinkops_upgrades_total{{cluster=\"default\",job=\"{name}\"}}"), 1.0).await;
    assert!(
        w.metric(&format!("flinkops_savepoint_age_seconds{{cluster=\"default\",job=\"{name}\"}}")).await
            > 0.0
    );

    // Cancelled by hand: healed from its latest state at a resync (it retains no checkpoints,
    // so that is the upgrade's savepoint, which holds at least `before`).
    client.cancel(&v2).await.unwrap();
    let v3 = wait_running_other_than(&client, &s, "counter", Some(&v2)).await;
    assert_state_continued(&client, &before, &v3, None).await;
    w.wait_log("the heal", |log| log.contains("was cancelled outside flinkops").then_some(())).await;
    w.wait_metric(&format!("flinkops_heals_total{{cluster=\"default\",job=\"{name}\"}}"), 1.0).await;

    // A broken spec: nothing applied, /readyz says where and why, the metric says so too.
    let good = std::fs::read_to_string(s.dir.join("counter.yaml")).unwrap();
    let broken = format!("{}\nparalelism: 2\n", good.trim_end());
    std::fs::write(s.dir.join("counter.yaml"), broken).unwrap();
    let body = w.wait_ready(503, "unknown field `paralelism`").await;
    assert!(body.contains("counter.yaml:") && body.contains("did you mean `parallelism`?"), "{body}");
    w.wait_metric("flinkops_specs_valid", 0.0).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(running(&client, &s, "counter").await, Some(v3.clone()), "nothing was applied");

    // Fixed: ready again, nothing to do. SIGTERM: exit 0, the job keeps running.
    std::fs::write(s.dir.join("counter.yaml"), good).unwrap();
    w.wait_ready(200, "ready").await;
    assert!(w.metric("flinkops_reconciles_total{cluster=\"default\",result=\"invalid_specs\"}").await >= 1.0);
    assert!(w.metric("flinkops_last_successful_reconcile_timestamp_seconds").await > 1.7e9);
    w.signal("TERM");
    assert_eq!(w.exited(Duration::from_secs(30)).await, 0);
    assert_eq!(running(&client, &s, "counter").await, Some(v3), "the job outlives watch");
    s.cleanup(&client).await;
}

async fn failed_upgrade_held(c: &Cluster) {
    let client = c.client();
    let s = Scenario::new(c, "wfail");
    s.write(&spec("counter"));
    let name = s.name("counter");
    let w = start(&s, &[]).await;
    let v1 = wait_running_other_than(&client, &s, "counter", None).await;
    let before = before_change(&client, &v1).await;

    // A new operator uid: the state cannot be mapped, the new version cannot start → rollback.
    s.write(&Spec { extra_args: &["--uid-suffix", "x"], ..spec("counter") });
    let body = w.wait_ready(503, "held until the spec changes").await;
    assert!(body.contains("rolled back") || body.contains("failed 1 time(s)"), "{body}");
    let back = wait_running_other_than(&client, &s, "counter", Some(&v1)).await;
    assert_state_continued(&client, &before, &back, None).await;
    // Several resyncs later: still one attempt, not a loop.
    tokio::time::sleep(Duration::from_secs(8)).await;
    let attempts = format!(
        "flinkops_actions_total{{cluster=\"default\",job=\"{name}\",action=\"upgrade\",result=\"rolled_back\"}}"
    );
    w.wait_metric(&attempts, 1.0).await;
    w.wait_metric(&format!("flinkops_rollbacks_total{{cluster=\"default\",job=\"{name}\"}}"), 1.0).await;
    assert_eq!(running(&client, &s, "counter").await, Some(back.clone()), "no further attempt");

    // A new version of the spec is tried at once.
    let before_v3 = before_change(&client, &back).await;
    s.write(&Spec { extra_args: &["--tag", "v3"], ..spec("counter") });
    let v3 = wait_running_other_than(&client, &s, "counter", Some(&back)).await;
    w.wait_ready(200, "ready").await;
    assert_state_continued(&client, &before_v3, &v3, None).await;
    s.cleanup(&client).await;
}

async fn sigterm_mid_upgrade(c: &Cluster) {
    let client = c.client();
    let s = Scenario::new(c, "wterm");
    let slow = "{ stableFor: 8s, timeout: 90s }";
    s.write(&Spec { health: slow, ..spec("counter") });
    let mut w = start(&s, &["--shutdown-grace", "1s"]).await;
    let v1 = wait_running_other_than(&client, &s, "counter", None).await;
    w.wait_ready(200, "ready").await;
    let before = before_change(&client, &v1).await;

    // SIGTERM as soon as the upgrade has stopped the old job: the grace period (1 s) runs out
    // before the new version's 8 s health gate, so watch exits with the upgrade unfinished.
    s.write(&Spec { health: slow, extra_args: &["--tag", "v2"], ..spec("counter") });
    w.wait_log("the savepoint", |log| log.contains("savepoint file:").then_some(())).await;
    w.signal("TERM");
    assert_eq!(w.exited(Duration::from_secs(30)).await, 0, "log:\n{}", w.log());
    let log = w.log();
    assert!(log.contains("SIGTERM received"), "{log}");

    // Whatever the moment, a restarted watch converges: one job, the new version, with its state.
    let w2 = start(&s, &[]).await;
    w2.wait_ready(200, "ready").await;
    let now = wait_running_other_than(&client, &s, "counter", Some(&v1)).await;
    let fp = identity::parse(&now).unwrap().fingerprint_tag;
    assert_ne!(fp, identity::parse(&v1).unwrap().fingerprint_tag, "the new version runs");
    // No state lost across the shutdown.
    assert_state_continued(&client, &before, &now, None).await;
    let mut w2 = w2;
    w2.signal("TERM");
    assert_eq!(w2.exited(Duration::from_secs(30)).await, 0);
    s.cleanup(&client).await;
}
