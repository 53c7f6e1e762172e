//! The `validate` and `schema` commands.
use std::process::ExitCode;

use crate::cli::{ColorChoice, SchemaArgs, ValidateArgs};

pub fn validate(_args: &ValidateArgs, _color: ColorChoice) -> ExitCode {
    crate::exit::code(crate::exit::ERROR)
}

pub fn schema(_args: &SchemaArgs) -> ExitCode {
    crate::exit::code(crate::exit::ERROR)
}
