//! Renames on real Flink: with `previousNames` the new name takes over the old job's state (judged
//! by Flink: `latest.restored` is the old job's savepoint and the counter continues), the old name
//! is gone from the cluster and the ledger, and a run killed between the stop and the start is
//! finished from the savepoint by the next one. Without `previousNames` the plan says the state
//! is not carried over and names the fix.

use flinkops::flink::JobState;

use crate::apply_e2e::{Scenario, Spec, crashing, spec, stopped_with, text};
use crate::flink_support::{
    Cluster, assert_state_continued, before_change, on_every_cluster, reported_snapshot,
};

on_every_cluster! {
    a_job_renamed_with_previous_names_carries_its_counter (1) => renamed_keeps_state;
    a_rename_killed_after_its_savepoint_is_finished_from_that_savepoint (1) => rename_killed_after_savepoint;
    a_rename_killed_during_its_stop_is_finished_from_the_savepoint_flink_took (1) => rename_killed_after_stop_request;
    a_rename_without_previous_names_plans_a_hint_not_a_silent_empty_start (1) => rename_without_previous_names;
    a_renamed_job_that_fails_its_health_gate_is_rolled_back_to_the_old_name_with_its_counter (1) => rename_rolled_back;
}

/// Deploy `old`, let it count, then replace its spec by `new` listing `old` in `previousNames`.
async fn deployed_then_renamed(
    s: &Scenario,
    client: &flinkops::flink::Client,
) -> (flinkops::flink::JobId, crate::flink_support::Before) {
    s.write(&spec("old"));
    assert_eq!(s.apply(&[]).status.code(), Some(0));
    let v1 = s.live(client, "old").await;
    let before = before_change(client, &v1).await;
    std::fs::remove_file(s.dir.join("old.yaml")).unwrap();
    let previous = format!("previousNames: [{}]\n", s.name("old"));
    s.write(&Spec { extra_yaml: &previous, ..spec("new") });
    (v1, before)
}

async fn renamed_keeps_state(c: &Cluster) {
    let client = c.client();
    let s = Scenario::new(c, "rename");
    let (v1, before) = deployed_then_renamed(&s, &client).await;
    let plan = s.plan_command(&[]).output().unwrap();
    let planned = text(&plan.stdout);
    assert!(
        planned.contains("=>") && planned.contains(&format!("renamed from `{}`", s.name("old"))),
        "{planned}"
    );
    let json = s.plan_command(&["-o", "json"]).output().unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let names: Vec<&str> =
        doc["jobs"].as_array().unwrap().iter().filter_map(|j| j["name"].as_str()).collect();
    assert!(!names.contains(&s.name("old").as_str()), "the old job is no orphan: {names:?}");

    let out = s.apply(&[]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", text(&out.stderr));
    let v2 = s.live(&client, "new").await;
    assert_eq!(client.job(&v1).await.unwrap().state, JobState::Finished, "stopped with a savepoint");
    assert!(s.active(&client, "old").await.is_empty(), "the old name is gone from the cluster");
    let savepoint = stopped_with(&client, &v1).await;
    assert_eq!(reported_snapshot(&stdout).as_deref(), Some(savepoint.as_str()), "{stdout}");
    assert_state_continued(&client, &before, &v2, Some(&savepoint)).await;

    let ledger = crate::flink_support::cluster_dir(&s.state, &c.url).await.join("jobs");
    assert!(!ledger.join(format!("{}.json", s.name("old"))).exists(), "the old record moved");
    let moved = std::fs::read_to_string(ledger.join(format!("{}.json", s.name("new")))).unwrap();
    assert!(moved.contains(&v1.to_string()), "the new record holds the old job's savepoint: {moved}");

    let again = s.apply(&[]);
    assert!(text(&again.stdout).contains("No changes."), "{}", text(&again.stdout));
    s.cleanup(&client).await;
}

/// Killed right after the old job's savepoint: the old job has ended and the new name never
/// started. The next run must start the new name from that savepoint, not empty.
async fn rename_killed_after_savepoint(c: &Cluster) {
    rename_killed_at(c, "after-savepoint").await;
}

/// Killed right after Flink accepted the stop: only the write-ahead step (the trigger id, in the
/// new name's record) says a savepoint is coming; the next run must ask Flink what it produced.
async fn rename_killed_after_stop_request(c: &Cluster) {
    rename_killed_at(c, "after-stop-request").await;
}

async fn rename_killed_at(c: &Cluster, fault: &str) {
    let client = c.client();
    let s = Scenario::new(c, "renamekill");
    let (v1, before) = deployed_then_renamed(&s, &client).await;
    let out = s.apply_with_fault(Some(fault), &[]);
    assert_eq!(out.status.code(), None, "killed by a signal: {}", text(&out.stderr));
    let savepoint = stopped_with(&client, &v1).await;
    assert!(s.active(&client, "new").await.is_empty(), "killed before the start");

    let out = s.apply(&[]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", text(&out.stderr));
    let v2 = s.live(&client, "new").await;
    assert_eq!(reported_snapshot(&stdout).as_deref(), Some(savepoint.as_str()), "{stdout}");
    assert_state_continued(&client, &before, &v2, Some(&savepoint)).await;
    s.cleanup(&client).await;
}

async fn rename_without_previous_names(c: &Cluster) {
    let client = c.client();
    let s = Scenario::new(c, "renamenohint");
    s.write(&spec("old"));
    assert_eq!(s.apply(&[]).status.code(), Some(0));
    std::fs::remove_file(s.dir.join("old.yaml")).unwrap();
    s.write(&spec("new"));
    let plan = s.plan_command(&["-o", "json"]).output().unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&plan.stdout).unwrap();
    let job =
        |name: String| doc["jobs"].as_array().unwrap().iter().find(|j| j["name"] == *name).cloned().unwrap();
    let fresh = job(s.name("new"));
    assert_eq!(fresh["action"]["type"], "deploy");
    assert_eq!(fresh["restore"]["from"], "first-deployment", "{fresh:#}");
    let hint = format!("previousNames: [{}]", s.name("old"));
    let reason = fresh["reason"].as_str().unwrap();
    assert!(reason.contains(&hint) && reason.contains("not carried over"), "{reason}");
    assert_eq!(job(s.name("old"))["action"]["type"], "orphan");
    s.cleanup(&client).await;
}

/// The new name crashes: like an upgrade, the rename is rolled back. The old name's version runs
/// again from the savepoint the rename took (judged by Flink: restored from it, the counter
/// continues), its ledger record is back, and the next plan shows the rename still to do.
async fn rename_rolled_back(c: &Cluster) {
    let client = c.client();
    let s = Scenario::new(c, "renamerb");
    s.write(&spec("old"));
    assert_eq!(s.apply(&[]).status.code(), Some(0));
    let v1 = s.live(&client, "old").await;
    let before = before_change(&client, &v1).await;
    std::fs::remove_file(s.dir.join("old.yaml")).unwrap();
    let previous = format!("previousNames: [{}]\n", s.name("old"));
    s.write(&Spec { extra_yaml: &previous, ..crashing("new") });
    let out = s.apply(&[]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{}", text(&out.stderr));
    assert!(stdout.contains("ROLLED BACK") && stdout.contains("the rename is undone"), "{stdout}");
    assert!(s.active(&client, "new").await.is_empty(), "the crashing new name was cancelled");
    let back = s.live(&client, "old").await;
    assert_ne!(back, v1);
    assert_state_continued(&client, &before, &back, Some(&stopped_with(&client, &v1).await)).await;

    let ledger = crate::flink_support::cluster_dir(&s.state, &c.url).await.join("jobs");
    assert!(!ledger.join(format!("{}.json", s.name("new"))).exists(), "the new name's record moved back");
    let record = std::fs::read_to_string(ledger.join(format!("{}.json", s.name("old")))).unwrap();
    assert!(record.contains(&back.to_string()), "the old name's record names its running job: {record}");
    let plan = s.plan_command(&[]).output().unwrap();
    let planned = text(&plan.stdout);
    assert!(planned.contains(&format!("renamed from `{}`", s.name("old"))), "{planned}");
    s.cleanup(&client).await;
}
