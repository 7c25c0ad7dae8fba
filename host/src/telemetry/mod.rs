//! What troupe tells operators besides its own output: `tracing` spans and events (a
//! run, its stages, each plugin call and each task) on stderr as text or JSON lines
//! (`log`), optionally exported over OTLP, and Prometheus metrics (`metrics`), which `troupe serve` serves at `/metrics`.

mod log;
pub mod metrics;

pub use log::{init, LogFormat, Telemetry};
