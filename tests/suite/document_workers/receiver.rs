//! A webhook receiver on 127.0.0.1 for the notifiers to POST to: plain HTTP/1.1 over
//! `std::net`, one thread per connection, every request recorded; how it answers is
//! decided per request from its JSON body.

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One request as it arrived.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    /// Header names lower-cased, in arrival order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("a body that is not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
}

/// What the receiver does with a request.
#[derive(Clone, Copy)]
pub enum Answer {
    /// 200 with a small JSON body.
    Accept,
    /// 500 with a body the failure message may quote.
    Refuse,
    /// Nothing for this long, then the connection is closed: a webhook that hangs.
    Hang(Duration),
}

pub struct Receiver {
    pub url: String,
    requests: Arc<Mutex<Vec<Request>>>,
    stop: Arc<AtomicBool>,
    port: u16,
}

/// The path the notifiers are given, so the test sees the URL travel whole.
pub const PATH: &str = "/hooks/documents?source=troupe";

impl Receiver {
    /// On a port of its own.
    pub fn start(answer: fn(&Value) -> Answer) -> Receiver {
        Receiver::start_on(0, answer)
    }

    /// On `port` of 127.0.0.1 (0: any free one), for a URL a manifest grants by port.
    pub fn start_on(port: u16, answer: fn(&Value) -> Answer) -> Receiver {
        // A receiver just dropped on the same port lets go of it from its own thread.
        let started = std::time::Instant::now();
        let listener = loop {
            match TcpListener::bind(("127.0.0.1", port)) {
                Ok(listener) => break listener,
                Err(_) if port != 0 && started.elapsed() < Duration::from_secs(10) => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => panic!("cannot listen on 127.0.0.1:{port} for the webhook receiver: {e}"),
            }
        };
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (kept, stopping) = (requests.clone(), stop.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let kept = kept.clone();
                std::thread::spawn(move || serve(stream, &kept, answer));
            }
        });
        Receiver { url: format!("http://127.0.0.1:{port}{PATH}"), requests, stop, port }
    }

    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// Read requests off one connection until it closes, answering each; a client that keeps
/// the connection alive (Node's fetch) may send several.
fn serve(stream: TcpStream, kept: &Mutex<Vec<Request>>, answer: fn(&Value) -> Answer) {
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    while let Some(request) = read_request(&mut reader) {
        let decided = serde_json::from_slice(&request.body).map(|body| answer(&body)).unwrap_or(Answer::Refuse);
        kept.lock().unwrap().push(request);
        let (status, body) = match decided {
            Answer::Accept => ("200 OK", r#"{"ok":true}"#),
            Answer::Refuse => ("500 Internal Server Error", r#"{"error":"the receiver refuses this one"}"#),
            Answer::Hang(how_long) => {
                std::thread::sleep(how_long);
                return;
            }
        };
        let reply = format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        if writer.write_all(reply.as_bytes()).is_err() {
            return;
        }
    }
}

/// One request with a `content-length` body, or None at the end of the connection. A
/// request the receiver cannot read is recorded with method `UNREADABLE`, for the test
/// to fail on.
fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Request> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next()?.to_string(), parts.next()?.to_string());
    let mut headers = Vec::new();
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':')?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
    let length = headers.iter().find(|(n, _)| n == "content-length").and_then(|(_, v)| v.parse::<usize>().ok());
    let Some(length) = length else {
        return Some(Request { method: "UNREADABLE".into(), path, headers, body: Vec::new() });
    };
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Request { method, path, headers, body })
}

/// The three notifiers' POSTs, each checked (method, path, JSON, a `troupe-document-example`
/// user agent; `agent` whole when given), equal to what they returned (`notified`, the
/// notify-all stage's output) and to the example's known messages.
pub fn assert_the_three_messages(requests: &[Request], notified: &Value, agent: Option<&str>) {
    assert_eq!(requests.len(), 3, "one POST per notifier: {requests:#?}");
    let mut bodies: Vec<Value> = requests
        .iter()
        .map(|r| {
            assert_eq!((r.method.as_str(), r.path.as_str()), ("POST", PATH), "{r:?}");
            assert_eq!(r.header("content-type"), Some("application/json"), "{r:?}");
            let user_agent = r.header("user-agent").unwrap_or_default();
            assert!(user_agent.starts_with("troupe-document-example"), "{r:?}");
            assert!(agent.is_none_or(|a| a == user_agent), "{r:?}");
            r.json()
        })
        .collect();
    bodies.sort_by_key(|b| b["channel"].as_str().unwrap_or("").to_string());
    assert_eq!(
        bodies,
        [&notified["EmailNotifier"], &notified["SlackNotifier"], &notified["WebhookNotifier"]].map(Value::clone),
        "each notifier posts exactly the message it returns"
    );
    assert_eq!(bodies[0]["subject"], "Documents processed: 7 pages");
    assert_eq!(bodies[1]["text"], ":page_facing_up: Processed 2 invoice, 2 contract, 1 receipt, 1 report, 1 other");
    assert_eq!(
        bodies[2]["payload"]["pagesByType"],
        serde_json::json!({ "invoice": 2, "contract": 2, "receipt": 1, "report": 1, "other": 1 })
    );
}
