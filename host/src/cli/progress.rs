//! Live progress per stage on the terminal (indicatif), or one line per finished stage
//! when stderr is not a terminal (CI logs, pipes).
//!
//! Only running stages have a bar: a finished stage's bar is taken out and replaced by its
//! line. indicatif redraws every bar it holds on each tick, so keeping finished bars made
//! a run of N stages cost O(N^2) on a terminal (3,000 stages: 3.0 s of CPU instead of 0.5).
//! Stage names come from the pipeline file, so they are shown escaped (`troupe::text`).

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use troupe::engine::{StageCounts, Unread};
use troupe::orchestrator::Observer;

pub struct Progress {
    bars: Option<MultiProgress>,
    stages: Mutex<HashMap<String, ProgressBar>>,
    /// When each (stage, actor) was last said to be unread: said again every
    /// [`UNREAD_REPEAT`], not every check.
    unread_said: Mutex<HashMap<(String, String), Instant>>,
}

/// How often a stage still waiting on unread tasks is said again.
const UNREAD_REPEAT: Duration = Duration::from_secs(30);

/// The line for tasks no worker reads.
pub fn unread_line(stage: &str, u: &Unread) -> String {
    let whom = if u.actor == "hooks" {
        "the run's hook work (no troupe process that loads the stage's mode is running)".to_string()
    } else {
        format!("actor `{}`", shown(&u.actor))
    };
    format!(
        "stage {}: {} task(s) for {whom} have waited {} s with no worker reading them; start a worker that serves it \
         (`troupe worker`, or your own for an external actor)",
        shown(stage),
        u.waiting,
        u.oldest_ms / 1000
    )
}

impl Progress {
    pub fn new() -> Self {
        let bars =
            std::io::stderr().is_terminal().then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
        Progress { bars, stages: Mutex::default(), unread_said: Mutex::default() }
    }

    fn style() -> ProgressStyle {
        ProgressStyle::with_template("{prefix:>24.bold} [{bar:32.cyan/blue}] {pos}/{len} {msg} {elapsed}")
            .expect("a valid template")
            .progress_chars("=> ")
    }
}

/// A stage's or mode's name, safe for the terminal and at most a line.
fn shown(name: &str) -> String {
    troupe::text::one_line(name, 200)
}

fn message(counts: &StageCounts) -> String {
    let mut parts = Vec::new();
    if counts.failed > 0 {
        parts.push(format!("{} failed", counts.failed));
    }
    if counts.skipped > 0 {
        parts.push(format!("{} skipped", counts.skipped));
    }
    if counts.in_flight > 0 {
        parts.push(format!("{} running", counts.in_flight));
    }
    if counts.waiting > 0 {
        parts.push(format!("{} waiting", counts.waiting));
    }
    parts.join(", ")
}

impl Observer for Progress {
    fn run_started(&self, run_id: &str) {
        eprintln!("run {run_id}");
    }

    fn stage_started(&self, _index: usize, stage: &str, mode: &str) {
        if let Some(bars) = &self.bars {
            let prefix = format!("{} ({})", shown(stage), shown(mode));
            let bar = bars.add(ProgressBar::new(0).with_style(Self::style()).with_prefix(prefix));
            self.stages.lock().unwrap().insert(stage.to_string(), bar);
        }
    }

    fn stage_progress(&self, stage: &str, counts: &StageCounts) {
        if let Some(bar) = self.stages.lock().unwrap().get(stage) {
            bar.set_length(counts.expected.unwrap_or(counts.enqueued));
            bar.set_position(counts.ended());
            bar.set_message(message(counts));
        }
    }

    fn stage_unread(&self, stage: &str, unread: &[Unread]) {
        let mut said = self.unread_said.lock().unwrap();
        for u in unread {
            let key = (stage.to_string(), u.actor.clone());
            if said.get(&key).is_some_and(|at| at.elapsed() < UNREAD_REPEAT) {
                continue;
            }
            said.insert(key, Instant::now());
            let line = unread_line(stage, u);
            match &self.bars {
                Some(bars) if bars.println(&line).is_ok() => {}
                _ => eprintln!("{line}"),
            }
        }
    }

    fn stage_finished(&self, stage: &str, counts: &StageCounts, succeeded: bool) {
        let done = counts.ended();
        let expected = counts.expected.unwrap_or(0);
        let skipped = if counts.skipped > 0 { format!(", {} skipped", counts.skipped) } else { String::new() };
        let line = format!(
            "stage {}: {done}/{expected} tasks done, {} failed{skipped}{}",
            shown(stage),
            counts.failed,
            if succeeded { "" } else { " (stage failed)" }
        );
        let bar = self.stages.lock().unwrap().remove(stage);
        match (&self.bars, bar) {
            (Some(bars), Some(bar)) => {
                bar.finish_and_clear();
                bars.remove(&bar);
                if bars.println(&line).is_err() {
                    eprintln!("{line}");
                }
            }
            _ => eprintln!("{line}"),
        }
    }
}
