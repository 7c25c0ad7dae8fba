//! The [`Executor`] trait: one method per export of the `stage-executor` interface, all
//! but `execute` defaulted, so a simple pattern is a dozen lines. Each method gets the
//! stage and its configuration, parsed once per call as the executor's own
//! [`Executor::Config`] type.

use crate::bindings::types as wit;
use crate::stage::Stage;
use serde::de::DeserializeOwned;
use serde_json::Value;

pub use crate::error::{ExecutorError, Problem};
pub use wit::{Admission, OutputShape, TaskRef, Verdict};

/// A stage orchestration pattern. Every method is called on a fresh instance: keep
/// nothing in statics between calls; use [`crate::state`] for what must persist.
pub trait Executor {
    /// The mode name shown in listings and errors (`scatter`).
    const NAME: &'static str;

    /// The stage's `executorConfig` (laid over the manifest's defaults), as this type.
    /// The keys the host reads itself (`toleratedFailures`, `toleratedFailurePercent`)
    /// are removed first, so it may `deny_unknown_fields`. A config that does not
    /// deserialize is reported by `validate` (a problem per bad field, named
    /// `executorConfig.<path>`) and fails `plan` and `execute` with the same words; the
    /// methods below only ever see a parsed one. [`crate::IgnoredAny`] takes any config.
    type Config: DeserializeOwned;

    /// Every problem in the stage definition, each naming its field, beyond those of the
    /// config's type (already reported). With some config fields bad, `config` holds the
    /// others and defaults for the bad ones. The default accepts everything.
    fn validate(_stage: &Stage, _config: &Self::Config) -> Vec<Problem> {
        Vec::new()
    }

    /// Called once per run before any stage starts: ask for an early start or for the
    /// per-task hooks here. The default asks for nothing.
    fn plan(_stage: &Stage, _config: &Self::Config) -> Result<Plan, ExecutorError> {
        Ok(Plan::default())
    }

    /// Start the stage: enqueue its tasks and say how many the barrier waits for.
    fn execute(stage: &Stage, config: &Self::Config) -> Result<Execution, ExecutorError>;

    /// Called before each task reaches its actor, when [`Plan::before_task`] is set.
    fn before_task(_stage: &Stage, _config: &Self::Config, _task: &TaskRef) -> Admission {
        Admission::Run
    }

    /// Called when each task ends, when [`Plan::after_task`] is set. It may grow the
    /// stage with [`crate::queue::extend`]; the tasks are added when it returns
    /// [`Verdict::Accept`].
    fn after_task(_stage: &Stage, _config: &Self::Config, _task: &TaskRef, _outcome: &Outcome) -> Verdict {
        Verdict::Accept
    }
}

/// What `execute` returns (WIT `execution`).
#[derive(Debug, Clone, PartialEq)]
pub struct Execution {
    /// How many tasks `execute` enqueued: what the barrier waits for (extensions add to it).
    pub expected_tasks: u64,
    /// Recorded with the stage; the output for [`OutputShape::Metadata`] or zero tasks.
    pub metadata: Option<Value>,
    pub output: OutputShape,
    /// Trip the barrier at once and let the tasks run on.
    pub detached: bool,
}

impl Execution {
    /// `expected_tasks` tasks whose results form an output of `output` shape.
    pub fn new(expected_tasks: u64, output: OutputShape) -> Self {
        Self { expected_tasks, metadata: None, output, detached: false }
    }

    pub fn with_metadata(mut self, metadata: Value) -> Self {
        self.metadata = Some(metadata);
        self
    }

    /// Trip the barrier at once; the tasks run on (broadcast `waitForAll: false`).
    pub fn detached(mut self) -> Self {
        self.detached = true;
        self
    }
}

impl From<Execution> for wit::Execution {
    fn from(e: Execution) -> Self {
        wit::Execution {
            expected_tasks: e.expected_tasks,
            metadata: e.metadata.map(|m| m.to_string()),
            output: e.output,
            detached: e.detached,
        }
    }
}

/// What `plan` returns (WIT `stage-plan`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    pub early_start: Option<EarlyStart>,
    /// Call [`Executor::before_task`] before each task of the stage reaches its actor.
    pub before_task: bool,
    /// Call [`Executor::after_task`] when each task of the stage ends.
    pub after_task: bool,
}

impl Plan {
    pub fn with_before_task(mut self) -> Self {
        self.before_task = true;
        self
    }

    pub fn with_after_task(mut self) -> Self {
        self.after_task = true;
        self
    }
}

/// Start before the preceding stage finished (WIT `early-start`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EarlyStart {
    pub after_ms: u64,
    pub min_results: u64,
}

impl From<Plan> for wit::StagePlan {
    fn from(p: Plan) -> Self {
        let mut hooks = wit::Hooks::empty();
        hooks.set(wit::Hooks::BEFORE_TASK, p.before_task);
        hooks.set(wit::Hooks::AFTER_TASK, p.after_task);
        wit::StagePlan {
            early_start: p.early_start.map(|e| wit::EarlyStart { after_ms: e.after_ms, min_results: e.min_results }),
            hooks,
        }
    }
}

/// How a task ended, with its result parsed.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Succeeded(Value),
    Failed(String),
}

#[doc(hidden)]
pub mod __private {
    //! Glue the export macro expands to; not part of the API.
    use super::*;

    fn stage(s: wit::Stage) -> Stage {
        crate::panic::install_hook();
        Stage::from_wit(s)
    }

    /// The stage and its config, or why the host's stage cannot be read.
    fn parsed<E: Executor>(s: wit::Stage) -> Result<(Stage, E::Config), ExecutorError> {
        let s = stage(s);
        s.ensure_parsed()?;
        let config = s.config::<E::Config>()?;
        Ok((s, config))
    }

    pub fn name<E: Executor>() -> String {
        crate::panic::install_hook();
        E::NAME.to_string()
    }

    pub fn validate<E: Executor>(s: wit::Stage) -> Vec<Problem> {
        let s = stage(s);
        if let Some(problem) = s.parse_error() {
            return vec![problem];
        }
        let (config, parse_problems) = s.config_checked::<E::Config>();
        let Some(config) = config else { return parse_problems };
        // A field the config's type already found bad is not reported twice. Order: the
        // stage's fields, then its config (the type's problems before the executor's).
        let (config_problems, stage_problems): (Vec<Problem>, Vec<Problem>) = E::validate(&s, &config)
            .into_iter()
            .filter(|p| !parse_problems.iter().any(|found| found.field == p.field))
            .partition(|p| p.field.starts_with("executorConfig"));
        stage_problems.into_iter().chain(parse_problems).chain(config_problems).collect()
    }

    pub fn plan<E: Executor>(s: wit::Stage) -> Result<wit::StagePlan, ExecutorError> {
        let (s, config) = parsed::<E>(s)?;
        E::plan(&s, &config).map(Into::into)
    }

    pub fn execute<E: Executor>(s: wit::Stage) -> Result<wit::Execution, ExecutorError> {
        let (s, config) = parsed::<E>(s)?;
        E::execute(&s, &config).map(Into::into)
    }

    pub fn before_task<E: Executor>(s: wit::Stage, task: TaskRef) -> Admission {
        match parsed::<E>(s) {
            Ok((s, config)) => E::before_task(&s, &config, &task),
            // `plan` and `execute` failed on the same config already; say why here too
            // rather than let the task through unexamined.
            Err(e) => Admission::Reject(e.message().to_string()),
        }
    }

    pub fn after_task<E: Executor>(s: wit::Stage, task: TaskRef, outcome: wit::Outcome) -> Verdict {
        let outcome = match outcome {
            wit::Outcome::Succeeded(json) => match serde_json::from_str(&json) {
                Ok(v) => Outcome::Succeeded(v),
                Err(e) => Outcome::Failed(format!("the host sent a result that is not JSON: {e}")),
            },
            wit::Outcome::Failed(message) => Outcome::Failed(message),
        };
        match parsed::<E>(s) {
            Ok((s, config)) => E::after_task(&s, &config, &task, &outcome),
            Err(e) => {
                // The verdict cannot carry an error: record the outcome as it is and say
                // why the hook did not look at it.
                crate::log::error(&format!("after-task of task {} not reviewed: {}", task.index, e.message()));
                Verdict::Accept
            }
        }
    }
}

/// Export a type implementing [`Executor`] as this component's `stage-executor`.
#[macro_export]
macro_rules! export_executor {
    ($ty:ty) => {
        #[doc(hidden)]
        pub struct __TroupeExecutorExport;

        impl $crate::bindings::executor_world::exports::troupe::executor::stage_executor::Guest
            for __TroupeExecutorExport
        {
            fn name() -> String {
                $crate::__private::name::<$ty>()
            }
            fn validate(stage: $crate::bindings::types::Stage) -> Vec<$crate::Problem> {
                $crate::__private::validate::<$ty>(stage)
            }
            fn plan(
                stage: $crate::bindings::types::Stage,
            ) -> Result<$crate::bindings::types::StagePlan, $crate::ExecutorError> {
                $crate::__private::plan::<$ty>(stage)
            }
            fn execute(
                stage: $crate::bindings::types::Stage,
            ) -> Result<$crate::bindings::types::Execution, $crate::ExecutorError> {
                $crate::__private::execute::<$ty>(stage)
            }
            fn before_task(stage: $crate::bindings::types::Stage, task: $crate::TaskRef) -> $crate::Admission {
                $crate::__private::before_task::<$ty>(stage, task)
            }
            fn after_task(
                stage: $crate::bindings::types::Stage,
                task: $crate::TaskRef,
                outcome: $crate::bindings::types::Outcome,
            ) -> $crate::Verdict {
                $crate::__private::after_task::<$ty>(stage, task, outcome)
            }
        }

        $crate::bindings::executor_world::__export_executor_world!(
            __TroupeExecutorExport with_types_in $crate::bindings::executor_world
        );
    };
}
