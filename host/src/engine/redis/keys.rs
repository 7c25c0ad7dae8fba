//! Where everything lives in Redis. Every key of a run carries the run id as a hash tag
//! (`<prefix>:{<run>}:...`), so one run's keys share a Redis Cluster slot and each
//! function call touches one slot. docs/redis-protocol.md describes each key.

/// The consumer group every actor stream has.
pub const GROUP: &str = "workers";

/// The key names under one prefix (`troupe` unless told otherwise).
#[derive(Debug, Clone)]
pub struct Keys {
    prefix: String,
}

impl Keys {
    pub fn new(prefix: &str) -> Keys {
        Keys { prefix: prefix.to_string() }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The set of runs workers should serve (not run-tagged: it spans runs).
    pub fn active_runs(&self) -> String {
        format!("{}:runs", self.prefix)
    }

    /// A stream with an entry per run started or ended, so idle workers wake at once.
    pub fn run_events(&self) -> String {
        format!("{}:runs:events", self.prefix)
    }

    /// The latest runs started (up to 10,000), newest last (for `troupe status` without a
    /// run id).
    pub fn all_runs(&self) -> String {
        format!("{}:runs:all", self.prefix)
    }

    /// A plugin's state key (shared by every run and host).
    pub fn state(&self, namespace: &str, key: &str) -> String {
        format!("{}:state:{namespace}:{key}", self.prefix)
    }

    /// A namespace's live state keys, scored by expiry (what holds it to `state-keys`).
    pub fn state_index(&self, namespace: &str) -> String {
        format!("{}:state-index:{namespace}", self.prefix)
    }

    /// A namespace's state key -> bytes of key plus value.
    pub fn state_sizes(&self, namespace: &str) -> String {
        format!("{}:state-sizes:{namespace}", self.prefix)
    }

    /// A namespace's total of those bytes (what holds it to `state-bytes`).
    pub fn state_bytes(&self, namespace: &str) -> String {
        format!("{}:state-bytes:{namespace}", self.prefix)
    }

    /// What every key of `run` starts with.
    pub fn base(&self, run: &str) -> String {
        format!("{}:{{{run}}}", self.prefix)
    }

    /// The run's hash: pipeline, status, current stage, context version.
    pub fn run(&self, run: &str) -> String {
        format!("{}:run", self.base(run))
    }

    /// The run's context: a hash of its top-level keys (`trigger`, then one per finished
    /// stage), each value JSON text, so that a stage's output is written alone.
    pub fn context(&self, run: &str) -> String {
        format!("{}:ctx", self.base(run))
    }

    /// The orchestrator's lease on the run.
    pub fn lease(&self, run: &str) -> String {
        format!("{}:lease", self.base(run))
    }

    pub fn delayed(&self, run: &str) -> String {
        format!("{}:delayed", self.base(run))
    }

    /// A stage's hash: info, execution, counters.
    pub fn stage(&self, run: &str, stage: &str) -> String {
        format!("{}:st:{stage}", self.base(run))
    }

    pub fn tasks(&self, run: &str, stage: &str) -> String {
        format!("{}:tasks:{stage}", self.base(run))
    }

    pub fn results(&self, run: &str, stage: &str) -> String {
        format!("{}:res:{stage}", self.base(run))
    }

    pub fn stragglers(&self, run: &str, stage: &str) -> String {
        format!("{}:strag:{stage}", self.base(run))
    }

    pub fn history(&self, run: &str, stage: &str) -> String {
        format!("{}:hist:{stage}", self.base(run))
    }

    /// The stream of `actor`'s tasks in `run`.
    pub fn queue(&self, run: &str, actor: &str) -> String {
        format!("{}:q:{actor}", self.base(run))
    }

    /// The run's hooks stream: released tasks of stages with `before-task` to admit, and
    /// outcomes of stages with `after-task` to review, for hook hosts (never workers).
    pub fn hooks(&self, run: &str) -> String {
        format!("{}:hooks", self.base(run))
    }

    /// The tasks a stage holds back while `maxParallel` are in flight (a list of indices).
    pub fn held(&self, run: &str, stage: &str) -> String {
        format!("{}:held:{stage}", self.base(run))
    }

    /// Extensions reviewed before the stage was sealed (a list of their JSON), added by
    /// `troupe_v5_seal`.
    pub fn grow(&self, run: &str, stage: &str) -> String {
        format!("{}:grow:{stage}", self.base(run))
    }

    /// How many times each task of a stage was deferred (a hash by index).
    pub fn deferrals(&self, run: &str, stage: &str) -> String {
        format!("{}:deferrals:{stage}", self.base(run))
    }

    /// Every key `run` can have, given its stage names and the actors with a stream (what
    /// retention expires). The functions in `troupe.lua` build the same names.
    pub fn run_keys<'a>(
        &self,
        run: &str,
        stages: impl IntoIterator<Item = &'a str>,
        actors: impl IntoIterator<Item = &'a str>,
    ) -> Vec<String> {
        let base = self.base(run);
        let mut keys: Vec<String> =
            ["run", "ctx", "lease", "delayed", "hooks"].iter().map(|k| format!("{base}:{k}")).collect();
        for stage in stages {
            for kind in ["st", "tasks", "in", "res", "strag", "hist", "held", "deferrals", "grow"] {
                keys.push(format!("{base}:{kind}:{stage}"));
            }
        }
        keys.extend(actors.into_iter().map(|a| self.queue(run, a)));
        keys
    }
}

#[cfg(test)]
mod tests {
    use super::Keys;

    #[test]
    fn run_keys_share_a_hash_tag() {
        let k = Keys::new("t");
        assert_eq!(k.stage("r1", "fan-out"), "t:{r1}:st:fan-out");
        assert_eq!(k.queue("r1", "Pass"), "t:{r1}:q:Pass");
        assert_eq!(k.state("mode:retry", "n"), "t:state:mode:retry:n");
    }
}
