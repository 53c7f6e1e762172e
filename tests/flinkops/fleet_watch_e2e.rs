//! `watch --once` over two real clusters (the first two `scripts/test` started: Flink 2.3.0 and
//! 1.20.5 in CI) declared by two cluster documents: one job deployed on each, each RUNNING on its
//! own cluster; then, with one cluster out of reach, the tick fails (exit 1), the reachable
//! cluster's job is upgraded with its state and the other job is untouched. Judged by Flink.

use flinkops::flink::JobState;

use crate::apply_e2e::{Spec, spec};
use crate::fleet_support::{Fleet, dead_url, on, two_clusters};
use crate::flink_support::{assert_state_continued, before_change, wait_state};

#[tokio::test]
async fn watch_once_over_two_clusters_deploys_on_each_and_an_unreachable_one_fails_alone() {
    let Some((a, b)) = two_clusters() else { return };
    let (_slots_a, _slots_b) = (a.slots(1), b.slots(1));
    let (ca, cb) = (a.client(), b.client());
    let f = Fleet::new(&a, &b, "fleet-watch");
    f.east.write(&on("east", spec("here")));
    f.west.write(&on("west", spec("there")));
    let (code, _, stderr) = f.run("watch", &f.east.dir, &["--once"]);
    assert_eq!(code, Some(0), "{stderr}");
    let (here, there) = (f.east.live(&ca, "here").await, f.west.live(&cb, "there").await);
    wait_state(&ca, &here, JobState::Running).await;
    wait_state(&cb, &there, JobState::Running).await;
    assert!(f.west.active(&ca, "there").await.is_empty(), "west's job is not on east's cluster");
    assert!(f.east.active(&cb, "here").await.is_empty(), "east's job is not on west's cluster");

    let before_here = before_change(&ca, &here).await;
    f.east.write(&on("east", Spec { extra_args: &["--tag", "v2"], ..spec("here") }));
    f.west.write(&on("west", Spec { extra_args: &["--tag", "v2"], ..spec("there") }));
    f.point_west_at(&dead_url());
    let (code, _, stderr) = f.run("watch", &f.east.dir, &["--once"]);
    assert_eq!(code, Some(1), "a cluster out of reach fails the tick: {stderr}");
    assert!(stderr.contains("cluster `west`"), "names the cluster out of reach: {stderr}");
    let here2 = f.east.live(&ca, "here").await;
    assert_ne!(here2, here, "the reachable cluster's job is upgraded");
    assert_state_continued(&ca, &before_here, &here2, None).await;
    assert_eq!(f.west.live(&cb, "there").await, there, "the job of the cluster out of reach is untouched");
    f.east.cleanup(&ca).await;
    f.west.cleanup(&cb).await;
}
