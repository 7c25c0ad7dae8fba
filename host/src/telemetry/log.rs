//! The `tracing` subscriber: events to stderr, one line each, as text or JSON; and, with
//! an OTLP endpoint, the spans exported to an OpenTelemetry collector.
//!
//! Spans: `run` (run_id, pipeline), `stage` (run_id, stage, mode), `plugin_call` (role,
//! name, function) and `task` (run_id, stage, index, actor, attempt); a JSON line
//! carries its event's fields and the fields of the spans it happened in. Which events
//! show is `RUST_LOG` (an `EnvFilter`: `troupe=debug` shows every plugin call and task),
//! else the command's default; the exporter gets `RUST_LOG`'s, else `info` (runs and
//! stages; `plugin_call` and `task` spans are debug-level: one per call would be most of
//! the traffic).

use anyhow::Context as _;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer as _};

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// `2026-12-01T12:00:00.000Z  INFO stage{...}: stage ended duration_ms=12`.
    #[default]
    Text,
    /// One JSON object a line: `timestamp`, `level`, `fields`, `span`, `spans`.
    Json,
}

/// Keeps the exporter while the process runs; dropping it sends the spans still
/// batched (at most a few seconds).
#[must_use = "dropping it stops the exporter"]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take() {
            let _ = provider.shutdown();
        }
    }
}

fn filter(default: &str) -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default))
}

/// Install the process's subscriber: log lines at `default` (an `EnvFilter` directive
/// such as `info`, or `off`) unless `RUST_LOG` says otherwise, and spans exported to
/// `otlp` (the collector's OTLP/HTTP traces URL, e.g. `http://127.0.0.1:4318/v1/traces`)
/// when given. A second call installs nothing.
pub fn init(format: LogFormat, default: &str, otlp: Option<&str>) -> anyhow::Result<Telemetry> {
    let lines = tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_ansi(false);
    let lines = match format {
        LogFormat::Text => lines.with_filter(filter(default)).boxed(),
        LogFormat::Json => {
            lines.json().with_current_span(true).with_span_list(true).with_filter(filter(default)).boxed()
        }
    };
    let provider = match otlp {
        Some(endpoint) => {
            let exporter = opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_endpoint(endpoint)
                .build()
                .with_context(|| format!("cannot export spans to {endpoint}"))?;
            let resource = opentelemetry_sdk::Resource::builder().with_service_name("troupe").build();
            Some(SdkTracerProvider::builder().with_batch_exporter(exporter).with_resource(resource).build())
        }
        None => None,
    };
    let spans = provider
        .as_ref()
        .map(|p| tracing_opentelemetry::layer().with_tracer(p.tracer("troupe")).with_filter(filter("info")));
    let _ = tracing_subscriber::registry().with(lines).with(spans).try_init();
    Ok(Telemetry { provider })
}
