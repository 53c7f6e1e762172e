//! The resolved layer of `kind: FlinkCluster` documents: names are unique, every job's
//! `cluster:` names one, and each cluster's defaults fill what its jobs leave out.
//!
//! Reads nothing: the files a cluster names (token, CA, client certificate) are read when a
//! command connects (`cli::connection`), so `validate` works where the secrets are not present.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::diag::{Diagnostic, SourceFile};
use super::model::{BasicAuthSpec, ClusterDefaults, ClusterSpec, Located};
use super::read::did_you_mean;
use super::resolve::{Job, Parsed};

/// The name of the cluster the connection flags define when no cluster document exists.
pub const DEFAULT_CLUSTER: &str = "default";

/// A cluster document as the program uses it: paths made absolute against the document's file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cluster {
    pub name: String,
    /// Where it was written (`file:line`), for messages.
    pub origin: String,
    pub url: String,
    pub token_file: Option<PathBuf>,
    pub token_env: Option<String>,
    pub ca_file: Option<PathBuf>,
    pub client_cert_file: Option<PathBuf>,
    pub client_key_file: Option<PathBuf>,
    /// Header name and the environment variable holding its value.
    pub headers_from_env: Vec<(String, String)>,
    pub basic_auth: Option<BasicAuth>,
    /// Accept any TLS certificate (`insecureSkipTlsVerify: true`): every run warns.
    pub insecure_skip_tls_verify: bool,
    /// `defaults.savepointDirectory`: where its jobs that name none write savepoints (a job's
    /// `savepoint.directory` equal to it came from it, for a move between clusters).
    pub savepoint_directory: Option<String>,
}

/// Basic-auth credentials of a cluster document, as references to resolve when connecting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BasicAuth {
    pub username: Reference,
    pub password: Reference,
}

/// Where a value comes from: written in the document (user names only), a variable, or a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reference {
    Literal(String),
    Env(String),
    File(PathBuf),
}

/// A cluster document together with the file it came from.
pub struct ParsedCluster {
    pub file: SourceFile,
    pub spec: ClusterSpec,
}

/// Check the cluster documents and the jobs' `cluster:` against them; fill each job's cluster
/// and its cluster's defaults. Jobs without a valid cluster keep `None` (the error is in `diags`).
pub fn resolve(
    parsed: &[ParsedCluster],
    jobs: &[Parsed],
    resolved: &mut BTreeMap<String, Job>,
    diags: &mut Vec<Diagnostic>,
) -> BTreeMap<String, Cluster> {
    let mut clusters: BTreeMap<String, &ParsedCluster> = BTreeMap::new();
    for p in parsed {
        let name = &p.spec.name.value;
        if let Some(first) = clusters.get(name) {
            diags.push(duplicate(first, p));
            continue;
        }
        clusters.insert(name.clone(), p);
    }
    for job in jobs {
        let Some(cluster) = assign(job, &clusters, diags) else { continue };
        if let Some(resolved) = resolved.get_mut(&job.spec.name.value) {
            apply_defaults(resolved, &cluster.spec.defaults);
            resolved.cluster = Some(cluster.spec.name.value.clone());
            let (timeout, stable) = (resolved.health.timeout.value, resolved.health.stable_for.value);
            // Checked again only when the job's own settings passed (`read` reported them
            // otherwise): the cluster's defaults made them invalid.
            let own = &job.spec.health;
            if timeout <= stable && own.timeout.value > own.stable_for.value {
                diags.push(
                    Diagnostic::at(&job.file, job.spec.name.pos, "health-timeout-too-short", format!(
                        "with the defaults of cluster `{}`, `health.timeout` ({timeout}) is not longer than `health.stableFor` ({stable})",
                        cluster.spec.name.value
                    ))
                    .label("the job could never pass the health gate")
                    .help("set `health.timeout` or `health.stableFor` in this job spec, or change the cluster's `defaults.health`"),
                );
            }
        }
    }
    clusters.into_iter().map(|(name, p)| (name, cluster(p))).collect()
}

/// The cluster document a job runs on: the one it names, or the only one there is.
fn assign<'c>(
    job: &Parsed,
    clusters: &BTreeMap<String, &'c ParsedCluster>,
    diags: &mut Vec<Diagnostic>,
) -> Option<&'c ParsedCluster> {
    let Some(named) = &job.spec.cluster else {
        if clusters.len() > 1 {
            diags.push(no_cluster_named(job, clusters));
            return None;
        }
        return clusters.values().next().copied();
    };
    if let Some(cluster) = clusters.get(&named.value) {
        return Some(cluster);
    }
    if clusters.is_empty() && named.value == DEFAULT_CLUSTER {
        return None; // The cluster the connection flags define.
    }
    diags.push(unknown_cluster(job, named, clusters));
    None
}

fn duplicate(first: &ParsedCluster, again: &ParsedCluster) -> Diagnostic {
    let (a, b) = ((&first.file, &first.spec.name), (&again.file, &again.spec.name));
    super::resolve::defined_twice("duplicate-cluster", "cluster", a, b)
        .help("each cluster is defined once: rename one of them, or delete the copy")
}

fn unknown_cluster(
    job: &Parsed,
    named: &Located<String>,
    clusters: &BTreeMap<String, &ParsedCluster>,
) -> Diagnostic {
    let names: Vec<&str> = clusters.keys().map(String::as_str).collect();
    let help = match did_you_mean(&named.value, &names) {
        Some(n) => format!("did you mean `{n}`?"),
        None if names.is_empty() => format!(
            "no cluster document exists: add a `kind: FlinkCluster` document named `{}`, or remove \
             `cluster:` (the connection flags then define a cluster named `{DEFAULT_CLUSTER}`)",
            named.value
        ),
        None => format!("clusters defined: {}", names.join(", ")),
    };
    Diagnostic::at(&job.file, named.pos, "unknown-cluster", format!("no cluster named `{}`", named.value))
        .label("no `kind: FlinkCluster` document has this name")
        .help(help)
}

fn no_cluster_named(job: &Parsed, clusters: &BTreeMap<String, &ParsedCluster>) -> Diagnostic {
    let names: Vec<&str> = clusters.keys().map(String::as_str).collect();
    Diagnostic::at(
        &job.file,
        job.spec.name.pos,
        "cluster-not-named",
        format!("job `{}` does not say which cluster it runs on", job.spec.name.value),
    )
    .label(format!("{} clusters are defined: {}", names.len(), names.join(", ")))
    .help(format!("add `cluster: {}` (or another of them) to this job spec", names[0]))
}

/// Per-cluster defaults fill what the job spec did not write (a written value has a known position).
fn apply_defaults(job: &mut Job, defaults: &ClusterDefaults) {
    if job.savepoint.directory.is_none() {
        job.savepoint.directory.clone_from(&defaults.savepoint_directory);
    }
    let Some(health) = &defaults.health else { return };
    let h = &mut job.health;
    if !h.stable_for.pos.is_known() {
        h.stable_for = health.stable_for.clone();
    }
    if !h.timeout.pos.is_known() {
        h.timeout = health.timeout.clone();
    }
    if !h.rollback.pos.is_known() {
        h.rollback = health.rollback.clone();
    }
}

fn cluster(p: &ParsedCluster) -> Cluster {
    let base = p.file.path.parent().unwrap_or(Path::new("."));
    let path = |f: &Option<Located<String>>| f.as_ref().map(|f| base.join(&f.value));
    let s = &p.spec;
    Cluster {
        name: s.name.value.clone(),
        origin: format!("{}:{}", p.file.display, s.name.pos.line),
        url: s.url.value.clone(),
        token_file: path(&s.token_file),
        token_env: s.token_env.as_ref().map(|e| e.value.clone()),
        ca_file: path(&s.ca_file),
        client_cert_file: path(&s.client_cert_file),
        client_key_file: path(&s.client_key_file),
        headers_from_env: s.headers_from_env.iter().map(|(k, v)| (k.clone(), v.value.clone())).collect(),
        basic_auth: s.basic_auth.as_ref().and_then(|b| basic_auth(b, base)),
        insecure_skip_tls_verify: s.insecure_skip_tls_verify.as_ref().is_some_and(|v| v.value),
        savepoint_directory: s.defaults.savepoint_directory.as_ref().map(|d| d.value.clone()),
    }
}

/// The reader made sure one user name and one password reference are given.
fn basic_auth(b: &BasicAuthSpec, base: &Path) -> Option<BasicAuth> {
    let env = |v: &Option<Located<String>>| v.as_ref().map(|v| Reference::Env(v.value.clone()));
    let username =
        b.username.as_ref().map(|u| Reference::Literal(u.value.clone())).or_else(|| env(&b.username_env))?;
    let password = b
        .password_file
        .as_ref()
        .map(|f| Reference::File(base.join(&f.value)))
        .or_else(|| env(&b.password_env))?;
    Some(BasicAuth { username, password })
}

#[cfg(test)]
mod tests {
    use crate::spec::model::Duration;

    const CLUSTER: &str =
        "apiVersion: flinkops.dev/v1\nkind: FlinkCluster\nname: prod\nurl: http://127.0.0.1:8081\n";

    /// Load a directory with the fixture jar and `files` (name, content).
    fn load(files: &[(&str, String)]) -> crate::spec::Loaded {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("app.jar"), include_bytes!("../../tests/cases/fixture.jar")).unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        crate::spec::load(dir.path())
    }

    fn job(extra: &str) -> String {
        format!("apiVersion: flinkops.dev/v1\nkind: FlinkJob\nname: j\njar: app.jar\n{extra}")
    }

    #[test]
    fn the_only_cluster_is_every_jobs_cluster_and_its_defaults_fill_what_jobs_leave_out() {
        let defaults =
            "defaults:\n  savepointDirectory: s3://b/sp\n  health: { stableFor: 1m, timeout: 9m }\n";
        let loaded = load(&[
            ("c.yaml", format!("{CLUSTER}tokenFile: secrets/token\n{defaults}")),
            ("j.yaml", job("health: { timeout: 20m }\n")),
        ]);
        assert_eq!(loaded.error_count(), 0, "{:?}", loaded.diagnostics);
        let j = &loaded.desired.jobs["j"];
        assert_eq!(j.cluster.as_deref(), Some("prod"));
        assert_eq!(j.savepoint.directory.as_ref().map(|d| d.value.as_str()), Some("s3://b/sp"));
        // The job's own timeout wins; the cluster's stableFor fills the gap.
        assert_eq!(
            (j.health.stable_for.value, j.health.timeout.value),
            (Duration::minutes(1), Duration::minutes(20))
        );
        let c = &loaded.desired.clusters["prod"];
        assert!(
            c.token_file.as_ref().is_some_and(|p| p.is_absolute() && p.ends_with("secrets/token")),
            "{c:?}"
        );
    }

    #[test]
    fn a_job_may_name_the_default_cluster_when_the_flags_define_it() {
        let loaded = load(&[("j.yaml", job("cluster: default\n"))]);
        assert_eq!(loaded.error_count(), 0, "{:?}", loaded.diagnostics);
        assert_eq!(loaded.desired.jobs["j"].cluster, None);
        assert!(loaded.desired.clusters.is_empty());
    }

    #[test]
    fn a_job_name_is_unique_across_clusters_too() {
        // The fleet keys jobs by name alone (waves, dependencies, moves between clusters).
        let us = CLUSTER.replace("prod", "us");
        let loaded = load(&[
            ("c.yaml", format!("{CLUSTER}---\n{us}")),
            ("a.yaml", job("cluster: prod\n")),
            ("b.yaml", job("cluster: us\n")),
        ]);
        let codes: Vec<_> = loaded.diagnostics.iter().map(|d| d.code).collect();
        assert_eq!(codes, ["duplicate-name"], "{:?}", loaded.diagnostics);
    }

    #[test]
    fn cluster_defaults_that_break_a_jobs_health_gate_are_an_error() {
        let loaded = load(&[
            ("c.yaml", format!("{CLUSTER}defaults:\n  health: {{ timeout: 3m, stableFor: 1m }}\n")),
            ("j.yaml", job("health: { stableFor: 4m }\n")),
        ]);
        let codes: Vec<_> = loaded.diagnostics.iter().map(|d| d.code).collect();
        assert_eq!(codes, ["health-timeout-too-short"]);
    }
}
