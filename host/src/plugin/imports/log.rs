//! `troupe:executor/log`, plus capture of the guest SDK's panic message so a trap's
//! error can say why the guest panicked.

use crate::api::LogLevel;
use crate::plugin::bindings::log::{Host, Level};
use crate::plugin::store::HostState;

/// The prefix troupe-sdk's panic hook puts before a panic message.
const PANIC_PREFIX: &str = "panic: ";

/// Longest log message kept; a plugin cannot flood the host's log with one call.
const MAX_MESSAGE: usize = 8 * 1024;

impl Host for HostState {
    fn log(&mut self, level: Level, message: String) {
        let level = match level {
            Level::Trace => LogLevel::Trace,
            Level::Debug => LogLevel::Debug,
            Level::Info => LogLevel::Info,
            Level::Warn => LogLevel::Warn,
            Level::Error => LogLevel::Error,
        };
        let mut message = message;
        if message.len() > MAX_MESSAGE {
            let cut = (0..=MAX_MESSAGE).rev().find(|i| message.is_char_boundary(*i)).unwrap_or(0);
            message.truncate(cut);
            message.push_str(" [truncated]");
        }
        if level == LogLevel::Error {
            if let Some(panic) = message.strip_prefix(PANIC_PREFIX) {
                self.panic_message = Some(panic.to_string());
            }
        }
        self.host.log(&self.scope, level, &message);
    }
}

impl crate::plugin::bindings::types::Host for HostState {}
