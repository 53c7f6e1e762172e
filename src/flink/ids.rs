//! Identifiers Flink hands out or accepts: job ids, trigger ids (both 32 lowercase hex) and jar ids.
//! Owns their validation and formatting; never talks to Flink.

use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

/// A string that is not a valid id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind} `{value}`: expected 32 lowercase hexadecimal characters")]
pub struct InvalidId {
    pub kind: &'static str,
    pub value: String,
}

/// 32 lowercase hex characters: the text form of Flink's 128-bit `AbstractID`.
fn validate_hex32(kind: &'static str, value: &str) -> Result<(), InvalidId> {
    let ok = value.len() == 32 && value.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if ok { Ok(()) } else { Err(InvalidId { kind, value: value.chars().take(64).collect() }) }
}

/// 16 bytes that differ between calls and processes. Not cryptographic: ids only need to be
/// unique, and std's `RandomState` is seeded randomly per process.
fn random_bytes() -> [u8; 16] {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let mut out = [0u8; 16];
    for half in out.chunks_mut(8) {
        let mut h = std::hash::RandomState::new().build_hasher();
        h.write_u128(nanos);
        h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        h.write_u32(std::process::id());
        half.copy_from_slice(&h.finish().to_le_bytes());
    }
    out
}

fn hex(bytes: &[u8; 16]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

macro_rules! hex_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// The id with these 16 bytes (big-endian, as Flink prints them).
            pub fn from_bytes(bytes: [u8; 16]) -> Self {
                Self(hex(&bytes))
            }

            /// A fresh id, unique for all practical purposes.
            pub fn random() -> Self {
                Self::from_bytes(random_bytes())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = InvalidId;
            fn from_str(s: &str) -> Result<Self, InvalidId> {
                validate_hex32($kind, s)?;
                Ok(Self(s.to_owned()))
            }
        }

        impl TryFrom<String> for $name {
            type Error = InvalidId;
            fn try_from(s: String) -> Result<Self, InvalidId> {
                validate_hex32($kind, &s)?;
                Ok(Self(s))
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }
    };
}

hex_id!(
    /// A Flink job id. Clients may choose it (`jobId` on `/jars/:id/run`), but each id can be
    /// submitted only once per cluster lifetime (docs/flink-behaviour.md, "Job ids").
    JobId,
    "job id"
);

hex_id!(
    /// The id of an asynchronous operation (savepoint, stop, disposal). A caller-chosen trigger id
    /// makes savepoint and stop requests idempotent: re-posting it starts no second savepoint.
    TriggerId,
    "trigger id"
);

/// In JSON a job id is its text form; the schema says so (used by the plan's schema).
impl schemars::JsonSchema for JobId {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "JobId".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A Flink job id: 32 lowercase hexadecimal digits.",
            "type": "string",
            "pattern": "^[0-9a-f]{32}$"
        })
    }
}

/// The id of an uploaded jar: the basename Flink gave the file (`<uuid>_<name>.jar`).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct JarId(String);

impl JarId {
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for JarId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for JarId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "JarId({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_id_is_32_lowercase_hex_characters() {
        let id: JobId = "0123456789abcdef0123456789abcdef".parse().unwrap();
        assert_eq!(id.to_string(), "0123456789abcdef0123456789abcdef");
    }

    #[test]
    fn uppercase_short_long_and_non_hex_job_ids_are_rejected() {
        for bad in [
            "0123456789ABCDEF0123456789ABCDEF",
            "0123456789abcdef",
            "0123456789abcdef0123456789abcdef0",
            "0123456789abcdef0123456789abcdeg",
            "",
        ] {
            let err = bad.parse::<JobId>().unwrap_err();
            assert!(err.to_string().contains("job id"), "{err}");
        }
    }

    #[test]
    fn random_ids_are_valid_and_differ() {
        let a = TriggerId::random();
        let b = TriggerId::random();
        assert_ne!(a, b);
        assert!(a.as_str().parse::<TriggerId>().is_ok());
    }

    #[test]
    fn ids_round_trip_through_json_and_reject_bad_strings() {
        let id = JobId::from_bytes([0xab; 16]);
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{}\"", "ab".repeat(16)));
        assert_eq!(serde_json::from_str::<JobId>(&json).unwrap(), id);
        assert!(serde_json::from_str::<JobId>("\"nothex\"").is_err());
    }
}
