//! The orchestrator's view of a run, turned into the server's: each stage's start,
//! progress and end updates the run's view and is published as an event.

use super::Service;
use crate::engine::{Engine, StageCounts};
use crate::orchestrator::Observer;
use crate::serve::events::Event;
use crate::serve::views::StageState;
use std::sync::Arc;
use std::time::Instant;

/// Keeps a run's view current and announces what happens to it.
pub(super) struct RunObserver<E: Engine> {
    pub(super) service: Arc<Service<E>>,
    pub(super) run_id: String,
}

impl<E: Engine> Observer for RunObserver<E> {
    fn run_started(&self, run_id: &str) {
        let mut registry = self.service.registry();
        if registry.runs.get(run_id).is_some_and(|e| e.cancel_requested) {
            let _ = self.service.engine.cancel_run(run_id);
        }
        let pipeline = registry.runs.get(run_id).map(|e| e.view.pipeline.clone()).unwrap_or_default();
        let event = Event::RunStarted { run_id: run_id.to_string(), pipeline };
        Service::<E>::publish(&mut registry, &self.service.all, event);
    }

    fn stage_started(&self, index: usize, stage: &str, mode: &str) {
        self.service.update_stage(&self.run_id, stage, |view, entry| {
            view.status = StageState::Running;
            view.started_ms = Some(entry.started.elapsed().as_millis() as u64);
            entry.stage_started.insert(stage.to_string(), Instant::now());
        });
        let mut registry = self.service.registry();
        let event = Event::StageStarted {
            run_id: self.run_id.clone(),
            stage: stage.to_string(),
            index,
            mode: mode.to_string(),
        };
        Service::<E>::publish(&mut registry, &self.service.all, event);
    }

    fn stage_progress(&self, stage: &str, counts: &StageCounts) {
        self.service.update_stage(&self.run_id, stage, |view, _| view.counts = counts.into());
        {
            let mut registry = self.service.registry();
            let event =
                Event::StageProgress { run_id: self.run_id.clone(), stage: stage.to_string(), counts: counts.into() };
            Service::<E>::publish(&mut registry, &self.service.all, event);
        }
        if counts.failed > 0 {
            self.service.announce_failures(&self.run_id, stage, counts.failed);
        }
    }

    fn stage_finished(&self, stage: &str, counts: &StageCounts, succeeded: bool) {
        if counts.failed > 0 {
            self.service.announce_failures(&self.run_id, stage, counts.failed);
        }
        self.service.update_stage(&self.run_id, stage, |view, entry| {
            view.counts = counts.into();
            view.status = if succeeded { StageState::Succeeded } else { StageState::Failed };
            view.duration_ms = entry.stage_started.get(stage).map(|at| at.elapsed().as_millis() as u64);
        });
        let mut registry = self.service.registry();
        let event = Event::StageEnded {
            run_id: self.run_id.clone(),
            stage: stage.to_string(),
            counts: counts.into(),
            succeeded,
        };
        Service::<E>::publish(&mut registry, &self.service.all, event);
    }
}
