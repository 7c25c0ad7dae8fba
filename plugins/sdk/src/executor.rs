//! The [`Executor`] trait: one method per export of the `stage-executor` interface, all
//! but `execute` defaulted, so a simple pattern is a dozen lines.

use crate::bindings::types as wit;
use crate::stage::Stage;
use serde_json::Value;

pub use wit::{Admission, OutputShape, Problem, TaskRef, Verdict};

/// Why an executor call failed (WIT `executor-error`).
pub use wit::ExecutorError;

/// A stage orchestration pattern. Every method is called on a fresh instance: keep
/// nothing in statics between calls; use [`crate::state`] for what must persist.
pub trait Executor {
    /// The mode name shown in listings and errors (`scatter`).
    const NAME: &'static str;

    /// Every problem in the stage definition, each naming its field. The default
    /// accepts everything.
    fn validate(_stage: &Stage) -> Vec<Problem> {
        Vec::new()
    }

    /// Called once per run before any stage starts: ask for an early start or for the
    /// per-task hooks here. The default asks for nothing.
    fn plan(_stage: &Stage) -> Result<Plan, ExecutorError> {
        Ok(Plan::default())
    }

    /// Start the stage: enqueue its tasks and say how many the barrier waits for.
    fn execute(stage: &Stage) -> Result<Execution, ExecutorError>;

    /// Called before each task reaches its actor, when [`Plan::before_task`] is set.
    fn before_task(_stage: &Stage, _task: &TaskRef) -> Admission {
        Admission::Run
    }

    /// Called when each task ends, when [`Plan::after_task`] is set.
    fn after_task(_stage: &Stage, _task: &TaskRef, _outcome: &Outcome) -> Verdict {
        Verdict::Accept
    }
}

/// What `execute` returns (WIT `execution`).
#[derive(Debug, Clone, PartialEq)]
pub struct Execution {
    pub expected_tasks: u64,
    pub metadata: Option<Value>,
    pub output: OutputShape,
    pub detached: bool,
}

impl Execution {
    /// `expected_tasks` tasks whose results form an output of `output` shape, no hooks.
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

impl Problem {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Problem { field: field.into(), message: message.into() }
    }
}

impl ExecutorError {
    pub fn fatal(message: impl std::fmt::Display) -> Self {
        ExecutorError::Fatal(message.to_string())
    }

    pub fn retryable(message: impl std::fmt::Display) -> Self {
        ExecutorError::Retryable(message.to_string())
    }
}

#[doc(hidden)]
pub mod __private {
    //! Glue the export macro expands to; not part of the API.
    use super::*;

    fn stage(s: wit::Stage) -> Stage {
        crate::panic::install_hook();
        Stage::from_wit(s)
    }

    pub fn name<E: Executor>() -> String {
        crate::panic::install_hook();
        E::NAME.to_string()
    }

    pub fn validate<E: Executor>(s: wit::Stage) -> Vec<Problem> {
        let s = stage(s);
        match s.parse_error() {
            Some(problem) => vec![problem],
            None => E::validate(&s),
        }
    }

    pub fn plan<E: Executor>(s: wit::Stage) -> Result<wit::StagePlan, ExecutorError> {
        let s = stage(s);
        s.ensure_parsed()?;
        E::plan(&s).map(Into::into)
    }

    pub fn execute<E: Executor>(s: wit::Stage) -> Result<wit::Execution, ExecutorError> {
        let s = stage(s);
        s.ensure_parsed()?;
        E::execute(&s).map(Into::into)
    }

    pub fn before_task<E: Executor>(s: wit::Stage, task: TaskRef) -> Admission {
        E::before_task(&stage(s), &task)
    }

    pub fn after_task<E: Executor>(s: wit::Stage, task: TaskRef, outcome: wit::Outcome) -> Verdict {
        let outcome = match outcome {
            wit::Outcome::Succeeded(json) => match serde_json::from_str(&json) {
                Ok(v) => Outcome::Succeeded(v),
                Err(e) => Outcome::Failed(format!("the host sent a result that is not JSON: {e}")),
            },
            wit::Outcome::Failed(message) => Outcome::Failed(message),
        };
        E::after_task(&stage(s), &task, &outcome)
    }
}

/// Export a type implementing [`Executor`] as this component's `stage-executor`.
#[macro_export]
macro_rules! export_executor {
    ($ty:ty) => {
        #[doc(hidden)]
        pub struct __TroupeExecutorExport;

        impl $crate::bindings::exports::troupe::executor::stage_executor::Guest for __TroupeExecutorExport {
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

        $crate::bindings::__export_executor_world!(__TroupeExecutorExport with_types_in $crate::bindings);
    };
}
