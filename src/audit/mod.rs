//! The audit report of `flinkops audit` (`commands::audit` gathers the observations): `report`
//! turns them into rows (pure), `render` writes them; `fleet` gathers the reports of several
//! clusters.

pub mod fleet;
pub mod render;
pub mod report;
