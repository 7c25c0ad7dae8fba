//! Text that crosses into the host from outside (a plugin's log line, its error, a
//! guest's stderr, a validation problem built from a pipeline file) made safe to print.
//!
//! Why: such text reaches an operator's terminal next to the host's own lines. A newline
//! would let a plugin fake a host line ("run ... finished"), an ANSI or OSC escape could
//! recolour, retitle or rewrite the terminal, and a 50 MB message would bury everything
//! else. So every control character is escaped (`\n`, `\u{1b}`, ...) and the text is cut
//! at a byte budget with a note of how much was left out. Printable Unicode is kept as is.

use std::fmt::Write as _;

/// The default budget for one line of plugin text (a log line, a task's error).
pub const LINE_BUDGET: usize = 4 * 1024;

/// The default budget for a multi-line block a guest wrote (its captured stderr).
pub const BLOCK_BUDGET: usize = 16 * 1024;

/// `text` on one line: every control character escaped, cut after `max_bytes` bytes of
/// the original with " ... (N bytes more)".
pub fn one_line(text: &str, max_bytes: usize) -> String {
    escape(text, max_bytes, false)
}

/// Like [`one_line`], but line breaks are kept (each continuation line is indented by
/// two spaces, so it cannot pass for a line of the host's own); every other control
/// character is escaped.
pub fn block(text: &str, max_bytes: usize) -> String {
    escape(text, max_bytes, true)
}

/// Cut `text` to at most `max_bytes` bytes on a character boundary, appending
/// " ... (N bytes more)" when anything was cut. No escaping.
pub fn truncate(text: &str, max_bytes: usize) -> String {
    if text.len() <= max_bytes {
        return text.to_string();
    }
    let cut = floor_char_boundary(text, max_bytes);
    format!("{} ... ({} bytes more)", &text[..cut], text.len() - cut)
}

fn escape(text: &str, max_bytes: usize, keep_newlines: bool) -> String {
    let cut = if text.len() > max_bytes { floor_char_boundary(text, max_bytes) } else { text.len() };
    let mut out = String::with_capacity(cut + 16);
    for c in text[..cut].chars() {
        match c {
            '\n' if keep_newlines => out.push_str("\n  "),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if is_unsafe(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    if cut < text.len() {
        let _ = write!(out, " ... ({} bytes more)", text.len() - cut);
    }
    out
}

/// C0 and C1 controls, DEL, and the bidirectional overrides and isolates that can make
/// a terminal show text in an order other than the bytes' (the "Trojan Source" trick).
fn is_unsafe(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}')
}

fn floor_char_boundary(text: &str, mut at: usize) -> usize {
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_controls_and_escapes() {
        assert_eq!(
            one_line("a\nrun x finished\x1b[2J\x1b]0;t\x07", 100),
            "a\\nrun x finished\\u{1b}[2J\\u{1b}]0;t\\u{7}"
        );
        assert_eq!(one_line("tab\there \u{202e}evil", 100), "tab\\there \\u{202e}evil");
        assert_eq!(one_line("ünïcødé ok", 100), "ünïcødé ok");
    }

    #[test]
    fn block_keeps_lines_but_indents_them() {
        assert_eq!(block("Traceback:\n  File x\r\n", 100), "Traceback:\n    File x\\r\n  ");
    }

    #[test]
    fn cuts_on_a_char_boundary_and_says_how_much() {
        assert_eq!(one_line("ééé", 3), "é ... (4 bytes more)");
        assert_eq!(truncate("abcdef", 4), "abcd ... (2 bytes more)");
        assert_eq!(truncate("abc", 4), "abc");
    }
}
