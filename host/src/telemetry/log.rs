//! The `tracing` subscriber: events to stderr, one line each, as text or JSON.
//!
//! Spans: `run` (run_id, pipeline), `stage` (run_id, stage, mode), `plugin_call` (role,
//! name, function) and `task` (run_id, stage, index, actor, attempt); a JSON line
//! carries its event's fields and the fields of the spans it happened in. Which events
//! show is `RUST_LOG` (an `EnvFilter`: `troupe=debug` shows every plugin call and task),
//! else the command's default.

use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// `2026-12-01T12:00:00.000Z  INFO stage{...}: stage ended duration_ms=12`.
    #[default]
    Text,
    /// One JSON object a line: `timestamp`, `level`, `fields`, `span`, `spans`.
    Json,
}

/// Install the process's subscriber, showing events at `default` (an `EnvFilter`
/// directive such as `info`) unless `RUST_LOG` says otherwise. A second call does
/// nothing (the first subscriber stays).
pub fn init(format: LogFormat, default: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(false);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().with_current_span(true).with_span_list(true).try_init(),
    };
}
