//! Job specs: what the YAML says (raw layer) and what it means (resolved layer).
pub mod cmd;
