//! The options every command that can use Redis takes.

use clap::Args;
use std::time::Duration;
use troupe::engine::{RedisEngine, RedisOptions, MAX_RETAIN};
use troupe::Manifest;

/// `--retain-hours` at most: the engine's longest retention, refused when parsed (before
/// anything runs) rather than when the run ends.
const MAX_RETAIN_HOURS: u64 = MAX_RETAIN.as_secs() / 3600;

#[derive(Args, Clone)]
pub struct RedisArgs {
    /// Keep the run's state and queues in Redis (`redis://host:port/db`), so workers on
    /// other machines serve it and `troupe resume` can carry it on.
    #[arg(long, env = "TROUPE_REDIS")]
    pub redis: Option<String>,
    /// What every Redis key starts with.
    #[arg(long, env = "TROUPE_REDIS_PREFIX", default_value = "troupe")]
    pub redis_prefix: String,
    /// How long (ms) a task may stay taken by a worker before another worker takes it
    /// over (the first is presumed dead). Make it longer than your longest task.
    #[arg(long, default_value_t = 60_000)]
    pub visibility_timeout_ms: u64,
    /// How long (hours) an ended run's state stays in Redis for `troupe status`; 0 keeps
    /// it forever; at most 87600 (ten years).
    #[arg(long, env = "TROUPE_RETAIN_HOURS", default_value_t = 168,
          value_parser = clap::value_parser!(u64).range(0..=MAX_RETAIN_HOURS))]
    pub retain_hours: u64,
}

impl RedisArgs {
    pub fn options(&self, url: &str, serve: Option<Vec<String>>, prefetch: usize) -> RedisOptions {
        RedisOptions {
            prefix: self.redis_prefix.clone(),
            visibility_timeout: Duration::from_millis(self.visibility_timeout_ms),
            serve,
            prefetch: prefetch.max(1),
            retain: (self.retain_hours > 0).then(|| Duration::from_secs(self.retain_hours * 3600)),
            ..RedisOptions::new(url)
        }
    }

    /// Connect to the Redis these options name (which must be given).
    pub fn connect(
        &self,
        manifest: &Manifest,
        serve: Option<Vec<String>>,
        prefetch: usize,
    ) -> anyhow::Result<RedisEngine> {
        let url =
            self.redis.as_deref().ok_or_else(|| anyhow::anyhow!("this command needs --redis URL (or TROUPE_REDIS)"))?;
        let external = manifest.external_actors();
        if let Some(named) = serve.iter().flatten().find(|a| external.contains(a)) {
            anyhow::bail!(
                "actor `{named}` is external in {} (`external = true`): a worker of your own serves it, not troupe",
                manifest.file.display()
            );
        }
        let actors = manifest.actors.keys().map(|a| a.to_string());
        let options = RedisOptions { external, ..self.options(url, serve, prefetch) };
        RedisEngine::connect(&options, actors, super::log_level())
    }
}
