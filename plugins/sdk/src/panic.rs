//! A guest panic aborts the instance (a trap) and its message would be lost. The hook
//! sends it to the host log first, at error level with the `panic: ` prefix, and the host
//! puts it in the error it reports for the trap.

use std::sync::Once;

pub const PREFIX: &str = "panic: ";

pub fn install_hook() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            crate::log::error(&format!("{PREFIX}{info}"));
        }))
    });
}
