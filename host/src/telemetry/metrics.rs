//! Prometheus metrics (`GET /metrics` on `troupe serve`): counters and histograms updated
//! where things happen (a task ends in a worker, a stage's barrier trips, a plugin call
//! returns, a reload), and per-actor queue gauges read from the engine at each scrape.
//!
//! Why a process-wide registry: the places that count (the plugin call path, workers,
//! the orchestrator) are deep in code that serves one-shot commands too; threading a
//! handle through all of them would touch every signature for what is a few atomic adds.
//! A process runs one host, so one registry is the host's.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;
use std::sync::{LazyLock, Mutex};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TaskLabels {
    mode: String,
    actor: String,
    /// `succeeded`, `failed`, `requeued`.
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StageLabels {
    mode: String,
    /// `succeeded` or `failed`.
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    /// `mode` or `actor`.
    role: String,
    name: String,
    /// The export called: `plan`, `execute`, `before-task`, `after-task`, `invoke`, ...
    function: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FaultLabels {
    role: String,
    name: String,
    /// `deadline`, `memory`, `trap`, `malformed`, `refused`.
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ActorLabels {
    actor: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    /// `applied` or `refused`.
    outcome: String,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

fn seconds() -> Histogram {
    // 100 µs to ~7 minutes, x4 a bucket.
    Histogram::new(exponential_buckets(0.0001, 4.0, 12))
}

struct Metrics {
    registry: Registry,
    tasks: Family<TaskLabels, Counter>,
    stages: Histograms<StageLabels>,
    calls: Histograms<CallLabels>,
    faults: Family<FaultLabels, Counter>,
    reloads: Family<OutcomeLabels, Counter>,
    queued: Family<ActorLabels, Gauge>,
    oldest: Family<ActorLabels, Gauge<f64, AtomicU64>>,
    /// One scrape at a time rewrites the queue gauges.
    scrape: Mutex<()>,
}

static METRICS: LazyLock<Metrics> = LazyLock::new(|| {
    let mut registry = Registry::with_prefix("troupe");
    let tasks = Family::<TaskLabels, Counter>::default();
    registry.register("tasks", "Tasks that ended in this process's workers, by mode, actor and outcome", tasks.clone());
    let stages: Histograms<StageLabels> = Family::new_with_constructor(seconds);
    registry.register("stage_duration_seconds", "Stages from start to barrier, by mode and outcome", stages.clone());
    let calls: Histograms<CallLabels> = Family::new_with_constructor(seconds);
    registry.register("plugin_call_duration_seconds", "Plugin calls, by plugin and export", calls.clone());
    let faults = Family::<FaultLabels, Counter>::default();
    registry.register(
        "plugin_faults",
        "Plugin calls that failed in the sandbox (deadline and memory are limits hit), by plugin and kind",
        faults.clone(),
    );
    let reloads = Family::<OutcomeLabels, Counter>::default();
    registry.register("plugin_reloads", "Hot reloads of the plugins, applied or refused", reloads.clone());
    let queued = Family::<ActorLabels, Gauge>::default();
    registry.register("queue_depth", "Tasks waiting for an actor (ready or delayed), at the scrape", queued.clone());
    let oldest = Family::<ActorLabels, Gauge<f64, AtomicU64>>::default();
    registry.register(
        "queue_oldest_seconds",
        "How long the oldest ready task of an actor has waited, at the scrape",
        oldest.clone(),
    );
    Metrics { registry, tasks, stages, calls, faults, reloads, queued, oldest, scrape: Mutex::new(()) }
});

/// A task ended (or was requeued) in a worker of this process.
pub fn task_ended(mode: &str, actor: &str, outcome: &str) {
    let labels = TaskLabels { mode: mode.to_string(), actor: actor.to_string(), outcome: outcome.to_string() };
    METRICS.tasks.get_or_create(&labels).inc();
}

/// A stage's barrier tripped (or it failed) after `seconds`.
pub fn stage_ended(mode: &str, succeeded: bool, seconds: f64) {
    let outcome = if succeeded { "succeeded" } else { "failed" };
    METRICS.stages.get_or_create(&StageLabels { mode: mode.to_string(), outcome: outcome.into() }).observe(seconds);
}

/// A plugin call returned after `seconds`; `fault` is how it failed in the sandbox.
pub fn plugin_call(role: &str, name: &str, function: &str, seconds: f64, fault: Option<&str>) {
    let labels = CallLabels { role: role.to_string(), name: name.to_string(), function: function.to_string() };
    METRICS.calls.get_or_create(&labels).observe(seconds);
    if let Some(kind) = fault {
        let labels = FaultLabels { role: role.to_string(), name: name.to_string(), kind: kind.to_string() };
        METRICS.faults.get_or_create(&labels).inc();
    }
}

/// A hot reload was applied or refused.
pub fn reload(applied: bool) {
    let outcome = if applied { "applied" } else { "refused" };
    METRICS.reloads.get_or_create(&OutcomeLabels { outcome: outcome.into() }).inc();
}

/// One actor's queue at a scrape.
#[derive(Debug, Clone, PartialEq)]
pub struct ActorQueue {
    pub actor: String,
    /// Ready or delayed, not yet taken by a worker.
    pub waiting: u64,
    /// How long the oldest ready one has waited.
    pub oldest_seconds: f64,
}

/// The metrics in Prometheus's text format, with the queue gauges set from `queues`.
pub fn encode(queues: &[ActorQueue]) -> String {
    let _one = METRICS.scrape.lock().unwrap_or_else(|p| p.into_inner());
    METRICS.queued.clear();
    METRICS.oldest.clear();
    for q in queues {
        let labels = ActorLabels { actor: q.actor.clone() };
        METRICS.queued.get_or_create(&labels).set(q.waiting as i64);
        METRICS.oldest.get_or_create(&labels).set(q.oldest_seconds);
    }
    let mut text = String::new();
    // Writing to a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut text, &METRICS.registry);
    text
}
