//! Jar endpoints: upload (streamed from disk), list, delete, run. Upload and run are writes that
//! are never retried: after a lost answer the caller must look at the cluster before deciding.

use std::path::Path;

use reqwest::Method;
use reqwest::multipart::{Form, Part};

use super::client::{Client, Repeat, Req};
use super::error::{Call, Error};
use super::ids::{JarId, JobId};
use super::request::RunRequest;
use super::types::{Jar, JarList, RunResponse, UploadResponse};

/// Flink only accepts a file whose name ends in `.jar` (any multipart field name works; the spec
/// says `jarfile`).
fn upload_name(path: &Path) -> String {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    if name.ends_with(".jar") { name } else { format!("{name}.jar") }
}

impl Client {
    /// `POST /jars/upload`: stream the jar at `path` to the cluster and return its jar id.
    /// Not retried; a lost answer is [`Error::Ambiguous`] (list the jars to find out).
    pub async fn upload_jar(&self, path: &Path) -> Result<JarId, Error> {
        self.upload_jar_as(path, &upload_name(path)).await
    }

    /// [`Client::upload_jar`], but Flink is told the file is called `file_name` (its last path
    /// component; `.jar` is appended when missing). Flink lists the jar under that name and
    /// calls it `<uuid>_<file_name>`, so a chosen name lets a caller find its upload again.
    pub async fn upload_jar_as(&self, path: &Path, file_name: &str) -> Result<JarId, Error> {
        let call = Call::new(Method::POST, "/jars/upload");
        let unreadable = |e: std::io::Error| Error::JarUnreadable {
            call: call.clone(),
            path: path.display().to_string(),
            reason: e.to_string(),
        };
        let file = tokio::fs::File::open(path).await.map_err(unreadable)?;
        self.upload_jar_file(file, path, file_name).await
    }

    /// [`Client::upload_jar_as`] from a file already open (`path` only names it in errors): the
    /// caller may have checked exactly these bytes, whatever `path` points to by now.
    pub async fn upload_jar_file(
        &self,
        file: tokio::fs::File,
        path: &Path,
        file_name: &str,
    ) -> Result<JarId, Error> {
        let call = Call::new(Method::POST, "/jars/upload");
        let unreadable = |e: std::io::Error| Error::JarUnreadable {
            call: call.clone(),
            path: path.display().to_string(),
            reason: e.to_string(),
        };
        let len = file.metadata().await.map_err(unreadable)?.len();
        let part = Part::stream_with_length(file, len)
            .file_name(upload_name(Path::new(file_name)))
            .mime_str("application/x-java-archive")
            .expect("a valid MIME type");
        let builder = self
            .request(Method::POST, &["jars", "upload"])
            .multipart(Form::new().part("jarfile", part))
            .timeout(self.upload_timeout());
        let answer: UploadResponse = self.execute(builder, &call, None, self.upload_timeout(), true).await?;
        let id = answer.filename.rsplit(['/', '\\']).next().unwrap_or_default();
        if id.is_empty() {
            return Err(Error::InvalidResponse {
                call,
                detail: format!("no jar id in {:?}", answer.filename),
            });
        }
        Ok(JarId::new(id))
    }

    /// `GET /jars`: the jars uploaded to this JobManager, newest first.
    pub async fn list_jars(&self) -> Result<Vec<Jar>, Error> {
        let list: JarList = self.send(Req::get(&["jars"]), Repeat::Idempotent).await?;
        Ok(list.files)
    }

    /// `DELETE /jars/:id`. Not retried: a second delete of the same jar answers 400.
    pub async fn delete_jar(&self, jar: &JarId) -> Result<(), Error> {
        let req = Req::new(Method::DELETE, &["jars", jar.as_str()]);
        let _: serde::de::IgnoredAny = self.send(req, Repeat::Once).await?;
        Ok(())
    }

    /// `POST /jars/:id/run`: start a job and return its id. The body depends on the cluster's
    /// version (read once, cached). Not retried; a lost answer is [`Error::Ambiguous`] (look
    /// for the job id in the overview).
    pub async fn run_jar(&self, jar: &JarId, request: &RunRequest) -> Result<JobId, Error> {
        let version = self.version().await?;
        let mut req = Req::new(Method::POST, &["jars", jar.as_str(), "run"]).json(request.body(version));
        if let Some(job) = &request.job_id {
            req = req.job(job);
        }
        let answer: RunResponse = self.send(req, Repeat::Write).await?;
        Ok(answer.jobid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_uploaded_file_name_always_ends_in_dot_jar() {
        assert_eq!(upload_name(Path::new("/a/counter.jar")), "counter.jar");
        assert_eq!(upload_name(Path::new("/a/counter-1.0")), "counter-1.0.jar");
        assert_eq!(upload_name(Path::new("flinkops-0123456789abcdef.jar")), "flinkops-0123456789abcdef.jar");
    }
}
