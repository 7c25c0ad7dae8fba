//! The first connection to Redis: within a few seconds, either a working connection with
//! troupe's functions loaded, or an error that says what is wrong (nothing listens, the
//! listener is not Redis, it never answers, the password is wrong, Redis is too old).
//!
//! Why apart from the pool's retries: retrying for a minute suits a worker or an
//! orchestrator that lost a Redis it was using (a restart must not lose the run), not a
//! command typed with a wrong URL. Why a raw `PING` before redis-rs: the client's parser
//! reports an HTTP listener as "Parse error at 1 Unexpected `84`"; the raw bytes say
//! what answered. URLs are shown with the password replaced ([`redact_url`]).

use redis::{Client, Connection, ConnectionAddr, RedisError};
use std::io::{Read as _, Write as _};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// How long a first connection may take, and then how long Redis has to answer.
pub const FIRST_CONTACT: Duration = Duration::from_secs(3);

/// Redis 7 brought functions (`FUNCTION LOAD`, `FCALL`), which troupe's protocol is.
const OLDEST_MAJOR: u64 = 7;

/// Why a first connection failed; `url` is always redacted.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("`{url}` is not a Redis URL ({reason}); write redis://[user:password@]host:port[/db]")]
    NotUrl { url: String, reason: String },
    #[error("cannot connect to Redis at {url}: connection refused (is redis-server running on {addr}?)")]
    Refused { url: String, addr: String },
    #[error("cannot connect to Redis at {url}: {addr} did not accept a connection within {} s", FIRST_CONTACT.as_secs())]
    ConnectTimedOut { url: String, addr: String },
    #[error("cannot connect to Redis at {url}: {addr}: {reason}")]
    Unreachable { url: String, addr: String, reason: String },
    #[error("cannot use Redis at {url}: {addr} accepted the connection but did not answer PING within {} s (not Redis, or a Redis that is stuck)", FIRST_CONTACT.as_secs())]
    NoAnswer { url: String, addr: String },
    #[error("cannot use Redis at {url}: what listens on {addr} is not Redis (it answered PING with {answer})")]
    NotRedis { url: String, addr: String, answer: String },
    #[error("cannot use Redis at {url}: authentication failed (wrong password, or an ACL user that does not exist or may not log in): {reason}")]
    AuthFailed { url: String, reason: String },
    #[error(
        "cannot use Redis at {url}: it is Redis {version}; troupe needs Redis {OLDEST_MAJOR} or later (functions)"
    )]
    TooOld { url: String, version: String },
    #[error("cannot use Redis at {url}: {reason}")]
    Other { url: String, reason: String },
}

/// `url` with its password (if any) replaced by `***`, fit to show anywhere.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else { return url.to_string() };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let Some(at) = authority.rfind('@') else { return url.to_string() };
    let user_info = &authority[..at];
    let shown = match user_info.split_once(':') {
        Some((user, _password)) => format!("{user}:***"),
        // `redis://secret@host`: a lone user-info part may be a password; hide it too.
        None if user_info.is_empty() => String::new(),
        None => "***".to_string(),
    };
    format!("{}{shown}{}", &url[..scheme_end + 3], &rest[at..])
}

/// Connect for the first time: a connection that answered, with `library` loaded.
pub fn first_connection(url: &str, library: &str) -> Result<(Client, Connection), ConnectError> {
    let shown = redact_url(url);
    let client = Client::open(url).map_err(|e| ConnectError::NotUrl { url: shown.clone(), reason: e.to_string() })?;
    if let ConnectionAddr::Tcp(host, port) = client.get_connection_info().addr() {
        probe(&shown, host, *port)?;
    }
    let other = |e: RedisError| classify(&shown, e);
    let mut conn = client.get_connection_with_timeout(FIRST_CONTACT).map_err(other)?;
    conn.set_read_timeout(Some(FIRST_CONTACT)).map_err(other)?;
    let info: String = redis::cmd("INFO").arg("server").query(&mut conn).map_err(other)?;
    let version = info
        .lines()
        .find_map(|l| l.strip_prefix("redis_version:"))
        .map(str::trim)
        .unwrap_or("of an unknown version")
        .to_string();
    let major = version.split('.').next().and_then(|m| m.parse::<u64>().ok());
    if major.is_none_or(|m| m < OLDEST_MAJOR) {
        return Err(ConnectError::TooOld { url: shown, version });
    }
    redis::cmd("FUNCTION").arg("LOAD").arg("REPLACE").arg(library).query::<String>(&mut conn).map_err(|e| {
        ConnectError::Other { url: shown.clone(), reason: format!("cannot load troupe's functions: {e}") }
    })?;
    Ok((client, conn))
}

/// Connect with a plain socket and send `PING`: Redis answers `+PONG`, or an error
/// (`-NOAUTH ...` when it wants a password); anything else is not Redis.
fn probe(url: &str, host: &str, port: u16) -> Result<(), ConnectError> {
    let addr = format!("{host}:{port}");
    let unreachable = |reason: String| ConnectError::Unreachable { url: url.to_string(), addr: addr.clone(), reason };
    let resolved: Vec<_> =
        (host, port).to_socket_addrs().map_err(|e| unreachable(format!("cannot resolve: {e}")))?.collect();
    let first = resolved.first().ok_or_else(|| unreachable("the name resolves to no address".into()))?;
    let mut stream = TcpStream::connect_timeout(first, FIRST_CONTACT).map_err(|e| match e.kind() {
        std::io::ErrorKind::ConnectionRefused => ConnectError::Refused { url: url.to_string(), addr: addr.clone() },
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => {
            ConnectError::ConnectTimedOut { url: url.to_string(), addr: addr.clone() }
        }
        _ => unreachable(e.to_string()),
    })?;
    let io = |e: std::io::Error| unreachable(e.to_string());
    stream.set_read_timeout(Some(FIRST_CONTACT)).map_err(io)?;
    stream.set_write_timeout(Some(FIRST_CONTACT)).map_err(io)?;
    stream.write_all(b"PING\r\n").map_err(io)?;
    let mut answer = [0u8; 64];
    let n = match stream.read(&mut answer) {
        Ok(n) => n,
        Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
            return Err(ConnectError::NoAnswer { url: url.to_string(), addr });
        }
        Err(e) => return Err(io(e)),
    };
    let answer = &answer[..n];
    if answer.starts_with(b"+") || answer.starts_with(b"-") {
        return Ok(());
    }
    let text = String::from_utf8_lossy(answer);
    let shown = match n {
        0 => "nothing: it closed the connection".to_string(),
        _ if text.starts_with("HTTP/") => {
            let status_line = text.lines().next().unwrap_or_default();
            format!("`{}` (an HTTP server)", crate::text::one_line(status_line, 40))
        }
        _ => format!("`{}`", crate::text::one_line(&text, 40)),
    };
    Err(ConnectError::NotRedis { url: url.to_string(), addr, answer: shown })
}

fn classify(url: &str, e: RedisError) -> ConnectError {
    let text = e.to_string();
    let auth = e.kind() == redis::ErrorKind::AuthenticationFailed
        || matches!(e.code(), Some("WRONGPASS" | "NOAUTH" | "NOPERM"))
        || text.contains("WRONGPASS")
        || text.contains("NOAUTH")
        || text.contains("invalid password");
    if auth {
        let reason = if text.contains("NOAUTH") && !url.contains('@') {
            "Redis requires a password, and the URL has none (redis://:PASSWORD@host:port)".to_string()
        } else {
            text
        };
        return ConnectError::AuthFailed { url: url.to_string(), reason };
    }
    if e.is_timeout() {
        let addr = url.to_string();
        return ConnectError::NoAnswer { url: url.to_string(), addr };
    }
    if e.is_connection_refusal() {
        return ConnectError::Refused { url: url.to_string(), addr: url.to_string() };
    }
    ConnectError::Other { url: url.to_string(), reason: text }
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn passwords_never_show() {
        assert_eq!(redact_url("redis://:hunter2@h:6379/0"), "redis://:***@h:6379/0");
        assert_eq!(redact_url("redis://alice:hunter2@h:6379"), "redis://alice:***@h:6379");
        assert_eq!(redact_url("redis://hunter2@h"), "redis://***@h");
        assert_eq!(redact_url("redis://h:6379/2"), "redis://h:6379/2");
        assert_eq!(redact_url("redis://a:p@ss@h"), "redis://a:***@h");
    }
}
