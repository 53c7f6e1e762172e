//! Planning: from the desired state and the observed live jobs to the actions that close the gap.
//! Pure: no I/O, no async, deterministic (sorted maps, stable name order). Rendering lives in
//! `render`, execution in `apply`.

pub mod checks;
pub mod control;
pub mod diff;
pub mod drift;
pub mod facts;
pub mod fleet;
pub mod identity;
pub mod model;
pub mod moves;
pub mod observed;
pub mod offline;
pub mod planner;
pub mod reasons;
pub mod renames;

#[cfg(test)]
mod control_tests;
#[cfg(test)]
pub(crate) mod fixtures;
#[cfg(test)]
mod tests;

pub use control::Control;
pub use model::{Action, ClusterRef, ConflictScope, FieldChange, JobPlan, Plan, Restore, Wave, WaveKind};
pub use observed::{LiveJob, Observed};
pub use planner::{Options, hold, plan};
pub use reasons::{Problem, Reason, Warning};
