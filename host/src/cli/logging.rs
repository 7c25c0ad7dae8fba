//! `--log-format` for the commands that log (`troupe serve`, `troupe worker`, `troupe run`).

use clap::Args;
use troupe::telemetry::LogFormat;

#[derive(Args, Clone)]
pub struct LogArgs {
    /// How log lines (runs, stages, failed tasks and plugin calls; `RUST_LOG` says which)
    /// are written on stderr: `text`, or `json`, one object a line.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, env = "TROUPE_LOG_FORMAT")]
    pub log_format: LogFormat,
    /// Export the spans (runs, stages; with `RUST_LOG=troupe=debug` plugin calls and
    /// tasks too) to an OpenTelemetry collector's OTLP/HTTP traces URL, such as
    /// `http://127.0.0.1:4318/v1/traces`.
    #[arg(long, env = "TROUPE_OTLP_ENDPOINT")]
    pub otlp_endpoint: Option<String>,
}

impl LogArgs {
    /// Start logging; `default` is what shows without `RUST_LOG` (`info` for the
    /// long-lived commands, `off` for `troupe run`, whose stderr is its progress display).
    pub fn init(&self, default: &str) -> anyhow::Result<troupe::telemetry::Telemetry> {
        troupe::telemetry::init(self.log_format, default, self.otlp_endpoint.as_deref())
    }
}
