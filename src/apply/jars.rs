//! STUB
use crate::flink::{Client, JarId};
use std::path::Path;
pub async fn ensure_uploaded(c: &Client, local: &Path, _sha: &str) -> Result<JarId, crate::flink::Error> {
    c.upload_jar(local).await
}
