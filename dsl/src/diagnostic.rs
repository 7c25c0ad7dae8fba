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
            write!(f, "{}:{line}:{col}: {}", self.file, d.message)?;
        }
        Ok(())
    }
}

/// Draw `diagnostics` under the lines of `source` they point at, each headed by
/// `error: <message>` and `file:line:column`. Without `color` the text has no escape
/// sequences, so it can be compared with golden files.
pub fn render(file: &str, source: &str, diagnostics: &[Diagnostic], color: bool) -> String {
    let config = Config::default()
        .with_color(color)
        .with_char_set(CharSet::Unicode)
        .with_index_type(IndexType::Byte)
        .with_compact(false);
    let mut out = Vec::new();
    let mut cache = (file.to_string(), Source::from(source));
    for d in diagnostics {
        let span = visible(d.span, source);
        let mut report = Report::build(ReportKind::Error, (file.to_string(), span.range()))
            .with_config(config)
            .with_message(&d.message)
            .with_label(Label::new((file.to_string(), span.range())).with_message(&d.label));
        if let Some(help) = &d.help {
            report = report.with_help(help);
        }
        report.finish().write(&mut cache, &mut out).expect("writing to a Vec cannot fail");
    }
    String::from_utf8(out).expect("ariadne writes UTF-8")
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
