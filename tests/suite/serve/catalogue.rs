//! What the server says about itself: the pipelines and plugins it can run, and the
//! OpenAPI document, served and kept identical to `docs/openapi.json`.

use super::server::Server;
use serde_json::{json, Value};
use std::path::Path;
use troupe_tests::{assert_golden, root};

#[test]
fn the_catalogue_lists_pipelines_and_plugins() {
    let server = Server::start(&[]);
    let (status, pipelines) = server.get("/v1/pipelines");
    assert_eq!(status, 200);
    assert_eq!(pipelines[0]["name"], "documents");
    assert_eq!(pipelines[0]["modes"], json!(["broadcast", "fork-join", "gather", "scatter"]));
    let (_, plugins) = server.get("/v1/plugins");
    let find = |role: &str, name: &str| -> Value {
        plugins["plugins"].as_array().unwrap().iter().find(|p| p["role"] == role && p["name"] == name).cloned().unwrap()
    };
    assert_eq!(plugins["error"], Value::Null, "{plugins}");
    assert_eq!(plugins["olderSetsInUse"], 0, "{plugins}");
    assert_eq!(find("mode", "scatter")["witVersion"], "0.2.1");
    assert_eq!(find("actor", "Wait")["kind"], "builtin");
    assert_eq!(find("actor", "FetchJson")["allowHttp"], json!([]));
}

#[test]
fn the_openapi_document_is_served_and_checked_in() {
    let generated = troupe::serve::openapi_document();
    assert_golden(Path::new(&root().join("docs/openapi.json")), &generated);
    let server = Server::start(&[]);
    let (status, served) = server.get("/v1/openapi.json");
    assert_eq!(status, 200);
    assert_eq!(served, serde_json::from_str::<Value>(&generated).unwrap());
    for path in
        ["/v1/runs", "/v1/runs/{id}", "/v1/runs/{id}/cancel", "/v1/runs/{id}/events", "/v1/events", "/v1/validate"]
    {
        assert!(served["paths"].get(path).is_some(), "{path} is not documented");
    }
}
