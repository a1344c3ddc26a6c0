//! `.Files`: the chart's non-template files (Helm's `engine.files`), with
//! `Get`, `GetBytes`, `Glob` (gobwas/glob syntax with `/` as separator:
//! `*`, `**`, `?`, `[...]`, `{a,b}`), `AsConfig`, `AsSecrets` and `Lines`.
//!
//! The object holds copies of the chart's own files only; nothing here can
//! reach the file system.

use std::any::Any;
use std::collections::BTreeMap;
use std::sync::Arc;

use driftless_gotemplate::args::method_string;
use driftless_gotemplate::sprig::encoding::base64_std;
use driftless_gotemplate::{List, ListKind, Object, Value, go_string};
use driftless_render::yaml::{Map, Value as Yv, emit_document};

use crate::chart::ChartFile;

/// The files a template can read, by path inside the chart.
#[derive(Debug, Clone, Default)]
pub struct Files {
    entries: Arc<BTreeMap<String, Arc<[u8]>>>,
}

impl Files {
    /// The files of one chart.
    #[must_use]
    pub fn new(files: &[ChartFile]) -> Files {
        Files {
            entries: Arc::new(
                files
                    .iter()
                    .map(|f| (f.name.clone(), Arc::from(f.data.as_slice())))
                    .collect(),
            ),
        }
    }

    /// The files of one chart, taken over instead of copied (a render
    /// holds each file once).
    #[must_use]
    pub fn from_owned(files: Vec<ChartFile>) -> Files {
        Files {
            entries: Arc::new(
                files
                    .into_iter()
                    .map(|f| (f.name, Arc::from(f.data)))
                    .collect(),
            ),
        }
    }

    fn get_bytes(&self, name: &str) -> Arc<[u8]> {
        self.entries
            .get(name)
            .cloned()
            .unwrap_or_else(|| Arc::from(&b""[..]))
    }

    fn glob(&self, pattern: &str) -> Files {
        let compiled = Glob::compile(pattern).unwrap_or(Glob(vec![Token::AnyDeep]));
        Files {
            entries: Arc::new(
                self.entries
                    .iter()
                    .filter(|(name, _)| compiled.matches(name))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            ),
        }
    }

    fn as_yaml(&self, encode: impl Fn(&[u8]) -> String) -> String {
        let mut m = Map::new();
        for (name, data) in self.entries.iter() {
            let base = name.rsplit('/').next().unwrap_or(name);
            m.insert(base.to_string(), Yv::Str(encode(data)));
        }
        if m.is_empty() {
            return "{}".into();
        }
        let text = emit_document(&Yv::Map(m));
        text.strip_suffix('\n').unwrap_or(&text).to_string()
    }

    /// Helm's `Lines`: the file split at line breaks (a last one ends the
    /// last line), each line a Go string with the file's bytes.
    fn lines(&self, name: &str) -> Value {
        let Some(data) = self.entries.get(name).filter(|d| !d.is_empty()) else {
            return Value::string_list(Vec::new());
        };
        let data = data.strip_suffix(b"\n").unwrap_or(data);
        Value::List(List::with_kind(
            data.split(|&b| b == b'\n')
                .map(|line| go_string(line.to_vec()))
                .collect(),
            ListKind::String,
        ))
    }
}

impl Object for Files {
    fn type_name(&self) -> String {
        "engine.files".into()
    }
    fn kind_name(&self) -> &'static str {
        "map"
    }
    fn call_method(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        let result = match name {
            "Get" => method_string(name, args).map(|n| go_string(self.get_bytes(n).to_vec())),
            "GetBytes" => method_string(name, args).map(|n| Value::Bytes(self.get_bytes(n))),
            "Glob" => method_string(name, args).map(|p| Value::object(self.glob(p))),
            "Lines" => method_string(name, args).map(|n| self.lines(n)),
            "AsConfig" => Ok(Value::string(
                self.as_yaml(driftless_gotemplate::raw_string::rune_view),
            )),
            "AsSecrets" => Ok(Value::string(self.as_yaml(base64_std))),
            _ => return None,
        };
        Some(result)
    }
    fn format(&self) -> String {
        let parts: Vec<String> = self
            .entries
            .iter()
            .map(|(k, v)| {
                let bytes: Vec<String> = v.iter().map(u8::to_string).collect();
                format!("{k}:[{}]", bytes.join(" "))
            })
            .collect();
        format!("map[{}]", parts.join(" "))
    }
    fn is_true(&self) -> bool {
        !self.entries.is_empty()
    }
    /// `engine.files` is a Go `map[string][]byte`: `range`, `index`, `len`
    /// and `toJson` see the paths with their contents as bytes.
    fn as_collection(&self) -> Option<Value> {
        let entries = self
            .entries
            .iter()
            .map(|(k, v)| (k.clone(), Value::Bytes(v.clone())))
            .collect();
        Some(Value::Map(driftless_gotemplate::Map::from_entries(entries)))
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// A compiled gobwas/glob pattern with `/` as the separator.
struct Glob(Vec<Token>);

enum Token {
    Literal(char),
    /// `?`: one character, not `/`.
    One,
    /// `*`: any run without `/`.
    Any,
    /// `**`: any run.
    AnyDeep,
    /// `[...]` / `[!...]`: ranges, negated or not.
    Class(Vec<(char, char)>, bool),
    /// `{a,b}`: alternatives, each a pattern.
    Alternatives(Vec<Glob>),
}

impl Glob {
    fn compile(pattern: &str) -> Option<Glob> {
        let chars: Vec<char> = pattern.chars().collect();
        let (glob, used) = Self::parse(&chars, 0, false)?;
        (used == chars.len()).then_some(glob)
    }

    /// Parses from `i`; inside braces stops at `,` or `}`.
    fn parse(c: &[char], mut i: usize, in_braces: bool) -> Option<(Glob, usize)> {
        let mut tokens = Vec::new();
        while i < c.len() {
            match c[i] {
                ',' | '}' if in_braces => break,
                '*' if c.get(i + 1) == Some(&'*') => {
                    tokens.push(Token::AnyDeep);
                    i += 2;
                }
                '*' => {
                    tokens.push(Token::Any);
                    i += 1;
                }
                '?' => {
                    tokens.push(Token::One);
                    i += 1;
                }
                '\\' => {
                    tokens.push(Token::Literal(*c.get(i + 1)?));
                    i += 2;
                }
                '[' => {
                    i += 1;
                    let negated = c.get(i) == Some(&'!');
                    if negated {
                        i += 1;
                    }
                    let mut ranges = Vec::new();
                    while *c.get(i)? != ']' {
                        let lo = c[i];
                        if c.get(i + 1) == Some(&'-') && c.get(i + 2).is_some_and(|&h| h != ']') {
                            ranges.push((lo, c[i + 2]));
                            i += 3;
                        } else {
                            ranges.push((lo, lo));
                            i += 1;
                        }
                    }
                    i += 1;
                    tokens.push(Token::Class(ranges, negated));
                }
                '{' => {
                    i += 1;
                    let mut alternatives = Vec::new();
                    loop {
                        let (alt, next) = Self::parse(c, i, true)?;
                        alternatives.push(alt);
                        i = next;
                        match c.get(i)? {
                            ',' => i += 1,
                            _ => {
                                i += 1;
                                break;
                            }
                        }
                    }
                    tokens.push(Token::Alternatives(alternatives));
                }
                other => {
                    tokens.push(Token::Literal(other));
                    i += 1;
                }
            }
        }
        Some((Glob(tokens), i))
    }

    fn matches(&self, name: &str) -> bool {
        let chars: Vec<char> = name.chars().collect();
        match_tokens(&self.0, &chars, &[])
    }
}

/// Matches `tokens` then the `rest` continuations against `s`.
fn match_tokens(tokens: &[Token], s: &[char], rest: &[&[Token]]) -> bool {
    let Some((first, tail)) = tokens.split_first() else {
        return match rest.split_first() {
            Some((next, more)) => match_tokens(next, s, more),
            None => s.is_empty(),
        };
    };
    match first {
        Token::Literal(l) => s.first() == Some(l) && match_tokens(tail, &s[1..], rest),
        Token::One => s.first().is_some_and(|&c| c != '/') && match_tokens(tail, &s[1..], rest),
        Token::Class(ranges, negated) => {
            s.first()
                .is_some_and(|&c| ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != *negated)
                && match_tokens(tail, &s[1..], rest)
        }
        Token::Any | Token::AnyDeep => {
            let deep = matches!(first, Token::AnyDeep);
            for n in 0..=s.len() {
                if match_tokens(tail, &s[n..], rest) {
                    return true;
                }
                if n < s.len() && !deep && s[n] == '/' {
                    return false;
                }
            }
            false
        }
        Token::Alternatives(alternatives) => alternatives.iter().any(|alt| {
            let mut continuation: Vec<&[Token]> = vec![tail];
            continuation.extend_from_slice(rest);
            match_tokens(&alt.0, s, &continuation)
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files() -> Files {
        Files::new(&[
            ChartFile {
                name: "files/a.conf".into(),
                data: b"x=1\ny=2\n".to_vec(),
            },
            ChartFile {
                name: "files/sub/b.json".into(),
                data: b"{}".to_vec(),
            },
            ChartFile {
                name: "README".into(),
                data: b"hi".to_vec(),
            },
        ])
    }

    fn call(f: &Files, method: &str, arg: &str) -> Value {
        f.call_method(method, &[Value::string(arg)])
            .unwrap()
            .unwrap()
    }

    #[test]
    fn glob_syntax() {
        let f = files();
        let count = |p: &str| f.glob(p).entries.len();
        assert_eq!(count("files/*"), 1);
        assert_eq!(count("files/**"), 2);
        assert_eq!(count("files/**.json"), 1);
        assert_eq!(count("{README,files/*.conf}"), 2);
        assert_eq!(count("files/?.conf"), 1);
        assert_eq!(count("files/[a-b].conf"), 1);
        assert_eq!(count("files/[!a].conf"), 0);
    }

    #[test]
    fn get_lines_and_config() {
        let f = files();
        assert_eq!(call(&f, "Get", "README").as_str(), Some("hi"));
        assert_eq!(call(&f, "Get", "missing").as_str(), Some(""));
        let Value::List(lines) = call(&f, "Lines", "files/a.conf") else {
            panic!("Lines returns a list")
        };
        assert_eq!(lines.len(), 2);
        let Value::Object(conf) = call(&f, "Glob", "files/*.conf") else {
            panic!("Glob returns files")
        };
        let conf = conf.call_method("AsConfig", &[]).unwrap().unwrap();
        assert_eq!(conf.as_str(), Some("a.conf: |\n  x=1\n  y=2"));
        let secrets = f
            .glob("README")
            .call_method("AsSecrets", &[])
            .unwrap()
            .unwrap();
        assert_eq!(secrets.as_str(), Some("README: aGk="));
    }
}
