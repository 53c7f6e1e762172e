//! STUB
use std::path::Path;
use crate::flink::{Client, JarId};
pub async fn ensure_uploaded(c: &Client, local: &Path, _sha: &str) -> Result<JarId, crate::flink::Error> { c.upload_jar(local).await }
