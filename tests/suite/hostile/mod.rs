//! The hostile-plugin suite: plugins, files, inputs and Redis contents that try to hurt
//! the host, each with the specific error the host must give and a check that the host
//! keeps serving the next run. One module per kind of attack; fixtures are built by
//! `cargo xtask build` (Rust in `plugins/fixtures/`, Python in `plugins/python/fixtures/`)
//! or written inline as WAT.
//!
//! The suites that use [`troupe_tests`]' engine choice run on both engines (`cargo xtask
//! test` runs the `hostile::` tests again with `TROUPE_TEST_ENGINE=redis`).

mod cache;
mod cancel;
mod definitions;
mod files;
mod guest_output;
mod held_data;
mod host_limits;
mod numbers;
mod redis_state;
mod task_records;
