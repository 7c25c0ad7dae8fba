//! The enqueuer: an executor's `enqueue` calls hand their batch to this thread and
//! return, so the executor builds its next batch while Redis stores the last one. Batches
//! of one process go out in order on one connection; `seal_stage` waits for them and
//! reports a batch Redis refused.
//!
//! Why: a 100,000-item scatter is 100 `troupe_v5_enqueue` calls; sent one by one, the
//! executor waited for Redis's Lua time on each (about a third of the stage start).

use super::conn::Pool;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};

enum Job {
    Send(redis::Pipeline),
    /// Answered with the first error since the last flush, once every batch before it
    /// was sent.
    Flush(Sender<Option<String>>),
}

pub struct Enqueuer {
    tx: Mutex<Sender<Job>>,
}

impl Enqueuer {
    pub fn start(pool: Arc<Pool>) -> Enqueuer {
        let (tx, rx) = channel();
        std::thread::Builder::new()
            .name("troupe-enqueuer".into())
            .spawn(move || run(&pool, rx))
            .expect("cannot start the enqueuer thread");
        Enqueuer { tx: Mutex::new(tx) }
    }

    pub fn send(&self, batch: redis::Pipeline) {
        let _ = self.tx.lock().unwrap_or_else(|p| p.into_inner()).send(Job::Send(batch));
    }

    /// Wait until every batch handed over so far is in Redis; the first error, if any.
    pub fn flush(&self) -> Option<String> {
        let (tx, rx) = channel();
        let _ = self.tx.lock().unwrap_or_else(|p| p.into_inner()).send(Job::Flush(tx));
        rx.recv().unwrap_or_else(|_| Some("the enqueuer thread stopped".into()))
    }
}

fn run(pool: &Pool, rx: Receiver<Job>) {
    let mut failed: Option<String> = None;
    for job in rx {
        match job {
            Job::Send(batch) => {
                if let Err(e) = pool.with(|c| batch.query::<()>(c)) {
                    failed.get_or_insert_with(|| format!("{e:#}"));
                }
            }
            Job::Flush(done) => {
                let _ = done.send(failed.take());
            }
        }
    }
}
