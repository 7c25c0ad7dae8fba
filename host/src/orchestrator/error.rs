//! Why a run failed, in words that name the stage, its failed tasks and their errors
//! (a stage's own failure, [`StageFailure`], is one of the stage rules: `rules::failure`).

use crate::pipeline::StageProblem;
pub use crate::rules::failure::StageFailure;

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The pipeline did not validate; nothing ran.
    #[error("{}", invalid(.0))]
    Invalid(Vec<StageProblem>),
    /// A stage failed; the run stopped there.
    #[error("run {run_id}: stage {stage} failed: {reason}")]
    StageFailed { run_id: String, stage: String, reason: StageFailure },
    /// The caller's run id cannot name a run ([`super::run_id_problem`]); nothing ran.
    #[error("{0}")]
    BadRunId(String),
    /// The engine failed (a bug, or a lost store).
    #[error("engine error: {0:#}")]
    Engine(anyhow::Error),
    /// Another orchestrator holds the run (`troupe resume` while it is still driven).
    #[error("run {run_id} is being driven by another orchestrator ({holder}); try again when it has stopped")]
    Busy { run_id: String, holder: String },
    /// `troupe resume` of a run that already ended.
    #[error("run {run_id} already ended: {status}")]
    Ended { run_id: String, status: String },
    /// The run was cancelled ([`crate::engine::Engine::cancel_run`]) while this
    /// orchestrator drove it: it stopped at once.
    #[error("run {run_id} was cancelled")]
    Cancelled { run_id: String },
}

fn invalid(problems: &[StageProblem]) -> String {
    let mut out =
        format!("the pipeline is invalid ({} problem{}):", problems.len(), if problems.len() == 1 { "" } else { "s" });
    for p in problems {
        out.push_str(&format!("\n  {p}"));
    }
    out
}

impl RunError {
    /// The failed stage's reason, when a stage failed.
    pub fn stage_failure(&self) -> Option<(&str, &StageFailure)> {
        match self {
            RunError::StageFailed { stage, reason, .. } => Some((stage, reason)),
            _ => None,
        }
    }

    /// The run, when it had started.
    pub fn run_id(&self) -> Option<&str> {
        match self {
            RunError::StageFailed { run_id, .. } => Some(run_id),
            _ => None,
        }
    }
}
