//! STUB
use std::path::Path;
use std::time::Duration;
pub struct ApplyLock;
pub struct Holder;
impl Holder { pub fn current(_c: &str) -> Self { Holder } }
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct HolderInfo { pub pid: u32 }
#[derive(Debug, thiserror::Error)]
pub enum LockError { #[error("held")] Held { path: std::path::PathBuf, holder: Option<HolderInfo>, waited: Duration } }
impl LockError { pub fn help(&self) -> Option<String> { None } }
pub fn acquire(_s: &Path, _u: &str, _t: Duration, _h: &Holder, _w: impl FnMut(&HolderInfo, Duration)) -> Result<ApplyLock, LockError> { Ok(ApplyLock) }
