//! The lexer: source text to [`Token`]s, with winnow over a located `&str`. Whitespace
//! and `#` comments separate tokens and are dropped. Identifiers may contain inner
//! hyphens (`process-files`, `rate-limited`): the language has no arithmetic, so a `-`
//! between letters can only be part of a name.

use crate::diagnostic::Diagnostic;
use crate::span::Span;
use winnow::ascii::{digit1, till_line_ending};
use winnow::combinator::{opt, repeat};
use winnow::error::ContextError;
use winnow::prelude::*;
use winnow::stream::{LocatingSlice, Location, Stream};
use winnow::token::{one_of, take_while};

type Input<'s> = LocatingSlice<&'s str>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKind {
    /// A name or a keyword: keywords are names the parser gives a meaning where they stand.
    Ident,
    /// A quoted string, `"..."` or `'...'`, escapes not yet applied (see [`unescape`]).
    Str,
    /// A JSON number.
    Num,
    LBrace,
    RBrace,
    LParen,
    RParen,
    LBracket,
    RBracket,
    Colon,
    Comma,
    Dot,
    Eq,
    Star,
    /// The end of the source; always the last token.
    Eof,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token<'s> {
    pub kind: TokenKind,
    pub text: &'s str,
    pub span: Span,
}

impl Token<'_> {
    /// How a message names this token: "`workflow`", "a string", "end of file".
    pub fn describe(&self) -> String {
        match self.kind {
            TokenKind::Str => "a string".to_string(),
            TokenKind::Num => format!("the number `{}`", self.text),
            TokenKind::Eof => "end of file".to_string(),
            _ => format!("`{}`", self.text),
        }
    }
}

/// Lets winnow's `TokenSlice` report source positions.
impl winnow::stream::Location for Token<'_> {
    fn previous_token_end(&self) -> usize {
        self.span.end
    }
    fn current_token_start(&self) -> usize {
        self.span.start
    }
}

/// At most this many lexical errors are reported (past it, they are mostly echoes).
const MAX_ERRORS: usize = 10;

/// Every token of `source`, ending with [`TokenKind::Eof`], or its lexical errors. After
/// an error the lexer skips the bad character, number or string and goes on, so one run
/// reports every lexical error (up to [`MAX_ERRORS`]).
pub fn lex(source: &str) -> Result<Vec<Token<'_>>, Vec<Diagnostic>> {
    let mut input = LocatingSlice::new(source);
    let mut tokens = Vec::with_capacity(source.len() / 5 + 1);
    let mut errors = Vec::new();
    loop {
        if errors.len() >= MAX_ERRORS {
            return Err(errors);
        }
        // Skipping trivia cannot fail (every part of it accepts zero characters).
        let _: ModalResult<(), ContextError> = trivia.parse_next(&mut input);
        let start = input.current_token_start();
        let Some(c) = input.peek_token() else {
            if !errors.is_empty() {
                return Err(errors);
            }
            tokens.push(Token { kind: TokenKind::Eof, text: "", span: Span::new(source.len(), source.len()) });
            return Ok(tokens);
        };
        let kind = match c {
            '{' | '}' | '(' | ')' | '[' | ']' | ':' | ',' | '.' | '=' | '*' => {
                input.next_token();
                Ok(punctuation(c))
            }
            '"' | '\'' => string(&mut input, c).map(|()| TokenKind::Str),
            '0'..='9' => number(&mut input, start),
            '-' if input.as_bytes().get(1).is_some_and(u8::is_ascii_digit) => number(&mut input, start),
            c if c.is_ascii_alphabetic() || c == '_' => {
                // Cannot fail: its first character was just checked.
                let _: ModalResult<&str, ContextError> = identifier.parse_next(&mut input);
                Ok(TokenKind::Ident)
            }
            other => {
                // Skip the whole run of such characters (`//`, `;;`): one error, not one each.
                while input.peek_token().is_some_and(|c| !starts_token(c) && !c.is_whitespace() && c != '#') {
                    input.next_token();
                }
                let span = Span::new(start, start + other.len_utf8());
                let shown = if other.is_control() { format!("{:?}", other) } else { format!("`{other}`") };
                Err(Diagnostic::new(span, format!("unexpected character {shown}"), "not part of the language")
                    .with_help(unexpected_help(other)))
            }
        };
        match kind {
            Ok(kind) => {
                let end = input.current_token_start();
                tokens.push(Token { kind, text: &source[start..end], span: Span::new(start, end) });
            }
            Err(error) => errors.push(error),
        }
    }
}

/// Whether a token can start with `c` (so lexing can go on there after an error).
fn starts_token(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(c, '_' | '"' | '\'' | '-' | '{' | '}' | '(' | ')' | '[' | ']' | ':' | ',' | '.' | '=' | '*')
}

fn unexpected_help(c: char) -> &'static str {
    match c {
        '/' => "comments start with `#`",
        ';' => "statements need no `;`: end them with a line break or a space",
        '$' => "write a JSONPath query as a string, `\"$.trigger.files\"`, or as a name such as `files`",
        '-' => "a `-` joins the parts of a name (`process-files`) or starts a number (`-1`)",
        _ => "names are ASCII letters, digits, `_` and inner `-`; strings are quoted",
    }
}

fn punctuation(c: char) -> TokenKind {
    match c {
        '{' => TokenKind::LBrace,
        '}' => TokenKind::RBrace,
        '(' => TokenKind::LParen,
        ')' => TokenKind::RParen,
        '[' => TokenKind::LBracket,
        ']' => TokenKind::RBracket,
        ':' => TokenKind::Colon,
        ',' => TokenKind::Comma,
        '.' => TokenKind::Dot,
        '=' => TokenKind::Eq,
        _ => TokenKind::Star,
    }
}

/// Whitespace and `# ...` comments (a plain loop: this runs before every token).
fn trivia(input: &mut Input<'_>) -> ModalResult<(), ContextError> {
    loop {
        take_while(0.., [' ', '\t', '\r', '\n']).void().parse_next(input)?;
        if !input.starts_with('#') {
            return Ok(());
        }
        till_line_ending.void().parse_next(input)?;
    }
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// `[A-Za-z_][A-Za-z0-9_]*` with inner single hyphens: `fork-join`, `process-files`.
fn identifier<'s>(input: &mut Input<'s>) -> ModalResult<&'s str, ContextError> {
    (
        one_of(|c: char| c.is_ascii_alphabetic() || c == '_'),
        take_while(0.., is_name_char),
        repeat::<_, _, (), _, _>(0.., ('-', take_while(1.., is_name_char))),
    )
        .take()
        .parse_next(input)
}

/// A JSON number: `-?digits(.digits)?([eE][+-]?digits)?`, without leading zeros.
fn number(input: &mut Input<'_>, start: usize) -> Result<TokenKind, Diagnostic> {
    let shape: ModalResult<&str, ContextError> =
        (opt('-'), digit1, opt(('.', digit1)), opt((one_of(['e', 'E']), opt(one_of(['+', '-'])), digit1)))
            .take()
            .parse_next(input);
    let text = shape.unwrap_or_default();
    let end = input.current_token_start();
    let trailing = input.peek_token().is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if trailing || serde_json::from_str::<serde_json::Number>(text).is_err() {
        let end = if trailing {
            let _: ModalResult<&str, ContextError> =
                take_while(0.., |c: char| is_name_char(c) || c == '-').parse_next(input);
            input.current_token_start()
        } else {
            end
        };
        return Err(Diagnostic::new(Span::new(start, end), "invalid number", "not a JSON number")
            .with_help("numbers are written as in JSON (`30000`, `0.5`, `-1`, `1e3`), without leading zeros; names start with a letter"));
    }
    // A whole number past 64 bits would silently become the nearest float (`1e+38`),
    // a different value from the one written.
    let whole = !text.contains(['.', 'e', 'E']);
    if whole && text.parse::<i64>().is_err() && text.parse::<u64>().is_err() {
        return Err(Diagnostic::new(Span::new(start, end), "integer out of range", "does not fit in 64 bits")
            .with_help(format!(
                "whole numbers run from {} to {}; write a larger one as a string",
                i64::MIN,
                u64::MAX
            )));
    }
    Ok(TokenKind::Num)
}

/// A string in `quote`s on one line, with the escapes `\n \t \r \0 \\ \" \'` and `\u{hex}`.
/// On an error the whole string is still consumed (to its closing quote or the line's
/// end), so lexing goes on after it.
fn string(input: &mut Input<'_>, quote: char) -> Result<(), Diagnostic> {
    let start = input.current_token_start();
    input.next_token();
    let mut bad_escape = None;
    loop {
        let at = input.current_token_start();
        match input.next_token() {
            None | Some('\n') | Some('\r') => {
                return Err(Diagnostic::new(
                    Span::new(start, at),
                    "unterminated string",
                    "this string has no closing quote",
                )
                .with_help(format!("close it with {quote} on the same line")));
            }
            Some(c) if c == quote => return bad_escape.map_or(Ok(()), Err),
            Some('\\') => {
                // A `\` at the line's end: the string cannot go on.
                let ends_line = matches!(input.peek_token(), None | Some('\n') | Some('\r'));
                if let Err(error) = escape(input, at) {
                    if ends_line {
                        return Err(error);
                    }
                    bad_escape.get_or_insert(error);
                }
            }
            Some(_) => {}
        }
    }
}

fn escape(input: &mut Input<'_>, at: usize) -> Result<(), Diagnostic> {
    let bad = |input: &Input<'_>| {
        let end = input.current_token_start().max(at + 1);
        Diagnostic::new(Span::new(at, end), "unknown escape in a string", "not an escape")
            .with_help("the escapes are \\n \\t \\r \\0 \\\\ \\\" \\' and \\u{hex}")
    };
    match input.next_token() {
        Some('n' | 't' | 'r' | '0' | '\\' | '"' | '\'') => Ok(()),
        Some('u') => {
            let hex: ModalResult<&str, ContextError> =
                ('{', take_while(1..=6, |c: char| c.is_ascii_hexdigit()), '}').take().parse_next(input);
            match hex.ok().and_then(|h| u32::from_str_radix(&h[1..h.len() - 1], 16).ok()).and_then(char::from_u32) {
                Some(_) => Ok(()),
                None => Err(bad(input)),
            }
        }
        Some(_) => Err(bad(input)),
        None => Err(bad(input)),
    }
}

/// The text of a [`TokenKind::Str`] token with its quotes removed and escapes applied
/// (the lexer has checked them).
pub fn unescape(raw: &str) -> String {
    let inner = &raw[1..raw.len() - 1];
    if !inner.contains('\\') {
        return inner.to_string();
    }
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('0') => out.push('\0'),
            Some('u') => {
                let hex: String = chars.by_ref().skip(1).take_while(|&c| c != '}').collect();
                out.extend(u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32));
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}
