//! The newest state of a spec that is not running: every snapshot the evidence names, and the
//! newest of them.
//!
//! One source alone can be stale or incomplete: Flink's `/checkpoints` answer is cached for a few
//! seconds, so right after a stop it may not show the savepoint the stop took yet; the ledger
//! misses what a run with another state directory (or through another URL) took; the savepoint
//! directory misses retained checkpoints. So every source is asked, and the newest snapshot by the
//! time it was taken wins. Choosing an older one when a newer one exists would restart the job
//! from the past, silently.

use super::steps::{Context, snapshot_exists};
use crate::flink::JobId;
use crate::plan::identity;
use crate::spec::Job;

/// A snapshot found, with where it was found and when it was taken (epoch ms).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub path: String,
    pub taken_ms: i64,
    pub origin: String,
}

/// The newest candidate; on equal times the first listed (callers list Flink's answers first).
pub fn newest(candidates: &[Candidate]) -> Option<&Candidate> {
    candidates.iter().rev().max_by_key(|c| c.taken_ms)
}

/// Every snapshot of `job` the evidence names: for each job of this spec Flink still lists (and
/// `ended`), its latest savepoint and its latest externalized checkpoint; every savepoint of the
/// ledger; the newest `savepoint-<tag>-*` in the savepoint directory. Only snapshots that can be
/// used (a local one needs its `_metadata`).
pub async fn candidates(
    ctx: &Context,
    job: &Job,
    ended: &JobId,
    savepoint_dir: Option<&str>,
) -> Vec<Candidate> {
    let tag = identity::name_tag(&job.name);
    let mut jobs = vec![ended.clone()];
    if let Ok(overview) = ctx.client.jobs_overview().await {
        let mine = overview.jobs.into_iter().filter(|j| j.state.is_terminal());
        let mine = mine.filter(|j| identity::parse(&j.jid).is_some_and(|m| m.name_tag == tag));
        jobs.extend(mine.map(|j| j.jid).filter(|id| id != ended));
    }
    let mut found = Vec::new();
    for id in &jobs {
        let Ok(cp) = ctx.client.checkpoints(id).await else { continue };
        let latest = [("savepoint", cp.latest.savepoint), ("retained checkpoint", cp.latest.completed)];
        for (what, c) in latest {
            if let Some(c) = c
                && let Some(path) = c.external_path
            {
                found.push(Candidate {
                    path,
                    taken_ms: c.latest_ack_timestamp,
                    origin: format!("Flink: {what} of {id}"),
                });
            }
        }
    }
    if let Some(record) = ctx.current_record(&job.name) {
        for sp in &record.savepoints {
            if let Ok(at) = sp.taken_at.parse::<jiff::Timestamp>() {
                let from = sp.job_id.as_ref().map_or_else(String::new, |id| format!(" of {id}"));
                let why = serde_json::to_value(sp.reason).ok().and_then(|v| v.as_str().map(str::to_owned));
                let origin = format!("ledger: {} snapshot{from}", why.unwrap_or_default());
                found.push(Candidate { path: sp.path.clone(), taken_ms: at.as_millisecond(), origin });
            }
        }
    }
    if let Some(dir) = savepoint_dir
        && let Some((taken_ms, path)) = super::snapshots::newest_savepoint_at(dir, &tag)
    {
        found.push(Candidate { path, taken_ms, origin: "the savepoint directory".into() });
    }
    found.retain(|c| snapshot_exists(&c.path));
    dedup(found)
}

/// One candidate per snapshot (Flink, the ledger and the directory often name the same one),
/// keeping the first source that named it.
fn dedup(found: Vec<Candidate>) -> Vec<Candidate> {
    let mut seen = std::collections::HashSet::new();
    found
        .into_iter()
        .filter(|c| seen.insert(c.path.trim_end_matches('/').replace("file:///", "file:/")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(path: &str, taken_ms: i64, origin: &str) -> Candidate {
        Candidate { path: path.into(), taken_ms, origin: origin.into() }
    }

    #[test]
    fn the_newest_wins_whatever_its_source() {
        let found =
            [c("old", 100, "ledger"), c("new", 300, "the savepoint directory"), c("mid", 200, "Flink")];
        assert_eq!(newest(&found).unwrap().path, "new");
        assert_eq!(newest(&[]), None);
    }

    #[test]
    fn a_snapshot_named_by_several_sources_counts_once() {
        let found =
            vec![c("file:/sp/a/", 1, "Flink"), c("file:///sp/a", 1, "ledger"), c("file:/sp/b", 2, "dir")];
        let origins: Vec<_> = dedup(found).into_iter().map(|c| c.origin).collect();
        assert_eq!(origins, ["Flink", "dir"]);
    }

    #[test]
    fn on_equal_times_the_first_listed_wins() {
        let found = [c("flink", 100, "Flink"), c("ledger", 100, "ledger")];
        assert_eq!(newest(&found).unwrap().path, "flink");
    }
}
