//! Which snapshot a job that is not running starts from, on real Flink: after a session cluster
//! crashes and comes back empty, the job must come back from its newest retained checkpoint,
//! not from the older savepoint its last upgrade took (the ledger's last word).
//!
//! These scenarios kill and restart a cluster, so each starts its own, of the version under test,
//! with `scripts/flink-local` on a fixed port (the same URL and the same reported identity after the
//! restart, so the same ledger).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::apply_e2e::{Scenario, Spec, spec, text};
use crate::flink_support::{
    Cluster, assert_state_continued, before_change, on_every_cluster, reported_snapshot,
    wait_checkpoint_after,
};
use crate::support::scratch;

on_every_cluster! {
    after_a_cluster_crash_the_job_comes_back_from_its_newest_checkpoint_not_its_upgrade_savepoint (0) => crash_after_upgrade;
}

/// Checkpoints every second, kept when the job is cancelled (and, as always, when the cluster
/// dies under it).
const RETAINED: &str = "flinkConfiguration:\n  execution.checkpointing.interval: 1s\n  \
                        execution.checkpointing.externalized-checkpoint-retention: RETAIN_ON_CANCELLATION\n";

/// A Flink session cluster of this test's own, stopped by PID (through the script) on drop.
struct OwnCluster {
    dir: PathBuf,
    port: u16,
    version: String,
}

fn flink_local() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts").join("flink-local")
}

impl OwnCluster {
    fn start(version: &str, dir: PathBuf, port: u16) -> Self {
        let c = OwnCluster { dir, port, version: version.to_owned() };
        c.launch();
        c
    }

    fn launch(&self) {
        let out = Command::new(flink_local())
            .args(["start", &self.version, "--slots", "2", "--port", &self.port.to_string(), "--dir"])
            .arg(&self.dir)
            .output()
            .unwrap();
        assert!(out.status.success(), "flink-local start failed:\n{}", text(&out.stderr));
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// SIGKILL the JobManager and the TaskManager, as a crash of their machine would: nothing is
    /// cleaned up, and without high availability the restarted cluster knows no job.
    fn crash(&self) {
        for role in ["jobmanager", "taskmanager"] {
            let pid = std::fs::read_to_string(self.dir.join(format!("{role}.pid"))).unwrap();
            let pid = pid.trim();
            assert!(
                Command::new("kill").args(["-KILL", pid]).status().unwrap().success(),
                "kill {role} {pid}"
            );
            // Gone once /proc no longer has it (it is not our child, so there is nothing to reap).
            let deadline = std::time::Instant::now() + Duration::from_secs(20);
            while Path::new(&format!("/proc/{pid}")).exists() {
                assert!(std::time::Instant::now() < deadline, "{role} {pid} survived SIGKILL");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

impl Drop for OwnCluster {
    fn drop(&mut self) {
        let _ = Command::new(flink_local()).arg("stop").arg("--dir").arg(&self.dir).output();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Upgrade through a savepoint, let the new job count on and checkpoint, kill the cluster, start
/// it again empty: `apply` must redeploy from the new job's last checkpoint. Restoring from the
/// upgrade savepoint (what the ledger names) would show a counter below the reading taken before
/// the crash, and the oracle fails.
async fn crash_after_upgrade(shared: &Cluster) {
    let root = scratch(&format!("crash-{}", shared.version.replace('.', "")));
    let flink = OwnCluster::start(&shared.version, root.join("flink"), free_port());
    let c = Cluster { url: flink.url(), ..shared.clone() };
    let client = c.client();
    let s = Scenario::new(&c, "crash");
    s.write(&Spec { extra_yaml: RETAINED, ..spec("counter") });
    assert_eq!(s.apply(&[]).status.code(), Some(0));
    let v1 = s.live(&client, "counter").await;
    before_change(&client, &v1).await;

    s.write(&Spec { extra_args: &["--tag", "v2"], extra_yaml: RETAINED, ..spec("counter") });
    let out = s.apply(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v2 = s.live(&client, "counter").await;
    let upgrade_savepoint = reported_snapshot(&text(&out.stdout)).expect("apply names the upgrade savepoint");

    // Count on well past the savepoint, read the counter, and wait for a checkpoint that holds
    // at least that reading.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let before = before_change(&client, &v2).await;
    let read_at = jiff::Timestamp::now().as_millisecond();
    let checkpoint = wait_checkpoint_after(&client, &v2, read_at).await;
    eprintln!("v2 = {v2}: counter {} before the crash, checkpoint {checkpoint}", before.count);

    let ledger_dir = crate::flink_support::cluster_dir(&s.state, &c.url).await;
    flink.crash();
    flink.launch();
    assert!(client.jobs_overview().await.unwrap().jobs.is_empty(), "the restarted cluster knows no job");
    // The restarted cluster is the same cluster: its ledger is still the one found for it.
    let again = crate::flink_support::cluster_dir(&s.state, &c.url).await;
    assert_eq!(again, ledger_dir, "the restart changed the cluster's identity");

    let plan = s.plan_command(&[]).output().unwrap();
    let planned = text(&plan.stdout);
    assert!(planned.contains("retained checkpoint") && planned.contains(&v2.to_string()), "{planned}");

    let out = s.apply(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v3 = s.live(&client, "counter").await;
    let reported = reported_snapshot(&text(&out.stdout)).expect("apply names the snapshot it restored from");
    assert!(
        reported.contains(&format!("/{v2}/chk-")),
        "restored from {reported}, not a checkpoint of {v2} (the upgrade savepoint was {upgrade_savepoint})"
    );
    assert_state_continued(&client, &before, &v3, Some(&reported)).await;
    s.cleanup(&client).await;
}

/// A cluster upgraded in place from Flink 1.20 to 2.3 (same address, same identity, same
/// ledger): the job suspended on 1.20 is not resumed on 2.3 from its 1.20 savepoint unless the
/// spec opts in, since Flink 2.0 does not promise to read 1.x state. Needs both CI versions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_of_another_flink_major_version_is_used_only_when_the_spec_opts_in() {
    let all = crate::flink_support::clusters();
    if all.is_empty() {
        return; // FLINKOPS_E2E=skip, outside CI only
    }
    let of = |v: &str| {
        all.iter()
            .find(|c| c.version == v)
            .cloned()
            .unwrap_or_else(|| panic!("this test needs a Flink {v} test job"))
    };
    let (old, new) = (of("1.20.5"), of("2.3.0"));
    let root = scratch("major-version-change");
    let port = free_port();
    let flink = OwnCluster::start("1.20.5", root.join("flink"), port);
    let c = Cluster { url: flink.url(), ..old };
    let s = Scenario::new(&c, "major");
    s.write(&spec("counter"));
    assert_eq!(s.apply(&[]).status.code(), Some(0));
    s.write(&Spec { extra_yaml: "state: suspended\n", ..spec("counter") });
    let out = s.apply(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let ledger_dir = crate::flink_support::cluster_dir(&s.state, &c.url).await;

    // The same cluster, upgraded: same directory, ports and identity, Flink 2.3.
    drop(flink);
    let flink = OwnCluster { dir: root.join("flink"), port, version: "2.3.0".into() };
    flink.launch();
    assert_eq!(crate::flink_support::cluster_dir(&s.state, &c.url).await, ledger_dir, "the same cluster");
    let s = Scenario { cluster: Cluster { url: flink.url(), ..new }, ..s };
    s.write(&spec("counter"));
    let out = s.plan_command(&[]).output().unwrap();
    let said = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(
        said.contains("written by Flink 1.20.5") && said.contains("restore.allowFlinkVersionChange: true"),
        "{said}"
    );
    // Opted in: the plan resumes from that savepoint.
    s.write(&Spec { extra_yaml: "restore: { allowFlinkVersionChange: true }\n", ..spec("counter") });
    let out = s.plan_command(&[]).output().unwrap();
    let said = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{said}");
    assert!(said.contains("savepoint-"), "{said}");
    drop(flink);
}
