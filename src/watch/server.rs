//! The sidecar's HTTP endpoints: `/healthz` (the process is alive), `/readyz` (the last reconcile
//! succeeded and Flink was reachable; otherwise 503 and the reasons, one per line) and `/metrics`
//! (Prometheus text). Reads what the loop publishes in `Shared`; never triggers work itself.

use std::sync::{Arc, RwLock};

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use jiff::Timestamp;

use super::metrics::Metrics;

/// What the loop publishes and the endpoints read.
#[derive(Default)]
pub struct Shared {
    pub metrics: Metrics,
    readiness: RwLock<Readiness>,
}

/// The outcome of the last reconcile, as `/readyz` tells it.
#[derive(Debug, Clone, Default)]
pub struct Readiness {
    pub ready: bool,
    /// When not ready: why, one reason per line. When ready: a one-line summary.
    pub lines: Vec<String>,
    pub at: Option<Timestamp>,
}

impl Shared {
    pub fn set_readiness(&self, r: Readiness) {
        *self.readiness.write().unwrap_or_else(|e| e.into_inner()) = r;
    }

    pub fn readiness(&self) -> Readiness {
        self.readiness.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

pub fn router(shared: Arc<Shared>) -> axum::Router {
    axum::Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(shared)
}

async fn readyz(State(shared): State<Arc<Shared>>) -> impl IntoResponse {
    let r = shared.readiness();
    let at =
        r.at.map_or_else(|| "no reconcile has finished yet".to_string(), |t| format!("last reconcile {t}"));
    let mut body = if r.ready { format!("ready ({at})\n") } else { format!("not ready ({at})\n") };
    if r.at.is_none() && r.lines.is_empty() {
        body.push_str("starting: the first reconcile is running\n");
    }
    for line in &r.lines {
        body.push_str(&format!("- {line}\n"));
    }
    let code = if r.ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (code, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body)
}

async fn metrics(State(shared): State<Arc<Shared>>) -> impl IntoResponse {
    let now = Timestamp::now().as_millisecond() as f64 / 1000.0;
    let body = shared.metrics.encode(now);
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")],
        body,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Serve on 127.0.0.1 and GET `path` for real.
    async fn get(shared: &Arc<Shared>, path: &str) -> (StatusCode, String) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(axum::serve(listener, router(shared.clone())).into_future());
        let resp = reqwest::get(format!("http://{addr}{path}")).await.unwrap();
        let code = StatusCode::from_u16(resp.status().as_u16()).unwrap();
        let body = resp.text().await.unwrap();
        server.abort();
        (code, body)
    }

    #[tokio::test]
    async fn readyz_is_503_with_the_reasons_until_a_reconcile_succeeds() {
        let shared = Arc::new(Shared::default());
        let (code, body) = get(&shared, "/readyz").await;
        assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE);
        assert!(body.contains("first reconcile"), "{body}");
        shared.set_readiness(Readiness {
            ready: false,
            lines: vec!["specs/orders.yaml:3:1: unknown field `paralelism`".into()],
            at: Some(Timestamp::UNIX_EPOCH),
        });
        let (code, body) = get(&shared, "/readyz").await;
        assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE);
        assert!(body.contains("- specs/orders.yaml:3:1: unknown field"), "{body}");
        shared.set_readiness(Readiness { ready: true, lines: vec!["4 jobs in sync".into()], at: None });
        assert_eq!(get(&shared, "/readyz").await.0, StatusCode::OK);
        assert_eq!(get(&shared, "/healthz").await, (StatusCode::OK, "ok\n".into()));
        // A family is written once it has a series: the reconciles' exist per cluster.
        shared.metrics.cluster("default");
        assert!(get(&shared, "/metrics").await.1.contains("# HELP flinkops_reconciles"));
    }
}
