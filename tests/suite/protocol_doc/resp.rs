//! A bare RESP2 connection that prints replies as `redis-cli` does on a terminal.
//!
//! Why not redis-rs: the doc's session shows replies exactly as a reader sees them in
//! `redis-cli`, error texts included; redis-rs turns an error reply into its own error
//! type (code and detail apart), and the comparison must see the bytes Redis sent.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

/// One reply, as RESP2 carries it.
#[derive(Debug)]
pub enum Reply {
    Status(String),
    Error(String),
    Integer(i64),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<Reply>>),
}

pub struct Connection {
    reader: BufReader<TcpStream>,
}

impl Connection {
    /// Connect to `url` (`redis://[[user]:password@]host:port[/db]`).
    pub fn open(url: &str) -> Connection {
        let rest = url.strip_prefix("redis://").unwrap_or_else(|| panic!("not a redis:// URL: {url}"));
        let (authority, db) = rest.split_once('/').unwrap_or((rest, ""));
        let (auth, host) = authority.rsplit_once('@').map_or((None, authority), |(a, h)| (Some(a), h));
        let stream = TcpStream::connect(host).unwrap_or_else(|e| panic!("cannot connect to {host}: {e}"));
        // Longer than any BLOCK in the session: a reply that never comes fails the test.
        stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut conn = Connection { reader: BufReader::new(stream) };
        if let Some(auth) = auth {
            let args: Vec<&str> = match auth.split_once(':') {
                Some(("", password)) => vec!["AUTH", password],
                Some((user, password)) => vec!["AUTH", user, password],
                None => vec!["AUTH", auth],
            };
            let reply = conn.call(&args.iter().map(|a| a.as_bytes().to_vec()).collect::<Vec<_>>());
            assert!(matches!(reply, Reply::Status(_)), "AUTH: {reply:?}");
        }
        if !db.is_empty() && db != "0" {
            let reply = conn.call(&[b"SELECT".to_vec(), db.as_bytes().to_vec()]);
            assert!(matches!(reply, Reply::Status(_)), "SELECT {db}: {reply:?}");
        }
        conn
    }

    /// Send one command and read its reply.
    pub fn call(&mut self, args: &[Vec<u8>]) -> Reply {
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for arg in args {
            out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
            out.extend_from_slice(arg);
            out.extend_from_slice(b"\r\n");
        }
        self.reader.get_mut().write_all(&out).unwrap();
        self.read()
    }

    fn line(&mut self) -> String {
        let mut line = Vec::new();
        self.reader.read_until(b'\n', &mut line).unwrap();
        assert!(line.ends_with(b"\r\n"), "Redis closed the connection or sent a bad line: {line:?}");
        line.truncate(line.len() - 2);
        String::from_utf8_lossy(&line).into_owned()
    }

    fn read(&mut self) -> Reply {
        let line = self.line();
        let (kind, rest) = line.split_at(1);
        match kind {
            "+" => Reply::Status(rest.to_string()),
            "-" => Reply::Error(rest.to_string()),
            ":" => Reply::Integer(rest.parse().unwrap()),
            "$" => {
                let len: i64 = rest.parse().unwrap();
                if len < 0 {
                    return Reply::Bulk(None);
                }
                let mut data = vec![0; len as usize + 2];
                std::io::Read::read_exact(&mut self.reader, &mut data).unwrap();
                data.truncate(len as usize);
                Reply::Bulk(Some(data))
            }
            "*" => {
                let len: i64 = rest.parse().unwrap();
                if len < 0 {
                    return Reply::Array(None);
                }
                Reply::Array(Some((0..len).map(|_| self.read()).collect()))
            }
            _ => panic!("not a RESP2 reply: {line:?}"),
        }
    }
}

/// `reply` as `redis-cli` prints it on a terminal (its `cliFormatReplyTTY`).
pub fn render(reply: &Reply) -> String {
    let mut out = String::new();
    render_into(reply, "", &mut out);
    out
}

fn render_into(reply: &Reply, prefix: &str, out: &mut String) {
    match reply {
        Reply::Status(s) => out.push_str(&format!("{s}\n")),
        Reply::Error(e) => out.push_str(&format!("(error) {e}\n")),
        Reply::Integer(n) => out.push_str(&format!("(integer) {n}\n")),
        Reply::Bulk(None) | Reply::Array(None) => out.push_str("(nil)\n"),
        Reply::Bulk(Some(bytes)) => out.push_str(&format!("{}\n", quote(bytes))),
        Reply::Array(Some(items)) if items.is_empty() => out.push_str("(empty array)\n"),
        Reply::Array(Some(items)) => {
            // Indices are right-aligned to the widest; nested arrays indent past them.
            let width = items.len().to_string().len();
            let inner = format!("{prefix}{}", " ".repeat(width + 2));
            for (i, item) in items.iter().enumerate() {
                let lead = if i == 0 { "" } else { prefix };
                out.push_str(&format!("{lead}{:>width$}) ", i + 1));
                render_into(item, &inner, out);
            }
        }
    }
}

/// A string as `redis-cli` quotes it (`sdscatrepr`).
pub fn quote(bytes: &[u8]) -> String {
    let mut s = String::from("\"");
    for &b in bytes {
        match b {
            b'\\' => s.push_str("\\\\"),
            b'"' => s.push_str("\\\""),
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            b'\t' => s.push_str("\\t"),
            0x07 => s.push_str("\\a"),
            0x08 => s.push_str("\\b"),
            0x20..=0x7e => s.push(b as char),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    s.push('"');
    s
}
