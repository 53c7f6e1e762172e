//! Exit codes: the one place that decides what a scheduler, a CI job or a shell sees.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success; for `plan --detailed-exitcode`: no changes; for `audit`: no finding reaches `--fail-on` |
//! | 1 | an error: invalid specs, Flink unreachable, a failed step (`audit`: the audit could not be made) |
//! | 2 | `plan --detailed-exitcode`: changes are present; `plan --refresh-only --detailed-exitcode`: drift is present; `audit`: a finding reaches `--fail-on` (also clap's code for bad usage) |
//! | 3 | offline `plan --base/--base-rev --detailed-exitcode`: a change drops a job's state (a CI rule can ask for a second approval) |

use std::process::ExitCode;

/// Everything went as asked.
pub const OK: u8 = 0;
/// Something failed: invalid input, an unreachable cluster, a failed action.
pub const ERROR: u8 = 1;
/// `--detailed-exitcode`: the plan is not empty; `audit`: a finding at or above `--fail-on`. Also
/// what clap uses for a usage error.
pub const CHANGES: u8 = 2;

/// `plan --refresh-only --detailed-exitcode`: the cluster drifted (Terraform's code for it too).
pub const DRIFT: u8 = CHANGES;
/// Offline plan with `--detailed-exitcode`: some change makes a job start without its state
/// (`upgradeMode: stateless`, `restore.from: none`), so a CI rule can require a second approval.
pub const DROPS_STATE: u8 = 3;

/// Convert one of the codes above into the process exit code.
pub fn code(c: u8) -> ExitCode {
    ExitCode::from(c)
}
