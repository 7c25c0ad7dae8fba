//! The syntax tree the parser builds and the lowering reads. Every node keeps its span,
//! so any later problem can be shown at its place in the source.

use crate::span::Span;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ident<'s> {
    pub text: &'s str,
    pub span: Span,
}

/// `workflow NAME { ... }`
#[derive(Debug)]
pub struct Workflow<'s> {
    pub name: Ident<'s>,
    pub inputs: Option<Inputs<'s>>,
    pub stages: Vec<Stage<'s>>,
    pub close: Span,
}

/// `input { files source }`: the names of the run's input the workflow reads.
#[derive(Debug)]
pub struct Inputs<'s> {
    pub keyword: Span,
    pub names: Vec<Ident<'s>>,
}

#[derive(Debug)]
pub enum Stage<'s> {
    /// `call Actor ...` on its own: a `single` stage.
    Call(Call<'s>),
    /// `MODE (x in items)? { call ... }`: `scatter` and any custom mode.
    Pattern(Pattern<'s>),
    /// `gather (x in Stage.outputs) groupBy: x.key { call ... }`
    Gather(Gather<'s>),
    /// `broadcast (as NAME)? { input: config: call A call B ... }`
    Broadcast(Group<'s>),
    /// `parallel (as NAME)? { input: config: branch b: call A ... }`: fork-join.
    Parallel(Group<'s>),
}

/// `(var in items)`
#[derive(Debug)]
pub struct Header<'s> {
    pub var: Ident<'s>,
    pub items: Expr<'s>,
    pub span: Span,
}

#[derive(Debug)]
pub struct Pattern<'s> {
    pub mode: Ident<'s>,
    pub header: Option<Header<'s>>,
    pub calls: Vec<Call<'s>>,
    pub body: Span,
}

#[derive(Debug)]
pub struct Gather<'s> {
    pub keyword: Ident<'s>,
    pub header: Header<'s>,
    pub group_by: Option<Expr<'s>>,
    pub calls: Vec<Call<'s>>,
    pub body: Span,
}

/// The body of `broadcast` and `parallel`: sections for the stage, then its members.
#[derive(Debug)]
pub struct Group<'s> {
    pub keyword: Ident<'s>,
    pub alias: Option<Ident<'s>>,
    pub sections: Sections<'s>,
    pub members: Vec<Member<'s>>,
    pub body: Span,
}

/// A call of a `broadcast`, or `branch NAME: call ...` of a `parallel`.
#[derive(Debug)]
pub struct Member<'s> {
    pub branch: Option<Ident<'s>>,
    pub call: Call<'s>,
}

/// `call Actor (as name)? ({ input: ... config: { ... } })?`
#[derive(Debug)]
pub struct Call<'s> {
    pub keyword: Ident<'s>,
    pub actor: Ident<'s>,
    pub alias: Option<Ident<'s>>,
    pub sections: Sections<'s>,
}

#[derive(Debug, Default)]
pub struct Sections<'s> {
    pub input: Option<InputSection<'s>>,
    pub config: Option<ConfigSection<'s>>,
}

/// `input: a = expr, b = expr`
#[derive(Debug)]
pub struct InputSection<'s> {
    pub keyword: Span,
    pub bindings: Vec<(Ident<'s>, Expr<'s>)>,
}

/// `config: { key: value, ... }`
#[derive(Debug)]
pub struct ConfigSection<'s> {
    pub keyword: Span,
    pub value: Expr<'s>,
}

#[derive(Debug)]
pub struct Expr<'s> {
    pub kind: ExprKind<'s>,
    pub span: Span,
}

#[derive(Debug)]
pub enum ExprKind<'s> {
    /// `file.path`, `Consolidator.output`, `gather.group.items`, `rows[0]`, `x["a b"]`
    Path(Path<'s>),
    Str(String),
    Num(serde_json::Number),
    Bool(bool),
    Null,
    Object(Vec<(Key, Expr<'s>)>),
    Array(Vec<Expr<'s>>),
}

/// An object key, written as a name or a string.
#[derive(Debug)]
pub struct Key {
    pub text: String,
    pub span: Span,
}

#[derive(Debug)]
pub struct Path<'s> {
    pub root: Ident<'s>,
    pub segments: Vec<Segment>,
}

#[derive(Debug)]
pub struct Segment {
    pub kind: SegmentKind,
    pub span: Span,
}

#[derive(Debug, PartialEq, Eq)]
pub enum SegmentKind {
    /// `.name` or `["name"]`
    Name(String),
    /// `[3]`
    Index(u64),
    /// `[*]`
    Any,
}

impl Stage<'_> {
    /// The first and last byte of the stage's head, for problems that concern it whole.
    pub fn head(&self) -> Span {
        match self {
            Stage::Call(call) => call.keyword.span.to(call.alias.unwrap_or(call.actor).span),
            Stage::Pattern(p) => p.header.as_ref().map_or(p.mode.span, |h| p.mode.span.to(h.span)),
            Stage::Gather(g) => g.keyword.span.to(g.group_by.as_ref().map_or(g.header.span, |e| e.span)),
            Stage::Broadcast(g) | Stage::Parallel(g) => g.alias.map_or(g.keyword.span, |a| g.keyword.span.to(a.span)),
        }
    }
}
