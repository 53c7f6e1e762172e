//! `flinkops status` (placeholder; the Flink client work fills it in).
