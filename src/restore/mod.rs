//! Which snapshot a job that is not running starts from.
//!
//! No single source knows the newest state of a spec. Flink's `/checkpoints` answer is cached
//! for a few seconds and a crashed session cluster forgets every job; the ledger misses what a
//! run with another state directory took; the savepoint directory misses retained checkpoints.
//! So `gather` asks every source and lists every snapshot it names (a [`Candidate`], with where
//! it was found, when it was taken and whether it can be used), and [`decide`] picks the newest.
//! When the newest cannot be used, or a place that may hold a newer one cannot be read, it
//! refuses and says what it found: restarting a job from an older snapshot than its newest is a
//! silent loss of state, and that is a choice for a person (`restore.from`), not for flinkops.
//!
//! This module is pure; `gather`, `disk` (local directories) and `store` (object stores) do the
//! reading.

pub mod disk;
pub mod gather;
pub mod store;

use std::collections::BTreeMap;

use crate::flink::{FlinkVersion, JobId};

/// A snapshot some source names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// As Flink takes it in `savepointPath` (`file:/…`, `s3://…`).
    pub path: String,
    /// Where it was found, in words: "the ledger: upgrade savepoint of <id>",
    /// "retained checkpoint 12 of <id> on disk".
    pub origin: String,
    /// When it was taken (epoch ms): the time `_metadata` was written when this machine can see
    /// it (one clock for every local snapshot), else what the source says.
    pub taken_ms: i64,
    /// Flink's checkpoint id, when known: it continues across restores, so it breaks ties.
    pub checkpoint_id: Option<u64>,
    /// The job that took it, when known.
    pub job_id: Option<JobId>,
    /// Why it cannot be restored from (deleted, no `_metadata`), if so.
    pub problem: Option<String>,
}

impl Candidate {
    /// A complete savepoint found by listing the savepoint directory.
    pub fn in_savepoint_dir(path: String, taken_ms: i64) -> Self {
        let origin = "in the savepoint directory".into();
        Candidate { path, origin, taken_ms, checkpoint_id: None, job_id: None, problem: None }
    }
}

/// Everything the sources said about one spec's snapshots.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Evidence {
    /// Every snapshot named, one entry per path.
    pub found: Vec<Candidate>,
    /// Places that may hold snapshots but could not be read, each with why (an object store
    /// flinkops cannot list, a directory this machine cannot see, an error from Flink).
    pub unread: Vec<String>,
    /// The ledger's last job of this spec is not in Flink's job list any more (a restarted
    /// cluster): only the directories can show what it checkpointed.
    pub forgotten: Option<JobId>,
    /// Whether any source says the spec ran before (a ledger record, an ended job in Flink, a
    /// snapshot).
    pub ran_before: bool,
    /// Checkpoints Flink reports as discarded when their job ended (not retained on cancel):
    /// gone, so not candidates, but a reader should know the state after them was not kept.
    pub discarded: Vec<Discarded>,
    /// The Flink version that wrote a snapshot, where the ledger recorded it (by [`same_path`]).
    pub written_by: BTreeMap<String, String>,
    /// The Flink version the cluster runs now, when known.
    pub cluster_version: Option<FlinkVersion>,
    /// `restore.allowFlinkVersionChange`.
    pub allow_version_change: bool,
}

/// A checkpoint Flink deleted as its retention says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discarded {
    /// "checkpoint 12 of <job id>".
    pub what: String,
    pub taken_ms: i64,
}

/// What to start from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision<'a> {
    /// The newest snapshot found, usable.
    Use(&'a Candidate),
    /// Nothing anywhere, and nothing says the spec ran before: a first deployment.
    FirstDeployment,
    /// Starting would risk older state or an empty start: the message lists what was found and
    /// how to choose.
    Refuse(String),
}

impl Evidence {
    /// The newest candidate, usable or not: by time taken, then checkpoint id, then the first
    /// listed (callers list Flink's answers first).
    pub fn newest(&self) -> Option<&Candidate> {
        self.found.iter().rev().max_by_key(|c| (c.taken_ms, c.checkpoint_id))
    }

    /// Mark the snapshots taken by jobs that `record` does not know (when it knows any) as
    /// unusable: they were taken by another job of the same name, started from another state
    /// directory, and hold its state. Marked rather than dropped, so that one newer than this
    /// spec's own is never passed over in silence (a ledger restored from an old backup would
    /// not know the newest jobs either).
    pub fn mark_foreign(&mut self, record: Option<&crate::ledger::Record>) {
        let Some(r) = record.filter(|r| r.job_id.is_some()) else { return };
        for c in &mut self.found {
            if let Some(id) = &c.job_id
                && c.problem.is_none()
                && !r.knows(id)
            {
                c.problem = Some(format!(
                    "taken by {id}, a job of this name that this state directory never started (another state \
                     directory's?)"
                ));
            }
        }
    }

    /// Add a candidate unless its path is listed already (Flink, the ledger and the
    /// directories often name the same snapshot); the first source to name it is kept.
    pub fn add(&mut self, c: Candidate) {
        let key = same_path(&c.path);
        if !self.found.iter().any(|f| same_path(&f.path) == key) {
            self.found.push(c);
        }
    }

    /// What Flink discarded after the chosen snapshot was taken, one sentence, if anything.
    pub fn discarded_since(&self, chosen: &Candidate, now_ms: i64) -> Option<String> {
        let later: Vec<String> = self
            .discarded
            .iter()
            .filter(|d| d.taken_ms > chosen.taken_ms)
            .map(|d| format!("{} ({})", d.what, age(now_ms, d.taken_ms)))
            .collect();
        (!later.is_empty()).then(|| {
            format!(
                "Flink discarded the later {} when the job ended (its checkpoints are not retained on cancel: \
                 execution.checkpointing.externalized-checkpoint-retention: RETAIN_ON_CANCELLATION keeps them)",
                later.join(", ")
            )
        })
    }

    /// Every candidate, newest first, one line each. Times are absolute, so the text stays the
    /// same while nothing changes (watch repeats a reason only when it changes).
    pub fn listing(&self) -> String {
        let mut sorted: Vec<&Candidate> = self.found.iter().collect();
        sorted.sort_by_key(|c| std::cmp::Reverse((c.taken_ms, c.checkpoint_id)));
        let mut out = String::new();
        for c in sorted {
            let problem = c.problem.as_ref().map_or_else(String::new, |p| format!(" — UNUSABLE: {p}"));
            out.push_str(&format!("\n  {} ({}, taken {}){problem}", c.path, c.origin, taken_at(c.taken_ms)));
        }
        for u in &self.unread {
            out.push_str(&format!("\n  not read: {u}"));
        }
        out
    }
}

/// An epoch-ms time as RFC 3339, to the second.
pub fn taken_at(ms: i64) -> String {
    jiff::Timestamp::from_second(ms.div_euclid(1000)).map_or_else(|_| ms.to_string(), |t| t.to_string())
}

/// `taken 5m 3s ago`.
pub fn age(now_ms: i64, taken_ms: i64) -> String {
    let s = (now_ms - taken_ms).max(0) / 1000;
    let text = match s {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m {}s", s / 60, s % 60),
        s if s < 86_400 => format!("{}h {}m", s / 3600, (s % 3600) / 60),
        s => format!("{}d {}h", s / 86_400, (s % 86_400) / 3600),
    };
    format!("taken {text} ago")
}

/// A snapshot path in one spelling (`file:///a/` and `file:/a` are the same).
pub fn same_path(path: &str) -> String {
    path.trim_end_matches('/').replacen("file:///", "file:/", 1)
}

const CHOOSE: &str = "set `restore.from: <path>` in the spec to the snapshot to start from (or `restore.from: none` \
                      to start empty on purpose), apply, then remove it";

/// Pick the snapshot to start from, or refuse (see the module comment).
pub fn decide(e: &Evidence) -> Decision<'_> {
    let Some(newest) = e.newest() else {
        if !e.unread.is_empty() {
            return Decision::Refuse(format!(
                "no snapshot was found, but not every place that may hold one could be read, and flinkops never \
                 takes \"cannot look\" for \"no state\":{}\n{CHOOSE}",
                e.listing()
            ));
        }
        if e.ran_before {
            let gone: Vec<&str> = e.discarded.iter().map(|d| d.what.as_str()).collect();
            let gone = if gone.is_empty() {
                String::new()
            } else {
                format!(" (Flink discarded {} when the job ended)", gone.join(", "))
            };
            return Decision::Refuse(format!(
                "the job ran before, but no savepoint or retained checkpoint of it was found{gone} (retained \
                 checkpoints need execution.checkpointing.externalized-checkpoint-retention: RETAIN_ON_CANCELLATION), \
                 and flinkops never starts a stateful job empty by accident: {CHOOSE}"
            ));
        }
        return Decision::FirstDeployment;
    };
    if let Some(problem) = &newest.problem {
        return Decision::Refuse(format!(
            "the newest snapshot, {}, cannot be used ({problem}), and starting from an older one would lose the \
             state since; found, newest first:{}\n{CHOOSE}",
            newest.path,
            e.listing()
        ));
    }
    if let Some(job) = &e.forgotten
        && !e.unread.is_empty()
    {
        return Decision::Refuse(format!(
            "the cluster no longer knows the last job {job}, and its checkpoints may be newer than anything found, \
             in a place flinkops could not read; found, newest first:{}\n{CHOOSE}",
            e.listing()
        ));
    }
    if let Some(why) = version_change(e, newest) {
        return Decision::Refuse(why);
    }
    Decision::Use(newest)
}

/// Why `c` must not be restored on this cluster, if it must not: another Flink major version
/// wrote it, or a newer Flink than the cluster runs (Flink promises neither; 2.0 dropped 1.x state
/// compatibility). Known only for snapshots the ledger recorded with their version.
fn version_change(e: &Evidence, c: &Candidate) -> Option<String> {
    let cluster = e.cluster_version?;
    let written: FlinkVersion = e.written_by.get(&same_path(&c.path))?.parse().ok()?;
    let across = written.major != cluster.major;
    if e.allow_version_change || !(across || written > cluster) {
        return None;
    }
    let what = if across { "across major versions" } else { "to an older Flink" };
    Some(format!(
        "the newest snapshot, {}, was written by Flink {written}, and the cluster runs Flink {cluster}: Flink does \
         not promise that state carries over {what}, so flinkops does not start from it on its own. Start it on a \
         Flink {}.{} cluster, or set `restore.allowFlinkVersionChange: true` to try it (a failed attempt leaves \
         the snapshot as it is)",
        c.path, written.major, written.minor
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(path: &str, taken_ms: i64, id: Option<u64>) -> Candidate {
        Candidate {
            path: path.into(),
            origin: format!("origin of {path}"),
            taken_ms,
            checkpoint_id: id,
            job_id: None,
            problem: None,
        }
    }

    fn evidence(found: Vec<Candidate>) -> Evidence {
        Evidence { found, ran_before: true, ..Default::default() }
    }

    #[test]
    fn a_snapshot_another_major_version_or_a_newer_flink_wrote_is_used_only_when_the_spec_allows_it() {
        let on = |cluster: &str, written: &str, allow: bool| {
            let mut e = evidence(vec![c("file:///sp/a", 100, None)]);
            e.cluster_version = Some(cluster.parse().unwrap());
            e.written_by.insert(same_path("file:/sp/a/"), written.into());
            e.allow_version_change = allow;
            match decide(&e) {
                Decision::Use(_) => "use".to_string(),
                Decision::Refuse(why) => why,
                Decision::FirstDeployment => "first".into(),
            }
        };
        assert_eq!(on("2.3.0", "2.1.1", false), "use", "an older minor of the same major");
        assert_eq!(on("2.3.0", "2.3.0", false), "use");
        let across = on("2.3.0", "1.20.5", false);
        assert!(
            across.contains("written by Flink 1.20.5") && across.contains("across major versions"),
            "{across}"
        );
        assert!(across.contains("restore.allowFlinkVersionChange: true"), "{across}");
        assert!(on("1.20.5", "2.3.0", false).contains("across major versions"));
        assert!(on("2.1.0", "2.3.0", false).contains("to an older Flink"));
        assert_eq!(on("2.3.0", "1.20.5", true), "use", "the spec opted in");
        // Nothing known about who wrote it (an older record, a directory listing): used.
        let mut unknown = evidence(vec![c("file:/sp/b", 100, None)]);
        unknown.cluster_version = Some("2.3.0".parse().unwrap());
        assert!(matches!(decide(&unknown), Decision::Use(_)));
    }

    #[test]
    fn the_newest_wins_whatever_its_source() {
        let e = evidence(vec![c("old", 100, None), c("new", 300, None), c("mid", 200, Some(9))]);
        assert_eq!(decide(&e), Decision::Use(&e.found[1]));
    }

    #[test]
    fn on_equal_times_the_higher_checkpoint_id_then_the_first_listed_wins() {
        let e = evidence(vec![c("a", 100, Some(4)), c("b", 100, Some(5))]);
        assert_eq!(e.newest().unwrap().path, "b");
        let e = evidence(vec![c("flink", 100, None), c("ledger", 100, None)]);
        assert_eq!(e.newest().unwrap().path, "flink");
    }

    #[test]
    fn a_snapshot_named_by_several_sources_counts_once() {
        let mut e = Evidence::default();
        e.add(c("file:/sp/a/", 1, None));
        e.add(c("file:///sp/a", 1, None));
        e.add(c("file:/sp/b", 2, None));
        let paths: Vec<_> = e.found.iter().map(|c| c.path.as_str()).collect();
        assert_eq!(paths, ["file:/sp/a/", "file:/sp/b"]);
    }

    #[test]
    fn an_unusable_newest_is_never_passed_over_for_an_older_one() {
        let mut newest = c("file:/chk/chk-9", 300, Some(9));
        newest.problem = Some("its _metadata is missing".into());
        let e = evidence(vec![c("file:/sp/old", 100, Some(3)), newest]);
        let Decision::Refuse(why) = decide(&e) else { panic!("must refuse") };
        assert!(
            why.contains("file:/chk/chk-9") && why.contains("UNUSABLE: its _metadata is missing"),
            "{why}"
        );
        assert!(why.contains("file:/sp/old") && why.contains("restore.from"), "{why}");
        // Newest first in the listing.
        assert!(why.find("chk-9 (").unwrap() < why.find("sp/old (").unwrap(), "{why}");
    }

    #[test]
    fn a_snapshot_of_a_job_this_state_directory_never_started_is_never_used() {
        let ours = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".parse::<JobId>().unwrap();
        let theirs = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb".parse::<JobId>().unwrap();
        let mut record = crate::ledger::Record::new("orders");
        record.job_id = Some(ours.clone());
        let mine = Candidate { job_id: Some(ours), ..c("file:/chk/ours/chk-3", 100, Some(3)) };
        let other = Candidate { job_id: Some(theirs.clone()), ..c("file:/chk/theirs/chk-8", 200, Some(8)) };
        let mut e = evidence(vec![mine.clone(), other.clone()]);
        e.mark_foreign(Some(&record));
        let Decision::Refuse(why) = decide(&e) else { panic!("must refuse") };
        assert!(why.contains(&format!("taken by {theirs}")) && why.contains("never started"), "{why}");
        // Older than this spec's own: passed over, since it is not this spec's state.
        let mut e = evidence(vec![Candidate { taken_ms: 300, ..mine.clone() }, other.clone()]);
        e.mark_foreign(Some(&record));
        assert_eq!(decide(&e), Decision::Use(&e.found[0]));
        // Without a record (a lost ledger), every job of the name tag is the spec's.
        let mut e = evidence(vec![mine, other]);
        e.mark_foreign(None);
        assert_eq!(decide(&e), Decision::Use(&e.found[1]));
    }

    #[test]
    fn cannot_look_is_never_no_state() {
        let e = Evidence { unread: vec!["s3://b/sp: cannot list s3:// yet".into()], ..Default::default() };
        assert!(matches!(decide(&e), Decision::Refuse(w) if w.contains("s3://b/sp")));
        // A forgotten job whose checkpoints may sit where flinkops cannot look: refuse even when
        // an older snapshot is known.
        let e = Evidence {
            found: vec![c("s3://b/sp/savepoint-1", 100, None)],
            unread: vec!["s3://b/chk: cannot list".into()],
            forgotten: Some(JobId::random()),
            ran_before: true,
            ..Default::default()
        };
        assert!(matches!(decide(&e), Decision::Refuse(w) if w.contains("no longer knows")));
        // While Flink still knows the job, its own statistics name its latest checkpoint.
        let e = Evidence { forgotten: None, ..e };
        assert!(matches!(decide(&e), Decision::Use(_)));
    }

    #[test]
    fn checkpoints_flink_discarded_after_the_chosen_snapshot_are_named() {
        let mut e = evidence(vec![c("sp", 1_000, None)]);
        e.discarded.push(Discarded { what: "checkpoint 3 of x".into(), taken_ms: 5_000 });
        e.discarded.push(Discarded { what: "checkpoint 1 of y".into(), taken_ms: 500 });
        let Decision::Use(chosen) = decide(&e) else { panic!("uses sp") };
        let note = e.discarded_since(chosen, 10_000).unwrap();
        assert!(note.contains("checkpoint 3 of x (taken 5s ago)") && !note.contains("of y"), "{note}");
        assert_eq!(evidence(vec![c("sp", 1_000, None)]).discarded_since(chosen, 10_000), None);
    }

    #[test]
    fn nothing_found_is_a_first_deployment_only_when_nothing_says_it_ran() {
        assert_eq!(decide(&Evidence::default()), Decision::FirstDeployment);
        let ran = Evidence { ran_before: true, ..Default::default() };
        assert!(
            matches!(decide(&ran), Decision::Refuse(w) if w.contains("never starts a stateful job empty"))
        );
    }

    #[test]
    fn ages_read_naturally() {
        assert_eq!(age(65_000, 0), "taken 1m 5s ago");
        assert_eq!(age(0, 5_000), "taken 0s ago");
        assert_eq!(age(90_000_000, 0), "taken 1d 1h ago");
    }
}
