//! The parse tree, shaped like Go's `text/template/parse` nodes.
//!
//! Every node keeps its byte offset so execution errors can name
//! `template:LINE:COL`, and prints back the way Go's `Node.String()` does
//! for the `at <...>` part of error messages.

use std::fmt;
use std::sync::Arc;

/// One parsed template: a file's top level or one `define`/`block`.
#[derive(Debug)]
pub(crate) struct Tree {
    /// The name templates call it by.
    pub name: String,
    /// The name of the text it was parsed from (Go's `ParseName`), used in
    /// error locations.
    pub parse_name: String,
    /// The whole source text, shared by every tree parsed from it: text
    /// nodes are ranges of it, and error locations are counted in it.
    pub text: Arc<str>,
    pub root: Vec<Node>,
}

impl Tree {
    /// Go's `ErrorContext`: `parse_name:line:col`, the column a 0-based
    /// byte offset within the line.
    pub fn location(&self, pos: usize) -> String {
        let before = &self.text[..pos.min(self.text.len())];
        let line = 1 + before.matches('\n').count();
        let col = before.rfind('\n').map_or(pos, |nl| pos - nl - 1);
        format!("{}:{line}:{col}", self.parse_name)
    }

    /// The text a [`Node::Text`] range stands for.
    pub fn text_of(&self, range: &std::ops::Range<usize>) -> &str {
        &self.text[range.clone()]
    }
}

/// Go's `parse.IsEmptyTree`: only whitespace text (and comments, which the
/// lexer drops). An empty definition never replaces a non-empty one.
pub(crate) fn is_empty_tree(tree: &Tree) -> bool {
    tree.root.iter().all(|node| match node {
        Node::Text(range) => tree.text_of(range).trim().is_empty(),
        _ => false,
    })
}

/// A statement in a list.
#[derive(Debug)]
pub(crate) enum Node {
    /// Plain text: a byte range of the tree's [`Tree::text`], so a parsed
    /// template holds its text once rather than once per text node.
    Text(std::ops::Range<usize>),
    Action(Pipe),
    // Boxed so that a node, most often text, is not as large as the
    // largest statement (a tree holds thousands of them).
    If(Box<Branch>),
    Range(Box<Branch>),
    With(Box<Branch>),
    Template {
        pos: usize,
        name: Box<str>,
        pipe: Option<Box<Pipe>>,
    },
    Break,
    Continue,
}

/// `if`, `range` and `with`: a pipeline, a body and an optional else body.
#[derive(Debug)]
pub(crate) struct Branch {
    pub pipe: Pipe,
    pub list: Vec<Node>,
    pub else_list: Option<Vec<Node>>,
}

/// A field, method or variable name (or a string literal's text). A parse
/// shares one allocation among every use of a name (a chart's templates
/// repeat `.Values`, the same keys and the same literals thousands of
/// times).
pub(crate) type Ident = Arc<str>;

/// A pipeline with its optional variable declarations.
#[derive(Debug)]
pub(crate) struct Pipe {
    /// A byte offset (a `u32` keeps [`Node`] small; templates are far
    /// smaller than 4 GiB).
    pub pos: u32,
    pub decl: Box<[Ident]>,
    /// `=` (assign to existing variables) rather than `:=`.
    pub is_assign: bool,
    pub cmds: Box<[Command]>,
}

/// One stage of a pipeline: a function, field or value and its
/// arguments. The first operand is held inline: most commands have no
/// arguments (`.Values.x`, `quote`), and need no allocation then.
#[derive(Debug)]
pub(crate) struct Command {
    pub pos: usize,
    pub first: Arg,
    pub rest: Box<[Arg]>,
}

/// A number literal with every interpretation Go's `NumberNode` records.
#[derive(Debug, Clone)]
pub(crate) struct Number {
    pub text: String,
    pub int: Option<i64>,
    pub float: Option<f64>,
    /// A character constant such as `'a'`: an integer, never a float.
    pub is_char: bool,
}

/// An operand (32 bytes; see the size check at the end of the file).
#[derive(Debug)]
pub(crate) enum Arg {
    /// `.a.b`
    Field {
        pos: usize,
        idents: Arc<[Ident]>,
    },
    /// `$x.a.b`: the variable's name (with its `$`), then the fields;
    /// see [`variable_parts`].
    Variable {
        pos: usize,
        path: Arc<[Ident]>,
    },
    /// `(pipeline).a.b` or `fn.a`.
    Chain(Box<Chain>),
    Identifier {
        pos: usize,
        name: Ident,
    },
    Dot,
    Nil {
        pos: usize,
    },
    Bool(bool),
    Number(Box<Number>),
    String(Box<StringLiteral>),
    Pipe(Box<Pipe>),
}

/// Fields read from the result of a pipeline or function.
#[derive(Debug)]
pub(crate) struct Chain {
    pub pos: usize,
    pub node: Arg,
    pub fields: Box<[Ident]>,
}

/// A quoted or raw string literal; both texts are shared like names.
#[derive(Debug)]
pub(crate) struct StringLiteral {
    /// As written, for error messages.
    pub quoted: Arc<str>,
    /// Shared with every value the literal evaluates to.
    pub value: Arc<str>,
}

/// A variable's name and the fields after it (`$x.a.b`: `$x`, `[a, b]`).
pub(crate) fn variable_parts(path: &[Ident]) -> (&str, &[Ident]) {
    // The parser never makes an empty path; `$` is the harmless reading.
    path.split_first()
        .map_or(("$", &[][..]), |(name, idents)| (name, idents))
}

impl fmt::Display for Arg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Arg::Field { idents, .. } => {
                for ident in idents.iter() {
                    write!(f, ".{ident}")?;
                }
                Ok(())
            }
            Arg::Variable { path, .. } => {
                let (name, idents) = variable_parts(path);
                f.write_str(name)?;
                for ident in idents {
                    write!(f, ".{ident}")?;
                }
                Ok(())
            }
            Arg::Chain(chain) => {
                let Chain { node, fields, .. } = chain.as_ref();
                if let Arg::Pipe(pipe) = node {
                    write!(f, "({pipe})")?;
                } else {
                    write!(f, "{node}")?;
                }
                for field in fields {
                    write!(f, ".{field}")?;
                }
                Ok(())
            }
            Arg::Identifier { name, .. } => f.write_str(name),
            Arg::Dot => f.write_str("."),
            Arg::Nil { .. } => f.write_str("nil"),
            Arg::Bool(b) => write!(f, "{b}"),
            Arg::Number(n) => f.write_str(&n.text),
            Arg::String(literal) => f.write_str(&literal.quoted),
            Arg::Pipe(pipe) => write!(f, "{pipe}"),
        }
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, arg) in std::iter::once(&self.first).chain(&self.rest).enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            if let Arg::Pipe(pipe) = arg {
                write!(f, "({pipe})")?;
            } else {
                write!(f, "{arg}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Display for Pipe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.decl.is_empty() {
            f.write_str(&self.decl.join(", "))?;
            f.write_str(if self.is_assign { " = " } else { " := " })?;
        }
        for (i, cmd) in self.cmds.iter().enumerate() {
            if i > 0 {
                f.write_str(" | ")?;
            }
            write!(f, "{cmd}")?;
        }
        Ok(())
    }
}

// Big charts hold nodes and operands by the hundred thousand: keep the
// large variants boxed (sizes for 64-bit targets).
#[cfg(target_pointer_width = "64")]
const _: () = assert!(std::mem::size_of::<Node>() == 40);
#[cfg(target_pointer_width = "64")]
const _: () = assert!(std::mem::size_of::<Arg>() == 32);
