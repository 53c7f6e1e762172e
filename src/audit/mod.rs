//! The audit report of `flinkops audit` (`commands::audit` gathers the observations): `report`
//! turns them into rows (pure), `render` writes them.

pub mod render;
pub mod report;
