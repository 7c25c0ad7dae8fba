//! The HTTP API under `/v1`: one handler per operation, each documented for the OpenAPI
//! document (`openapi.rs`) by its `#[utoipa::path]`.

use super::events::{Event, Numbered};
use super::live::{LiveAll, RunLive};
use super::problem::Problem;
use super::service::{
    PipelineView, PluginList, RunDetail, RunFilter, RunPage, RunView, Runs, StageView, SubmitRun, TuneStage,
    ValidateRequest, Validation,
};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures_util::stream::{self, Stream, StreamExt};
use serde::Serialize;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast;
use utoipa::ToSchema;

pub type Api = Arc<dyn Runs>;

/// A JSON body, or a problem naming what is wrong with it and where (a JSON pointer).
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> axum::extract::FromRequest<S> for Body<T> {
    type Rejection = Problem;

    async fn from_request(request: axum::extract::Request, state: &S) -> Result<Self, Problem> {
        let json =
            request.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| {
                v.split(';').next().is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
            });
        if !json {
            let mut problem = Problem::bad_request("send the body as JSON with `Content-Type: application/json`", "");
            problem.status = StatusCode::UNSUPPORTED_MEDIA_TYPE.as_u16();
            problem.title = "The body must be JSON".into();
            return Err(problem);
        }
        let bytes = axum::body::Bytes::from_request(request, state).await.map_err(|rejection| {
            let mut problem = Problem::bad_request(crate::text::one_line(&rejection.body_text(), 1024), "");
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                problem.status = StatusCode::PAYLOAD_TOO_LARGE.as_u16();
                problem.title = "The body is over the server's limit (--max-body-mib)".into();
            }
            problem
        })?;
        let mut reader = serde_json::Deserializer::from_slice(&bytes);
        let value = serde_path_to_error::deserialize(&mut reader).map_err(|e| {
            let pointer: String = e
                .path()
                .iter()
                .filter_map(|segment| match segment {
                    serde_path_to_error::Segment::Seq { index } => Some(format!("/{index}")),
                    serde_path_to_error::Segment::Map { key } => {
                        Some(format!("/{}", key.replace('~', "~0").replace('/', "~1")))
                    }
                    _ => None,
                })
                .collect();
            let detail = crate::text::one_line(&e.inner().to_string(), 1024);
            Problem::bad_request(format!("the body is not what this operation takes: {detail}"), &pointer)
        })?;
        reader.end().map_err(|e| Problem::bad_request(format!("the body is not one JSON value: {e}"), ""))?;
        Ok(Body(value))
    }
}

/// Run work that calls plugins (validation) off the async threads.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, Problem> {
    tokio::task::spawn_blocking(work).await.map_err(|e| Problem::internal(format!("the request's work failed: {e}")))
}

/// Submit a run: a named pipeline or an inline definition, with its input.
#[utoipa::path(post, path = "/v1/runs", tag = "runs", request_body = SubmitRun,
    params(("Idempotency-Key" = Option<String>, Header, description = "The same key with the same request returns the same run")),
    responses(
        (status = 201, description = "The run started", body = RunView),
        (status = 200, description = "An earlier run with the same idempotency key and request", body = RunView),
        (status = 400, description = "The body cannot be read", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No pipeline of that name", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The idempotency key was used for another request", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The pipeline is invalid: every problem, by field", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn submit(
    State(api): State<Api>,
    headers: HeaderMap,
    Body(request): Body<SubmitRun>,
) -> Result<Response, Problem> {
    let key = match headers.get("idempotency-key") {
        None => None,
        Some(value) => Some(
            value
                .to_str()
                .map_err(|_| Problem::bad_request("the Idempotency-Key header is not text", "Idempotency-Key"))?
                .to_string(),
        ),
    };
    let submitted = blocking(move || api.submit(request, key)).await??;
    let status = if submitted.created { StatusCode::CREATED } else { StatusCode::OK };
    let location = format!("/v1/runs/{}", submitted.run.id);
    Ok((status, [(header::LOCATION, location)], Json(submitted.run)).into_response())
}

/// List runs, newest first, a page at a time.
#[utoipa::path(get, path = "/v1/runs", tag = "runs", params(RunFilter),
    responses(
        (status = 200, description = "A page of runs", body = RunPage),
        (status = 400, description = "A bad filter", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list(
    State(api): State<Api>,
    filter: Result<Query<RunFilter>, QueryRejection>,
) -> Result<Json<RunPage>, Problem> {
    let Query(filter) = filter.map_err(|e| Problem::bad_request(crate::text::one_line(&e.body_text(), 1024), "?"))?;
    Ok(Json(api.list(&filter)?))
}

/// One run: stages with their counts, outputs, failed tasks with their errors and
/// attempts, stragglers, and the plugins it used.
#[utoipa::path(get, path = "/v1/runs/{id}", tag = "runs", params(("id" = String, Path, description = "The run's id")),
    responses(
        (status = 200, description = "The run", body = RunDetail),
        (status = 404, description = "No such run", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get(State(api): State<Api>, Path(id): Path<String>) -> Result<Json<RunDetail>, Problem> {
    Ok(Json(blocking(move || api.get(&id)).await??))
}

/// Cancel a running run: tasks not started are dropped, running ones finish.
#[utoipa::path(post, path = "/v1/runs/{id}/cancel", tag = "runs", params(("id" = String, Path, description = "The run's id")),
    responses(
        (status = 202, description = "The run is being cancelled", body = RunView),
        (status = 404, description = "No such run", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The run already ended", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn cancel(State(api): State<Api>, Path(id): Path<String>) -> Result<(StatusCode, Json<RunView>), Problem> {
    Ok((StatusCode::ACCEPTED, Json(api.cancel(&id)?)))
}

/// Change a running stage: its `maxParallel` (applied from the next release) and its rate
/// (waiting tasks re-timed from now), recorded in the run's events (`stage-retuned`).
#[utoipa::path(patch, path = "/v1/runs/{id}/stages/{stage}", tag = "runs", request_body = TuneStage,
    params(("id" = String, Path, description = "The run's id"), ("stage" = String, Path, description = "The stage's name")),
    responses(
        (status = 200, description = "The stage, retuned", body = StageView),
        (status = 400, description = "Nothing or a bad value to change", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such run or stage", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The stage is not running", body = Problem, content_type = "application/problem+json"),
        (status = 501, description = "A change not supported yet (the rate)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn tune(
    State(api): State<Api>,
    Path((id, stage)): Path<(String, String)>,
    Body(request): Body<TuneStage>,
) -> Result<Json<StageView>, Problem> {
    Ok(Json(api.tune(&id, &stage, &request)?))
}

/// A run's running stages now (slots in use, tasks waiting for their time, the rate
/// bucket pacing them) and the cards the modes it uses show (circuit breakers, ...).
#[utoipa::path(get, path = "/v1/runs/{id}/live", tag = "live",
    params(("id" = String, Path, description = "The run's id")),
    responses(
        (status = 200, description = "The run's live state", body = RunLive),
        (status = 404, description = "No such run", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn run_live(State(api): State<Api>, Path(id): Path<String>) -> Result<Json<RunLive>, Problem> {
    Ok(Json(blocking(move || api.live(&id)).await??))
}

/// Every running run's live state, and the cards of every plugin new runs get.
#[utoipa::path(get, path = "/v1/live", tag = "live",
    responses((status = 200, description = "Every running run's live state and every plugin's cards", body = LiveAll)))]
pub async fn live(State(api): State<Api>) -> Result<Json<LiveAll>, Problem> {
    Ok(Json(blocking(move || api.live_all()).await?))
}

/// Check a pipeline without running it: every problem, by field.
#[utoipa::path(post, path = "/v1/validate", tag = "pipelines", request_body = ValidateRequest,
    responses(
        (status = 200, description = "Whether it is valid, and every problem", body = Validation),
        (status = 400, description = "The body cannot be read", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn validate(
    State(api): State<Api>,
    Body(request): Body<ValidateRequest>,
) -> Result<Json<Validation>, Problem> {
    Ok(Json(blocking(move || api.validate(&request.pipeline)).await?))
}

/// The named pipelines the server was started with (`--pipelines DIR`).
#[utoipa::path(get, path = "/v1/pipelines", tag = "pipelines",
    responses((status = 200, description = "Every named pipeline", body = Vec<PipelineView>)))]
pub async fn pipelines(State(api): State<Api>) -> Json<Vec<PipelineView>> {
    Json(api.pipelines())
}

/// Every mode and actor new runs get, with its component's sha256, grants and when it
/// was loaded; the server's reloads and the newest refusal (hot reload).
#[utoipa::path(get, path = "/v1/plugins", tag = "plugins",
    responses((status = 200, description = "Every plugin", body = PluginList)))]
pub async fn plugins(State(api): State<Api>) -> Json<PluginList> {
    Json(api.plugins())
}

#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `ok`.
    pub status: String,
    /// Runs not ended yet.
    pub running: usize,
}

/// Whether the server is up (no token needed).
#[utoipa::path(get, path = "/v1/health", tag = "server", security(()),
    responses((status = 200, description = "The server is up", body = Health)))]
pub async fn health(State(api): State<Api>) -> Json<Health> {
    Json(Health { status: "ok".into(), running: api.running().len() })
}

/// A run's events as server-sent events: first a `snapshot` (the run's view), then
/// `run-started`, `stage-started`, `stage-progress`, `stage-ended`, `task-failed` and
/// `run-ended`, each `data` one JSON object. The stream ends after `run-ended`.
#[utoipa::path(get, path = "/v1/runs/{id}/events", tag = "runs", params(("id" = String, Path, description = "The run's id")),
    responses(
        (status = 200, description = "The event stream", body = Event, content_type = "text/event-stream"),
        (status = 404, description = "No such run", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn run_events(State(api): State<Api>, Path(id): Path<String>) -> Result<Response, Problem> {
    let (view, receiver) = api.watch(&id)?;
    let ended = view.status != super::service::RunState::Running;
    let snapshot =
        SseEvent::default().event("snapshot").json_data(&view).map_err(|e| Problem::internal(e.to_string()))?;
    let first = stream::iter([Ok::<_, Infallible>(snapshot)]);
    if ended {
        return Ok(Sse::new(first).into_response());
    }
    let live = events(receiver, true).map(Sent::into_sse);
    Ok(Sse::new(first.chain(live)).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))).into_response())
}

/// Every run's events, as `GET /v1/runs/{id}/events` sends them (without snapshots),
/// until the client goes.
#[utoipa::path(get, path = "/v1/events", tag = "runs",
    responses((status = 200, description = "The event stream", body = Event, content_type = "text/event-stream")))]
pub async fn all_events(State(api): State<Api>) -> Response {
    let live = events(api.watch_all(), false).map(Sent::into_sse);
    Sse::new(live).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))).into_response()
}

/// What goes out on a stream.
enum Sent {
    Event(Numbered),
    /// The run ended (sent, then the stream ends).
    Ended(Numbered),
    /// This subscriber fell behind and missed events.
    Lagged(u64),
}

impl Sent {
    fn into_sse(self) -> Result<SseEvent, Infallible> {
        Ok(match self {
            Sent::Event(n) | Sent::Ended(n) => {
                let data = serde_json::to_string(&n.event).unwrap_or_default();
                let event = SseEvent::default().event(n.event.name()).data(data);
                if n.seq > 0 {
                    event.id(n.seq.to_string())
                } else {
                    event
                }
            }
            Sent::Lagged(missed) => {
                SseEvent::default().event("lagged").data(serde_json::json!({ "missed": missed }).to_string())
            }
        })
    }
}

/// What `receiver` gets, as it comes; with `one_run`, up to and including `run-ended`.
fn events(receiver: broadcast::Receiver<Numbered>, one_run: bool) -> impl Stream<Item = Sent> {
    stream::unfold((receiver, false), move |(mut receiver, over)| async move {
        if over {
            return None;
        }
        match receiver.recv().await {
            Ok(n) if matches!(n.event, Event::RunEnded { .. }) => Some((Sent::Ended(n), (receiver, one_run))),
            Ok(n) => Some((Sent::Event(n), (receiver, false))),
            Err(broadcast::error::RecvError::Lagged(missed)) => Some((Sent::Lagged(missed), (receiver, false))),
            Err(broadcast::error::RecvError::Closed) => None,
        }
    })
}

/// The Prometheus metrics (text format 0.0.4), for a scraper; with a token, it needs it
/// too (Prometheus's `authorization` setting).
pub async fn metrics(State(api): State<Api>) -> Response {
    let text = tokio::task::spawn_blocking(move || api.metrics()).await.unwrap_or_default();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response()
}

/// The OpenAPI document of this API.
pub async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], super::openapi::document()).into_response()
}

/// Anything else under `/v1`.
pub async fn not_found() -> Problem {
    Problem::not_found("no such endpoint: the API is described at /v1/openapi.json")
}
