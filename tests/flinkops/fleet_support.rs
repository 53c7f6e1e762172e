//! The two-cluster spec tree of the fleet e2e tests: which two real clusters a test runs on, the
//! cluster documents, one `Scenario` per cluster sharing a spec directory, a state directory and
//! the job names, and `flinkops` run over both.

use std::path::Path;
use std::process::Command;

use crate::apply_e2e::{Scenario, Spec, text};
use crate::flink_support::{Cluster, clusters};
use crate::support::flinkops_process;

/// Two clusters of the run (the first two `scripts/test` started: Flink 2.3.0 and 1.20.5 in CI),
/// or `None` (loudly, never in CI) when only one was started.
pub(crate) fn two_clusters() -> Option<(Cluster, Cluster)> {
    let mut all = clusters().into_iter();
    match (all.next(), all.next()) {
        (Some(a), Some(b)) => Some((a, b)),
        (None, _) => None,
        (Some(_), None) => {
            let hint = "this test needs two Flink clusters: run scripts/test with two versions in FLINKOPS_E2E_VERSIONS";
            assert!(std::env::var("CI").as_deref() != Ok("true"), "{hint}");
            eprintln!("SKIPPED (not in CI): {hint}");
            None
        }
    }
}

/// `kind: FlinkCluster` documents, one per `(name, url)`, as one file's text.
pub(crate) fn cluster_documents(clusters: &[(&str, &str)]) -> String {
    let doc = |(name, url): &(&str, &str)| {
        format!("apiVersion: flinkops.dev/v1\nkind: FlinkCluster\nname: {name}\nurl: {url}\n")
    };
    clusters.iter().map(doc).collect::<Vec<_>>().join("---\n")
}

/// One spec tree over two clusters, `east` (`a`) and `west` (`b`): a scenario per cluster
/// (each writes its jobs with its cluster's test jar) sharing the directory and the names.
pub(crate) struct Fleet {
    pub(crate) east: Scenario,
    pub(crate) west: Scenario,
}

impl Fleet {
    pub(crate) fn new(a: &Cluster, b: &Cluster, what: &str) -> Self {
        let east = Scenario::new(a, what);
        let west = Scenario {
            cluster: b.clone(),
            dir: east.dir.clone(),
            state: east.state.clone(),
            prefix: east.prefix.clone(),
        };
        let fleet = Fleet { east, west };
        fleet.point_west_at(&b.url);
        fleet
    }

    /// The cluster documents, `west` at `url` (a proxy in front of it, or nothing at all).
    pub(crate) fn point_west_at(&self, url: &str) {
        let docs = cluster_documents(&[("east", &self.east.cluster.url), ("west", url)]);
        std::fs::write(self.east.dir.join("clusters.yaml"), docs).unwrap();
    }

    /// `apply --auto-approve` of the spec tree.
    pub(crate) fn apply(&self) -> (Option<i32>, String, String) {
        self.run("apply", &self.east.dir, &["--auto-approve"])
    }

    /// `flinkops <command> [extra] <target>` over both clusters' documents, not started yet.
    pub(crate) fn command(&self, command: &str, target: &Path, extra: &[&str]) -> Command {
        let mut cmd = flinkops_process();
        cmd.env_remove("FLINK_URL")
            .args([command, "--connect-timeout", "2s", "--retries", "0", "--state-dir"])
            .arg(&self.east.state)
            .args(extra)
            .arg(target);
        cmd
    }

    /// `flinkops <command> [extra] <target>` over both clusters' documents: exit code, stdout,
    /// stderr (shown in the test's output).
    pub(crate) fn run(&self, command: &str, target: &Path, extra: &[&str]) -> (Option<i32>, String, String) {
        let out = self.command(command, target, extra).output().unwrap();
        said(command, &out)
    }
}

/// A finished run's exit code, stdout and stderr, shown in the test's output.
pub(crate) fn said(what: &str, out: &std::process::Output) -> (Option<i32>, String, String) {
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    eprintln!("--- {what} stdout\n{stdout}\n--- {what} stderr\n{stderr}");
    (out.status.code(), stdout, stderr)
}

/// `s` on the cluster document `cluster`.
pub(crate) fn on(cluster: &str, s: Spec<'static>) -> Spec<'static> {
    let yaml: &'static str = Box::leak(format!("cluster: {cluster}\n").into_boxed_str());
    Spec { extra_yaml: yaml, ..s }
}

/// A loopback port where nothing listens (bound, then released).
pub(crate) fn dead_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}
