//! troupe's end-to-end tests, one module per suite, linked into one test binary: each
//! binary links wasmtime and troupe, so seventeen of them cost seventeen release links
//! for the same code. Test names start with their module (`pipelines::...`,
//! `hostile::cache::...`), which is how `cargo xtask test` picks the behavioural suites
//! for its second pass on Redis (`TROUPE_TEST_ENGINE=redis`): `pipelines`,
//! `custom_executors`, `examples`, `wdl_examples`, `hostile` and `python_guests` read the
//! engine choice of [`troupe_tests::run_pipeline`] and its kin; the others run once.
//!
//! Suites that run their own processes (`troupe` commands, Redis, the Python worker) give
//! them key prefixes and temporary directories of their own, so they share this process
//! with every other suite as they shared the machine before.

mod cluster;
mod compat;
mod conformance;
mod custom_executors;
mod dashboard;
mod distributed;
mod document_workers;
mod examples;
mod external_actors;
mod grants;
mod growing_stages;
mod harness;
mod hostile;
mod hot_reload;
mod js_guests;
mod live;
mod loading;
mod manifest_ui;
mod node_worker_package;
mod notifiers;
mod pipelines;
mod protocol_doc;
mod python_guests;
mod python_worker_package;
mod retention;
mod sandbox;
mod scaffold;
mod sdk;
mod serve;
mod validate_ui;
mod wdl_compile;
mod wdl_docs;
mod wdl_examples;
mod wdl_fuzz;
mod wdl_ui;
mod wdl_validate;
mod worker_conformance;
