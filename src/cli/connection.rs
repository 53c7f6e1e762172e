//! Connection flags for a Flink cluster (placeholder; the Flink client work fills it in).

use clap::Args;

/// How to reach a Flink cluster's REST API.
#[derive(Debug, Clone, Args)]
pub struct ConnectionArgs {
    /// Base URL of the Flink REST API, with an optional path prefix.
    #[arg(long, env = "FLINK_URL")]
    pub flink_url: Option<String>,
}
