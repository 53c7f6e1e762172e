//! `flinkops watch --once`: one reconcile exactly like a watch tick (the same plan, policies and
//! apply path), then exit with apply's exit codes. The only way to give watch `--target` /
//! `--exclude`: a long-running watch that ignored part of the fleet would be a trap, so clap
//! refuses them without `--once`.

use tokio_util::sync::CancellationToken;

use super::metrics::ReconcileResult;
use super::reconcile::Reconciler;
use crate::cli::WatchArgs;
use crate::plan::Control;
use crate::plan::control::UnknownName;
use crate::spec::Desired;

/// The jobs this pass is limited to (empty without `--once`: clap refuses the flags then).
pub fn control(args: &WatchArgs) -> Control {
    Control { target: args.target.clone(), exclude: args.exclude.clone(), ..Control::default() }
}

/// Reconcile once; the exit code.
pub async fn run(
    mut reconciler: Reconciler,
    args: &WatchArgs,
    desired: &Desired,
    shutdown: &CancellationToken,
) -> u8 {
    if let Err(e) = check_names(args, desired) {
        tracing::error!("{e}; name a job by its spec `name`. Nothing was changed");
        return crate::exit::ERROR;
    }
    let report = reconciler.reconcile("--once", shutdown).await;
    // A cluster skipped because an apply held its lock was not reconciled: one pass that did not
    // converge everything exits 1, as a single cluster's locked pass does.
    if report.busy > 0 { crate::exit::ERROR } else { exit_code(report.result) }
}

/// apply's codes: 0 when everything converged, 1 otherwise.
pub fn exit_code(result: ReconcileResult) -> u8 {
    if result == ReconcileResult::Ok { crate::exit::OK } else { crate::exit::ERROR }
}

/// Every `--target` / `--exclude` name must be a spec's: a typo in `--exclude` would otherwise
/// act on the very job it meant to spare.
fn check_names(args: &WatchArgs, desired: &Desired) -> Result<(), UnknownName> {
    let known: Vec<&str> = desired.jobs.keys().map(String::as_str).collect();
    control(args).check_names_in(&known)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_converged_pass_exits_zero() {
        assert_eq!(exit_code(ReconcileResult::Ok), crate::exit::OK);
        for r in [
            ReconcileResult::Failed,
            ReconcileResult::InvalidSpecs,
            ReconcileResult::FlinkUnreachable,
            ReconcileResult::Locked,
        ] {
            assert_eq!(exit_code(r), crate::exit::ERROR, "{r:?}");
        }
    }
}
