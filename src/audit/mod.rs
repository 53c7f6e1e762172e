//! `flinkops audit`: a read-only report of every spec and live job. (Being built.)

use std::process::ExitCode;

use crate::cli::{AuditArgs, ColorChoice};

pub fn run(_args: &AuditArgs, _color: ColorChoice) -> ExitCode {
    crate::exit::code(crate::exit::ERROR)
}
