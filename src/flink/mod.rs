//! The Flink REST client (placeholder; filled in by the Flink client work).
