//! The API's OpenAPI 3.1 document, generated from the handlers and types (utoipa), so it
//! cannot drift from the code; `docs/openapi.json` is a checked-in copy that a test keeps
//! identical, for readers and client generators.

use super::events::{Counts, Event};
use super::live::{Card, CardKind, LiveAll, RateView, RunLive, StageLiveView, Until};
use super::problem::{FieldError, Problem};
use super::routes::{self, Health};
use super::service::{
    PipelineView, PluginList, PluginUse, PluginView, Rate, RunDetail, RunPage, RunState, RunView, StageState,
    StageView, SubmitRun, TaskView, TuneStage, ValidateRequest, Validation,
};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "troupe",
        description = "Submit, watch and steer pipeline runs on a `troupe serve` host. Errors are RFC 9457 \
            problem documents (`application/problem+json`). When the server has a token, every operation \
            but `GET /v1/health` needs `Authorization: Bearer <token>`."
    ),
    paths(
        routes::submit,
        routes::list,
        routes::get,
        routes::cancel,
        routes::tune,
        routes::run_events,
        routes::run_live,
        routes::live,
        routes::all_events,
        routes::validate,
        routes::pipelines,
        routes::plugins,
        routes::health
    ),
    components(schemas(
        Problem, FieldError, SubmitRun, RunView, RunDetail, RunPage, RunState, StageState, StageView, TaskView,
        PluginList, PluginUse, PluginView, PipelineView, crate::reload::Reload, crate::reload::Change, Validation, ValidateRequest, Counts, Event, Health, TuneStage, Rate,
        RunLive, LiveAll, StageLiveView, RateView, Card, CardKind, Until
    )),
    modifiers(&Bearer),
    security(("bearer" = [])),
    tags(
        (name = "runs", description = "Runs: submit, list, get, cancel, events"),
        (name = "pipelines", description = "Named pipelines and validation"),
        (name = "plugins", description = "The loaded modes and actors"),
        (name = "live", description = "What running stages and plugins' state hold now"),
        (name = "server", description = "The server itself")
    )
)]
struct Doc;

struct Bearer;

impl Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The document, pretty-printed, with the server's own version.
pub fn document() -> String {
    let mut doc = Doc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_string();
    doc.to_pretty_json().unwrap_or_default() + "\n"
}
