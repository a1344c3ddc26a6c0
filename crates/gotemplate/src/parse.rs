//! The parser: tokens to [`Tree`]s, following Go's `text/template/parse`
//! grammar and checks (declared variables, known functions, `break` only in
//! `range`, one non-empty definition per name per text).
//!
//! Every list the tree keeps is shrunk to its length once built: a chart
//! keeps thousands of trees alive, and `Vec`'s growth by doubling (at least
//! four elements) had made them several times the template text's size.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::ast::{
    Arg, Branch, Chain, Command, Ident, Node, Number, Pipe, StringLiteral, Tree, is_empty_tree,
};
use crate::error::ParseError;
use crate::lex::{Token, TokenKind, lex};

/// Names, string literals and field paths already read, shared among the
/// trees of every text parsed with the same `Names`.
#[derive(Default)]
pub(crate) struct Names {
    names: HashSet<Ident>,
    /// A field or variable path as written (`.Values.image.tag`, `$x.a`).
    paths: HashMap<Ident, Arc<[Ident]>>,
}

/// Parses `text` as the template `name`; returns the top-level tree plus
/// every `define`/`block` inside it, keyed by name. Names read are shared
/// through `names`.
pub(crate) fn parse(
    name: &str,
    text: &Arc<str>,
    has_function: &dyn Fn(&str) -> bool,
    names: &mut Names,
) -> Result<HashMap<String, Tree>, ParseError> {
    let source: &str = text;
    let mut parser = Parser {
        tokens: lex(source),
        at: 0,
        parse_name: name.to_owned(),
        text: Arc::clone(text),
        vars: vec!["$".to_owned()],
        range_depth: 0,
        paren_depth: 0,
        block_depth: 0,
        has_function,
        trees: HashMap::new(),
        names,
    };
    let mut root = Vec::new();
    loop {
        match parser.peek().kind {
            TokenKind::Eof => break,
            TokenKind::LeftDelim
                if parser.peek_at(1).kind == TokenKind::Keyword
                    && parser.peek_at(1).text == "define" =>
            {
                parser.next();
                parser.next();
                parser.parse_definition()?;
            }
            TokenKind::LeftDelim
                if parser.peek_at(1).kind == TokenKind::Space
                    && parser.peek_at(2).kind == TokenKind::Keyword
                    && parser.peek_at(2).text == "define" =>
            {
                parser.next();
                parser.next();
                parser.next();
                parser.parse_definition()?;
            }
            _ => match parser.text_or_action()? {
                Item::Node(node) => root.push(node),
                Item::End(token) | Item::Else(token) => {
                    return Err(parser.error_at(&token, format!("unexpected {}", end_name(&token))));
                }
            },
        }
    }
    root.shrink_to_fit();
    let tree = Tree {
        name: name.to_owned(),
        parse_name: name.to_owned(),
        text: Arc::clone(text),
        root,
    };
    parser.add(tree)?;
    Ok(parser.trees)
}

fn end_name(token: &Token) -> &'static str {
    if token.text == "else" {
        "{{else}}"
    } else {
        "{{end}}"
    }
}

/// Go's `maxStackDepth`: the deepest nesting of parentheses.
const MAX_PAREN_DEPTH: usize = 10_000;

/// The deepest nesting of `if`/`range`/`with` blocks (an `else if` nests
/// too). Go has no bound (its stacks grow); ours is Go's bound on
/// parentheses, because a parsed tree is freed recursively and a
/// hostile text nesting 100,000 blocks would overflow the stack when the
/// tree is dropped, aborting the process.
const MAX_BLOCK_DEPTH: usize = 10_000;

/// What `itemList` stops on: a node, or the `end`/`else` closing a list.
enum Item<'t> {
    Node(Node),
    End(Token<'t>),
    Else(Token<'t>),
}

struct Parser<'f, 't> {
    tokens: Vec<Token<'t>>,
    at: usize,
    parse_name: String,
    text: Arc<str>,
    vars: Vec<String>,
    range_depth: usize,
    paren_depth: usize,
    /// `if`/`range`/`with` blocks open, against [`MAX_BLOCK_DEPTH`].
    block_depth: usize,
    has_function: &'f dyn Fn(&str) -> bool,
    trees: HashMap<String, Tree>,
    names: &'f mut Names,
}

impl<'t> Parser<'_, 't> {
    /// `name`, as the one shared copy the parse's [`Names`] keep of it.
    fn ident(&mut self, name: &str) -> Ident {
        if let Some(known) = self.names.names.get(name) {
            return Arc::clone(known);
        }
        let ident: Ident = Arc::from(name);
        self.names.names.insert(Arc::clone(&ident));
        ident
    }

    /// The path written `written`, made of `parts` when first seen.
    fn path(
        &mut self,
        written: &str,
        parts: impl FnOnce(&mut Self) -> Arc<[Ident]>,
    ) -> Arc<[Ident]> {
        if let Some(known) = self.names.paths.get(written) {
            return Arc::clone(known);
        }
        let path = parts(self);
        let key = self.ident(written);
        self.names.paths.insert(key, Arc::clone(&path));
        path
    }

    /// The path of a single field or variable token (`.a`, `$x`).
    fn token_path(&mut self, written: &str, names: &str) -> Arc<[Ident]> {
        self.path(written, |parser| {
            names.split('.').map(|name| parser.ident(name)).collect()
        })
    }

    fn peek(&self) -> &Token<'t> {
        self.peek_at(0)
    }

    fn peek_at(&self, ahead: usize) -> &Token<'t> {
        let last = self.tokens.len() - 1;
        &self.tokens[(self.at + ahead).min(last)]
    }

    /// The next token; past the end, the last one (EOF or an error) again.
    /// `at` may go one past the last token so that [`Self::backup`] after
    /// reading the last token returns to it, not to the one before (which
    /// made the parser loop forever on a trailing space before EOF).
    fn next(&mut self) -> Token<'t> {
        let token = self.peek().clone();
        if self.at < self.tokens.len() {
            self.at += 1;
        }
        token
    }

    fn backup(&mut self) {
        self.at -= 1;
    }

    fn peek_non_space(&mut self) -> Token<'t> {
        let token = self.next_non_space();
        self.backup();
        token
    }

    fn next_non_space(&mut self) -> Token<'t> {
        loop {
            let token = self.next();
            if token.kind != TokenKind::Space {
                return token;
            }
        }
    }

    fn error_at(&self, token: &Token, message: String) -> ParseError {
        ParseError {
            name: self.parse_name.clone(),
            line: token.line,
            message,
        }
    }

    fn unexpected(&self, token: &Token, context: &str) -> ParseError {
        if token.kind == TokenKind::Error {
            return self.error_at(token, token.text.to_string());
        }
        self.error_at(token, format!("unexpected {token} in {context}"))
    }

    fn expect(&mut self, kind: &TokenKind, context: &str) -> Result<Token<'t>, ParseError> {
        let token = self.next_non_space();
        if &token.kind != kind {
            return Err(self.unexpected(&token, context));
        }
        Ok(token)
    }

    /// Go's `add`: a second non-empty definition in the same text is an
    /// error; an empty one never replaces a non-empty one.
    fn add(&mut self, tree: Tree) -> Result<(), ParseError> {
        if let Some(existing) = self.trees.get(&tree.name)
            && !is_empty_tree(existing)
        {
            if is_empty_tree(&tree) {
                return Ok(());
            }
            return Err(ParseError {
                name: self.parse_name.clone(),
                line: 1 + self.text.matches('\n').count(),
                message: format!(
                    "template: multiple definition of template {}",
                    crate::fmt::quote_go(&tree.name)
                ),
            });
        }
        self.trees.insert(tree.name.clone(), tree);
        Ok(())
    }

    fn with_fresh_scope<T>(
        &mut self,
        body: impl FnOnce(&mut Self) -> Result<T, ParseError>,
    ) -> Result<T, ParseError> {
        let vars = std::mem::replace(&mut self.vars, vec!["$".to_owned()]);
        let depth = std::mem::replace(&mut self.range_depth, 0);
        let result = body(self);
        self.vars = vars;
        self.range_depth = depth;
        result
    }

    fn parse_definition(&mut self) -> Result<(), ParseError> {
        let context = "define clause";
        let token = self.next_non_space();
        let name = self.template_name(&token, context)?;
        self.expect(&TokenKind::RightDelim, context)?;
        let root = self.with_fresh_scope(|p| match p.item_list()? {
            (list, Item::End(_)) => Ok(list),
            (_, Item::Else(token)) => Err(p.error_at(
                &token,
                format!("unexpected {} in {context}", end_name(&token)),
            )),
            (_, Item::Node(_)) => unreachable!("item_list stops only at end or else"),
        })?;
        let tree = Tree {
            name,
            parse_name: self.parse_name.clone(),
            text: Arc::clone(&self.text),
            root,
        };
        self.add(tree)
    }

    fn template_name(&self, token: &Token, context: &str) -> Result<String, ParseError> {
        match token.kind {
            TokenKind::String | TokenKind::RawString => self.unquote(token),
            _ => Err(self.unexpected(token, context)),
        }
    }

    fn unquote(&self, token: &Token) -> Result<String, ParseError> {
        crate::fmt::unquote_go(&token.text)
            .ok_or_else(|| self.error_at(token, "invalid syntax".to_owned()))
    }

    /// Parses nodes until an `{{end}}` or `{{else}}`.
    fn item_list(&mut self) -> Result<(Vec<Node>, Item<'t>), ParseError> {
        stacker::maybe_grow(
            crate::exec::STACK_RED_ZONE,
            crate::exec::STACK_GROWTH,
            || self.item_list_inner(),
        )
    }

    fn item_list_inner(&mut self) -> Result<(Vec<Node>, Item<'t>), ParseError> {
        let mut list = Vec::new();
        while self.peek_non_space().kind != TokenKind::Eof {
            match self.text_or_action()? {
                Item::Node(node) => list.push(node),
                end => {
                    list.shrink_to_fit();
                    return Ok((list, end));
                }
            }
        }
        let token = self.peek().clone();
        Err(self.error_at(&token, "unexpected EOF".to_owned()))
    }

    fn text_or_action(&mut self) -> Result<Item<'t>, ParseError> {
        let token = self.next_non_space();
        match token.kind {
            TokenKind::Text => {
                // Text tokens borrow the source: keep where, not a copy.
                let start = token.text.as_ptr() as usize - self.text.as_ptr() as usize;
                Ok(Item::Node(Node::Text(start..start + token.text.len())))
            }
            TokenKind::LeftDelim => self.action(),
            _ => Err(self.unexpected(&token, "input")),
        }
    }

    fn action(&mut self) -> Result<Item<'t>, ParseError> {
        let token = self.next_non_space();
        if token.kind == TokenKind::Keyword {
            match token.text.as_ref() {
                "block" => return self.block_control().map(Item::Node),
                "break" | "continue" => return self.loop_control(&token).map(Item::Node),
                "else" => return self.else_control(token),
                "end" => {
                    self.expect(&TokenKind::RightDelim, "end")?;
                    return Ok(Item::End(token));
                }
                "if" => return self.if_control().map(Item::Node),
                "range" => return self.range_control().map(Item::Node),
                "template" => return self.template_control().map(Item::Node),
                "with" => return self.with_control().map(Item::Node),
                _ => {}
            }
        }
        self.backup();
        // Variables declared here persist until the enclosing "end".
        Ok(Item::Node(Node::Action(
            self.pipeline("command", &TokenKind::RightDelim)?,
        )))
    }

    fn loop_control(&mut self, keyword: &Token) -> Result<Node, ParseError> {
        let context = format!("{{{{{}}}}}", keyword.text);
        let token = self.next_non_space();
        if token.kind != TokenKind::RightDelim {
            return Err(self.unexpected(&token, &context));
        }
        if self.range_depth == 0 {
            return Err(self.error_at(&token, format!("{context} outside {{{{range}}}}")));
        }
        Ok(if keyword.text == "break" {
            Node::Break
        } else {
            Node::Continue
        })
    }

    fn else_control(&mut self, token: Token<'t>) -> Result<Item<'t>, ParseError> {
        let peek = self.peek_non_space();
        // "{{else if" and "{{else with" leave the keyword pending for the
        // enclosing control to parse as a nested if/with.
        if peek.kind == TokenKind::Keyword && (peek.text == "if" || peek.text == "with") {
            return Ok(Item::Else(token));
        }
        self.expect(&TokenKind::RightDelim, "else")?;
        Ok(Item::Else(token))
    }

    fn parse_control(&mut self, context: &str) -> Result<Branch, ParseError> {
        if self.block_depth >= MAX_BLOCK_DEPTH {
            let token = self.peek_non_space();
            return Err(self.error_at(
                &token,
                format!("max block depth exceeded ({MAX_BLOCK_DEPTH} nested if/range/with)"),
            ));
        }
        self.block_depth += 1;
        let saved_vars = self.vars.len();
        let result = self.parse_control_body(context);
        self.vars.truncate(saved_vars);
        self.block_depth -= 1;
        result
    }

    fn parse_control_body(&mut self, context: &str) -> Result<Branch, ParseError> {
        let pipe = self.pipeline(context, &TokenKind::RightDelim)?;
        if context == "range" {
            self.range_depth += 1;
        }
        let listed = self.item_list();
        if context == "range" {
            self.range_depth -= 1;
        }
        let (list, next) = listed?;
        let else_list = match next {
            Item::End(_) => None,
            Item::Else(_) => {
                let peek = self.peek_non_space();
                if context == "if" && peek.kind == TokenKind::Keyword && peek.text == "if" {
                    self.next_non_space();
                    Some(vec![self.if_control()?])
                } else if context == "with"
                    && peek.kind == TokenKind::Keyword
                    && peek.text == "with"
                {
                    self.next_non_space();
                    Some(vec![self.with_control()?])
                } else {
                    match self.item_list()? {
                        (list, Item::End(_)) => Some(list),
                        (_, Item::Else(token)) => {
                            return Err(self.error_at(
                                &token,
                                format!("expected end; found {}", end_name(&token)),
                            ));
                        }
                        (_, Item::Node(_)) => unreachable!("item_list stops only at end or else"),
                    }
                }
            }
            Item::Node(_) => unreachable!("item_list stops only at end or else"),
        };
        Ok(Branch {
            pipe,
            list,
            else_list,
        })
    }

    fn if_control(&mut self) -> Result<Node, ParseError> {
        self.parse_control("if")
            .map(|branch| Node::If(Box::new(branch)))
    }

    fn range_control(&mut self) -> Result<Node, ParseError> {
        self.parse_control("range")
            .map(|branch| Node::Range(Box::new(branch)))
    }

    fn with_control(&mut self) -> Result<Node, ParseError> {
        self.parse_control("with")
            .map(|branch| Node::With(Box::new(branch)))
    }

    fn template_control(&mut self) -> Result<Node, ParseError> {
        let context = "template clause";
        let token = self.next_non_space();
        let name = self.template_name(&token, context)?;
        let pipe = if self.next_non_space().kind == TokenKind::RightDelim {
            None
        } else {
            self.backup();
            Some(Box::new(self.pipeline(context, &TokenKind::RightDelim)?))
        };
        Ok(Node::Template {
            pos: token.pos,
            name: name.into_boxed_str(),
            pipe,
        })
    }

    fn block_control(&mut self) -> Result<Node, ParseError> {
        let context = "block clause";
        let token = self.next_non_space();
        let name = self.template_name(&token, context)?;
        let pipe = self.pipeline(context, &TokenKind::RightDelim)?;
        let root = self.with_fresh_scope(|p| match p.item_list()? {
            (list, Item::End(_)) => Ok(list),
            (_, Item::Else(token)) => Err(p.error_at(
                &token,
                format!("unexpected {} in {context}", end_name(&token)),
            )),
            (_, Item::Node(_)) => unreachable!("item_list stops only at end or else"),
        })?;
        self.add(Tree {
            name: name.clone(),
            parse_name: self.parse_name.clone(),
            text: Arc::clone(&self.text),
            root,
        })?;
        Ok(Node::Template {
            pos: token.pos,
            name: name.into_boxed_str(),
            pipe: Some(Box::new(pipe)),
        })
    }

    fn pipeline(&mut self, context: &str, end: &TokenKind) -> Result<Pipe, ParseError> {
        let pos = u32::try_from(self.peek_non_space().pos).unwrap_or(u32::MAX);
        let mut decl = Vec::new();
        let is_assign = self.declarations(context, &mut decl)?;
        let mut cmds = Vec::new();
        loop {
            let token = self.next_non_space();
            match token.kind {
                ref kind if kind == end => {
                    self.check_pipeline(&cmds, context, &token)?;
                    return Ok(Pipe {
                        pos,
                        decl: decl.into_boxed_slice(),
                        is_assign,
                        cmds: cmds.into_boxed_slice(),
                    });
                }
                TokenKind::Bool
                | TokenKind::Char
                | TokenKind::Dot
                | TokenKind::Field
                | TokenKind::Identifier
                | TokenKind::Number
                | TokenKind::Nil
                | TokenKind::RawString
                | TokenKind::String
                | TokenKind::Variable
                | TokenKind::LeftParen => {
                    self.backup();
                    let cmd = self.command()?;
                    cmds.push(cmd);
                }
                _ => return Err(self.unexpected(&token, context)),
            }
        }
    }

    /// Reads the variables a pipeline declares into `decl`; true when they
    /// are assigned (`=`) rather than declared (`:=`).
    fn declarations(&mut self, context: &str, decl: &mut Vec<Ident>) -> Result<bool, ParseError> {
        loop {
            let variable = self.peek_non_space();
            if variable.kind != TokenKind::Variable {
                return Ok(false);
            }
            let at_variable = self.at;
            self.next_non_space();
            let next = self.peek_non_space();
            match next.kind {
                TokenKind::Assign | TokenKind::Declare => {
                    let is_assign = next.kind == TokenKind::Assign;
                    self.next_non_space();
                    decl.push(self.ident(&variable.text));
                    self.vars.push(variable.text.into_owned());
                    return Ok(is_assign);
                }
                TokenKind::Punct if next.text == "," => {
                    self.next_non_space();
                    decl.push(self.ident(&variable.text));
                    self.vars.push(variable.text.into_owned());
                    if context == "range" && decl.len() < 2 {
                        let following = self.peek_non_space();
                        if matches!(
                            following.kind,
                            TokenKind::Variable | TokenKind::RightDelim | TokenKind::RightParen
                        ) {
                            continue;
                        }
                        return Err(self.error_at(
                            &following,
                            "range can only initialize variables".to_owned(),
                        ));
                    }
                    return Err(self.error_at(&next, format!("too many declarations in {context}")));
                }
                _ => {
                    // Not a declaration: put the variable back for the
                    // command to read.
                    self.at = at_variable;
                    return Ok(false);
                }
            }
        }
    }

    fn check_pipeline(
        &self,
        cmds: &[Command],
        context: &str,
        at: &Token,
    ) -> Result<(), ParseError> {
        if cmds.is_empty() {
            return Err(self.error_at(at, format!("missing value for {context}")));
        }
        for (i, cmd) in cmds.iter().enumerate().skip(1) {
            if matches!(
                &cmd.first,
                Arg::Bool(_) | Arg::Dot | Arg::Nil { .. } | Arg::Number(_) | Arg::String(_)
            ) {
                return Err(self.error_at(
                    at,
                    format!("non executable command in pipeline stage {}", i + 1),
                ));
            }
        }
        Ok(())
    }

    fn command(&mut self) -> Result<Command, ParseError> {
        let start = self.peek_non_space();
        let mut args: Vec<Arg> = Vec::new();
        loop {
            self.peek_non_space();
            if let Some(operand) = self.operand()? {
                args.push(operand);
            }
            let token = self.next();
            match token.kind {
                TokenKind::Space => {}
                TokenKind::RightDelim | TokenKind::RightParen => {
                    self.backup();
                    break;
                }
                TokenKind::Pipe => break,
                _ => return Err(self.unexpected(&token, "operand")),
            }
        }
        let mut operands = args.into_iter();
        let Some(first) = operands.next() else {
            return Err(self.error_at(&start, "empty command".to_owned()));
        };
        Ok(Command {
            pos: start.pos,
            first,
            rest: operands.collect(),
        })
    }

    fn operand(&mut self) -> Result<Option<Arg>, ParseError> {
        let start = self.peek_non_space().pos;
        let Some(node) = self.term()? else {
            return Ok(None);
        };
        if self.peek().kind != TokenKind::Field {
            return Ok(Some(node));
        }
        // Go positions a merged chain at its first chained field.
        let chain_pos = self.peek().pos;
        let mut fields = Vec::new();
        let mut end = chain_pos;
        while self.peek().kind == TokenKind::Field {
            let field = self.next().clone();
            end = field.pos + field.text.len();
            fields.push(self.ident(&field.text[1..]));
        }
        // Fields follow their term with no space: the whole path as
        // written names it (`.Values.image.tag`).
        let text = Arc::clone(&self.text);
        let written = &text[start..end];
        let extended = |head: &[Ident]| head.iter().chain(&fields).cloned().collect();
        Ok(Some(match node {
            Arg::Field { idents, .. } => Arg::Field {
                pos: chain_pos,
                idents: self.path(written, |_| extended(&idents)),
            },
            Arg::Variable { path, .. } => Arg::Variable {
                pos: chain_pos,
                path: self.path(written, |_| extended(&path)),
            },
            Arg::Bool(_) | Arg::String(_) | Arg::Number(_) | Arg::Nil { .. } | Arg::Dot => {
                let token = self.peek().clone();
                return Err(self.error_at(
                    &token,
                    format!(
                        "unexpected . after term {}",
                        crate::fmt::quote_go(&node.to_string())
                    ),
                ));
            }
            node => Arg::Chain(Box::new(Chain {
                pos: chain_pos,
                node,
                fields: fields.into_boxed_slice(),
            })),
        }))
    }

    fn term(&mut self) -> Result<Option<Arg>, ParseError> {
        let token = self.next_non_space();
        let arg = match token.kind {
            TokenKind::Identifier => {
                if !(self.has_function)(&token.text) {
                    return Err(self.error_at(
                        &token,
                        format!("function {} not defined", crate::fmt::quote_go(&token.text)),
                    ));
                }
                Arg::Identifier {
                    pos: token.pos,
                    name: self.ident(&token.text),
                }
            }
            TokenKind::Dot => Arg::Dot,
            TokenKind::Nil => Arg::Nil { pos: token.pos },
            TokenKind::Variable => {
                let name = token.text.split('.').next().unwrap_or_default();
                if !self.vars.iter().any(|var| var == name) {
                    return Err(self.error_at(
                        &token,
                        format!("undefined variable {}", crate::fmt::quote_go(name)),
                    ));
                }
                Arg::Variable {
                    pos: token.pos,
                    path: self.token_path(&token.text, &token.text),
                }
            }
            TokenKind::Field => Arg::Field {
                pos: token.pos,
                idents: self.token_path(&token.text, &token.text[1..]),
            },
            TokenKind::Bool => Arg::Bool(token.text == "true"),
            TokenKind::Char | TokenKind::Number => Arg::Number(Box::new(self.number(&token)?)),
            TokenKind::LeftParen => {
                self.paren_depth += 1;
                if self.paren_depth >= MAX_PAREN_DEPTH {
                    return Err(self.error_at(&token, "max expression depth exceeded".to_owned()));
                }
                let pipe = stacker::maybe_grow(
                    crate::exec::STACK_RED_ZONE,
                    crate::exec::STACK_GROWTH,
                    || self.pipeline("parenthesized pipeline", &TokenKind::RightParen),
                );
                self.paren_depth -= 1;
                Arg::Pipe(Box::new(pipe?))
            }
            TokenKind::String | TokenKind::RawString => {
                let value = self.unquote(&token)?;
                Arg::String(Box::new(StringLiteral {
                    value: self.ident(&value),
                    quoted: self.ident(&token.text),
                }))
            }
            _ => {
                self.backup();
                return Ok(None);
            }
        };
        Ok(Some(arg))
    }

    fn number(&self, token: &Token<'t>) -> Result<Number, ParseError> {
        let text = token.text.to_string();
        if token.kind == TokenKind::Char {
            let Some(c) = crate::fmt::unquote_char(&text) else {
                return Err(self.error_at(token, format!("malformed character constant: {text}")));
            };
            let code = i64::from(u32::from(c));
            return Ok(Number {
                text,
                int: Some(code),
                #[expect(clippy::cast_precision_loss, reason = "a rune fits in f64 exactly")]
                float: Some(code as f64),
                is_char: true,
            });
        }
        match parse_number(&text) {
            Ok((int, float)) => Ok(Number {
                text,
                int,
                float,
                is_char: false,
            }),
            Err(message) => Err(self.error_at(token, message)),
        }
    }
}

/// Go's `NumberNode` interpretation: an integer (base prefixes, octal with
/// a leading 0, underscores), or a float, recording both when exact.
fn parse_number(text: &str) -> Result<(Option<i64>, Option<f64>), String> {
    let quoted = crate::fmt::quote_go(text);
    if let Some(int) = crate::strconv::parse_int(text) {
        #[expect(
            clippy::cast_precision_loss,
            reason = "Go promotes the int to float64 the same way"
        )]
        return Ok((Some(int), Some(int as f64)));
    }
    let Some(float) = parse_go_float(text) else {
        return Err(format!("illegal number syntax: {quoted}"));
    };
    if !text.contains(['.', 'e', 'E', 'p', 'P']) {
        return Err(format!("integer overflow: {quoted}"));
    }
    #[expect(clippy::cast_possible_truncation, reason = "checked exact below")]
    #[expect(clippy::cast_precision_loss, reason = "checked exact below")]
    let int = ((float as i64) as f64 == float).then_some(float as i64);
    Ok((int, Some(float)))
}

/// A float literal: Go's `strconv.ParseFloat`, less the words it also
/// reads (`inf`, `nan`), which the lexer never hands over as numbers.
fn parse_go_float(text: &str) -> Option<f64> {
    let lower = text.to_ascii_lowercase();
    if lower.contains("inf") || lower.contains("nan") {
        return None;
    }
    crate::strconv::parse_float(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_err(text: &str) -> String {
        match parse(
            "t",
            &Arc::from(text),
            &|name| name == "f",
            &mut Names::default(),
        ) {
            Ok(_) => String::new(),
            Err(e) => e.to_string(),
        }
    }

    /// The operand of each action at the top of `text`, parsed with `names`.
    fn first_operands(text: &str, names: &mut Names) -> Vec<Arg> {
        let mut trees = parse("t", &Arc::from(text), &|_| true, names).unwrap();
        let root = trees.remove("t").unwrap().root;
        root.into_iter()
            .filter_map(|node| match node {
                Node::Action(pipe) => pipe.cmds.into_vec().into_iter().next(),
                _ => None,
            })
            .map(|cmd| cmd.first)
            .collect()
    }

    fn path_of(arg: &Arg) -> Arc<[Ident]> {
        match arg {
            Arg::Field { idents, .. } => Arc::clone(idents),
            Arg::Variable { path, .. } => Arc::clone(path),
            other => panic!("not a field or variable: {other}"),
        }
    }

    #[test]
    fn names_and_paths_are_shared_across_uses_and_texts() {
        let mut names = Names::default();
        let first = first_operands(
            "{{.Values.a}} {{.Values.a | quote}} {{$x := .Values.b}}{{$x.c}} {{$x.c}}",
            &mut names,
        );
        let [a, a_again, b, x_c, x_c_again] = &first[..] else {
            panic!("five actions: {first:?}");
        };
        assert!(Arc::ptr_eq(&path_of(a), &path_of(a_again)));
        assert!(Arc::ptr_eq(&path_of(x_c), &path_of(x_c_again)));
        assert_eq!(&*path_of(x_c), [Arc::from("$x"), Arc::from("c")]);
        // `.Values` is one name in `.Values.a` and `.Values.b`.
        assert!(Arc::ptr_eq(&path_of(a)[0], &path_of(b)[0]));
        // A second text parsed with the same names shares them too.
        let second = first_operands("{{.Values.a}}", &mut names);
        assert!(Arc::ptr_eq(&path_of(a), &path_of(&second[0])));
        // Other names make other paths.
        let other = first_operands("{{.Values.ab}}", &mut Names::default());
        assert_eq!(&*path_of(&other[0]), [Arc::from("Values"), Arc::from("ab")]);
    }

    #[test]
    fn parse_errors_read_like_go() {
        assert_eq!(parse_err("{{ if }}"), "template: t:1: missing value for if");
        assert_eq!(
            parse_err("{{ nope }}"),
            "template: t:1: function \"nope\" not defined"
        );
        assert_eq!(
            parse_err("{{ $x }}"),
            "template: t:1: undefined variable \"$x\""
        );
        assert_eq!(parse_err("{{ end }}"), "template: t:1: unexpected {{end}}");
        assert_eq!(parse_err("\n{{ if .x }}"), "template: t:2: unexpected EOF");
        assert_eq!(
            parse_err("{{ break }}"),
            "template: t:1: {{break}} outside {{range}}"
        );
        assert_eq!(
            parse_err("{{ .x | 3 }}"),
            "template: t:1: non executable command in pipeline stage 2"
        );
        assert_eq!(
            parse_err("{{ 1.x }}"),
            "template: t:1: bad number syntax: \"1.x\""
        );
        assert_eq!(
            parse_err("{{ \"a\".x }}"),
            "template: t:1: unexpected . after term \"\\\"a\\\"\""
        );
    }

    #[test]
    fn numbers_follow_go_syntax() {
        assert_eq!(parse_number("0x1F"), Ok((Some(31), Some(31.0))));
        assert_eq!(parse_number("017"), Ok((Some(15), Some(15.0))));
        assert_eq!(parse_number("1_000"), Ok((Some(1000), Some(1000.0))));
        assert_eq!(parse_number("1e3"), Ok((Some(1000), Some(1000.0))));
        assert_eq!(parse_number("1.5"), Ok((None, Some(1.5))));
        assert_eq!(parse_number("0x1p4"), Ok((Some(16), Some(16.0))));
        assert_eq!(parse_number("0x1.8p1"), Ok((Some(3), Some(3.0))));
        assert!(parse_number("99999999999999999999").is_err());
    }

    #[test]
    fn definitions_are_collected() {
        let trees = parse(
            "t",
            &Arc::from("a{{define \"x\"}}X{{end}}{{block \"y\" .}}Y{{end}}"),
            &|_| true,
            &mut Names::default(),
        )
        .expect("valid template");
        let mut names: Vec<_> = trees.keys().cloned().collect();
        names.sort();
        assert_eq!(names, ["t", "x", "y"]);
    }
}
