//! Renderers of a `Plan`: for people (Terraform-like text), for machines (versioned JSON) and for
//! pull requests (Markdown). Each writes to `&mut impl Write`; none decides anything.

// TEMPORARY STUBS (replaced by the renderers).
use std::io::{self, Write};

use crate::output::Styles;
use crate::plan::Plan;

pub fn human(plan: &Plan, _styles: &Styles, out: &mut impl Write) -> io::Result<()> {
    writeln!(out, "{plan:#?}")
}
pub fn json(plan: &Plan, out: &mut impl Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, plan)?;
    writeln!(out)
}
pub fn markdown(plan: &Plan, out: &mut impl Write) -> io::Result<()> {
    writeln!(out, "{plan:#?}")
}
