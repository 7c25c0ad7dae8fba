//! What went wrong, where: [`Diagnostic`], the [`Diagnostics`] error of [`crate::compile`],
//! and [`render`], which draws them under the source lines they concern (ariadne).

use crate::span::Span;
use ariadne::{CharSet, Config, IndexType, Label, Report, ReportKind, Source};
use std::fmt;

/// One problem at one place of the source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// The headline: what is wrong.
    pub message: String,
    /// Where; the renderer underlines it.
    pub span: Span,
    /// Printed at the underline: what is there, or what was expected.
    pub label: String,
    /// What to write instead, when there is a likely fix.
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn new(span: Span, message: impl Into<String>, label: impl Into<String>) -> Diagnostic {
        Diagnostic { message: message.into(), span, label: label.into(), help: None }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }
}

/// Why a program did not compile: every problem found, with the source they refer to.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct Diagnostics {
    pub file: String,
    /// The program's text.
    pub text: String,
    pub items: Vec<Diagnostic>,
}

impl Diagnostics {
    /// The diagnostics drawn under their source lines; `color` adds ANSI colours (use it
    /// only when the output is a terminal).
    pub fn render(&self, color: bool) -> String {
        render(&self.file, &self.text, &self.items, color)
    }
}

/// One line per problem, `file:line:column: message`; [`Diagnostics::render`] draws more.
impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.items.iter().enumerate() {
            let (line, col) = d.span.line_col(&self.text);
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{}:{line}:{col}: {}", one_line(&self.file, NAME_BUDGET), one_line(&d.message, TEXT_BUDGET))?;
        }
        Ok(())
    }
}

/// Draw `diagnostics` under the lines of `source` they point at, each headed by
/// `error: <message>` and `file:line:column`. Without `color` the text has no escape
/// sequences, so it can be compared with golden files.
///
/// Everything drawn is bounded and safe for a terminal: messages, labels and help (which
/// may quote the source or an executor's words) are escaped and cut by [`one_line`];
/// control characters in source lines are shown as `?`; and a span on a source line
/// longer than [`LONG_LINE`] bytes is drawn as a window around it (a 1 MB one-line
/// program gets a few lines, not the megabyte again per diagnostic).
pub fn render(file: &str, source: &str, diagnostics: &[Diagnostic], color: bool) -> String {
    let config = Config::default()
        .with_color(color)
        .with_char_set(CharSet::Unicode)
        .with_index_type(IndexType::Byte)
        .with_compact(false);
    let file = one_line(file, NAME_BUDGET);
    let source = displayable(source);
    let source = source.as_ref();
    let mut out = Vec::new();
    let mut cache = (file.clone(), Source::from(source));
    for d in diagnostics {
        let span = visible(d.span, source);
        let (message, label) = (one_line(&d.message, TEXT_BUDGET), one_line(&d.label, TEXT_BUDGET));
        let help = d.help.as_deref().map(|h| one_line(h, TEXT_BUDGET));
        if touches_long_line(span, source) {
            out.extend_from_slice(window(&file, source, span, &message, &label, help.as_deref(), color).as_bytes());
            continue;
        }
        let mut report = Report::build(ReportKind::Error, (file.clone(), span.range()))
            .with_config(config)
            .with_message(&message)
            .with_label(Label::new((file.clone(), span.range())).with_message(&label));
        if let Some(help) = &help {
            report = report.with_help(help);
        }
        report.finish().write(&mut cache, &mut out).expect("writing to a Vec cannot fail");
    }
    String::from_utf8(out).expect("ariadne writes UTF-8")
}

/// Source lines longer than this many bytes are drawn as a window around the span.
pub const LONG_LINE: usize = 240;
/// Bytes of source shown on each side of the span in a window, and of the span itself.
const WINDOW: usize = 60;
/// The most of a message, label or help shown.
const TEXT_BUDGET: usize = 1024;
/// The most of the file name shown.
const NAME_BUDGET: usize = 256;

/// Whether any line `span` is on is longer than [`LONG_LINE`].
fn touches_long_line(span: Span, source: &str) -> bool {
    let start = source[..span.start].rfind('\n').map_or(0, |i| i + 1);
    let end = source[span.end..].find('\n').map_or(source.len(), |i| span.end + i);
    source[start..end].split('\n').any(|line| line.len() > LONG_LINE)
}

/// A diagnostic on a long line, drawn like ariadne's but showing only the span's
/// surroundings on its first line, with how much was left out on each side.
fn window(file: &str, source: &str, span: Span, message: &str, label: &str, help: Option<&str>, color: bool) -> String {
    // ariadne's colours for the headline and the underline.
    let paint = |text: &str, code: &str| if color { format!("\x1b[{code}m{text}\x1b[0m") } else { text.to_string() };
    let floor = |mut i: usize| {
        while !source.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    let line_start = source[..span.start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = source[span.start..].find('\n').map_or(source.len(), |i| span.start + i);
    let from = floor(span.start.saturating_sub(WINDOW).max(line_start));
    let marked_end = floor(span.end.min(line_end).min(span.start + WINDOW)).max(span.start);
    let to = floor((marked_end + WINDOW).min(line_end));
    let before = if from > line_start { format!("... ({} bytes) ", from - line_start) } else { String::new() };
    let after = if to < line_end { format!(" ... ({} bytes more)", line_end - to) } else { String::new() };
    let (line, column) = span.line_col(source);
    let gutter = line.to_string().len() + 1;
    let pad = " ".repeat(gutter);
    let indent = before.chars().count() + source[from..span.start].chars().count();
    let marks = source[span.start..marked_end].chars().count().max(1);
    let mut out =
        format!("{} {message}\n{pad} ╭─[ {file}:{line}:{column} ]\n{pad} │\n {line} │ ", paint("Error:", "31"));
    out.push_str(&format!("{before}{}{after}\n", &source[from..to]));
    out.push_str(&format!("{pad} │ {}{} {label}\n", " ".repeat(indent), paint(&"─".repeat(marks), "31")));
    if let Some(help) = help {
        out.push_str(&format!("{pad} │\n{pad} │ Help: {help}\n"));
    }
    out.push_str(&format!("{}╯\n", "─".repeat(gutter + 1)));
    out
}

/// `source` with every control character but line breaks and tabs replaced by as many
/// `?` as it has bytes, so that spans stay valid and nothing reaches the terminal as an
/// escape sequence.
fn displayable(source: &str) -> std::borrow::Cow<'_, str> {
    if !source.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(source);
    }
    let shown: String =
        source.chars().map(|c| if unsafe_char(c) { "?".repeat(c.len_utf8()) } else { c.to_string() }).collect();
    std::borrow::Cow::Owned(shown)
}

/// Control characters other than line breaks and tabs, and the bidirectional overrides
/// that make a terminal show text in another order than its bytes'.
fn unsafe_char(c: char) -> bool {
    (c.is_control() && !matches!(c, '\n' | '\t' | '\r'))
        || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}')
}

/// `text` on one line, control characters escaped, cut after `max` bytes with how many
/// more there were. (The host's `troupe::text::one_line`, which this crate cannot reach.)
pub fn one_line(text: &str, max: usize) -> String {
    let mut cut = text.len().min(max);
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let mut out = String::with_capacity(cut + 24);
    for c in text[..cut].chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if unsafe_char(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    if cut < text.len() {
        out.push_str(&format!(" ... ({} bytes more)", text.len() - cut));
    }
    out
}

/// `span` inside `source` and at least one character wide, so ariadne can underline it:
/// an empty span (the end of file) covers the character after it, or the last one.
fn visible(span: Span, source: &str) -> Span {
    let len = source.len();
    let floor = |mut i: usize| {
        i = i.min(len);
        while !source.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    let (start, end) = (floor(span.start), floor(span.end));
    if start < end {
        return Span::new(start, end);
    }
    match (source[start..].chars().next(), source[..start].chars().next_back()) {
        (Some(next), _) => Span::new(start, start + next.len_utf8()),
        (None, Some(last)) => Span::new(start - last.len_utf8(), start),
        (None, None) => Span::new(0, 0),
    }
}
