//! The acker: workers report finished tasks here and go on at once; one thread sends the
//! reports to Redis, as many as have piled up, in one pipelined round trip.
//!
//! Why: a worker thread that waited for its own `troupe_v5_finish` reply spent most of each
//! task waiting (and the machine most of its time in syscalls). A report not yet sent
//! when the process dies is not lost: its delivery is still pending in the stream, so
//! another worker reclaims and reruns the task after the visibility timeout, and the
//! result is recorded once (`troupe_v5_finish` is exactly-once by task).

use super::conn::{function, Pool};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};

/// The most reports sent in one round trip.
const BATCH: usize = 512;

/// One task's outcome for `troupe_v5_finish`: the call's head (stage key, then base,
/// prefix, run, stage, actor) and the task's five values.
pub struct Report {
    pub head: [String; 6],
    pub task: [String; 5],
}

impl Report {
    /// The `troupe_v5_finish` call for `reports` (which share one head).
    pub fn call<'a>(head: &[String; 6], reports: impl IntoIterator<Item = &'a [String; 5]>) -> redis::Cmd {
        let mut call = redis::cmd("FCALL");
        call.arg(function::FINISH).arg(1).arg(&head[..]);
        for task in reports {
            call.arg(&task[..]);
        }
        call
    }
}

// Nearly every message is a report: boxing it would cost an allocation per task.
#[allow(clippy::large_enum_variant)]
enum Message {
    Finish(Report),
    /// Answered once everything sent before it is in Redis.
    Flush(Sender<()>),
}

pub struct Acker {
    tx: Mutex<Sender<Message>>,
}

impl Acker {
    /// `recorded` is notified after each batch is in Redis.
    pub fn start(pool: Arc<Pool>, recorded: Arc<tokio::sync::Notify>) -> Acker {
        let (tx, rx) = channel();
        std::thread::Builder::new()
            .name("troupe-acker".into())
            .spawn(move || run(&pool, rx, &recorded))
            .expect("cannot start the acker thread");
        Acker { tx: Mutex::new(tx) }
    }

    fn send(&self, message: Message) {
        let _ = self.tx.lock().unwrap_or_else(|p| p.into_inner()).send(message);
    }

    /// Queue a task's outcome.
    pub fn finish(&self, report: Report) {
        self.send(Message::Finish(report));
    }

    /// Wait until every report queued so far is in Redis.
    pub fn flush(&self) {
        let (tx, rx) = channel();
        self.send(Message::Flush(tx));
        let _ = rx.recv();
    }
}

fn run(pool: &Pool, rx: Receiver<Message>, recorded: &tokio::sync::Notify) {
    let mut calls: Vec<Report> = Vec::with_capacity(BATCH);
    let mut flushes = Vec::new();
    while let Ok(first) = rx.recv() {
        let mut next = Some(first);
        while let Some(message) = next.take() {
            match message {
                Message::Finish(call) => calls.push(call),
                Message::Flush(done) => flushes.push(done),
            }
            if calls.len() < BATCH {
                next = rx.try_recv().ok();
            }
        }
        send(pool, &calls);
        if !calls.is_empty() {
            recorded.notify_waiters();
        }
        calls.clear();
        for done in flushes.drain(..) {
            let _ = done.send(());
        }
    }
}

/// Send the reports, one `troupe_v5_finish` call per stage and actor, in one pipeline; if
/// Redis refuses one call, send each alone so the others still land.
fn send(pool: &Pool, reports: &[Report]) {
    if reports.is_empty() {
        return;
    }
    let mut groups: Vec<(&[String; 6], Vec<&[String; 5]>)> = Vec::new();
    for r in reports {
        match groups.iter_mut().find(|(head, _)| *head == &r.head) {
            Some((_, tasks)) => tasks.push(&r.task),
            None => groups.push((&r.head, vec![&r.task])),
        }
    }
    let calls: Vec<redis::Cmd> = groups.into_iter().map(|(head, tasks)| Report::call(head, tasks)).collect();
    let mut pipe = redis::pipe();
    for call in &calls {
        pipe.add_command(call.clone()).ignore();
    }
    if pool.with(|c| pipe.query::<()>(c)).is_ok() {
        return;
    }
    for call in &calls {
        if let Err(e) = pool.with(|c| call.query::<redis::Value>(c)) {
            eprintln!("troupe worker: a task's result was not recorded (it will run again): {e:#}");
        }
    }
}
