//! `--target`, `--replace` and `protect: true` end to end on real Flink: what runs afterwards
//! (job ids, `latest.restored`, the counter) is read from Flink, never from flinkops' output.

use flinkops::flink::{Client, JobId, JobState};

use crate::apply_e2e::{Scenario, Spec, spec, stopped_with, text};
use crate::flink_support::{Before, Cluster, assert_state_continued, before_change, on_every_cluster};

on_every_cluster! {
    target_upgrades_only_the_targeted_job_and_the_other_keeps_its_job_id (2) => target_only;
    replace_redeploys_from_a_fresh_savepoint_and_the_next_plan_is_empty (1) => replace_keeps_state;
    protect_blocks_a_prune_until_allow_destroy_names_the_job (2) => protect_blocks_prune;
    watch_once_reconciles_once_and_leaves_the_excluded_job_alone (2) => watch_once_excludes;
}

/// Jobs `a` and `b` applied and running (their ids, and `a`'s counter before the change), then
/// both specs changed (`--tag v2`), not applied yet.
struct BothChanged {
    client: Client,
    s: Scenario,
    a1: JobId,
    b1: JobId,
    before: Before,
}

async fn both_changed(c: &Cluster, prefix: &str) -> BothChanged {
    let client = c.client();
    let s = Scenario::new(c, prefix);
    s.write(&spec("a"));
    s.write(&spec("b"));
    assert_eq!(s.apply(&[]).status.code(), Some(0));
    let (a1, b1) = (s.live(&client, "a").await, s.live(&client, "b").await);
    let before = before_change(&client, &a1).await;
    s.write(&Spec { extra_args: &["--tag", "v2"], ..spec("a") });
    s.write(&Spec { extra_args: &["--tag", "v2"], ..spec("b") });
    BothChanged { client, s, a1, b1, before }
}

async fn target_only(c: &Cluster) {
    // Both change; only `a` is targeted.
    let BothChanged { client, s, a1, b1, before } = both_changed(c, "target").await;
    let out = s.apply(&["--target", &s.name("a")]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", text(&out.stderr));
    assert!(stdout.contains("not targeted (--target); would otherwise be upgraded"), "{stdout}");
    let a2 = s.live(&client, "a").await;
    assert_ne!(a1, a2, "the target was upgraded");
    // Judged by what Flink says `a` was stopped with (the output also names the other job).
    assert_state_continued(&client, &before, &a2, Some(&stopped_with(&client, &a1).await)).await;
    assert_eq!(s.live(&client, "b").await, b1, "the job outside the target keeps its job id");
    assert_eq!(client.job(&b1).await.unwrap().state, JobState::Running);
    // Without --target, the other change is still there to apply.
    let plan = s.plan_command(&["--detailed-exitcode"]).output().unwrap();
    assert_eq!(plan.status.code(), Some(2), "{}", text(&plan.stdout));
    assert!(
        text(&plan.stdout).contains(&format!("# {} will be upgraded", s.name("b"))),
        "{}",
        text(&plan.stdout)
    );
    s.cleanup(&client).await;
}

async fn replace_keeps_state(c: &Cluster) {
    let client = c.client();
    let s = Scenario::new(c, "replace");
    s.write(&spec("counter"));
    assert_eq!(s.apply(&[]).status.code(), Some(0));
    let v1 = s.live(&client, "counter").await;
    let before = before_change(&client, &v1).await;
    let out = s.apply(&["--replace", &s.name("counter")]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", text(&out.stderr));
    assert!(stdout.contains("will be replaced (savepoint, --replace)"), "{stdout}");
    let v2 = s.live(&client, "counter").await;
    assert_ne!(v1, v2, "a new job");
    assert_eq!(client.job(&v1).await.unwrap().state, JobState::Finished, "stopped with a savepoint");
    // Flink restored the new job from the savepoint the old one was stopped with, counting on.
    let savepoint = stopped_with(&client, &v1).await;
    assert_state_continued(&client, &before, &v2, Some(&savepoint)).await;
    let plan = s.plan_command(&["--detailed-exitcode"]).output().unwrap();
    assert_eq!(plan.status.code(), Some(0), "the replaced job runs its spec: {}", text(&plan.stdout));
    // A job that is not running cannot be replaced.
    client.cancel(&v2).await.unwrap();
    crate::flink_support::wait_state(&client, &v2, JobState::Canceled).await;
    let out = s.plan_command(&["--replace", &s.name("counter")]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains("--replace refused: it is not running"), "{}", text(&out.stdout));
    s.cleanup(&client).await;
}

async fn protect_blocks_prune(c: &Cluster) {
    let client = c.client();
    let s = Scenario::new(c, "protect");
    s.write(&Spec { extra_yaml: "protect: true\n", ..spec("guarded") });
    assert_eq!(s.apply(&[]).status.code(), Some(0));
    let live = s.live(&client, "guarded").await;
    std::fs::remove_file(s.dir.join("guarded.yaml")).unwrap();
    // A spec directory needs at least one spec.
    s.write(&spec("stays"));
    let out = s.apply(&["--prune"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{}", text(&out.stderr));
    assert!(stdout.contains(&format!("--allow-destroy {}", s.name("guarded"))), "{stdout}");
    assert!(stdout.contains(&format!("{}: done", s.name("stays"))), "the rest is applied: {stdout}");
    assert_eq!(s.live(&client, "guarded").await, live, "the protected orphan keeps running, same job id");
    let out = s.apply(&["--prune", "--allow-destroy", &s.name("guarded")]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", text(&out.stderr));
    assert_eq!(client.job(&live).await.unwrap().state, JobState::Finished, "stopped with a savepoint");
    stopped_with(&client, &live).await;
    s.cleanup(&client).await;
}

/// `watch --once --exclude b`: one reconcile as watch makes it, then exit 0; `a` is upgraded with
/// its state, `b` keeps its job id (and its change is still to do). Judged by Flink.
async fn watch_once_excludes(c: &Cluster) {
    let BothChanged { client, s, a1, b1, before } = both_changed(c, "once").await;
    let out = crate::support::flinkops_process()
        .args(["watch", "--once", "--listen", "127.0.0.1:0", "--flink-url", &c.url, "--state-dir"])
        .arg(&s.state)
        .args(["--exclude", &s.name("b")])
        .arg(&s.dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}\n{}", text(&out.stdout), text(&out.stderr));
    let a2 = s.live(&client, "a").await;
    assert_ne!(a1, a2, "the pass upgraded `a`");
    assert_state_continued(&client, &before, &a2, Some(&stopped_with(&client, &a1).await)).await;
    assert_eq!(s.live(&client, "b").await, b1, "the excluded job keeps its job id");
    let plan = s.plan_command(&["--detailed-exitcode"]).output().unwrap();
    assert_eq!(plan.status.code(), Some(2), "`b`'s change is still to do: {}", text(&plan.stdout));
    s.cleanup(&client).await;
}
