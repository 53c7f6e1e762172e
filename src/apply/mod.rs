//! `flinkops apply`: carry out a plan — savepoint-safe upgrades in dependency order, with a health
//! gate, rollback, a lock, and write-ahead records in the ledger so that a run killed at any point
//! is finished by the next one.

pub mod confirm;
pub mod dispose;
pub mod execute;
pub mod health;
pub mod jars;
pub mod lock;
pub mod moves;
pub mod outcome;
pub mod progress;
pub mod rename;
pub mod steps;
