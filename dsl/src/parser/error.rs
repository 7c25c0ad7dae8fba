//! The parser's error: where it stopped and what it expected there, as winnow sees it
//! (a `ParserError` over the token stream), turned into a [`Diagnostic`] at the end.

use crate::diagnostic::Diagnostic;
use crate::lexer::Token;
use winnow::error::ParserError;
use winnow::stream::Stream;

#[derive(Debug, Clone)]
pub struct SyntaxError {
    /// Tokens left when the error happened: the offending token is the first of them.
    remaining: usize,
    /// What would have been accepted there, as shown to people (merged across branches).
    expected: Vec<&'static str>,
    /// A problem the parser explains itself (a duplicated section, a misplaced keyword).
    custom: Option<Box<Diagnostic>>,
}

impl SyntaxError {
    pub fn expected<I: Stream>(input: &I, what: &'static str) -> SyntaxError {
        SyntaxError { remaining: input.eof_offset(), expected: vec![what], custom: None }
    }

    pub fn custom(diagnostic: Diagnostic) -> SyntaxError {
        SyntaxError { remaining: 0, expected: Vec::new(), custom: Some(Box::new(diagnostic)) }
    }

    /// "expected `{`, found `foo`", underlining the token found.
    pub fn into_diagnostic(self, tokens: &[Token<'_>]) -> Diagnostic {
        if let Some(custom) = self.custom {
            return *custom;
        }
        let found = &tokens[tokens.len().saturating_sub(self.remaining.max(1))];
        let expected = match self.expected.as_slice() {
            [] => "something else".to_string(),
            [one] => one.to_string(),
            [init @ .., last] => format!("{} or {last}", init.join(", ")),
        };
        Diagnostic::new(
            found.span,
            format!("expected {expected}, found {}", found.describe()),
            format!("expected {expected}"),
        )
    }
}

impl<I: Stream> ParserError<I> for SyntaxError {
    type Inner = Self;

    fn from_input(input: &I) -> Self {
        SyntaxError { remaining: input.eof_offset(), expected: Vec::new(), custom: None }
    }

    fn into_inner(self) -> Result<Self::Inner, Self> {
        Ok(self)
    }

    /// Of two failed branches, the one that got further; at the same token, both
    /// expectations.
    fn or(mut self, other: Self) -> Self {
        if self.custom.is_some() {
            return self;
        }
        if other.custom.is_some() || other.remaining < self.remaining {
            return other;
        }
        if other.remaining == self.remaining {
            for e in other.expected {
                if !self.expected.contains(&e) {
                    self.expected.push(e);
                }
            }
        }
        self
    }
}
