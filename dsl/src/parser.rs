//! The parser: tokens to the syntax tree, with winnow over a `TokenSlice`. Each rule
//! looks at the next token to choose its branch and then commits (a winnow `Cut`), so the
//! first error is reported where it is, as "expected X, found Y". Grammar, informally:
//!
//! ```text
//! program  = "workflow" NAME "{" ( inputs | stage )* "}" EOF
//! inputs   = "input" "{" ( NAME ","? )* "}"
//! stage    = call                                          # mode single
//!          | "gather" header ( "groupBy" ":" expr )? "{" call* "}"
//!          | ("broadcast" | "parallel") ("as" NAME)? "{" ( section | member )* "}"
//!          | MODE header? "{" call* "}"                     # scatter, retry, rate-limited, ...
//! header   = "(" NAME "in" expr ")"
//! call     = "call" NAME ("as" NAME)? ( "{" section* "}" )?
//! member   = call | "branch" NAME ":" call
//! section  = "input" ":" ( NAME "=" expr ","? )+  |  "config" ":" object
//! expr     = path | STRING | NUMBER | "true" | "false" | "null" | object | array
//! path     = NAME ( "." NAME | "[" (NUMBER | STRING | "*") "]" )*
//! object   = "{" ( (NAME | STRING) ":" expr ","? )* "}"
//! array    = "[" ( expr ","? )* "]"
//! ```
//!
//! Blocks accept any number of calls here; the lowering says which hold exactly one.

mod error;

use crate::ast::*;
use crate::diagnostic::Diagnostic;
use crate::lexer::{unescape, Token, TokenKind};
use crate::span::Span;
pub use error::SyntaxError;
use winnow::combinator::opt;
use winnow::error::ErrMode;
use winnow::prelude::*;
use winnow::stream::{Stateful, Stream, TokenSlice};

/// The tokens, with the source text as state (for line numbers in hints).
type Tokens<'t, 's> = Stateful<TokenSlice<'t, Token<'s>>, &'s str>;
type PResult<T> = ModalResult<T, SyntaxError>;

/// Words that start a construct; they cannot name a custom mode.
const RESERVED: &[&str] =
    &["workflow", "input", "call", "gather", "broadcast", "parallel", "branch", "config", "as", "in"];

/// Parse a whole program. A syntax error in a stage is reported and the stage skipped
/// (to its closing brace, or to the next word that starts a stage), so one run reports
/// the syntax errors of several stages; errors outside the stages end the parse.
pub fn parse<'s>(source: &'s str, tokens: &[Token<'s>]) -> Result<Workflow<'s>, Vec<Diagnostic>> {
    let mut input = Stateful { input: TokenSlice::new(tokens), state: source };
    let mut recovered = Vec::new();
    let outcome = workflow(&mut input, &mut recovered);
    let mut errors: Vec<Diagnostic> = recovered.into_iter().map(|e| e.into_diagnostic(tokens)).collect();
    match outcome {
        Ok(w) if errors.is_empty() => Ok(w),
        Ok(_) => Err(errors),
        Err(ErrMode::Backtrack(e) | ErrMode::Cut(e)) => {
            errors.push(e.into_diagnostic(tokens));
            Err(errors)
        }
        Err(ErrMode::Incomplete(_)) => unreachable!("the token stream is complete"),
    }
}

/// At most this many syntax errors are reported; past them, likely as not, the errors
/// are echoes of the first ones.
const MAX_SYNTAX_ERRORS: usize = 10;

/// Skip the stage that starts at the current token: through its balanced braces, or up
/// to the next word that starts a stage, or up to the workflow's `}`. False at the end of
/// the file.
fn skip_stage(i: &mut Tokens<'_, '_>) -> bool {
    let mut depth = 0usize;
    let mut first = true;
    loop {
        let t = peek(i);
        match t.kind {
            TokenKind::Eof => return false,
            TokenKind::LBrace => depth += 1,
            TokenKind::RBrace if depth == 0 => return true,
            TokenKind::RBrace => {
                depth -= 1;
                if depth == 0 {
                    i.next_token();
                    return true;
                }
            }
            TokenKind::Ident if depth == 0 && !first && STAGE_WORDS.contains(&t.text) => return true,
            _ => {}
        }
        first = false;
        i.next_token();
    }
}

/// Words that start a stage (or the input block) at the workflow's level.
const STAGE_WORDS: &[&str] = &["call", "gather", "broadcast", "parallel", "input"];

fn peek<'t, 's>(i: &Tokens<'t, 's>) -> &'t Token<'s> {
    i.peek_token().expect("the lexer ends every stream with Eof, which no rule consumes")
}

fn at_word(i: &Tokens<'_, '_>, word: &str) -> bool {
    let t = peek(i);
    t.kind == TokenKind::Ident && t.text == word
}

/// The next token if it is of `kind`; otherwise an error expecting `what`.
fn expect<'t, 's>(i: &mut Tokens<'t, 's>, kind: TokenKind, what: &'static str) -> PResult<&'t Token<'s>> {
    if peek(i).kind == kind {
        Ok(i.next_token().expect("peeked"))
    } else {
        Err(ErrMode::Cut(SyntaxError::expected(i, what)))
    }
}

/// A name (`what` says which, for the error).
fn name<'s>(i: &mut Tokens<'_, 's>, what: &'static str) -> PResult<Ident<'s>> {
    let t = expect(i, TokenKind::Ident, what)?;
    Ok(Ident { text: t.text, span: t.span })
}

/// The keyword `word`.
fn keyword<'s>(i: &mut Tokens<'_, 's>, word: &'static str, what: &'static str) -> PResult<Ident<'s>> {
    if at_word(i, word) {
        name(i, what)
    } else {
        Err(ErrMode::Cut(SyntaxError::expected(i, what)))
    }
}

/// `as NAME`, when present (a winnow `opt` over a backtracking `as`).
fn alias<'s>(i: &mut Tokens<'_, 's>) -> PResult<Option<Ident<'s>>> {
    let as_keyword = |i: &mut Tokens<'_, 's>| {
        if at_word(i, "as") {
            i.next_token();
            Ok(())
        } else {
            Err(ErrMode::Backtrack(SyntaxError::expected(i, "`as`")))
        }
    };
    match opt(as_keyword).parse_next(i)? {
        Some(()) => Ok(Some(name(i, "a name after `as`")?)),
        None => Ok(None),
    }
}

fn workflow<'s>(i: &mut Tokens<'_, 's>, recovered: &mut Vec<SyntaxError>) -> PResult<Workflow<'s>> {
    keyword(i, "workflow", "`workflow`")?;
    let name = name(i, "the workflow's name")?;
    expect(i, TokenKind::LBrace, "`{`")?;
    let mut inputs: Option<Inputs<'s>> = None;
    let mut stages = Vec::new();
    let close = loop {
        let t = peek(i);
        if t.kind == TokenKind::RBrace {
            i.next_token();
            break t.span;
        }
        let start = i.checkpoint();
        let item = if at_word(i, "input") {
            input_block(i).and_then(|block| match &inputs {
                Some(first) => {
                    let line = line(i, first.keyword);
                    Err(ErrMode::Cut(SyntaxError::custom(
                        Diagnostic::new(block.keyword, "a workflow has one `input` block", "second `input` block")
                            .with_help(format!("declare every input in the block on line {line}")),
                    )))
                }
                None => {
                    inputs = Some(block);
                    Ok(())
                }
            })
        } else {
            stage(i).map(|s| stages.push(s))
        };
        if let Err(ErrMode::Backtrack(e) | ErrMode::Cut(e)) = item {
            recovered.push(e);
            i.reset(&start);
            if recovered.len() >= MAX_SYNTAX_ERRORS || !skip_stage(i) {
                return Ok(Workflow { name, inputs, stages, close: peek(i).span });
            }
        }
    };
    expect(i, TokenKind::Eof, "end of file after the workflow's `}`")?;
    Ok(Workflow { name, inputs, stages, close })
}

fn input_block<'s>(i: &mut Tokens<'_, 's>) -> PResult<Inputs<'s>> {
    let keyword = name(i, "`input`")?.span;
    if peek(i).kind == TokenKind::Colon {
        return Err(ErrMode::Cut(SyntaxError::custom(
            Diagnostic::new(peek(i).span, "`input:` belongs in a call", "the workflow's inputs are a block")
                .with_help("declare the run's inputs as `input { files source }`; a call's inputs go in `call Actor { input: a = files }`"),
        )));
    }
    expect(i, TokenKind::LBrace, "`{` after `input`")?;
    let mut names = Vec::new();
    while peek(i).kind != TokenKind::RBrace {
        names.push(name(i, "an input name or `}`")?);
        if peek(i).kind == TokenKind::Comma {
            i.next_token();
        }
    }
    i.next_token();
    Ok(Inputs { keyword, names })
}

fn stage<'s>(i: &mut Tokens<'_, 's>) -> PResult<Stage<'s>> {
    let t = peek(i);
    if t.kind != TokenKind::Ident {
        return Err(ErrMode::Cut(SyntaxError::expected(
            i,
            "a stage (`call`, `scatter`, `gather`, `broadcast`, `parallel` or a mode name) or `}`",
        )));
    }
    match t.text {
        "call" => Ok(Stage::Call(call(i)?)),
        "gather" => gather(i).map(Stage::Gather),
        "broadcast" => group(i).map(Stage::Broadcast),
        "parallel" => group(i).map(Stage::Parallel),
        word if RESERVED.contains(&word) => Err(ErrMode::Cut(SyntaxError::custom(misplaced(t)))),
        _ => pattern(i).map(Stage::Pattern),
    }
}

fn misplaced(t: &Token<'_>) -> Diagnostic {
    let (message, help) = match t.text {
        "branch" => ("`branch` belongs in a `parallel` block", "write `parallel { branch name: call Actor }`"),
        "config" => (
            "`config:` belongs in a call or in a `broadcast` or `parallel` block",
            "write `call Actor { config: { maxParallel: 5 } }`",
        ),
        "workflow" => ("a file holds one workflow", "put every stage in the first workflow"),
        _ => (
            "a keyword cannot start a stage here",
            "a stage starts with `call`, `scatter`, `gather`, `broadcast`, `parallel` or a mode name",
        ),
    };
    Diagnostic::new(t.span, message, "not a stage").with_help(help)
}

/// `(var in items)`
fn header<'s>(i: &mut Tokens<'_, 's>) -> PResult<Header<'s>> {
    let open = expect(i, TokenKind::LParen, "`(`")?.span;
    let var = name(i, "the name each item is bound to")?;
    keyword(i, "in", "`in`")?;
    let items = expr(i, 0)?;
    let close = expect(i, TokenKind::RParen, "`)`")?.span;
    Ok(Header { var, items, span: open.to(close) })
}

/// `{ call* }`, the body of a pattern or a gather.
fn calls<'s>(i: &mut Tokens<'_, 's>) -> PResult<(Vec<Call<'s>>, Span)> {
    let open = expect(i, TokenKind::LBrace, "`{`")?.span;
    let mut calls = Vec::new();
    loop {
        let t = peek(i);
        if t.kind == TokenKind::RBrace {
            i.next_token();
            return Ok((calls, open.to(t.span)));
        }
        if !at_word(i, "call") {
            return Err(ErrMode::Cut(SyntaxError::expected(i, "`call` or `}`")));
        }
        calls.push(call(i)?);
    }
}

fn pattern<'s>(i: &mut Tokens<'_, 's>) -> PResult<Pattern<'s>> {
    let mode = name(i, "a mode")?;
    let header = if peek(i).kind == TokenKind::LParen { Some(header(i)?) } else { None };
    if header.is_none() && peek(i).kind != TokenKind::LBrace {
        return Err(ErrMode::Cut(SyntaxError::expected(i, "`(` or `{` after the mode name")));
    }
    let (calls, body) = calls(i)?;
    Ok(Pattern { mode, header, calls, body })
}

fn gather<'s>(i: &mut Tokens<'_, 's>) -> PResult<Gather<'s>> {
    let keyword = name(i, "`gather`")?;
    let header = header(i)?;
    let group_by = if at_word(i, "groupBy") {
        i.next_token();
        expect(i, TokenKind::Colon, "`:` after `groupBy`")?;
        Some(expr(i, 0)?)
    } else {
        None
    };
    if peek(i).kind != TokenKind::LBrace {
        return Err(ErrMode::Cut(SyntaxError::expected(i, "`groupBy:` or `{`")));
    }
    let (calls, body) = calls(i)?;
    Ok(Gather { keyword, header, group_by, calls, body })
}

/// `broadcast` and `parallel`: sections and members in any order.
fn group<'s>(i: &mut Tokens<'_, 's>) -> PResult<Group<'s>> {
    let keyword = name(i, "`broadcast` or `parallel`")?;
    let alias = alias(i)?;
    let open = expect(i, TokenKind::LBrace, if alias.is_some() { "`{`" } else { "`as` or `{`" })?.span;
    let parallel = keyword.text == "parallel";
    let mut sections = Sections::default();
    let mut members = Vec::new();
    loop {
        let t = peek(i);
        if t.kind == TokenKind::RBrace {
            i.next_token();
            return Ok(Group { keyword, alias, sections, members, body: open.to(t.span) });
        }
        if at_word(i, "input") || at_word(i, "config") {
            section(i, &mut sections)?;
        } else if parallel && at_word(i, "branch") {
            i.next_token();
            let branch = name(i, "the branch's name")?;
            expect(i, TokenKind::Colon, "`:` after the branch's name")?;
            if !at_word(i, "call") {
                return Err(ErrMode::Cut(SyntaxError::expected(i, "`call`")));
            }
            members.push(Member { branch: Some(branch), call: call(i)? });
        } else if !parallel && at_word(i, "call") {
            members.push(Member { branch: None, call: call(i)? });
        } else if parallel && at_word(i, "call") {
            return Err(ErrMode::Cut(SyntaxError::custom(
                Diagnostic::new(t.span, "a `parallel` block's calls are branches", "no branch name")
                    .with_help("name the branch: `branch extract: call DataExtractor`"),
            )));
        } else {
            let what =
                if parallel { "`branch`, `input:`, `config:` or `}`" } else { "`call`, `input:`, `config:` or `}`" };
            return Err(ErrMode::Cut(SyntaxError::expected(i, what)));
        }
    }
}

fn call<'s>(i: &mut Tokens<'_, 's>) -> PResult<Call<'s>> {
    let keyword = keyword(i, "call", "`call`")?;
    let actor = name(i, "the actor's name after `call`")?;
    let alias = alias(i)?;
    let mut sections = Sections::default();
    if peek(i).kind == TokenKind::LBrace {
        i.next_token();
        while peek(i).kind != TokenKind::RBrace {
            if !(at_word(i, "input") || at_word(i, "config")) {
                return Err(ErrMode::Cut(SyntaxError::expected(i, "`input:`, `config:` or `}`")));
            }
            section(i, &mut sections)?;
        }
        i.next_token();
    }
    Ok(Call { keyword, actor, alias, sections })
}

/// `input: a = x, b = y` or `config: { ... }`, into `sections` (once each).
fn section<'s>(i: &mut Tokens<'_, 's>, sections: &mut Sections<'s>) -> PResult<()> {
    let word = name(i, "`input:` or `config:`")?;
    expect(i, TokenKind::Colon, if word.text == "input" { "`:` after `input`" } else { "`:` after `config`" })?;
    let earlier = if word.text == "input" {
        sections.input.as_ref().map(|s| s.keyword)
    } else {
        sections.config.as_ref().map(|s| s.keyword)
    };
    if let Some(first) = earlier {
        let line = line(i, first);
        return Err(ErrMode::Cut(SyntaxError::custom(
            Diagnostic::new(word.span, format!("`{}:` is given twice", word.text), "second time")
                .with_help(format!("merge it into the `{}:` on line {line}", word.text)),
        )));
    }
    if word.text == "config" {
        if peek(i).kind != TokenKind::LBrace {
            return Err(ErrMode::Cut(SyntaxError::expected(
                i,
                "`{` (the config is an object: `config: { maxParallel: 5 }`)",
            )));
        }
        sections.config = Some(ConfigSection { keyword: word.span, value: expr(i, 0)? });
        return Ok(());
    }
    let mut bindings = Vec::new();
    loop {
        let (t, next) = (peek(i), i.get(1));
        let binding_ahead = t.kind == TokenKind::Ident && next.is_some_and(|n| n.kind == TokenKind::Eq);
        if !binding_ahead {
            if bindings.is_empty() {
                return Err(ErrMode::Cut(SyntaxError::expected(i, "`name = value` after `input:`")));
            }
            break;
        }
        let key = name(i, "an input name")?;
        i.next_token();
        bindings.push((key, expr(i, 0)?));
        if peek(i).kind == TokenKind::Comma {
            i.next_token();
        }
    }
    sections.input = Some(InputSection { keyword: word.span, bindings });
    Ok(())
}

/// How deep objects and arrays may nest: deeper values would exhaust the stack of a
/// recursive parser before they could mean anything.
const MAX_DEPTH: usize = 64;

fn expr<'s>(i: &mut Tokens<'_, 's>, depth: usize) -> PResult<Expr<'s>> {
    let t = peek(i);
    if depth >= MAX_DEPTH && matches!(t.kind, TokenKind::LBrace | TokenKind::LBracket) {
        return Err(ErrMode::Cut(SyntaxError::custom(
            Diagnostic::new(t.span, format!("values nest more than {MAX_DEPTH} deep"), "too deep")
                .with_help("flatten this value"),
        )));
    }
    let literal = |kind| Expr { kind, span: t.span };
    let e = match t.kind {
        TokenKind::Str => {
            i.next_token();
            literal(ExprKind::Str(unescape(t.text)))
        }
        TokenKind::Num => {
            i.next_token();
            literal(ExprKind::Num(t.text.parse().expect("the lexer checked the number")))
        }
        TokenKind::Ident => match t.text {
            "true" | "false" => {
                i.next_token();
                literal(ExprKind::Bool(t.text == "true"))
            }
            "null" => {
                i.next_token();
                literal(ExprKind::Null)
            }
            _ => path(i)?,
        },
        TokenKind::LBrace => object(i, depth)?,
        TokenKind::LBracket => array(i, depth)?,
        _ => {
            return Err(ErrMode::Cut(SyntaxError::expected(
                i,
                "a value (a name such as `file.path`, a string, a number, `{`, `[`)",
            )))
        }
    };
    Ok(e)
}

fn path<'s>(i: &mut Tokens<'_, 's>) -> PResult<Expr<'s>> {
    let root = name(i, "a name")?;
    let mut segments = Vec::new();
    let mut end = root.span;
    loop {
        match peek(i).kind {
            TokenKind::Dot => {
                let dot = i.next_token().expect("peeked").span;
                let field = name(i, "a field name after `.`")?;
                segments.push(Segment { kind: SegmentKind::Name(field.text.to_string()), span: dot.to(field.span) });
                end = field.span;
            }
            TokenKind::LBracket => {
                let open = i.next_token().expect("peeked").span;
                let t = peek(i);
                let kind = match t.kind {
                    TokenKind::Num if t.text.bytes().all(|b| b.is_ascii_digit()) => SegmentKind::Index(
                        t.text.parse().map_err(|_| ErrMode::Cut(SyntaxError::expected(i, "a smaller index")))?,
                    ),
                    TokenKind::Str => SegmentKind::Name(unescape(t.text)),
                    TokenKind::Star => SegmentKind::Any,
                    _ => {
                        return Err(ErrMode::Cut(SyntaxError::expected(
                            i,
                            "an index (`0`), a quoted field name or `*`",
                        )))
                    }
                };
                i.next_token();
                let close = expect(i, TokenKind::RBracket, "`]`")?.span;
                segments.push(Segment { kind, span: open.to(close) });
                end = close;
            }
            _ => break,
        }
    }
    Ok(Expr { kind: ExprKind::Path(Path { root, segments }), span: root.span.to(end) })
}

fn object<'s>(i: &mut Tokens<'_, 's>, depth: usize) -> PResult<Expr<'s>> {
    let open = expect(i, TokenKind::LBrace, "`{`")?.span;
    let mut fields: Vec<(Key, Expr<'s>)> = Vec::new();
    loop {
        let t = peek(i);
        let key = match t.kind {
            TokenKind::RBrace => {
                i.next_token();
                return Ok(Expr { kind: ExprKind::Object(fields), span: open.to(t.span) });
            }
            TokenKind::Ident => Key { text: t.text.to_string(), span: t.span },
            TokenKind::Str => Key { text: unescape(t.text), span: t.span },
            _ => return Err(ErrMode::Cut(SyntaxError::expected(i, "a key or `}`"))),
        };
        if let Some((first, _)) = fields.iter().find(|(k, _)| k.text == key.text) {
            let line = line(i, first.span);
            return Err(ErrMode::Cut(SyntaxError::custom(
                Diagnostic::new(key.span, format!("the key `{}` is given twice", key.text), "second time")
                    .with_help(format!("keep one: the first is on line {line}")),
            )));
        }
        i.next_token();
        if peek(i).kind == TokenKind::Eq {
            return Err(ErrMode::Cut(SyntaxError::custom(
                Diagnostic::new(peek(i).span, "object keys take `:`", "expected `:`")
                    .with_help(format!("write `{}: value`; `=` binds a call's inputs (`input: a = b`)", key.text)),
            )));
        }
        expect(i, TokenKind::Colon, "`:` after the key")?;
        fields.push((key, expr(i, depth + 1)?));
        if peek(i).kind == TokenKind::Comma {
            i.next_token();
        }
    }
}

fn array<'s>(i: &mut Tokens<'_, 's>, depth: usize) -> PResult<Expr<'s>> {
    let open = expect(i, TokenKind::LBracket, "`[`")?.span;
    let mut items = Vec::new();
    loop {
        let t = peek(i);
        if t.kind == TokenKind::RBracket {
            i.next_token();
            return Ok(Expr { kind: ExprKind::Array(items), span: open.to(t.span) });
        }
        items.push(expr(i, depth + 1)?);
        if peek(i).kind == TokenKind::Comma {
            i.next_token();
        }
    }
}

/// The line `span` starts on, for "see line N" hints.
fn line(i: &Tokens<'_, '_>, span: Span) -> usize {
    span.line_col(i.state).0
}
