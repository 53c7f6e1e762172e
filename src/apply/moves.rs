//! Carry out a `move` (`Action::Move`): stop the job with a savepoint on the cluster it leaves,
//! start it from that savepoint on the cluster it goes to, roll back to the old cluster when the
//! new start fails (see docs/fleet.md, "A move, step by step").
//!
//! Not built yet: every move fails without touching either cluster, so the job keeps running
//! where it runs.

use super::outcome::{Outcome, StepError};
use super::steps::Context;
use crate::plan::JobPlan;
use crate::spec::Job;

/// Move `job` from the cluster of `from` (its client, ledger and lock) to the cluster of `to`,
/// as `p` (the new cluster's entry, `moved_from` naming the old one) decides.
pub async fn run(from: &Context, to: &Context, p: &JobPlan, job: &Job) -> Result<Outcome, StepError> {
    let _ = (from, to, p, job);
    Ok(Outcome::Failed { reason: StepError::MoveNotBuilt })
}
