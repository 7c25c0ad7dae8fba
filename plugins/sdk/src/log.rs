//! The run's log; the host tags each message with the plugin, mode, run and stage.
//! `troupe` prints plugin lines at `warn` and above unless `TROUPE_LOG` says otherwise
//! (`TROUPE_LOG=debug troupe run ...`).

use crate::bindings::raw_log as raw;

pub use raw::Level;

pub fn log(level: Level, message: &str) {
    raw::log(level, message)
}

pub fn debug(message: &str) {
    raw::log(Level::Debug, message)
}

pub fn info(message: &str) {
    raw::log(Level::Info, message)
}

pub fn warn(message: &str) {
    raw::log(Level::Warn, message)
}

pub fn error(message: &str) {
    raw::log(Level::Error, message)
}
