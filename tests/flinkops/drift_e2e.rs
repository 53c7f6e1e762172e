//! `plan --refresh-only` end to end on real Flink: drift that someone caused by hand on the
//! cluster, with Flink's REST API as a person would use it.

use flinkops::flink::{JobId, RunRequest};
use flinkops::plan::identity;
use flinkops::spec::fingerprint::Fingerprint;

use crate::apply_e2e::{Scenario, spec, text};
use crate::flink_support::{Cleanup, Cluster, cancel_with_savepoint, on_every_cluster, wait_tasks_running};

on_every_cluster! {
    refresh_only_reports_a_rescale_done_by_hand_through_flinks_rest_api (3) => rescaled_by_hand;
}

/// The session clusters run Flink's default scheduler, which cannot rescale a job in place
/// (`PUT /jobs/:id/resource-requirements` needs the adaptive one), so the job is rescaled the
/// way a person does it there: cancelled with a savepoint, resubmitted from it with another
/// parallelism under an id of the same spec version.
async fn rescaled_by_hand(c: &Cluster) {
    let client = c.client();
    let s = Scenario::new(c, "rescale");
    s.write(&spec("counter"));
    assert_eq!(s.apply(&[]).status.code(), Some(0));
    let refresh = || s.plan_command(&["--refresh-only", "--detailed-exitcode"]).output().unwrap();
    let out = refresh();
    let stdout = text(&out.stdout);
    // Other tests' jobs on this shared cluster (other state directories) may show as orphans
    // meanwhile (exit 2); this job itself must show no drift.
    assert!(
        matches!(out.status.code(), Some(0 | 2)) && !stdout.contains(&s.name("counter")),
        "no drift right after apply: {stdout}\n{}",
        text(&out.stderr)
    );
    let v1 = s.live(&client, "counter").await;
    let savepoint = cancel_with_savepoint(&client, &v1).await;
    let mut cleanup = Cleanup::new(&client);
    let jar = cleanup.jar(client.upload_jar(&c.jar).await.unwrap());
    let managed = identity::parse(&v1).unwrap();
    let same_version = Fingerprint(format!("{:0<64}", managed.fingerprint_tag));
    let name = s.name("counter");
    let mut run = RunRequest::new(2);
    run.entry_class = Some("dev.flinkops.testjob.CounterJob".into());
    run.program_args = ["--name", &name, "--rate", "100", "--keys", "8"].map(String::from).to_vec();
    run.job_id = Some(identity::job_id(&name, &same_version, identity::random_submission()));
    run.savepoint_path = Some(savepoint);
    let v2: JobId = cleanup.job(client.run_jar(&jar, &run).await.unwrap());
    wait_tasks_running(&client, &v2).await;
    let out = refresh();
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{}", text(&out.stderr));
    assert!(stdout.contains("rescaled") && stdout.contains("1 → 2"), "{stdout}");
    s.cleanup(&client).await;
}
