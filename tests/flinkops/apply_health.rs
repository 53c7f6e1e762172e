//! The health gate and the hashed jar uploads of `flinkops apply` against real Flink clusters:
//! every scenario runs on every cluster that `scripts/test` started (see `flink_support`).

use std::time::Duration;

use flinkops::apply::health::{Gate, HealthProgress, Unhealthy, wait_healthy};
use flinkops::apply::jars::{ensure_uploaded, upload_name};
use flinkops::flink::{Client, JarId, JobId, JobState, RunRequest};

use crate::flink_support::{Cleanup, Cluster, on_every_cluster, wait_state};

on_every_cluster! {
    a_steadily_running_job_is_healthy_after_stable_for (1) => steady_job_is_healthy;
    a_job_failing_every_second_keeps_restarting_and_is_not_healthy (1) => restarting_job_times_out;
    a_failing_job_without_restarts_is_unhealthy_at_once_with_its_root_cause (1) => failed_job_ends;
    a_job_wider_than_the_free_slots_times_out_waiting_for_tasks (4) => too_wide_job_times_out;
    a_jar_is_uploaded_once_per_content_and_removed_when_unused (0) => jar_uploaded_once;
}

/// The test job at 50 records/s with a fresh job id.
fn counter_job(c: &Cluster, name: &str, parallelism: u32) -> RunRequest {
    RunRequest {
        entry_class: Some("dev.flinkops.testjob.CounterJob".into()),
        program_args: vec!["--name".into(), format!("{name}-{}", c.version)],
        job_id: Some(JobId::random()),
        ..RunRequest::new(parallelism)
    }
}

fn gate(stable_for: u64, timeout: u64) -> Gate {
    Gate {
        stable_for: Duration::from_secs(stable_for),
        timeout: Duration::from_secs(timeout),
        poll: Duration::from_millis(500),
    }
}

/// Upload the test job, run `request`, and pass it through the gate, printing its progress.
async fn gated(
    c: &Cluster,
    client: &Client,
    cleanup: &mut Cleanup,
    request: RunRequest,
    gate: Gate,
) -> (JobId, Result<flinkops::apply::health::Healthy, Unhealthy>, Vec<HealthProgress>) {
    let jar = cleanup.jar(client.upload_jar(&c.jar).await.expect("upload"));
    let job = cleanup.job(client.run_jar(&jar, &request).await.expect("run"));
    let mut seen = Vec::new();
    let result = wait_healthy(client, &job, &gate, |p| {
        eprintln!("  Flink {} {job}: {p} ({:.1}s)", c.version, p.elapsed.as_secs_f64());
        seen.push(p.clone());
    })
    .await;
    eprintln!("  Flink {}: {result:?}", c.version);
    (job, result, seen)
}

/// RUNNING with every task running and no restart for 3 s: healthy, and not before the window.
async fn steady_job_is_healthy(c: &Cluster) {
    let client = c.client();
    let mut cleanup = Cleanup::new(&client);
    let (job, result, seen) =
        gated(c, &client, &mut cleanup, counter_job(c, "health-ok", 1), gate(3, 60)).await;
    let healthy = result.expect("healthy");
    assert_eq!(healthy.restarts, 0, "{seen:?}");
    let last = seen.last().unwrap();
    assert!(last.stable_for >= Duration::from_secs(3), "{last:?}");
    assert!(seen.iter().any(|p| p.stable_for < Duration::from_secs(3)), "it watched the window: {seen:?}");
    assert_eq!((last.tasks_running, last.tasks_total), (2, 2));
    assert_eq!(client.job(&job).await.unwrap().state, JobState::Running);
    cleanup.finish().await;
}

/// With checkpointing on, Flink's default restart strategy (exponential delay, no limit) restarts
/// the job forever: it never reaches FAILED, and the gate times out counting its restarts.
async fn restarting_job_times_out(c: &Cluster) {
    let client = c.client();
    let mut cleanup = Cleanup::new(&client);
    let mut request = counter_job(c, "health-restarts", 1);
    request.program_args.extend(["--fail-after-seconds".into(), "1".into()]);
    let (job, result, seen) = gated(c, &client, &mut cleanup, request, gate(3, 12)).await;
    let err = result.expect_err("never stable for 3 s");
    let Unhealthy::TimedOut { reason, last, restarts, .. } = &err else {
        panic!("Flink {}: {err:?}", c.version)
    };
    assert!(last.restarts >= 2, "Flink {}: the polls see restarts: {seen:?}", c.version);
    assert_eq!(seen.iter().filter(|p| p.restarted).count() as u32, last.restarts);
    assert!(*restarts >= last.restarts, "Flink's history has at least as many: {restarts}");
    assert!(reason.starts_with(&format!("restarted {restarts} times within 12s; last cause: ")), "{reason}");
    let cause = err.root_cause().expect("a root cause");
    assert!(cause.contains("failing on purpose after 1 s"), "{cause}");
    let state = client.job(&job).await.unwrap().state;
    assert!(matches!(state, JobState::Running | JobState::Restarting), "still restarting: {state}");
    cleanup.finish().await;
}

/// `restart-strategy.type: none`: the first failure fails the job, and the gate says why at once.
async fn failed_job_ends(c: &Cluster) {
    let client = c.client();
    let mut cleanup = Cleanup::new(&client);
    let mut request = counter_job(c, "health-fails", 1);
    request.program_args.extend(["--fail-after-seconds".into(), "1".into()]);
    request.flink_configuration.insert("restart-strategy.type".into(), "none".into());
    let (_, result, seen) = gated(c, &client, &mut cleanup, request, gate(30, 60)).await;
    let err = result.expect_err("the job fails");
    assert!(matches!(err, Unhealthy::Ended { state: JobState::Failed, .. }), "Flink {}: {err:?}", c.version);
    let cause = err.root_cause().expect("a root cause");
    assert!(cause.contains("CounterJob: failing on purpose after 1 s"), "Flink {}: {cause}", c.version);
    assert!(err.to_string().contains("failed after"), "{err}");
    let took = seen.last().unwrap().elapsed;
    assert!(took < Duration::from_secs(20), "at once, not at the timeout: {took:?}");
    cleanup.finish().await;
}

/// Parallelism 8 on a 4-slot TaskManager. What Flink does depends on the cluster's age: during
/// the standalone ResourceManager's start-up time (`slot.request.timeout`, 5 min) the job reads
/// RUNNING with its tasks SCHEDULED; afterwards each attempt fails at once with
/// `NoResourceAvailableException` and the job restarts again and again (observed on both
/// versions). Either way the gate times out and blames the slots.
async fn too_wide_job_times_out(c: &Cluster) {
    let client = c.client();
    let mut cleanup = Cleanup::new(&client);
    let (job, result, seen) =
        gated(c, &client, &mut cleanup, counter_job(c, "health-wide", 8), gate(3, 8)).await;
    let err = result.expect_err("not enough slots");
    let Unhealthy::TimedOut { reason, last, root_cause, .. } = &err else {
        panic!("Flink {}: {err:?}", c.version)
    };
    assert!(reason.ends_with("not enough free task slots?)"), "{reason}");
    if last.restarts == 0 {
        eprintln!("  Flink {}: a young cluster: the tasks wait for slots", c.version);
        assert_eq!(last.state, JobState::Running, "RUNNING with tasks waiting: {seen:?}");
        assert!(reason.contains(" of 16 tasks running after 8.0s ("), "{reason}");
        assert!(reason.ends_with("scheduled: not enough free task slots?)"), "{reason}");
    } else {
        eprintln!("  Flink {}: an older cluster: no slots, so the job fails and restarts", c.version);
        let cause = root_cause.as_deref().unwrap_or_default();
        assert!(cause.contains("NoResourceAvailableException"), "{cause}");
        assert!(reason.starts_with("restarted "), "{reason}");
    }
    client.cancel(&job).await.unwrap();
    wait_state(&client, &job, JobState::Canceled).await; // give the slots back before the next test
    cleanup.finish().await;
}

/// Twice `ensure_uploaded` → one upload under the hashed name.
async fn jar_uploaded_once(c: &Cluster) {
    let client = c.client();
    let mut cleanup = Cleanup::new(&client);
    // Content of its own (the upload checks the hash against the bytes it sends), so that
    // no other run's upload of the same name is found.
    let local = crate::support::scratch(&format!("jar-once-{}", c.version)).join("private.jar");
    std::fs::write(&local, format!("not a jar {}", JobId::random())).unwrap();
    let sha = flinkops::spec::fingerprint::sha256_file(&local).unwrap();
    let (first, uploaded) = ensure_uploaded(&client, &local, &sha).await.expect("upload");
    let first = cleanup.jar(first);
    let (again, reuploaded) = ensure_uploaded(&client, &local, &sha).await.expect("reuse");
    assert!(uploaded && !reuploaded);
    assert_eq!(first, again);
    let named: Vec<JarId> = client
        .list_jars()
        .await
        .unwrap()
        .into_iter()
        .filter(|j| j.name == upload_name(&sha))
        .map(|j| j.id)
        .collect();
    assert_eq!(named, std::slice::from_ref(&first), "one upload");
    assert!(first.as_str().ends_with(&format!("_{}", upload_name(&sha))), "{first}");

    // Only our own jar: other tests' flinkops jars on this cluster must survive.
    client.delete_jar(&first).await.unwrap();
    assert!(!client.list_jars().await.unwrap().iter().any(|j| j.id == first), "deleted");
    cleanup.finish().await;
}
