//! Two real clusters of one Flink version, the ground the moves between clusters stand on: both
//! answer, each keeps its own jobs, each has its own identity (so its own ledger and apply lock),
//! and both write savepoints to one directory.

use flinkops::cluster::Identity;
use flinkops::flink::{Error, JobId, RunRequest};

use crate::flink_support::{Cleanup, SECOND_VERSION, second_cluster, wait_tasks_running};

#[tokio::test]
async fn two_clusters_of_one_version_keep_their_jobs_apart_and_share_a_savepoint_directory() {
    let Some((first, second)) = second_cluster() else { return };
    let (a, b) = (first.client(), second.client());
    for client in [&a, &b] {
        assert_eq!(client.config().await.expect("the cluster answers").flink_version, SECOND_VERSION);
    }
    let (config_a, config_b) = (a.jobmanager_config().await.unwrap(), b.jobmanager_config().await.unwrap());
    assert_ne!(
        Identity::reported(&config_a).key,
        Identity::reported(&config_b).key,
        "two clusters must have two identities: one ledger and one lock each"
    );
    let savepoints = (config_a.dirs().savepoints, config_b.dirs().savepoints);
    assert!(
        savepoints.0.is_some() && savepoints.0 == savepoints.1,
        "one savepoint directory: {savepoints:?}"
    );

    let _slot = first.slots(1);
    let mut cleanup = Cleanup::new(&a);
    let jar = cleanup.jar(a.upload_jar(&first.jar).await.expect("upload"));
    let request = RunRequest {
        entry_class: Some("dev.flinkops.testjob.CounterJob".into()),
        program_args: vec!["--name".into(), "fleet-smoke".into(), "--rate".into(), "50".into()],
        job_id: Some(JobId::random()),
        ..RunRequest::new(1)
    };
    let job = cleanup.job(a.run_jar(&jar, &request).await.expect("run"));
    wait_tasks_running(&a, &job).await;
    assert!(a.jobs_overview().await.unwrap().jobs.iter().any(|j| j.jid == job), "listed where it runs");
    assert!(
        !b.jobs_overview().await.unwrap().jobs.iter().any(|j| j.jid == job),
        "listed on the other cluster"
    );
    assert!(matches!(b.job(&job).await, Err(Error::NotFound { .. })), "the other cluster knows the job");
    assert!(!b.list_jars().await.unwrap().iter().any(|j| j.id == jar), "the jar is on the other cluster");
    cleanup.finish().await;
}
