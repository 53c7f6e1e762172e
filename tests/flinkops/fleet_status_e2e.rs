//! `status` and `audit` over two real clusters of different Flink versions (2.3.0 and 1.20.5),
//! each named by a cluster document: each cluster's job is shown under that cluster's name, with
//! that cluster's version, and only there.

use flinkops::flink::{JobId, RunRequest};

use crate::fleet_support::cluster_documents;
use crate::flink_support::{Cleanup, clusters, wait_tasks_running};
use crate::support::{flinkops, scratch};

#[tokio::test]
async fn status_e2e_shows_each_real_cluster_of_a_fleet_under_its_name() {
    let all = clusters();
    if all.is_empty() {
        return;
    }
    assert!(
        all.len() >= 2,
        "this test needs two Flink versions: run `scripts/test` with both in FLINKOPS_E2E_VERSIONS (got {all:?})"
    );
    let (first, second) = (&all[0], &all[1]);
    let mut started = Vec::new();
    let mut cleanups = Vec::new();
    let mut slots = Vec::new();
    for (i, c) in [first, second].into_iter().enumerate() {
        slots.push(c.slots(1));
        let client = c.client();
        let mut cleanup = Cleanup::new(&client);
        let jar = cleanup.jar(client.upload_jar(&c.jar).await.expect("upload"));
        let name = format!("fleet-status-{i}");
        let request = RunRequest {
            entry_class: Some("dev.flinkops.testjob.CounterJob".into()),
            program_args: vec!["--name".into(), name.clone(), "--rate".into(), "10".into()],
            job_id: Some(JobId::random()),
            ..RunRequest::new(1)
        };
        let job = cleanup.job(client.run_jar(&jar, &request).await.expect("run"));
        wait_tasks_running(&client, &job).await;
        started.push((job, name));
        cleanups.push(cleanup);
    }

    let dir = scratch("fleet-status-e2e");
    let documents = cluster_documents(&[("first", &first.url), ("second", &second.url)]);
    std::fs::write(dir.join("clusters.yaml"), documents).unwrap();
    let out = flinkops().env_remove("FLINK_URL").args(["status", "-o", "json"]).arg(&dir).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for (i, (name, c)) in [("first", first), ("second", second)].into_iter().enumerate() {
        let entry = &doc["clusters"][i];
        assert_eq!(entry["name"], name, "{doc}");
        assert_eq!(entry["cluster"]["flinkVersion"], c.version.as_str(), "{doc}");
        let ids: Vec<&str> =
            entry["jobs"].as_array().unwrap().iter().filter_map(|j| j["id"].as_str()).collect();
        let (own, _) = &started[i];
        let (other, _) = &started[1 - i];
        assert!(ids.contains(&own.as_str()), "{name} must list its job {own}: {doc}");
        assert!(!ids.contains(&other.as_str()), "{name} lists the other cluster's job {other}: {doc}");
    }
    for cleanup in cleanups {
        cleanup.finish().await;
    }
    drop(slots);
}
