//! The examples in `examples/` run end to end with the results their READMEs show.

use serde_json::{json, Value};
use troupe_tests::{root, run_pipeline};

fn load(example: &str) -> (Value, Value) {
    let dir = root().join("examples").join(example);
    let read = |f: &str| -> Value { serde_json::from_str(&std::fs::read_to_string(dir.join(f)).unwrap()).unwrap() };
    (read("pipeline.json"), read("input.json"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn document_processing_classifies_consolidates_notifies_and_forks() {
    let (pipeline, input) = load("document-processing");
    let (report, _, _workers) = run_pipeline(pipeline, input, 8).await;
    let c = report.unwrap().context;
    let kinds: Vec<&str> =
        c["process-files"].as_array().unwrap().iter().map(|p| p["documentType"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["invoice", "invoice", "contract", "receipt", "report", "contract", "other"]);
    let groups: Vec<(&str, u64)> = c["consolidate"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["key"].as_str().unwrap(), g["result"]["pages"].as_u64().unwrap()))
        .collect();
    assert_eq!(groups, [("invoice", 2), ("contract", 2), ("receipt", 1), ("report", 1), ("other", 1)]);
    assert_eq!(c["notify-all"]["EmailNotifier"]["subject"], "Documents processed: 7 pages");
    assert_eq!(
        c["notify-all"]["SlackNotifier"]["text"],
        ":page_facing_up: Processed 2 invoice, 2 contract, 1 receipt, 1 report, 1 other"
    );
    assert_eq!(c["notify-all"]["WebhookNotifier"]["payload"]["pagesByType"]["invoice"], 2);
    assert_eq!(c["parallel-processing"]["validate"]["issues"], json!(["inbox/scan-0007.png could not be classified"]));
    assert_eq!(
        c["parallel-processing"]["transform"]["csv"],
        "documentType,pages,words\ninvoice,2,24\ncontract,2,19\nreceipt,1,10\nreport,1,10\nother,1,0\n"
    );
    assert_eq!(c["parallel-processing"]["extract"]["extracted"][0]["amounts"], json!(["$1,250.00"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seeds_real_world_example_retries_then_processes() {
    let (pipeline, input) = load("real-world");
    let (report, engine, _workers) = run_pipeline(pipeline, input, 4).await;
    let report = report.unwrap();
    assert_eq!(report.context["process"], json!({ "fetched": "https://api.example.com/orders" }));
    let attempts = engine.task_history(&report.run_id, "fetch-data").unwrap()[0].1.len();
    assert_eq!(attempts, 3, "two failures, then success on the third attempt");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seeds_rate_limited_example_spaces_its_requests() {
    let (pipeline, input) = load("rate-limited");
    let (report, engine, _workers) = run_pipeline(pipeline, input, 8).await;
    let report = report.unwrap();
    assert_eq!(report.context["api-calls"][19], json!({ "url": "https://api.example.com/items/19" }));
    let mut released: Vec<u64> =
        engine.task_history(&report.run_id, "api-calls").unwrap().into_iter().map(|(_, t)| t[0]).collect();
    released.sort();
    assert!(released[19] + 5 >= released[0] + 1900, "20 requests at 10 per second take 1.9 s: {released:?}");
}
