//! `FlinkVersion`: what `flink-version` in `GET /config` says, parsed for comparisons.
//! Owns parsing only; which request shape a version needs lives with the request.

use std::fmt;
use std::str::FromStr;

/// A Flink release, ordered by (major, minor, patch). Suffixes such as `-SNAPSHOT` or
/// `-preview1` are tolerated and dropped: request shapes change between minor versions only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FlinkVersion {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

/// A version string that is not `major.minor[.patch][-suffix]`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unrecognised Flink version `{0}`: expected major.minor[.patch], e.g. 1.20.1")]
pub struct InvalidVersion(pub String);

impl FlinkVersion {
    pub const fn new(major: u32, minor: u32, patch: u32) -> Self {
        Self { major, minor, patch }
    }

    /// Whether `/jars/:id/run` takes `claimMode` (1.20+) instead of only `restoreMode`.
    pub fn has_claim_mode(self) -> bool {
        self >= Self::new(1, 20, 0)
    }
}

impl FromStr for FlinkVersion {
    type Err = InvalidVersion;

    fn from_str(s: &str) -> Result<Self, InvalidVersion> {
        let invalid = || InvalidVersion(s.to_owned());
        let core = s.trim().split(['-', '+']).next().unwrap_or_default();
        let mut parts = core.split('.').map(|p| p.parse::<u32>().map_err(|_| invalid()));
        let major = parts.next().ok_or_else(invalid)??;
        let minor = parts.next().ok_or_else(invalid)??;
        let patch = parts.next().transpose()?.unwrap_or(0);
        if parts.next().is_some() {
            return Err(invalid());
        }
        Ok(Self { major, minor, patch })
    }
}

impl fmt::Display for FlinkVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> FlinkVersion {
        s.parse().unwrap()
    }

    #[test]
    fn release_versions_parse_into_their_three_numbers() {
        assert_eq!(v("2.3.0"), FlinkVersion::new(2, 3, 0));
        assert_eq!(v("1.20.5"), FlinkVersion::new(1, 20, 5));
    }

    #[test]
    fn snapshot_and_preview_suffixes_are_tolerated() {
        assert_eq!(v("2.3-SNAPSHOT"), FlinkVersion::new(2, 3, 0));
        assert_eq!(v("1.19.3-SNAPSHOT"), FlinkVersion::new(1, 19, 3));
        assert_eq!(v("2.0-preview1"), FlinkVersion::new(2, 0, 0));
    }

    #[test]
    fn versions_compare_numerically_not_as_text() {
        assert!(v("1.20.0") > v("1.9.9"));
        assert!(v("2.0.0") > v("1.20.5"));
    }

    #[test]
    fn claim_mode_starts_with_1_20() {
        assert!(!v("1.19.3").has_claim_mode());
        assert!(v("1.20.0").has_claim_mode());
        assert!(v("2.3.0").has_claim_mode());
    }

    #[test]
    fn garbage_is_not_a_version() {
        for bad in ["", "2", "x.y", "1.2.3.4", "<html>"] {
            assert!(bad.parse::<FlinkVersion>().is_err(), "{bad}");
        }
    }
}
