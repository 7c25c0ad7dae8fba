//! `troupe:executor/log`, plus capture of the guest SDK's panic message so a trap's
//! error can say why the guest panicked.
//!
//! Every line is escaped and cut here, where it enters the host (`text::one_line`): a
//! newline or an ANSI/OSC escape in a plugin's message cannot fake or rewrite a host line
//! on any engine's output. Lines past the call's `log-lines`/`log-bytes` are dropped and
//! counted (see `LogBudget`).

use crate::api::LogLevel;
use crate::plugin::store::HostState;
use crate::text;

/// The prefix troupe-sdk's panic hook puts before a panic message.
const PANIC_PREFIX: &str = "panic: ";

impl HostState {
    pub(super) fn log_message(&mut self, level: LogLevel, message: String) {
        if level == LogLevel::Error {
            if let Some(panic) = message.strip_prefix(PANIC_PREFIX) {
                self.panic_message = Some(text::one_line(panic, text::LINE_BUDGET));
            }
        }
        if !self.log.admit(message.len()) {
            return;
        }
        self.host.log(&self.scope, level, &text::one_line(&message, text::LINE_BUDGET));
    }
}
