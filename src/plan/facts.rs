//! Facts the plan carries about a job beyond its action: why apply will not run it
//! ([`Blocker`]), why a job `--target` left out is acted on anyway ([`PulledIn`]) and what
//! changed on the cluster outside flinkops ([`JobDrift`]). The planner
//! decides them; the words are written by `render::words` (their `Display`), and the JSON plan
//! carries those words as plain strings, as it always has (`blockedBy`, `drift`).
//!
//! A saved plan read back (`apply PLANFILE`) holds only the words: they come back as
//! [`Blocker::Saved`] / [`JobDrift::Saved`] and are shown as they were written. Nothing decides
//! on a saved plan's words: apply plans again and compares actions, not sentences.

use crate::flink::JobState;

/// Why apply will not run a job's action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Blocker {
    /// A job it waits for is a conflict apply cannot act on.
    UpstreamConflict { upstream: String },
    /// A job it waits for is suspended by its spec, so it will not become healthy.
    UpstreamSuspended { upstream: String },
    /// A job it waits for must be started first and `--exclude` leaves it out.
    UpstreamExcluded { upstream: String },
    /// Held by `watch` (a failed action backing off, self-heal off), with watch's reason.
    Held { reason: String },
    /// A job it waits for is held by `watch`.
    UpstreamHeld { upstream: String, reason: String },
    /// A first deployment while a cluster that may run the job could not be observed: its
    /// ledger has the job (`ledger_has_job`), or it has no ledger in this state directory.
    ClusterUnobserved { cluster: String, ledger_has_job: bool },
    /// Read back from a saved plan: the words it was written with.
    Saved(String),
}

/// Why a job `--target` did not name is acted on anyway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PulledIn {
    /// `target` waits for it, and it is not running.
    ByTarget { target: String },
    /// Read back from a saved plan: the words it was written with.
    Saved(String),
}

impl PulledIn {
    fn read(words: &str) -> Option<Self> {
        let (target, _) = words.strip_prefix("pulled in by --target ")?.split_once(':')?;
        Some(Self::ByTarget { target: target.to_string() })
    }
}

/// What a managed job of a spec shows that flinkops did not do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobDrift {
    /// It ended (failed, cancelled outside flinkops, finished) while the spec says running.
    Ended { state: JobState },
    /// Not running, and gone from the cluster's job history (the ledger says it ran).
    Forgotten,
    /// It runs but not every task is up (restarting, a task missing).
    Degraded { state: JobState, tasks_running: u32, tasks_total: u32, tasks_finished: u32 },
    /// Read back from a saved plan: the words it was written with.
    Saved(String),
}

impl Blocker {
    /// The fact a saved plan's words say, when they are words the planner writes. (`Held` never
    /// is: `watch` holds jobs in plans it never saves.)
    fn read(words: &str) -> Option<Self> {
        if let Some(rest) = words.strip_prefix("cluster `") {
            let (cluster, _) = rest.split_once('`')?;
            return [true, false]
                .into_iter()
                .map(|ledger_has_job| Self::ClusterUnobserved {
                    cluster: cluster.to_string(),
                    ledger_has_job,
                })
                .find(|b| b.to_string() == words);
        }
        let (upstream, rest) = words.strip_prefix('`')?.split_once('`')?;
        let upstream = upstream.to_string();
        if let Some(reason) = rest.strip_prefix(" is held: ") {
            return Some(Self::UpstreamHeld { upstream, reason: reason.to_string() });
        }
        [
            Self::UpstreamConflict { upstream: upstream.clone() },
            Self::UpstreamSuspended { upstream: upstream.clone() },
            Self::UpstreamExcluded { upstream },
        ]
        .into_iter()
        .find(|b| b.to_string() == words)
    }
}

impl JobDrift {
    /// The fact a saved plan's words say: "failed (FAILED)", "RESTARTING with 0/2 tasks running".
    fn read(words: &str) -> Option<Self> {
        let state = |s: &str| serde_json::from_value::<JobState>(serde_json::Value::String(s.into())).ok();
        if words == Self::Forgotten.to_string() {
            return Some(Self::Forgotten);
        }
        if let Some((s, tasks)) = words.split_once(" with ") {
            let (counts, rest) = tasks.split_once(" tasks running")?;
            let (running, total) = counts.split_once('/')?;
            let tasks_finished = match rest {
                "" => 0,
                _ => rest.strip_prefix(" (")?.strip_suffix(" finished)")?.parse().ok()?,
            };
            let (tasks_running, tasks_total) = (running.parse().ok()?, total.parse().ok()?);
            return Some(Self::Degraded { state: state(s)?, tasks_running, tasks_total, tasks_finished });
        }
        let (_, s) = words.strip_suffix(')')?.rsplit_once(" (")?;
        Some(Self::Ended { state: state(s)? })
    }
}

/// The JSON plan keeps the sentence (format version 1). `as_words!(write T)` only writes it
/// (for a fact never read back).
macro_rules! as_words {
    (write $t:ty) => {
        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl schemars::JsonSchema for $t {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                String::schema_name()
            }
            fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
                String::json_schema(generator)
            }
            fn inline_schema() -> bool {
                true
            }
        }
    };
    ($t:ty) => {
        as_words!(write $t);

        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let words = <String as serde::Deserialize>::deserialize(d)?;
                // Kept only when it says exactly the same: words this flinkops does not write
                // (an older one's, a hand edit) stay as they were.
                Ok(match <$t>::read(&words) {
                    Some(fact) if fact.to_string() == words => fact,
                    _ => Self::Saved(words),
                })
            }
        }
    };
}

pub(super) use as_words;

as_words!(Blocker);
as_words!(JobDrift);
as_words!(PulledIn);

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    use super::*;

    #[test]
    fn the_json_plan_carries_the_words() {
        let b = Blocker::UpstreamHeld { upstream: "ingest".into(), reason: "retrying in 60s".into() };
        assert_eq!(serde_json::to_string(&b).unwrap(), r#""`ingest` is held: retrying in 60s""#);
        let d = JobDrift::Degraded {
            state: JobState::Running,
            tasks_running: 3,
            tasks_total: 4,
            tasks_finished: 1,
        };
        assert_eq!(serde_json::to_string(&d).unwrap(), r#""RUNNING with 3/4 tasks running (1 finished)""#);
    }

    /// A saved plan (`plan --out`, `apply PLANFILE`) reads back as the facts it was written from,
    /// for every fact the planner writes; other words stay as they were.
    #[test]
    fn a_saved_plan_reads_back_as_the_same_facts() {
        fn back<T: Serialize + for<'de> Deserialize<'de>>(fact: &T) -> T {
            serde_json::from_str(&serde_json::to_string(fact).unwrap()).unwrap()
        }
        let upstream = || "ingest".to_string();
        for b in [
            Blocker::UpstreamConflict { upstream: upstream() },
            Blocker::UpstreamSuspended { upstream: upstream() },
            Blocker::UpstreamExcluded { upstream: upstream() },
            Blocker::UpstreamHeld { upstream: upstream(), reason: "retrying in 60s".into() },
            Blocker::Saved("protected: see Errors".into()),
        ] {
            assert_eq!(back(&b), b);
        }
        for p in [
            PulledIn::ByTarget { target: "enrich".into() },
            PulledIn::Saved("pulled in by --target x".into()),
        ] {
            assert_eq!(back(&p), p);
        }
        for d in [
            JobDrift::Ended { state: JobState::Failed },
            JobDrift::Ended { state: JobState::Canceled },
            JobDrift::Ended { state: JobState::Finished },
            JobDrift::Forgotten,
            JobDrift::Degraded {
                state: JobState::Restarting,
                tasks_running: 0,
                tasks_total: 2,
                tasks_finished: 0,
            },
            JobDrift::Degraded {
                state: JobState::Running,
                tasks_running: 3,
                tasks_total: 4,
                tasks_finished: 1,
            },
            JobDrift::Saved("failed (SOMETHING NEW)".into()),
        ] {
            assert_eq!(back(&d), d);
        }
    }
}
