//! What the API refuses and why: problem documents naming the field that is wrong (and
//! their status codes), `/v1/validate` saying every problem without running anything, and
//! the bearer token guarding every operation but the health check.

use super::server::Server;
use serde_json::{json, Value};
use std::process::Command;
use troupe_tests::root;

#[test]
fn problems_name_the_field_that_is_wrong() {
    let server = Server::start(&[]);
    let (status, problem) = server.post(
        "/v1/runs",
        &json!({ "pipeline": { "stages": [{ "name": "a", "mode": "scater", "actor": "Pass", "input": "$.trigger" },
                                           { "name": "b", "mode": "single", "actor": "Pas", "input": "$.a" }] } }),
    );
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["type"], "urn:troupe:problem:invalid-pipeline");
    assert_eq!(problem["detail"], "the pipeline `inline` has 2 problems; nothing ran");
    let errors = problem["errors"].as_array().unwrap();
    assert_eq!(errors[0]["pointer"], "/pipeline/stages/0/mode");
    assert_eq!(errors[0]["stage"], "a");
    assert!(errors[0]["message"].as_str().unwrap().starts_with("mode: unknown mode `scater`"), "{errors:?}");
    assert_eq!(errors[1]["pointer"], "/pipeline/stages/1/actor");
    assert!(errors[1]["message"].as_str().unwrap().contains("did you mean `Pass`?"), "{errors:?}");

    let (status, problem) = server.post("/v1/runs", &json!({ "pipeline": "nope" }));
    assert_eq!(status, 404);
    assert_eq!(problem["detail"], "no pipeline named `nope`; the server has: documents, documents-wdl");
    assert_eq!(problem["errors"][0]["pointer"], "/pipeline");

    let (status, problem) = server.post("/v1/runs", &json!({ "pipeline": "documents", "idempotencyKey": 7 }));
    assert_eq!(status, 400, "{problem}");
    assert_eq!(problem["errors"][0]["pointer"], "/idempotencyKey");
    let (status, problem) = server.post("/v1/runs", &json!({ "pipline": "documents" }));
    assert_eq!(status, 400, "{problem}");
    assert!(problem["detail"].as_str().unwrap().contains("unknown field `pipline`"), "{problem}");

    let mut response = server
        .agent
        .post(&server.url("/v1/runs"))
        .header("content-type", "text/plain")
        .send("pipeline=documents")
        .unwrap();
    assert_eq!(response.status().as_u16(), 415);
    assert_eq!(response.headers()["content-type"], "application/problem+json");
    let body: Value = serde_json::from_str(&response.body_mut().read_to_string().unwrap()).unwrap();
    assert_eq!(body["status"], 415);

    let (status, problem) = server.get("/v1/nothing-here");
    assert_eq!((status, problem["type"].as_str()), (404, Some("urn:troupe:problem:not-found")));
    let (status, problem) = server.get("/v1/runs/run-unknown");
    assert_eq!(status, 404);
    assert!(problem["detail"].as_str().unwrap().starts_with("no run `run-unknown` on this server"), "{problem}");
}

#[test]
fn validate_says_every_problem_without_running() {
    let server = Server::start(&[]);
    let (status, ok) = server.post("/v1/validate", &json!({ "pipeline": "documents" }));
    assert_eq!((status, &ok), (200, &json!({ "valid": true, "problems": [] })));
    let (status, bad) = server.post(
        "/v1/validate",
        &json!({ "pipeline": [{ "name": "g", "mode": "gather", "actor": "Pass", "gather": { "stage": "later" } }] }),
    );
    assert_eq!(status, 200, "{bad}");
    assert_eq!(bad["valid"], false);
    assert_eq!(bad["problems"][0]["pointer"], "/pipeline/stages/0/gather");
    let (_, page) = server.get("/v1/runs");
    assert_eq!(page["runs"], json!([]), "validation runs nothing");
}

#[test]
fn a_token_guards_every_operation_but_the_health_check() {
    let token = "a-test-token-of-some-length";
    let server = Server::start_with(&[], Some(token));
    let mut anonymous = server.agent.get(&server.url("/v1/runs")).call().unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);
    assert_eq!(anonymous.headers()["www-authenticate"], "Bearer");
    let body: Value = serde_json::from_str(&anonymous.body_mut().read_to_string().unwrap()).unwrap();
    assert_eq!(body["type"], "urn:troupe:problem:unauthorized");
    let wrong = server.agent.get(&server.url("/v1/runs")).header("authorization", "Bearer wrong").call().unwrap();
    assert_eq!(wrong.status().as_u16(), 401);
    let health = server.agent.get(&server.url("/v1/health")).call().unwrap();
    assert_eq!(health.status().as_u16(), 200);
    let (status, _) = server.get("/v1/runs");
    assert_eq!(status, 200, "with the token");

    // Beyond loopback without a token, the server refuses to start.
    let out = Command::new(root().join("target/release/troupe"))
        .current_dir(root())
        .args(["serve", "--listen", "0.0.0.0:0"])
        .env_remove("TROUPE_TOKEN")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("refusing to listen on 0.0.0.0:0 without a token"), "{stderr}");
}
