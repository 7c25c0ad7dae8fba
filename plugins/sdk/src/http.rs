//! Outgoing HTTP for actors (`wasi:http`), with the feature `http`: JSON APIs and
//! webhooks from an actor component.
//!
//! ```ignore
//! let reply = troupe_sdk::http::post_json("https://hooks.example.com/v1/notify", &json!({ "text": "done" }))?;
//! if !reply.ok() { return Err(format!("the webhook answered {}", reply.status)); }
//! ```
//!
//! Nothing gets out unless the manifest grants it: `[actors.X] allow-http = [...]`. A
//! request outside the grant, to an internal address reached through a name, past the
//! call's `http-requests` or `http-response-bytes`, or after its deadline fails with an
//! [`HttpError`] whose message is the host's (it names the actor and the URL). Calls
//! block until the response body is read whole: an actor does one thing at a time.
//! Redirects are not followed here; a 3xx is returned as it is (following one is a new
//! request, checked against the grant like any).
//!
//! [`Client`] sets a timeout and headers for several requests; the free functions use
//! `Client::default()` (no timeout of its own: the manifest's `http-timeout-ms` and the
//! call's deadline still end every request).

use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fmt;
use std::time::Duration;
use wasip2::http::outgoing_handler;
use wasip2::http::types::{ErrorCode, Fields, Method, OutgoingBody, OutgoingRequest, RequestOptions, Scheme};
use wasip2::io::streams::StreamError;

/// Largest body chunk handed to the host at once (`blocking-write-and-flush` takes at
/// most 4096 bytes).
const CHUNK: usize = 4096;

/// A response, its body read whole.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    /// Header names (lowercase) and values, as received.
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
}

impl Response {
    /// Whether the status is 2xx.
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body as JSON.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, HttpError> {
        serde_json::from_slice(&self.body)
            .map_err(|e| HttpError::new(format!("the response body is not the JSON expected: {e}")))
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The first value of a header, by name (any case).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        let name = name.to_ascii_lowercase();
        self.headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_slice())
    }
}

/// Why a request failed: refused by the host (its message names the actor and the URL),
/// or failed on the way (DNS, connection, TLS, timeout, a body over the limit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpError {
    message: String,
    timed_out: bool,
}

impl HttpError {
    fn new(message: impl Into<String>) -> Self {
        HttpError { message: message.into(), timed_out: false }
    }

    /// What went wrong, as a sentence (the host's own words for a refusal).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Whether the request ran out of time (the client's timeout, `http-timeout-ms` or the
    /// call's deadline), so a caller can say so in its own words.
    pub fn is_timeout(&self) -> bool {
        self.timed_out
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for HttpError {}

impl From<HttpError> for String {
    fn from(e: HttpError) -> String {
        e.message
    }
}

/// Settings shared by several requests: a timeout and headers sent with each.
#[derive(Debug, Clone, Default)]
pub struct Client {
    timeout: Option<Duration>,
    headers: Vec<(String, String)>,
}

impl Client {
    /// Give up on a request after `timeout`: to connect, to the response's first byte and
    /// between two bytes of its body. The host's own limits still apply, whichever ends
    /// first.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Send this header with every request (`user-agent`, `authorization`, ...).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_ascii_lowercase(), value.to_string()));
        self
    }

    /// `GET url`.
    pub fn get(&self, url: &str) -> Result<Response, HttpError> {
        self.request("GET", url, &[], None)
    }

    /// `GET url`, the body parsed as JSON; a status other than 2xx is an error.
    pub fn get_json<T: DeserializeOwned>(&self, url: &str) -> Result<T, HttpError> {
        let response = self.request("GET", url, &[("accept", "application/json")], None)?;
        expect_ok(&response, url)?;
        response.json()
    }

    /// `POST url` with `body` as JSON (`content-type: application/json`).
    pub fn post_json(&self, url: &str, body: &impl Serialize) -> Result<Response, HttpError> {
        let body =
            serde_json::to_vec(body).map_err(|e| HttpError::new(format!("the request body is not JSON: {e}")))?;
        self.request("POST", url, &[("content-type", "application/json")], Some(&body))
    }

    /// Any request: `method`, an absolute `http://` or `https://` URL, headers (after the
    /// client's own), an optional body.
    pub fn request(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Result<Response, HttpError> {
        let own = self.headers.iter().map(|(n, v)| (n.as_str(), v.as_str()));
        let headers: Vec<(&str, &str)> = own.chain(headers.iter().copied()).collect();
        send(method, url, &headers, body, self.timeout)
    }
}

/// `GET url`.
pub fn get(url: &str) -> Result<Response, HttpError> {
    Client::default().get(url)
}

/// `GET url`, the body parsed as JSON; a status other than 2xx is an error.
pub fn get_json<T: DeserializeOwned>(url: &str) -> Result<T, HttpError> {
    Client::default().get_json(url)
}

/// `POST url` with `body` as JSON (`content-type: application/json`).
pub fn post_json(url: &str, body: &impl Serialize) -> Result<Response, HttpError> {
    Client::default().post_json(url, body)
}

/// Any request: `method`, an absolute `http://` or `https://` URL, headers, an optional
/// body.
pub fn request(method: &str, url: &str, headers: &[(&str, &str)], body: Option<&[u8]>) -> Result<Response, HttpError> {
    Client::default().request(method, url, headers, body)
}

fn expect_ok(response: &Response, url: &str) -> Result<(), HttpError> {
    if response.ok() {
        Ok(())
    } else {
        let body = response.text();
        let shown: String = body.chars().take(200).collect();
        Err(HttpError::new(format!("{url} answered {}: {shown}", response.status)))
    }
}

fn send(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
    timeout: Option<Duration>,
) -> Result<Response, HttpError> {
    let parts = Parts::parse(url)?;
    let mut fields: Vec<(String, Vec<u8>)> =
        headers.iter().map(|(n, v)| (n.to_ascii_lowercase(), v.as_bytes().to_vec())).collect();
    // A known length rather than chunked encoding: some receivers (and proxies) want it.
    if let Some(body) = body.filter(|_| !fields.iter().any(|(n, _)| n == "content-length")) {
        fields.push(("content-length".into(), body.len().to_string().into_bytes()));
    }
    let fields =
        Fields::from_list(&fields).map_err(|e| HttpError::new(format!("a request header is not allowed: {e:?}")))?;
    let outgoing = OutgoingRequest::new(fields);
    let method = match method.to_ascii_uppercase().as_str() {
        "GET" => Method::Get,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "PATCH" => Method::Patch,
        "DELETE" => Method::Delete,
        "HEAD" => Method::Head,
        "OPTIONS" => Method::Options,
        other => Method::Other(other.to_string()),
    };
    let set = outgoing.set_method(&method).is_ok()
        && outgoing.set_scheme(Some(&parts.scheme)).is_ok()
        && outgoing.set_authority(Some(&parts.authority)).is_ok()
        && outgoing.set_path_with_query(Some(&parts.path)).is_ok();
    if !set {
        return Err(HttpError::new(format!("`{url}` cannot be requested (method, authority or path refused)")));
    }
    let outgoing_body = outgoing.body().map_err(|()| HttpError::new("the request body was already taken"))?;
    let options = timeout.map(|t| {
        let options = RequestOptions::new();
        let nanos = u64::try_from(t.as_nanos()).unwrap_or(u64::MAX);
        // A host that cannot honour one keeps its own limit, which still ends the request.
        let _ = options.set_connect_timeout(Some(nanos));
        let _ = options.set_first_byte_timeout(Some(nanos));
        let _ = options.set_between_bytes_timeout(Some(nanos));
        options
    });
    let pending = outgoing_handler::handle(outgoing, options).map_err(|e| fail(&e))?;
    // A request the host refuses closes the body stream while it is written: the
    // response's error (the refusal, naming the URL) says why, so it goes first.
    let written = write_body(outgoing_body, body.unwrap_or_default());
    pending.subscribe().block();
    let response = match pending.get() {
        Some(Ok(Ok(response))) => response,
        Some(Ok(Err(e))) => return Err(fail(&e)),
        Some(Err(())) | None => return Err(written.err().unwrap_or_else(|| HttpError::new("the response was lost"))),
    };
    written?;
    let status = response.status();
    let headers = response.headers().entries();
    let incoming = response.consume().map_err(|()| HttpError::new("the response body was already taken"))?;
    let stream = incoming.stream().map_err(|()| HttpError::new("the response body cannot be read"))?;
    let mut body = Vec::new();
    loop {
        match stream.blocking_read(64 * 1024) {
            Ok(chunk) => body.extend_from_slice(&chunk),
            Err(StreamError::Closed) => break,
            Err(StreamError::LastOperationFailed(e)) => {
                let Some(code) = wasip2::http::types::http_error_code(&e) else {
                    return Err(HttpError::new(format!("reading the response body failed: {}", e.to_debug_string())));
                };
                let failed = fail(&code);
                return Err(HttpError { message: format!("reading the response body failed: {failed}"), ..failed });
            }
        }
    }
    Ok(Response { status, headers, body })
}

fn write_body(outgoing: OutgoingBody, body: &[u8]) -> Result<(), HttpError> {
    let failed = |e: StreamError| HttpError::new(format!("sending the request body failed: {e:?}"));
    {
        let stream = outgoing.write().map_err(|()| HttpError::new("the request body cannot be written"))?;
        for chunk in body.chunks(CHUNK) {
            stream.blocking_write_and_flush(chunk).map_err(failed)?;
        }
    }
    OutgoingBody::finish(outgoing, None).map_err(|e| fail(&e))
}

fn fail(code: &ErrorCode) -> HttpError {
    let timed_out = matches!(
        code,
        ErrorCode::ConnectionReadTimeout
            | ErrorCode::ConnectionWriteTimeout
            | ErrorCode::ConnectionTimeout
            | ErrorCode::HttpResponseTimeout
    );
    HttpError { message: describe(code), timed_out }
}

/// An error code as a sentence; troupe's refusals come as `internal-error` with the
/// host's message, which is passed on as it is.
fn describe(code: &ErrorCode) -> String {
    match code {
        ErrorCode::InternalError(Some(message)) => message.clone(),
        ErrorCode::DnsError(_) => "the host name could not be resolved".into(),
        ErrorCode::ConnectionRefused => "the connection was refused".into(),
        ErrorCode::ConnectionReadTimeout
        | ErrorCode::ConnectionWriteTimeout
        | ErrorCode::ConnectionTimeout
        | ErrorCode::HttpResponseTimeout => "the request timed out".into(),
        ErrorCode::HttpResponseBodySize(limit) => {
            format!(
                "the response body is over the limit{}",
                limit.map(|l| format!(" of {l} bytes")).unwrap_or_default()
            )
        }
        ErrorCode::TlsCertificateError => "the server's TLS certificate was not accepted".into(),
        other => format!("the request failed: {other:?}"),
    }
}

/// An absolute URL split the way `wasi:http` takes it.
struct Parts {
    scheme: Scheme,
    authority: String,
    path: String,
}

impl Parts {
    fn parse(url: &str) -> Result<Parts, HttpError> {
        let (scheme, rest) = if let Some(rest) = url.strip_prefix("https://") {
            (Scheme::Https, rest)
        } else if let Some(rest) = url.strip_prefix("http://") {
            (Scheme::Http, rest)
        } else {
            return Err(HttpError::new(format!("`{url}` is not an http:// or https:// URL")));
        };
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        if authority.is_empty() || authority.contains('@') {
            return Err(HttpError::new(format!("`{url}` names no host (or a user, which is not supported)")));
        }
        let tail = tail.split('#').next().unwrap_or_default();
        let path = if tail.starts_with('/') { tail.to_string() } else { format!("/{tail}") };
        Ok(Parts { scheme, authority: authority.to_string(), path })
    }
}
