//! Outgoing HTTP for components (`wasi:http/outgoing-handler`), by grant only.
//!
//! wasmtime-wasi-http implements the interface; what leaves the host is decided here, in
//! [`HttpGate::send_request`], for every request, redirects included (a guest follows a
//! redirect by making a new request, which is checked like the first):
//! - the URL must be covered by one of the actor's `allow-http` grants (scheme, host,
//!   port, path prefix) and have no dot segment in its path;
//! - the host is resolved here and each address checked against the grant that covered
//!   it ([`HttpGrant::may_reach`]); the connection goes to the address checked, so a
//!   name that resolves to a public address at the check and an internal one at connect
//!   (DNS rebinding) cannot pass;
//! - per call: at most `http-requests` requests and `http-response-bytes` of response
//!   bodies; each request ends by `http-timeout-ms` and never after the call's deadline.
//!   The guest's own request options (connect, first-byte and between-bytes timeouts)
//!   are honoured within those bounds, never past them.
//!
//! A refusal reaches the guest as `internal-error` with a message naming the plugin and
//! the URL, and is kept for the call's error ([`HttpGate::refusal`]) in case the guest
//! does not pass it on.

use crate::manifest::{HttpGrant, Limits, RequestHost, Scheme};
use bytes::Bytes;
use http_body_util::BodyExt;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

/// What one call may still do, shared by its requests and their bodies.
#[derive(Default)]
struct Spent {
    requests: AtomicU64,
    response_bytes: AtomicU64,
    refusal: Mutex<Option<String>>,
}

/// One call's outgoing HTTP: the plugin's grants and what the call has used.
pub(crate) struct HttpGate {
    /// `actor `X`` or `executor `x``, for messages.
    who: Arc<str>,
    grants: Arc<[HttpGrant]>,
    limits: Limits,
    deadline: Instant,
    spent: Arc<Spent>,
}

type Sent = Box<
    dyn Future<Output = Result<(http::Response<WasiBody>, Box<dyn Future<Output = Result<(), Error>> + Send>), Error>>
        + Send,
>;

impl HttpGate {
    pub fn new(who: String, grants: Arc<[HttpGrant]>, limits: &Limits, deadline: Instant) -> Self {
        HttpGate { who: who.into(), grants, limits: *limits, deadline, spent: Arc::default() }
    }

    /// The first request this call was refused, if any.
    pub fn refusal(&self) -> Option<String> {
        self.spent.refusal.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl WasiHttpHooks for HttpGate {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = Result<(), Error>> + Send>,
    ) -> Sent {
        let (who, spent, limits, deadline) = (self.who.clone(), self.spent.clone(), self.limits, self.deadline);
        let checked = check(&self.who, &self.grants, &self.limits, &self.spent, request.uri());
        Box::new(async move {
            let (grant, url) = match checked {
                Ok(ok) => ok,
                Err(why) => return Err(refuse(&spent, why)),
            };
            let timeout =
                Duration::from_millis(limits.http_timeout_ms).min(deadline.saturating_duration_since(Instant::now()));
            let now = tokio::time::Instant::now();
            let ends = now + timeout;
            let asked = options.unwrap_or_default();
            let head_ends = asked.first_byte_timeout.map_or(ends, |t| ends.min(now + t));
            let connect = asked.connect_timeout;
            let sent = tokio::time::timeout_at(head_ends, send(&who, &grant, &url, request, connect)).await;
            let response = match sent {
                Ok(Ok(response)) => response,
                Ok(Err(Refused(why))) => return Err(refuse(&spent, why)),
                Ok(Err(Failed(e))) => return Err(e),
                Err(_) => return Err(Error::ConnectionReadTimeout),
            };
            let limit = limits.http_response_bytes;
            let body = Bounded {
                inner: response.1,
                spent: spent.clone(),
                limit,
                who: who.clone(),
                ends: Box::pin(tokio::time::sleep_until(ends)),
                between: asked.between_bytes_timeout,
                gap: asked.between_bytes_timeout.map(|t| Box::pin(tokio::time::sleep(t))),
            };
            let response = response.0.map(|_| body.boxed_unsync());
            Ok((response, Box::new(async { Ok(()) }) as Box<dyn Future<Output = _> + Send>))
        })
    }
}

/// A request's URL as checked: the grant that covers it, and where to connect.
struct Url {
    scheme: Scheme,
    host: String,
    port: u16,
    shown: String,
}

/// Why a request did not go out: refused by a grant or limit, or failed on the way.
enum Outcome {
    Refused(String),
    Failed(Error),
}
use Outcome::{Failed, Refused};

fn refuse(spent: &Spent, why: String) -> Error {
    spent.refusal.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert_with(|| why.clone());
    Error::InternalError(Some(why))
}

/// The checks that need no network: the URL against the grants, the request count.
fn check(
    who: &str,
    grants: &[HttpGrant],
    limits: &Limits,
    spent: &Spent,
    uri: &http::Uri,
) -> Result<(HttpGrant, Url), String> {
    let shown = crate::text::one_line(&uri.to_string(), 200);
    let scheme = match uri.scheme_str() {
        Some("http") => Scheme::Http,
        Some("https") => Scheme::Https,
        _ => return Err(format!("{who} may not reach {shown}: only http and https URLs can be granted")),
    };
    let Some(authority) = uri.authority() else {
        return Err(format!("{who} may not reach {shown}: the URL names no host"));
    };
    let host = RequestHost::parse(authority.host());
    let port = authority.port_u16().unwrap_or(scheme.default_port());
    let path = uri.path();
    let dotted = path.split('/').any(|s| {
        let s = s.to_ascii_lowercase();
        s == "." || s == ".." || s.contains("%2e") || s.contains("%2f")
    });
    if dotted {
        return Err(format!(
            "{who} may not reach {shown}: a path with `.`/`..` segments or escaped dots and slashes is refused"
        ));
    }
    let Some(grant) = grants.iter().find(|g| g.covers(scheme, &host, port, path)) else {
        let granted = if grants.is_empty() {
            "it has no allow-http grant".to_string()
        } else {
            format!(
                "not in its allow-http grant ({})",
                grants.iter().map(|g| g.to_string()).collect::<Vec<_>>().join(", ")
            )
        };
        return Err(format!("{who} may not reach {shown}: {granted}"));
    };
    let made = spent.requests.fetch_add(1, Ordering::Relaxed) + 1;
    if made > limits.http_requests {
        return Err(format!(
            "{who} may not reach {shown}: it made {} requests in this call, its limit http-requests",
            limits.http_requests
        ));
    }
    let host = match host {
        RequestHost::Name(name) => name,
        RequestHost::Ip(ip) => ip.to_string(),
    };
    Ok((grant.clone(), Url { scheme, host, port, shown }))
}

/// Resolve, check the addresses, connect to a checked one, send.
async fn send(
    who: &str,
    grant: &HttpGrant,
    url: &Url,
    mut request: http::Request<WasiBody>,
    connect: Option<Duration>,
) -> Result<(http::Response<()>, hyper::body::Incoming), Outcome> {
    let addresses: Vec<SocketAddr> = match tokio::net::lookup_host((url.host.as_str(), url.port)).await {
        Ok(found) => found.collect(),
        Err(_) => return Err(Failed(Error::DnsError { rcode: None, info_code: None })),
    };
    let allowed: Vec<SocketAddr> = addresses.iter().copied().filter(|a| grant.may_reach(a.ip())).collect();
    if allowed.is_empty() {
        let found: Vec<String> = addresses.iter().map(|a| a.ip().to_string()).collect();
        return Err(Refused(format!(
            "{who} may not reach {}: {} resolves to {}, not a public address; grant it by address to allow it \
             (allow-http = [\"{}://{}:{}\"])",
            url.shown,
            url.host,
            if found.is_empty() { "nothing".to_string() } else { found.join(", ") },
            url.scheme.as_str(),
            addresses.first().map_or(url.host.clone(), |a| match a.ip() {
                std::net::IpAddr::V6(ip) => format!("[{ip}]"),
                ip => ip.to_string(),
            }),
            url.port
        )));
    }
    let mut stream = None;
    let mut last = None;
    for address in &allowed {
        let connecting = TcpStream::connect(address);
        let connected = match connect {
            Some(limit) => match tokio::time::timeout(limit, connecting).await {
                Ok(connected) => connected,
                Err(_) => return Err(Failed(Error::ConnectionTimeout)),
            },
            None => connecting.await,
        };
        match connected {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last = Some(e),
        }
    }
    let Some(stream) = stream else {
        return Err(Failed(last.map_or(Error::ConnectionRefused, Error::Connect)));
    };
    // Origin-form on the wire: the host goes in the Host header wasi-http already set.
    let path = request.uri().path_and_query().map_or("/", |p| p.as_str()).to_string();
    *request.uri_mut() =
        http::Uri::builder().path_and_query(path).build().map_err(|_| Failed(Error::HttpRequestUriInvalid))?;
    let response = match url.scheme {
        Scheme::Http => exchange(stream, request).await?,
        Scheme::Https => {
            let name = rustls::pki_types::ServerName::try_from(url.host.clone())
                .map_err(|_| Failed(Error::HttpRequestUriInvalid))?;
            let tls = tls().connect(name, stream).await.map_err(|e| Failed(Error::Tls(e)))?;
            exchange(tls, request).await?
        }
    };
    let (parts, body) = response.into_parts();
    Ok((http::Response::from_parts(parts, ()), body))
}

/// One HTTP/1.1 exchange on `io`; the connection is driven by a task of its own.
async fn exchange<S>(io: S, request: http::Request<WasiBody>) -> Result<http::Response<hyper::body::Incoming>, Outcome>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
{
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(io)).await.map_err(|e| Failed(e.into()))?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    sender.send_request(request).await.map_err(|e| Failed(e.into()))
}

/// The TLS client configuration: the Mozilla roots (webpki-roots), built once.
fn tls() -> tokio_rustls::TlsConnector {
    static CONFIG: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    let config = CONFIG.get_or_init(|| {
        let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.into() };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("ring supports the default TLS versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        Arc::new(config)
    });
    tokio_rustls::TlsConnector::from(config.clone())
}

/// A response body that stops at the call's byte budget and at the request's end time.
struct Bounded {
    inner: hyper::body::Incoming,
    spent: Arc<Spent>,
    limit: u64,
    who: Arc<str>,
    ends: Pin<Box<tokio::time::Sleep>>,
    /// The guest's between-bytes timeout, and the timer of the current wait.
    between: Option<Duration>,
    gap: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl http_body::Body for Bounded {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Error>>> {
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    let read =
                        self.spent.response_bytes.fetch_add(data.len() as u64, Ordering::Relaxed) + data.len() as u64;
                    if read > self.limit {
                        let why = format!(
                            "{} read more than {} bytes of HTTP responses in this call, its limit http-response-bytes",
                            self.who, self.limit
                        );
                        let _ = refuse(&self.spent, why);
                        return Poll::Ready(Some(Err(Error::HttpResponseBodySize(Some(self.limit)))));
                    }
                }
                if let Some(between) = self.between {
                    self.gap = Some(Box::pin(tokio::time::sleep(between)));
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => {
                let gap_over = self.gap.as_mut().is_some_and(|gap| gap.as_mut().poll(cx).is_ready());
                if gap_over || self.ends.as_mut().poll(cx).is_ready() {
                    Poll::Ready(Some(Err(Error::ConnectionReadTimeout)))
                } else {
                    Poll::Pending
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }
}
