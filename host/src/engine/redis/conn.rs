//! Connections: a small pool of blocking connections that outlives Redis restarts.
//!
//! Why blocking connections: plugin imports (`enqueue`, `state`) are synchronous calls
//! made from inside a wasm call, so the engine's Redis calls are synchronous too; each
//! caller takes a pooled connection, so worker threads never wait on one another's
//! round trips.
//!
//! Why retries here: a dropped connection (Redis restarted, a network blip) must not lose
//! a run. Every call the engine makes is idempotent (enqueue by task index, results by
//! `HSETNX`, acknowledgements by entry id), so a call whose reply was lost is simply made
//! again on a new connection, for up to `reconnect_for`.

use super::first_contact::{first_connection, redact_url, ConnectError};
use anyhow::{anyhow, Context as _};
use redis::{Client, Connection, RedisError, RedisResult};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The function library every process loads (docs/redis-protocol.md).
pub const LIBRARY: &str = include_str!("troupe.lua");

/// The library's functions. Their names carry the protocol version: processes of two
/// versions sharing a Redis must not replace each other's functions.
pub mod function {
    pub const ENQUEUE: &str = "troupe_v5_enqueue";
    pub const FINISH: &str = "troupe_v5_finish";
    pub const RECORD: &str = "troupe_v5_record";
    pub const SEAL: &str = "troupe_v5_seal";
    pub const ADMIT: &str = "troupe_v5_admit";
    pub const REQUEUE: &str = "troupe_v5_requeue";
    pub const PROMOTE: &str = "troupe_v5_promote";
    pub const HANDBACK: &str = "troupe_v5_handback";
    pub const KEEP: &str = "troupe_v5_keep";
    pub const RETUNE: &str = "troupe_v5_retune";
}

pub struct Pool {
    client: Client,
    idle: Mutex<Vec<Connection>>,
    reconnect_for: Duration,
}

/// Whether an error means "the connection is gone": retry on a new one.
/// Whether Redis answered `e` with an error reply (`WRONGTYPE`, `NOGROUP`, ...): the keys
/// are wrong, not the connection, so retrying will not help.
pub fn is_reply_error(e: &anyhow::Error) -> bool {
    e.downcast_ref::<RedisError>().is_some_and(|r| r.code().is_some() && !is_disconnect(r))
}

fn is_disconnect(e: &RedisError) -> bool {
    e.is_io_error()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_timeout()
        || e.is_unrecoverable_error()
        || e.code() == Some("LOADING")
}

fn is_missing_library(e: &RedisError) -> bool {
    e.to_string().contains("Function not found") || e.to_string().contains("function not found")
}

/// A connection whose reads give up after `READ_TIMEOUT`: a read that never ends (a lost
/// reply, a half-open socket) then becomes an error the caller retries on a new one.
fn connect(client: &Client) -> RedisResult<Connection> {
    ready(client.get_connection_with_timeout(Duration::from_secs(2))?)
}

fn ready(conn: Connection) -> RedisResult<Connection> {
    conn.set_read_timeout(Some(READ_TIMEOUT))?;
    conn.set_write_timeout(Some(READ_TIMEOUT))?;
    Ok(conn)
}

/// Longer than any call troupe makes (blocking reads block for 20 ms at most).
const READ_TIMEOUT: Duration = Duration::from_secs(30);

impl Pool {
    /// Connect for the first time, failing within seconds with what is wrong (no retries:
    /// see `first_contact`); later calls retry for `reconnect_for`.
    pub fn new(url: &str, reconnect_for: Duration) -> Result<Pool, ConnectError> {
        let (client, conn) = first_connection(url, LIBRARY)?;
        let conn = ready(conn).map_err(|e| ConnectError::Other { url: redact_url(url), reason: e.to_string() })?;
        Ok(Pool { client, idle: Mutex::new(vec![conn]), reconnect_for })
    }

    /// (Re)load the function library; harmless when it is already there.
    pub fn load_library(&self) -> anyhow::Result<()> {
        self.with(|c| redis::cmd("FUNCTION").arg("LOAD").arg("REPLACE").arg(LIBRARY).query::<String>(c))
            .context("cannot load troupe's functions into Redis (it needs Redis 7 or later)")?;
        Ok(())
    }

    /// A new connection, not from the pool (for blocking reads that hold one for long).
    pub fn dedicated(&self) -> RedisResult<Connection> {
        connect(&self.client)
    }

    /// Run `f` on a pooled connection; on a dropped connection, retry on a new one until
    /// `reconnect_for` has passed.
    pub fn with<T>(&self, mut f: impl FnMut(&mut Connection) -> RedisResult<T>) -> anyhow::Result<T> {
        let started = Instant::now();
        let mut backoff = Duration::from_millis(20);
        let mut reloaded = false;
        loop {
            let pooled = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
            let attempt = match pooled {
                Some(c) => Ok(c),
                None => connect(&self.client),
            };
            let error = match attempt {
                Ok(mut conn) => match f(&mut conn) {
                    Ok(value) => {
                        self.idle.lock().unwrap_or_else(|p| p.into_inner()).push(conn);
                        return Ok(value);
                    }
                    Err(e) if is_missing_library(&e) && !reloaded => {
                        // A Redis restarted without persistence lost the library.
                        self.idle.lock().unwrap_or_else(|p| p.into_inner()).push(conn);
                        reloaded = true;
                        self.load_library()?;
                        continue;
                    }
                    Err(e) if is_disconnect(&e) => e,
                    Err(e) => {
                        self.idle.lock().unwrap_or_else(|p| p.into_inner()).push(conn);
                        return Err(anyhow!(e));
                    }
                },
                Err(e) if is_disconnect(&e) => e,
                Err(e) => return Err(anyhow!(e).context("cannot connect to Redis")),
            };
            if started.elapsed() >= self.reconnect_for {
                return Err(
                    anyhow!(error).context(format!("Redis did not answer for {} s", self.reconnect_for.as_secs()))
                );
            }
            std::thread::sleep(backoff);
            backoff = (backoff * 2).min(Duration::from_millis(500));
        }
    }
}
