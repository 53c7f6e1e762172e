//! STUB
#[derive(Debug, PartialEq, Eq)]
pub enum Decision { Approved, Declined }
#[derive(Debug, thiserror::Error)]
pub enum ConfirmError { #[error("no terminal")] NoTerminal, #[error("io")] Io(#[from] std::io::Error) }
pub fn confirm_on_terminal(_c: &str, auto: bool) -> Result<Decision, ConfirmError> { if auto { Ok(Decision::Approved) } else { Err(ConfirmError::NoTerminal) } }
