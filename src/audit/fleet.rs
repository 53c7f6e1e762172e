//! The audit of several clusters (the specs' cluster documents): each cluster's report under its
//! name, and a cluster that cannot be observed as a finding of its own (severity `error`: none of
//! its jobs could be audited). Pure: `commands::audit` observes, `render` writes.
//!
//! Its JSON form (`audit -o json` over several clusters) is format version 2:
//!
//! ```json
//! {
//!   "formatVersion": 2, "observedAt": "…", "failOn": "error",
//!   "clusters": [
//!     { "name": "eu", "reachable": true, "cluster": { "url": "…", "flinkVersion": "2.3.0" },
//!       "findings": [], "jobs": [ … rows as in version 1 … ] },
//!     { "name": "us", "reachable": false, "url": "…",
//!       "findings": [{ "severity": "error", "message": "not reachable: …" }], "jobs": [] }
//!   ],
//!   "summary": { "ok": 3, "warn": 1, "error": 1 }
//! }
//! ```
//!
//! The summary counts every row of every cluster and each cluster not reachable once.

use jiff::Timestamp;
use serde::Serialize;

use super::report::{Finding, Report, Row, Summary};
use crate::cli::Severity;
use crate::plan::ClusterRef;

/// The version of the fleet's JSON document.
pub const FORMAT_VERSION: u32 = 2;

/// Every cluster's audit.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FleetReport {
    pub format_version: u32,
    pub observed_at: Timestamp,
    pub fail_on: Severity,
    pub clusters: Vec<ClusterReport>,
    pub summary: Summary,
}

/// One cluster's audit: its rows, or the finding that it could not be observed.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterReport {
    /// The cluster document's name.
    pub name: String,
    pub reachable: bool,
    /// Where it was observed (reachable), with its Flink version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterRef>,
    /// Where it was asked (not reachable).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// About the cluster itself: that it could not be observed.
    pub findings: Vec<Finding>,
    pub jobs: Vec<Row>,
}

impl ClusterReport {
    /// A cluster observed and audited.
    pub fn audited(name: &str, report: Report) -> Self {
        Self {
            name: name.to_owned(),
            reachable: true,
            cluster: report.cluster,
            url: None,
            findings: Vec::new(),
            jobs: report.jobs,
        }
    }

    /// A cluster that could not be observed: an error finding, with what to do.
    pub fn unreachable(name: &str, url: &str, error: &str, hint: Option<&str>) -> Self {
        let fix = hint.map(|h| format!(" ({h})")).unwrap_or_default();
        let message = format!("not reachable at {url}: {error}{fix}; none of its jobs was audited");
        Self {
            name: name.to_owned(),
            reachable: false,
            cluster: None,
            url: Some(url.to_owned()),
            findings: vec![Finding { severity: Severity::Error, message }],
            jobs: Vec::new(),
        }
    }

    /// The highest severity of its rows and its own findings.
    fn severities(&self) -> impl Iterator<Item = Severity> + '_ {
        self.jobs.iter().map(|r| r.severity).chain(self.findings.iter().map(|f| f.severity))
    }
}

impl FleetReport {
    pub fn new(clusters: Vec<ClusterReport>, fail_on: Severity, observed_at: Timestamp) -> Self {
        let mut summary = Summary::default();
        for severity in clusters.iter().flat_map(ClusterReport::severities) {
            match severity {
                Severity::Ok => summary.ok += 1,
                Severity::Warn => summary.warn += 1,
                Severity::Error => summary.error += 1,
            }
        }
        Self { format_version: FORMAT_VERSION, observed_at, fail_on, clusters, summary }
    }

    /// Whether any row or cluster finding reaches `fail_on` (exit code 2).
    pub fn fails(&self) -> bool {
        self.clusters.iter().flat_map(ClusterReport::severities).any(|s| s >= self.fail_on)
    }

    /// How many clusters could not be observed.
    pub fn unreachable(&self) -> usize {
        self.clusters.iter().filter(|c| !c.reachable).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(rows: Vec<Row>) -> Report {
        Report {
            format_version: 1,
            cluster: Some(ClusterRef { url: "http://eu".into(), flink_version: "2.3.0".into() }),
            observed_at: Timestamp::UNIX_EPOCH,
            fail_on: Severity::Error,
            jobs: rows,
            summary: Summary::default(),
        }
    }

    #[test]
    fn a_cluster_not_reachable_is_an_error_finding_that_fails_the_audit() {
        let fleet = FleetReport::new(
            vec![
                ClusterReport::audited("eu", report(Vec::new())),
                ClusterReport::unreachable("us", "http://us", "connection refused", Some("start it")),
            ],
            Severity::Error,
            Timestamp::UNIX_EPOCH,
        );
        assert!(fleet.fails());
        assert_eq!(fleet.unreachable(), 1);
        assert_eq!(fleet.summary, Summary { ok: 0, warn: 0, error: 1 });
        let json = serde_json::to_value(&fleet).unwrap();
        assert_eq!(json["formatVersion"], 2);
        assert_eq!(json["clusters"][0]["cluster"]["url"], "http://eu");
        assert_eq!(json["clusters"][1]["reachable"], false);
        let message = json["clusters"][1]["findings"][0]["message"].as_str().unwrap();
        assert!(message.contains("http://us") && message.contains("connection refused"), "{message}");
        let reachable = FleetReport::new(
            vec![ClusterReport::audited("eu", report(Vec::new()))],
            Severity::Error,
            Timestamp::UNIX_EPOCH,
        );
        assert!(!reachable.fails());
    }
}
