//! Managed job ids: how flinkops recognises its own jobs, and which spec and version each runs,
//! from Flink's job list alone (docs/design.md, "Identity").
//!
//! A managed id is 32 hex digits, laid out as
//!
//! ```text
//!   nnnnnn  f1a5  ffffffffffff  ssssss  cccc
//!   name    mark  fingerprint   submis- check
//!   (6)     (4)   (12)          sion(6) (4)
//! ```
//!
//! - `name`: a hash of the spec name, leading because Flink names savepoint directories
//!   `savepoint-<first 6 hex of the job id>-…`, so savepoints identify their spec too;
//! - `mark`: a constant that says "flinkops";
//! - `fingerprint`: the first 12 hex of the spec fingerprint (what runs);
//! - `submission`: random per submission, because Flink accepts a job id only once per cluster
//!   lifetime (docs/flink-behaviour.md, "Job ids"): a retry or a rollback needs a fresh id;
//! - `check`: a hash of the 28 digits before it, so a random Flink id passes as managed only with
//!   probability 2^-32 (mark and check together) — flinkops never touches a job it did not start.

use sha2::{Digest, Sha256};

use crate::flink::JobId;
use crate::spec::fingerprint::{Fingerprint, hex};

/// The marker in every managed id.
pub const MARK: &str = "f1a5";

/// What a managed job id says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagedId {
    /// Hash of the spec name (6 hex).
    pub name_tag: String,
    /// First 12 hex of the fingerprint the job was started with.
    pub fingerprint_tag: String,
    /// The per-submission part (6 hex).
    pub submission: String,
}

impl ManagedId {
    /// Whether this job runs the spec with this fingerprint.
    pub fn runs(&self, fingerprint: &Fingerprint) -> bool {
        fingerprint.0.starts_with(&self.fingerprint_tag)
    }
}

fn sha_hex(domain: &str, text: &str) -> String {
    let mut h = Sha256::new();
    h.update(domain.as_bytes());
    h.update([0]);
    h.update(text.as_bytes());
    hex(&h.finalize())
}

/// The 6-hex tag of a spec name.
pub fn name_tag(name: &str) -> String {
    sha_hex("flinkops-name", name)[..6].to_string()
}

fn check(first28: &str) -> String {
    sha_hex("flinkops-id", first28)[..4].to_string()
}

/// The job id for submitting `name` at `fingerprint`; `submission` makes each submission unique
/// (pass 3 random bytes; tests pass fixed ones).
pub fn job_id(name: &str, fingerprint: &Fingerprint, submission: [u8; 3]) -> JobId {
    let first28 = format!("{}{MARK}{}{}", name_tag(name), fingerprint.short(12), hex(&submission));
    let id = format!("{first28}{}", check(&first28));
    id.parse().expect("32 lowercase hex digits by construction")
}

/// Three random bytes for [`job_id`].
pub fn random_submission() -> [u8; 3] {
    let bytes = JobId::random();
    let b = bytes.as_str().as_bytes();
    let pick =
        |i: usize| u8::from_str_radix(std::str::from_utf8(&b[i..i + 2]).unwrap_or("00"), 16).unwrap_or(0);
    [pick(0), pick(2), pick(4)]
}

/// Read a job id: `Some` when flinkops chose it.
pub fn parse(id: &JobId) -> Option<ManagedId> {
    let s = id.as_str();
    if &s[6..10] != MARK || check(&s[..28]) != s[28..] {
        return None;
    }
    Some(ManagedId {
        name_tag: s[..6].to_string(),
        fingerprint_tag: s[10..22].to_string(),
        submission: s[22..28].to_string(),
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn fp(c: char) -> Fingerprint {
        Fingerprint(std::iter::repeat_n(c, 64).collect())
    }

    #[test]
    fn an_id_carries_name_mark_fingerprint_and_submission() {
        let id = job_id("orders", &fp('a'), [1, 2, 3]);
        let s = id.as_str();
        assert_eq!(&s[..6], name_tag("orders"));
        assert_eq!(&s[6..10], MARK);
        assert_eq!(&s[10..22], "aaaaaaaaaaaa");
        assert_eq!(&s[22..28], "010203");
        let parsed = parse(&id).expect("managed");
        assert_eq!(parsed.name_tag, name_tag("orders"));
        assert!(parsed.runs(&fp('a')));
        assert!(!parsed.runs(&fp('b')));
    }

    #[test]
    fn the_layout_is_stable() {
        // Live jobs carry these ids: changing the scheme would orphan every managed job. (Values
        // checked independently with Python's hashlib.)
        assert_eq!(name_tag("orders"), "fc67eb");
        assert_eq!(job_id("orders", &fp('a'), [1, 2, 3]).as_str(), "fc67ebf1a5aaaaaaaaaaaa010203bc94");
    }

    #[test]
    fn ids_flinkops_did_not_choose_are_not_managed() {
        for id in ["00000000000000000000000000000000", "e2a5baf1a5aaaaaaaaaaaa0102030000"] {
            assert_eq!(parse(&id.parse().unwrap()), None, "{id}");
        }
    }

    #[test]
    fn every_submission_gets_its_own_id() {
        let a = job_id("orders", &fp('a'), random_submission());
        let b = job_id("orders", &fp('a'), random_submission());
        assert_ne!(a, b);
    }

    proptest! {
        #[test]
        fn managed_ids_round_trip(name in "[a-z0-9][a-z0-9-]{0,20}", f in "[0-9a-f]{64}", sub in any::<[u8; 3]>()) {
            let fingerprint = Fingerprint(f);
            let id = job_id(&name, &fingerprint, sub);
            let parsed = parse(&id).expect("a managed id parses");
            prop_assert!(parsed.runs(&fingerprint));
            prop_assert_eq!(parsed.name_tag, name_tag(&name));
        }

        #[test]
        fn random_ids_are_almost_never_taken_for_managed(bytes in any::<[u8; 16]>()) {
            // Probability 2^-32 per id: a failure here means the check is broken, not bad luck.
            prop_assert_eq!(parse(&JobId::from_bytes(bytes)), None);
        }
    }

    #[test]
    fn a_changed_digit_is_detected() {
        // Deterministic: every position, every other digit (a random search could pass by luck).
        let id = job_id("orders", &fp('a'), [1, 2, 3]);
        for pos in (0..6).chain(10..32) {
            for digit in "0123456789abcdef".bytes() {
                let mut s: Vec<u8> = id.as_str().bytes().collect();
                if s[pos] == digit {
                    continue;
                }
                s[pos] = digit;
                let tampered: JobId = String::from_utf8(s).unwrap().parse().unwrap();
                assert_eq!(parse(&tampered), None, "{tampered}");
            }
        }
    }
}
