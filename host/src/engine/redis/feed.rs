//! The feed: one thread per process that keeps a small buffer of tasks for the local
//! workers, and of hook work for the local hook host. It reads the actor streams (when
//! this process has workers) and the hooks streams (when it hosts hooks) of every active
//! run with one `XREADGROUP`,
//! reclaims deliveries a dead worker left pending (`XAUTOCLAIM` after the visibility
//! timeout), and moves due delayed tasks to their streams.
//!
//! Why a thread and a buffer: worker threads then take tasks without a round trip each,
//! and one blocking read serves every stream, however many workers wait.

use super::codec;
use super::conn::{self, function, Pool};
use super::keys::{Keys, GROUP};
use super::poison;
use crate::engine::{HookWork, Receipt, TaskEnvelope};
use redis::streams::{StreamAutoClaimReply, StreamReadReply};
use redis::Connection;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::Notify;

/// How long one `XREADGROUP` blocks at most (the feed also promotes and reclaims between
/// reads).
const BLOCK: Duration = Duration::from_millis(20);
/// The active runs are read again when their version changes, and at least this often.
const REFRESH_RUNS: Duration = Duration::from_secs(2);
/// While busy, how often the feed looks for runs that started.
const LOOK_EVERY: Duration = Duration::from_millis(50);

pub fn wall_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

pub struct Feed {
    pub pool: Arc<Pool>,
    pub keys: Keys,
    pub consumer: String,
    /// The actors this process serves (None: every actor a run names).
    pub serve: Option<HashSet<String>>,
    /// Actors never read here (external: a worker of the user's own serves them).
    pub external: HashSet<String>,
    /// Tasks kept ready in the buffer at most.
    pub prefetch: usize,
    pub visibility: Duration,
    pub buffer: Mutex<VecDeque<TaskEnvelope>>,
    /// Wakes workers: tasks arrived.
    pub ready: Notify,
    /// Hook work taken for the local hook host.
    pub hook_buffer: Mutex<VecDeque<HookWork>>,
    /// Wakes the hook host: hook work arrived.
    pub hook_ready: Notify,
    /// Whether this process has actor workers (they asked for a task) and a hook host:
    /// which streams the feed reads.
    pub serve_actors: AtomicBool,
    pub serve_hooks: AtomicBool,
    /// Wakes the feed: the buffer has room again.
    pub room: Condvar,
    /// Deliveries taken by a worker and not yet reported, by stream: the feed keeps them
    /// claimed (a heartbeat), so a task that runs longer than the visibility timeout is
    /// not taken over while its worker is alive.
    pub running: Mutex<HashMap<String, HashSet<String>>>,
    pub stop: AtomicBool,
    /// When the earliest task this process requeued with a delay is due (wall ms;
    /// `u64::MAX`: none), so the feed promotes it then rather than at its next refresh
    /// (up to 2 s late: a hook's 10 ms retry took 2 s a try).
    pub requeued_due: AtomicU64,
    /// Set when this process started or ended a run: the feed looks for runs at its next
    /// turn rather than at its next look (`LOOK_EVERY` while busy: a run submitted to a
    /// busy `troupe serve --redis` waited that long for its first task to be read).
    pub look_now: AtomicBool,
    /// The Redis client id of the connection the feed blocks on in `XREADGROUP` (0: not
    /// connected yet), so that a run started here can cut the block short
    /// ([`Feed::wake`]).
    pub reader_id: AtomicU64,
}

impl Feed {
    /// Look for runs at the next turn, and cut short the read the feed may be blocked in
    /// (`CLIENT UNBLOCK`): a run started here is read at once rather than after the
    /// block (up to `BLOCK` while the feed waits on other runs' streams). Best effort: a
    /// Redis that refuses `CLIENT UNBLOCK` (an ACL) costs the block, as before.
    pub fn wake(&self) {
        self.look_now.store(true, Ordering::Relaxed);
        let id = self.reader_id.load(Ordering::Relaxed);
        if id != 0 {
            let _ = self.pool.with(|c| redis::cmd("CLIENT").arg("UNBLOCK").arg(id).query::<i64>(c));
        }
    }

    /// The next buffered task, marked running before it leaves the buffer: a reclaim
    /// looking between the two (`holds`) would otherwise take this process's own delivery
    /// again (the `still_ours` check below is a Redis round trip, a window that grows
    /// under load) and the task would run twice here.
    pub fn take(&self) -> Option<TaskEnvelope> {
        loop {
            let mut buffer = self.buffer.lock().unwrap_or_else(|p| p.into_inner());
            let task = buffer.pop_front();
            if let Some(t) = &task {
                self.started(&t.receipt);
            }
            if task.is_some() && buffer.len() <= self.prefetch / 2 {
                self.room.notify_one();
            }
            drop(buffer);
            match task {
                Some(t) if !self.still_ours(&t.receipt) => self.ended(&t.receipt),
                other => return other,
            }
        }
    }

    /// The next hook work, marked running before it leaves its buffer (as [`Feed::take`]).
    pub fn take_hook_work(&self) -> Option<HookWork> {
        loop {
            let mut buffer = self.hook_buffer.lock().unwrap_or_else(|p| p.into_inner());
            let work = buffer.pop_front();
            if let Some(w) = &work {
                self.started(&w.task.receipt);
            }
            drop(buffer);
            self.room.notify_one();
            match work {
                Some(w) if !self.still_ours(&w.task.receipt) => self.ended(&w.task.receipt),
                other => return other,
            }
        }
    }

    /// Keep a delivery claimed while it is worked on (see `running`).
    fn started(&self, receipt: &Receipt) {
        if let Some(r) = &receipt.0 {
            let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
            running.entry(r.stream.clone()).or_default().insert(r.entry.clone());
        }
    }

    /// Whether a delivery that waited in a buffer is still this process's to work on:
    /// after the visibility timeout another process may have taken it over (it was not
    /// started, so nothing kept it claimed), and then it must not run here too.
    fn still_ours(&self, receipt: &Receipt) -> bool {
        let Some(r) = &receipt.0 else { return true };
        if wall_ms().saturating_sub(r.taken_ms) < self.visibility.as_millis() as u64 / 2 {
            return true;
        }
        let kept: anyhow::Result<i64> = self.pool.with(|c| {
            redis::cmd("FCALL").arg(function::KEEP).arg(1).arg(&r.stream).arg(&r.entry).arg(&self.consumer).query(c)
        });
        match kept {
            Ok(1) => true,
            Ok(_) => false,
            // Cannot tell: run it (it is counted once either way).
            Err(_) => true,
        }
    }

    /// The delivery ended (reported, recorded or requeued): stop keeping it claimed.
    pub fn ended(&self, receipt: &Receipt) {
        if let Some(r) = &receipt.0 {
            let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(entries) = running.get_mut(&r.stream) {
                entries.remove(&r.entry);
                if entries.is_empty() {
                    running.remove(&r.stream);
                }
            }
        }
    }

    /// Reset the idle time of every delivery in progress (`XCLAIM ... JUSTID`).
    fn heartbeat(&self) {
        let running: Vec<(String, Vec<String>)> = self
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(stream, entries)| (stream.clone(), entries.iter().cloned().collect()))
            .collect();
        for (stream, entries) in running {
            let claimed: anyhow::Result<redis::Value> = self.pool.with(|c| {
                redis::cmd("XCLAIM")
                    .arg(&stream)
                    .arg(GROUP)
                    .arg(&self.consumer)
                    .arg(0)
                    .arg(&entries)
                    .arg("JUSTID")
                    .query(c)
            });
            if let Err(e) = claimed {
                eprintln!("troupe worker: cannot extend the tasks in progress on {stream}: {e:#}");
            }
        }
    }

    /// Wait (a little at most) until the buffers have room for more.
    fn wait_for_room(&self) -> bool {
        if self.buffered() < self.prefetch {
            return true;
        }
        let buffer = self.buffer.lock().unwrap_or_else(|p| p.into_inner());
        let _ = self.room.wait_timeout(buffer, Duration::from_millis(10)).unwrap_or_else(|p| p.into_inner());
        self.buffered() < self.prefetch
    }

    fn push(&self, taken: Taken) {
        if !taken.tasks.is_empty() {
            self.buffer.lock().unwrap_or_else(|p| p.into_inner()).extend(taken.tasks);
            self.ready.notify_waiters();
            self.ready.notify_one();
        }
        if !taken.hooks.is_empty() {
            self.hook_buffer.lock().unwrap_or_else(|p| p.into_inner()).extend(taken.hooks);
            self.hook_ready.notify_waiters();
            self.hook_ready.notify_one();
        }
    }

    fn buffered(&self) -> usize {
        self.buffer.lock().unwrap_or_else(|p| p.into_inner()).len()
            + self.hook_buffer.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Give everything buffered back to its stream at once, for another process.
    pub fn hand_back(&self) -> anyhow::Result<usize> {
        let tasks: Vec<TaskEnvelope> = self.buffer.lock().unwrap_or_else(|p| p.into_inner()).drain(..).collect();
        let hooks: Vec<HookWork> = self.hook_buffer.lock().unwrap_or_else(|p| p.into_inner()).drain(..).collect();
        let entries = tasks
            .iter()
            .map(|t| (&t.receipt, codec::entry_fields(t)))
            .chain(hooks.iter().map(|w| (&w.task.receipt, codec::hook_fields(w))));
        let mut given = 0;
        for (receipt, fields) in entries {
            let Some(r) = &receipt.0 else { continue };
            self.pool.with(|c| {
                redis::cmd("FCALL")
                    .arg(function::HANDBACK)
                    .arg(1)
                    .arg(&r.stream)
                    .arg(&r.entry)
                    .arg(&fields)
                    .query::<i64>(c)
            })?;
            given += 1;
        }
        Ok(given)
    }

    /// The feed's loop; returns when `stop` is set.
    pub fn run(self: Arc<Self>) {
        let mut reader: Option<Connection> = None;
        // Run id -> the stream keys this process serves in it.
        let mut runs: HashMap<String, Vec<String>> = HashMap::new();
        let mut refreshed = Instant::now() - REFRESH_RUNS;
        let mut last_event = self.last_event();
        let mut looked = Instant::now();
        let mut claimed = Instant::now();
        let mut next_due: Option<Instant> = None;
        let claim_every = (self.visibility / 2).max(Duration::from_millis(100));
        let beat_every = (self.visibility / 3).max(Duration::from_millis(50));
        let mut beat = Instant::now();
        let mut served = (false, false);
        while !self.stop.load(Ordering::Relaxed) {
            // Which streams to read changes when workers or a hook host start.
            let now_served = (self.serve_actors.load(Ordering::Relaxed), self.serve_hooks.load(Ordering::Relaxed));
            if now_served != served {
                served = now_served;
                runs.clear();
                refreshed = Instant::now() - REFRESH_RUNS;
            }
            // The heartbeat goes on while the buffer is full (its tasks wait for workers
            // busy with long tasks: exactly when it matters).
            if beat.elapsed() >= beat_every {
                beat = Instant::now();
                self.heartbeat();
            }
            if !self.wait_for_room() {
                // Full (the workers are busy): still learn of runs that ended, so the tasks
                // of a cancelled run are dropped from the buffer rather than started.
                if looked.elapsed() >= LOOK_EVERY {
                    looked = Instant::now();
                    if self.run_events(&mut last_event, None) {
                        refreshed = Instant::now();
                        if let Err(e) = self.refresh(&mut runs) {
                            eprintln!("troupe worker: {e:#}");
                        }
                    }
                }
                continue;
            }
            // Idle, wait for a run to start; busy, only look whether one did.
            let idle = runs.values().all(Vec::is_empty) && next_due.is_none();
            let hinted = self.look_now.swap(false, Ordering::Relaxed);
            let events = (idle || hinted || looked.elapsed() >= LOOK_EVERY)
                && self.run_events(&mut last_event, (idle && !hinted).then_some(BLOCK));
            if !idle && looked.elapsed() >= LOOK_EVERY {
                looked = Instant::now();
            }
            if events || hinted || refreshed.elapsed() >= REFRESH_RUNS {
                refreshed = Instant::now();
                if let Err(e) = self.refresh(&mut runs) {
                    eprintln!("troupe worker: {e:#}");
                }
                next_due = Some(Instant::now());
            }
            let requeued = self.requeued_due.swap(u64::MAX, Ordering::Relaxed);
            if requeued != u64::MAX {
                let due = Instant::now() + Duration::from_millis(requeued.saturating_sub(wall_ms()));
                next_due = Some(next_due.map_or(due, |n| n.min(due)));
            }
            if next_due.is_some_and(|due| due <= Instant::now()) {
                // A task can enter a run's delayed set without this process knowing: a
                // held task that another process's finish released through a rate
                // bucket, a retry requeued by another hook host. Look again soon rather
                // than at the next refresh (2 s: a rate-limited stage with maxParallel
                // waited that long for each held task). Promoting a run with nothing due
                // is one cheap call; with many runs, the look is spread to ~1 per ms.
                let soon = Instant::now() + LOOK_EVERY.max(Duration::from_millis(runs.len() as u64));
                next_due = match self.promote(&runs) {
                    Some(due) => Some(due.min(soon)),
                    None => (!runs.is_empty()).then_some(soon),
                };
            }
            if claimed.elapsed() >= claim_every {
                claimed = Instant::now();
                self.reclaim(&runs);
            }
            let streams: Vec<&String> = runs.values().flatten().collect();
            if streams.is_empty() {
                if next_due.is_some() {
                    std::thread::sleep(Duration::from_millis(1));
                }
                continue;
            }
            let block = next_due.map_or(BLOCK, |d| d.saturating_duration_since(Instant::now()).min(BLOCK));
            match self.read(&mut reader, &streams, block) {
                Ok(tasks) => self.push(tasks),
                Err(e) => {
                    reader = None;
                    if !(e.is_io_error() || e.is_connection_dropped() || e.is_connection_refusal()) {
                        // A stream of the read is broken (NOGROUP: a run's keys deleted
                        // under us, or a key replaced by another type): one read covers
                        // every run, so find the broken streams and leave them out, or
                        // one broken run would stall all the others.
                        if self.leave_out_broken(&mut runs, &e) {
                            refreshed = Instant::now() - REFRESH_RUNS;
                        }
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        }
    }

    /// After a read refused with `error`: each stream is asked on its own (`XINFO GROUPS`
    /// and troupe's group in it) and those that cannot be read are left out of their
    /// run until it ends (a run whose keys were deleted leaves the active set at the
    /// next refresh). When every stream looks readable the runs are forgotten, to be read
    /// again from scratch (returns true).
    fn leave_out_broken(&self, runs: &mut HashMap<String, Vec<String>>, error: &redis::RedisError) -> bool {
        let mut left_out = 0;
        for (run, streams) in runs.iter_mut() {
            streams.retain(|stream| {
                let groups: anyhow::Result<Vec<HashMap<String, redis::Value>>> =
                    self.pool.with(|c| redis::cmd("XINFO").arg("GROUPS").arg(stream).query(c));
                let readable = match &groups {
                    Ok(groups) => groups.iter().any(|g| {
                        matches!(g.get("name"), Some(redis::Value::BulkString(n)) if n.as_slice() == GROUP.as_bytes())
                    }),
                    Err(e) => !conn::is_reply_error(e),
                };
                if !readable {
                    left_out += 1;
                    eprintln!(
                        "troupe worker: run {}: not reading {stream} ({}): {error}",
                        crate::text::one_line(run, 80),
                        groups.err().map_or_else(|| format!("it has no group `{GROUP}`"), |e| format!("{e:#}"))
                    );
                }
                readable
            });
        }
        if left_out == 0 {
            runs.clear();
        }
        left_out == 0
    }

    /// The id of the newest run event, to read the ones after it.
    fn last_event(&self) -> String {
        let newest: anyhow::Result<Vec<redis::Value>> = self.pool.with(|c| {
            redis::cmd("XREVRANGE").arg(self.keys.run_events()).arg("+").arg("-").arg("COUNT").arg(1).query(c)
        });
        let id = newest.ok().and_then(|entries| match entries.first() {
            Some(redis::Value::Array(entry)) => match entry.first() {
                Some(redis::Value::BulkString(id)) => Some(String::from_utf8_lossy(id).to_string()),
                _ => None,
            },
            _ => None,
        });
        id.unwrap_or_else(|| "0-0".to_string())
    }

    /// Whether a run started or ended since `last` (waiting up to `block` for one).
    fn run_events(&self, last: &mut String, block: Option<Duration>) -> bool {
        let mut cmd = redis::cmd("XREAD");
        cmd.arg("COUNT").arg(100);
        if let Some(block) = block {
            cmd.arg("BLOCK").arg(block.as_millis() as u64);
        }
        cmd.arg("STREAMS").arg(self.keys.run_events()).arg(last.as_str());
        // A blocking read holds its connection: use the pool's (it is returned after).
        let reply: anyhow::Result<Option<StreamReadReply>> = self.pool.with(|c| cmd.query(c));
        match reply {
            Ok(Some(reply)) => match reply.keys.iter().flat_map(|k| k.ids.iter()).next_back() {
                Some(newest) => {
                    *last = newest.id.clone();
                    true
                }
                None => false,
            },
            Ok(None) => false,
            Err(e) => {
                eprintln!("troupe worker: cannot read run events: {e:#}");
                std::thread::sleep(Duration::from_millis(100));
                false
            }
        }
    }

    /// Learn which runs are active and which of their streams this process serves.
    fn refresh(&self, runs: &mut HashMap<String, Vec<String>>) -> anyhow::Result<()> {
        let active: HashSet<String> =
            self.pool.with(|c| redis::cmd("SMEMBERS").arg(self.keys.active_runs()).query(c))?;
        runs.retain(|run, _| active.contains(run));
        // Tasks of a run that ended meanwhile (cancelled) are dropped, not run; their
        // deliveries expire with the run's keys.
        self.buffer.lock().unwrap_or_else(|p| p.into_inner()).retain(|t| active.contains(&*t.run_id));
        self.hook_buffer.lock().unwrap_or_else(|p| p.into_inner()).retain(|w| active.contains(&*w.task.run_id));
        let (actors_too, hooks_too) =
            (self.serve_actors.load(Ordering::Relaxed), self.serve_hooks.load(Ordering::Relaxed));
        for run in active {
            if runs.contains_key(&run) {
                continue;
            }
            let actors: Option<String> =
                match self.pool.with(|c| redis::cmd("HGET").arg(self.keys.run(&run)).arg("actors").query(c)) {
                    Ok(actors) => actors,
                    // One broken run (its hash replaced by another type) must not keep the
                    // others from being served: it is left out until it ends.
                    Err(e) if conn::is_reply_error(&e) => {
                        eprintln!("troupe worker: run {}: not serving it: {e:#}", crate::text::one_line(&run, 80));
                        runs.insert(run, Vec::new());
                        continue;
                    }
                    Err(e) => return Err(e),
                };
            let actors: Vec<String> = actors.and_then(|a| serde_json::from_str(&a).ok()).unwrap_or_default();
            let mut streams: Vec<String> = actors
                .iter()
                .filter(|a| {
                    actors_too && !self.external.contains(*a) && self.serve.as_ref().is_none_or(|s| s.contains(*a))
                })
                .map(|a| self.keys.queue(&run, a))
                .collect();
            if hooks_too {
                streams.push(self.keys.hooks(&run));
            }
            runs.insert(run, streams);
        }
        Ok(())
    }

    /// Move due delayed tasks to their streams; when the next one is due.
    fn promote(&self, runs: &HashMap<String, Vec<String>>) -> Option<Instant> {
        let mut next: Option<Instant> = None;
        for run in runs.keys() {
            let reply: anyhow::Result<(i64, i64)> = self.pool.with(|c| {
                redis::cmd("FCALL")
                    .arg(function::PROMOTE)
                    .arg(1)
                    .arg(self.keys.delayed(run))
                    .arg(self.keys.base(run))
                    .arg(run)
                    .query(c)
            });
            match reply {
                Ok((_, wait_ms)) if wait_ms >= 0 => {
                    let due = Instant::now() + Duration::from_millis(wait_ms as u64);
                    next = Some(next.map_or(due, |n| n.min(due)));
                }
                Ok(_) => {}
                Err(e) => eprintln!("troupe worker: cannot promote delayed tasks of run {run}: {e:#}"),
            }
        }
        next
    }

    /// Claim deliveries pending longer than the visibility timeout (their worker died).
    fn reclaim(&self, runs: &HashMap<String, Vec<String>>) {
        let idle = self.visibility.as_millis() as u64;
        for stream in runs.values().flatten() {
            let reply: anyhow::Result<StreamAutoClaimReply> = self.pool.with(|c| {
                redis::cmd("XAUTOCLAIM")
                    .arg(stream)
                    .arg(GROUP)
                    .arg(&self.consumer)
                    .arg(idle)
                    .arg("0-0")
                    .arg("COUNT")
                    .arg(self.prefetch.max(1))
                    .query(c)
            });
            match reply {
                Ok(reply) => {
                    let mut taken = Taken::default();
                    for entry in reply.claimed.iter().filter(|e| !self.holds(stream, &e.id)) {
                        self.decode(entry, stream, wall_ms(), &mut taken);
                    }
                    self.push(taken);
                }
                Err(e) => eprintln!("troupe worker: cannot reclaim from {stream}: {e:#}"),
            }
        }
    }

    /// Whether this process already has the delivery, buffered or running. `XAUTOCLAIM`
    /// names this process's own consumer, so it also returns deliveries this process
    /// holds that sat idle past the timeout (a long wait in the buffer, a late
    /// heartbeat): taking them again would run the task twice here.
    ///
    /// The buffers are looked at before `running`, each lock on its own: `take` marks a
    /// delivery running before it leaves its buffer (under the buffer's lock), so a
    /// delivery on its way is seen in one or the other.
    fn holds(&self, stream: &str, entry: &str) -> bool {
        let is = |r: &Receipt| r.0.as_ref().is_some_and(|r| r.stream == stream && r.entry == entry);
        let buffered = self.buffer.lock().unwrap_or_else(|p| p.into_inner()).iter().any(|t| is(&t.receipt));
        if buffered {
            return true;
        }
        let hooked = self.hook_buffer.lock().unwrap_or_else(|p| p.into_inner()).iter().any(|w| is(&w.task.receipt));
        if hooked {
            return true;
        }
        let running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        running.get(stream).is_some_and(|e| e.contains(entry))
    }

    fn read(&self, reader: &mut Option<Connection>, streams: &[&String], block: Duration) -> redis::RedisResult<Taken> {
        if reader.is_none() {
            let mut conn = self.pool.dedicated()?;
            // Without its id the feed is only never woken early: not worth failing for.
            let id: u64 = redis::cmd("CLIENT").arg("ID").query(&mut conn).unwrap_or(0);
            self.reader_id.store(id, Ordering::Relaxed);
            *reader = Some(conn);
        }
        let conn = reader.as_mut().expect("just connected");
        let want = self.prefetch.saturating_sub(self.buffered()).max(1);
        let mut cmd = redis::cmd("XREADGROUP");
        cmd.arg("GROUP").arg(GROUP).arg(&self.consumer).arg("COUNT").arg(want);
        // Whole milliseconds, at least 1: `BLOCK 0` would wait forever.
        let block_ms = block.as_micros().div_ceil(1000) as u64;
        if block_ms > 0 {
            cmd.arg("BLOCK").arg(block_ms);
        }
        cmd.arg("STREAMS").arg(streams);
        for _ in streams {
            cmd.arg(">");
        }
        let reply: Option<StreamReadReply> = cmd.query(conn)?;
        let now = wall_ms();
        let mut taken = Taken::default();
        for stream in reply.iter().flat_map(|r| r.keys.iter()) {
            for entry in &stream.ids {
                self.decode(entry, &stream.key, now, &mut taken);
            }
        }
        Ok(taken)
    }

    /// An entry of `stream`: a task for the workers, or hook work when `stream` is a
    /// run's hooks stream.
    fn decode(&self, entry: &redis::streams::StreamId, stream: &str, now: u64, taken: &mut Taken) {
        if poison::foreign(&self.keys, stream, entry) {
            poison::drop_foreign(&self.pool, stream, entry);
            return;
        }
        if stream.ends_with(":hooks") {
            if let Err(e) = codec::hook_work(entry, stream, now).map(|w| taken.hooks.push(w)) {
                eprintln!("troupe: skipping a malformed entry of {stream}: {e:#}");
            }
        } else if let Err(e) = codec::envelope(entry, stream, now).map(|t| taken.tasks.push(t)) {
            poison::settle(&self.pool, &self.keys, stream, entry, &e);
        }
    }
}

/// What one read took, by who works on it.
#[derive(Default)]
struct Taken {
    tasks: Vec<TaskEnvelope>,
    hooks: Vec<HookWork>,
}
