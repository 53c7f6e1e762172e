//! Faults of a run over two real clusters (`east`: the first cluster `scripts/test` started,
//! `west`: the second, reached through a proxy that can be cut): a cluster stopped in the middle
//! of an apply, after it was observed and locked, fails its own jobs and says so, the other
//! cluster's upgrades finish with their state, and the next apply converges; a saved fleet plan
//! is applied exactly, and refused once a cluster changed since it was made. Judged by Flink:
//! job ids, `latest.restored` and the job's counter.

use std::process::Stdio;
use std::time::{Duration, Instant};

use flinkops::flink::{Client, JobId, JobState};

use crate::apply_e2e::{Scenario, Spec, spec};
use crate::fault_run::Proxy;
use crate::fleet_support::{Fleet, on, said, two_clusters};
use crate::flink_support::{Before, assert_state_continued, before_change, wait_state};

/// `up` on `east` (the first wave), `down` after it on `east` and `remote` after it on `west`
/// (the second wave), each with `args` after the usual ones.
fn write_pipeline(f: &Fleet, args: &'static [&'static str]) {
    f.east.write(&on("east", Spec { extra_args: args, ..spec("up") }));
    f.east.write(&on("east", Spec { deps: &["up"], extra_args: args, ..spec("down") }));
    f.west.write(&on("west", Spec { deps: &["up"], extra_args: args, ..spec("remote") }));
}

/// Until `short` runs as another job than `old` (a new version has started), or `apply` ended.
async fn replaced(s: &Scenario, client: &Client, short: &str, old: &JobId, apply: &mut std::process::Child) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if s.active(client, short).await.iter().any(|j| j.jid != *old) {
            return;
        }
        assert!(apply.try_wait().unwrap().is_none(), "apply ended before {short} was replaced");
        assert!(Instant::now() < deadline, "{short} was not replaced within 120s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The lines of the apply report under `Cluster `name`:` (up to the next cluster or the summary).
fn report_of<'a>(stdout: &'a str, cluster: &str) -> &'a str {
    let heading = format!("\nCluster `{cluster}`:\n");
    let Some(at) = stdout.rfind(&heading) else { return "" };
    let rest = &stdout[at + heading.len()..];
    &rest[..rest.find("\n\n").unwrap_or(rest.len())]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_stopped_mid_apply_leaves_the_other_converged_and_says_which_failed() {
    let Some((a, b)) = two_clusters() else { return };
    let (_slots_a, _slots_b) = (a.slots(2), b.slots(1));
    let (ca, cb) = (a.client(), b.client());
    let mut proxy = Proxy::plain(&b.url).await;
    let f = Fleet::new(&a, &b, "fleet-cut");
    f.point_west_at(&proxy.url);
    write_pipeline(&f, &[]);
    assert_eq!(f.apply().0, Some(0));
    let (up, down, remote) =
        (f.east.live(&ca, "up").await, f.east.live(&ca, "down").await, f.west.live(&cb, "remote").await);
    let before = [before_change(&ca, &up).await, before_change(&ca, &down).await];
    let before_remote = before_change(&cb, &remote).await;

    write_pipeline(&f, &["--tag", "v2"]);
    let mut apply = f
        .command("apply", &f.east.dir, &["--auto-approve"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Both clusters were observed and locked before the first wave began: `west` goes down
    // while `up`'s new version passes its health gate, before the second wave.
    replaced(&f.east, &ca, "up", &up, &mut apply).await;
    proxy.cut().await;
    let out = tokio::task::spawn_blocking(move || apply.wait_with_output()).await.unwrap().unwrap();
    let (code, stdout, stderr) = said("apply with `west` cut", &out);
    assert_eq!(code, Some(1), "a cluster gone mid-apply fails the run");
    // The progress lines name each job's cluster, the failing one too.
    let progress = format!("west/{}: ", f.west.name("remote"));
    assert!(stderr.contains(&progress), "progress names the cluster: {stderr}");
    let west = report_of(&stdout, "west");
    let failed = format!("{}: FAILED: ", f.west.name("remote"));
    assert!(west.contains(&failed), "the failure is reported under cluster `west`: {stdout}");
    assert!(west.contains("was not stopped"), "says what became of the job: {west}");
    assert!(report_of(&stdout, "east").matches(": done: upgraded").count() == 2, "{stdout}");

    // `east`'s upgrades finished, each with its state.
    let (up2, down2) = (f.east.live(&ca, "up").await, f.east.live(&ca, "down").await);
    assert!(up2 != up && down2 != down, "both of east's jobs are upgraded");
    assert_state_continued(&ca, &before[0], &up2, None).await;
    assert_state_continued(&ca, &before[1], &down2, None).await;
    // `west`'s job: on its old version, or on the new one with its state; never stopped or empty.
    let left = f.west.live(&cb, "remote").await;
    if left != remote {
        assert_state_continued(&cb, &before_remote, &left, None).await;
    }

    proxy.restore();
    let (code, stdout, _) = f.apply();
    assert_eq!(code, Some(0), "{stdout}");
    let remote2 = f.west.live(&cb, "remote").await;
    if left == remote {
        assert!(stdout.contains("1 upgraded"), "only the job left behind: {stdout}");
        assert_ne!(remote2, remote);
        assert_state_continued(&cb, &before_remote, &remote2, None).await;
    }
    assert_eq!((f.east.live(&ca, "up").await, f.east.live(&ca, "down").await), (up2, down2));
    let (code, stdout, _) = f.run("plan", &f.east.dir, &["--detailed-exitcode"]);
    assert_eq!(code, Some(0), "in sync after the cluster came back: {stdout}");
    f.east.cleanup(&ca).await;
    f.west.cleanup(&cb).await;
}

/// `flinkops plan --out <file>` of the fleet: the file's formatVersion is 2.
fn save_plan(f: &Fleet, file: &std::path::Path) {
    let (code, _, stderr) = f.run("plan", &f.east.dir, &["--out", &file.display().to_string()]);
    assert_eq!(code, Some(0), "{stderr}");
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
    assert_eq!(doc["formatVersion"], 2, "a plan over two clusters: {doc}");
}

fn write_pair(f: &Fleet, args: &'static [&'static str]) {
    f.east.write(&on("east", Spec { extra_args: args, ..spec("here") }));
    f.west.write(&on("west", Spec { extra_args: args, ..spec("there") }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saved_fleet_plan_is_applied_exactly_and_refused_once_one_cluster_changed() {
    let Some((a, b)) = two_clusters() else { return };
    let (_slots_a, _slots_b) = (a.slots(1), b.slots(1));
    let (ca, cb) = (a.client(), b.client());
    let f = Fleet::new(&a, &b, "fleet-saved");
    let file = f.east.state.parent().unwrap().join("fleet-plan.json");
    write_pair(&f, &[]);
    save_plan(&f, &file);
    // A saved plan needs no confirmation: it was reviewed when it was made.
    assert_eq!(f.run("apply", &file, &[]).0, Some(0));
    let (here, there) = (f.east.live(&ca, "here").await, f.west.live(&cb, "there").await);

    let before: [Before; 2] = [before_change(&ca, &here).await, before_change(&cb, &there).await];
    write_pair(&f, &["--tag", "v2"]);
    save_plan(&f, &file);
    let (code, stdout, _) = f.run("apply", &file, &[]);
    assert_eq!(code, Some(0), "{stdout}");
    assert!(stdout.contains("2 upgraded"), "{stdout}");
    let (here2, there2) = (f.east.live(&ca, "here").await, f.west.live(&cb, "there").await);
    assert!(here2 != here && there2 != there, "both replaced");
    assert_state_continued(&ca, &before[0], &here2, None).await;
    assert_state_continued(&cb, &before[1], &there2, None).await;
    assert_eq!(f.run("plan", &f.east.dir, &["--detailed-exitcode"]).0, Some(0), "the plan was all of it");

    write_pair(&f, &["--tag", "v3"]);
    save_plan(&f, &file);
    // `west` changes after the plan was made: its job is cancelled by hand.
    cb.cancel(&there2).await.unwrap();
    wait_state(&cb, &there2, JobState::Canceled).await;
    let (code, _, stderr) = f.run("apply", &file, &[]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("stale") && stderr.contains("cluster `west`"), "{stderr}");
    assert_eq!(f.east.live(&ca, "here").await, here2, "nothing is done on the unchanged cluster either");
    assert!(f.west.active(&cb, "there").await.is_empty(), "nothing was started from a stale plan");
    f.east.cleanup(&ca).await;
    f.west.cleanup(&cb).await;
}
