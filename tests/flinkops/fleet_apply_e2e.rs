//! `apply` over two real clusters (the first two `scripts/test` started: Flink 2.3.0 and 1.20.5
//! in CI) declared by two cluster documents in one spec tree: a pipeline whose upstream job runs
//! on one and its consumer on the other starts and upgrades upstream first, with its state; a
//! cluster that cannot be reached fails its jobs and the exit code, the other converges, and the
//! next apply with the cluster back converges too. Judged by Flink: start times, job states,
//! `latest.restored` and the job's counter.

use flinkops::flink::{Client, JobId};
use flinkops::plan::identity;

use crate::apply_e2e::{Scenario, Spec, spec};
use crate::fleet_support::{Fleet, dead_url, on, two_clusters};
use crate::flink_support::{assert_state_continued, before_change};

/// When Flink started the live job of `short`.
async fn started(s: &Scenario, client: &Client, short: &str) -> (JobId, i64) {
    let id = s.live(client, short).await;
    let tag = identity::name_tag(&s.name(short));
    let overview = client.jobs_overview().await.unwrap();
    let job = overview
        .jobs
        .iter()
        .find(|j| j.jid == id && identity::parse(&j.jid).is_some_and(|m| m.name_tag == tag));
    (id, job.unwrap().start_time)
}

/// stableFor of `spec()`'s health gate: a consumer starts only this long after its upstream.
const STABLE_MS: i64 = 3_000;

#[tokio::test]
async fn a_pipeline_across_two_clusters_starts_and_upgrades_upstream_first_with_its_state() {
    let Some((a, b)) = two_clusters() else { return };
    let (_slots_a, _slots_b) = (a.slots(1), b.slots(1));
    let (ca, cb) = (a.client(), b.client());
    let f = Fleet::new(&a, &b, "fleet-pipe");
    f.east.write(&on("east", spec("source")));
    f.west.write(&on("west", Spec { deps: &["source"], ..spec("sink") }));
    let (code, stdout, _) = f.apply();
    assert_eq!(code, Some(0), "{stdout}");
    assert!(stdout.contains("Cluster `east`") && stdout.contains("Cluster `west`"), "{stdout}");
    let (source, source_at) = started(&f.east, &ca, "source").await;
    let (sink, sink_at) = started(&f.west, &cb, "sink").await;
    assert!(
        sink_at >= source_at + STABLE_MS,
        "the consumer on `west` started {} ms after its upstream on `east`: before the upstream was healthy",
        sink_at - source_at
    );

    let (before_source, before_sink) = (before_change(&ca, &source).await, before_change(&cb, &sink).await);
    f.east.write(&on("east", Spec { extra_args: &["--tag", "v2"], ..spec("source") }));
    f.west.write(&on("west", Spec { deps: &["source"], extra_args: &["--tag", "v2"], ..spec("sink") }));
    // Not from a saved plan: the other test here changes its jobs on these clusters meanwhile,
    // and a saved plan counts every managed job it lists (their orphans included) as concerned.
    let (code, stdout, _) = f.apply();
    assert_eq!(code, Some(0), "{stdout}");
    assert!(stdout.contains("2 upgraded"), "{stdout}");
    let (source2, source2_at) = started(&f.east, &ca, "source").await;
    let (sink2, sink2_at) = started(&f.west, &cb, "sink").await;
    assert!(source2 != source && sink2 != sink, "both replaced");
    assert!(
        sink2_at >= source2_at + STABLE_MS,
        "the consumer's new version started {} ms after its upstream's: before the upstream was healthy",
        sink2_at - source2_at
    );
    assert_state_continued(&ca, &before_source, &source2, None).await;
    assert_state_continued(&cb, &before_sink, &sink2, None).await;
    let (code, stdout, _) = f.apply();
    assert_eq!(code, Some(0), "{stdout}");
    assert!(stdout.contains("No changes."), "{stdout}");
    f.east.cleanup(&ca).await;
    f.west.cleanup(&cb).await;
}

#[tokio::test]
async fn a_cluster_out_of_reach_fails_its_jobs_the_other_converges_and_the_next_apply_finishes() {
    let Some((a, b)) = two_clusters() else { return };
    let (_slots_a, _slots_b) = (a.slots(1), b.slots(1));
    let (ca, cb) = (a.client(), b.client());
    let f = Fleet::new(&a, &b, "fleet-gone");
    f.east.write(&on("east", spec("steady")));
    f.west.write(&on("west", spec("remote")));
    assert_eq!(f.apply().0, Some(0));
    let (steady, remote) = (f.east.live(&ca, "steady").await, f.west.live(&cb, "remote").await);

    let (before_steady, before_remote) =
        (before_change(&ca, &steady).await, before_change(&cb, &remote).await);
    f.east.write(&on("east", Spec { extra_args: &["--tag", "v2"], ..spec("steady") }));
    f.west.write(&on("west", Spec { extra_args: &["--tag", "v2"], ..spec("remote") }));
    f.point_west_at(&dead_url());
    let (code, stdout, _) = f.apply();
    assert_eq!(code, Some(1), "{stdout}");
    let failed = format!("{}: FAILED: cluster `west` could not be observed", f.west.name("remote"));
    assert!(stdout.contains(&failed), "names the cluster and its job: {stdout}");
    let steady2 = f.east.live(&ca, "steady").await;
    assert_ne!(steady2, steady, "the reachable cluster's job is upgraded");
    assert_state_continued(&ca, &before_steady, &steady2, None).await;
    assert_eq!(f.west.live(&cb, "remote").await, remote, "the job of the cluster out of reach is untouched");

    f.point_west_at(&b.url);
    let (code, stdout, _) = f.apply();
    assert_eq!(code, Some(0), "{stdout}");
    assert!(stdout.contains("1 upgraded"), "only the job left behind: {stdout}");
    let remote2 = f.west.live(&cb, "remote").await;
    assert_ne!(remote2, remote);
    assert_state_continued(&cb, &before_remote, &remote2, None).await;
    assert_eq!(f.east.live(&ca, "steady").await, steady2);
    f.east.cleanup(&ca).await;
    f.west.cleanup(&cb).await;
}
