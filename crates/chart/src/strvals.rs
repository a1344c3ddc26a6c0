//! `--set`, `--set-string`, `--set-file` and `--set-json` in Helm's `strvals`
//! grammar: `a.b=c,d[0]=e,f={x,y}`, `\` escapes the next character, `null`
//! deletes (coalescing drops it), `--set` infers int64 and bool, everything
//! else stays a string. `--set-literal` is Helm's literal variant: one
//! `key=value` whose value is the rest of the argument, commas, braces and
//! backslashes included.
//!
//! This module only parses into a values map; it reads no files itself (the
//! `--set-file` reader is handed in by the caller, so chart code can never
//! reach the file system through it).

use driftless_render::yaml::{Map, Value};

/// Deepest `a.b.c` nesting Helm accepts in one key.
const MAX_NESTED_NAME_LEVEL: usize = 30;
/// Largest list index Helm accepts (`a[65536]` is refused).
const MAX_INDEX: usize = 65536;

/// How the right-hand side of `key=value` becomes a value.
enum Reader<'a> {
    /// `--set`: ints, bools and `null` inferred.
    Typed,
    /// `--set-string`: always a string.
    Text,
    /// `--set-file`: the value names a file the callback reads.
    File(&'a mut dyn FnMut(&str) -> Result<String, String>),
    /// `--set-json`: the value is a JSON document.
    Json,
    /// `--set-literal`: no escapes, and the value is the rest of the text.
    Literal,
}

/// Parses a `--set` argument into `dest`.
///
/// # Errors
/// Helm's message for malformed input (`key "a" has no value`, ...).
pub fn parse_set(s: &str, dest: &mut Map) -> Result<(), String> {
    Parser::new(s, Reader::Typed).parse(dest)
}

/// Parses a `--set-string` argument into `dest`.
///
/// # Errors
/// As [`parse_set`].
pub fn parse_set_string(s: &str, dest: &mut Map) -> Result<(), String> {
    Parser::new(s, Reader::Text).parse(dest)
}

/// Parses a `--set-json` argument of the `key=<json>` form into `dest`.
///
/// # Errors
/// As [`parse_set`], or when the JSON does not parse.
pub fn parse_set_json(s: &str, dest: &mut Map) -> Result<(), String> {
    Parser::new(s, Reader::Json).parse(dest)
}

/// Parses a `--set-literal` argument into `dest`.
///
/// # Errors
/// As [`parse_set`].
pub fn parse_set_literal(s: &str, dest: &mut Map) -> Result<(), String> {
    Parser::new(s, Reader::Literal).parse(dest)
}

/// Parses a `--set-file` argument; `read` returns the named file's text.
///
/// # Errors
/// As [`parse_set`], or what `read` returns.
pub fn parse_set_file(
    s: &str,
    dest: &mut Map,
    read: &mut dyn FnMut(&str) -> Result<String, String>,
) -> Result<(), String> {
    Parser::new(s, Reader::File(read)).parse(dest)
}

/// `--set`'s type inference (`typedVal` in Helm).
fn typed_value(text: &str) -> Value {
    if text.eq_ignore_ascii_case("true") {
        return Value::Bool(true);
    }
    if text.eq_ignore_ascii_case("false") {
        return Value::Bool(false);
    }
    if text.eq_ignore_ascii_case("null") {
        return Value::Null;
    }
    if text == "0" {
        return Value::Int(0);
    }
    // Leading zeros stay strings (`007`), as do numbers beyond int64.
    if !text.starts_with('0')
        && let Some(i) = parse_int64(text)
    {
        return Value::Int(i128::from(i));
    }
    Value::Str(text.to_string())
}

/// `strconv.ParseInt(s, 10, 64)`: optional sign, decimal digits.
fn parse_int64(text: &str) -> Option<i64> {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

struct Parser<'a> {
    chars: Vec<char>,
    pos: usize,
    reader: Reader<'a>,
}

/// Why reading stopped: at a stop character, or at the end of input.
type Until = (String, Option<char>);

impl<'a> Parser<'a> {
    fn new(s: &str, reader: Reader<'a>) -> Self {
        Parser {
            chars: s.chars().collect(),
            pos: 0,
            reader,
        }
    }

    fn parse(mut self, dest: &mut Map) -> Result<(), String> {
        while self.pos < self.chars.len() {
            match self.key(dest, 0)? {
                Flow::More => {}
                Flow::End => break,
            }
        }
        Ok(())
    }

    fn next(&mut self) -> Option<char> {
        let c = self.chars.get(self.pos).copied();
        if c.is_some() {
            self.pos += 1;
        }
        c
    }

    /// Reads up to (and consumes) one of `stop`; `\` escapes the next char
    /// (but for `--set-literal`).
    fn until(&mut self, stop: &[char]) -> Until {
        let escapes = !matches!(self.reader, Reader::Literal);
        let mut text = String::new();
        loop {
            match self.next() {
                None => return (text, None),
                Some(c) if stop.contains(&c) => return (text, Some(c)),
                Some('\\') if escapes => match self.next() {
                    Some(n) => text.push(n),
                    None => return (text, None),
                },
                Some(c) => text.push(c),
            }
        }
    }

    fn read_value(&mut self, text: &str) -> Result<Value, String> {
        match &mut self.reader {
            Reader::Typed => Ok(typed_value(text)),
            Reader::Text => Ok(Value::Str(text.to_string())),
            Reader::File(read) => read(text).map(Value::Str),
            Reader::Json | Reader::Literal => Err("internal: this value is read whole".into()),
        }
    }

    fn key(&mut self, data: &mut Map, mut level: usize) -> Result<Flow, String> {
        let stops: &[char] = if matches!(self.reader, Reader::Literal) {
            &['=', '[', '.']
        } else {
            &['=', '[', ',', '.']
        };
        let (key, last) = self.until(stops);
        match last {
            None => {
                if key.is_empty() {
                    Ok(Flow::End)
                } else {
                    Err(format!("key {key:?} has no value"))
                }
            }
            Some('[') => {
                let index = self.index()?;
                let mut list = match data.get(&key) {
                    None => Vec::new(),
                    Some(Value::Seq(items)) => items.clone(),
                    Some(_) => {
                        return Err(format!(
                            "unable to parse key: interface conversion: {key} is not a list"
                        ));
                    }
                };
                let result = self.list_item(&mut list, index, level);
                set(data, &key, Value::Seq(list));
                result
            }
            Some('=') => self.assign(data, &key),
            Some(',') => {
                set(data, &key, Value::Str(String::new()));
                Err(format!("key {key:?} has no value (cannot end with ,)"))
            }
            Some(_) => {
                level += 1;
                if level > MAX_NESTED_NAME_LEVEL {
                    return Err(format!(
                        "value name nested level is greater than maximum supported nested level of {MAX_NESTED_NAME_LEVEL}"
                    ));
                }
                let mut inner = match data.get(&key) {
                    None => Map::new(),
                    Some(Value::Map(m)) => m.clone(),
                    Some(other) => {
                        return Err(format!(
                            "unable to parse key: interface conversion: interface {{}} is {}, not map[string]interface {{}}",
                            go_type_name(other)
                        ));
                    }
                };
                let result = self.key(&mut inner, level);
                if result.is_ok() && inner.is_empty() {
                    return Err(format!("key map {key:?} has no value"));
                }
                if !inner.is_empty() {
                    set(data, &key, Value::Map(inner));
                }
                result
            }
        }
    }

    /// The right-hand side of `key=`.
    fn assign(&mut self, data: &mut Map, key: &str) -> Result<Flow, String> {
        let value = self.rhs()?;
        match value {
            Some((value, flow)) => {
                set(data, key, value);
                Ok(flow)
            }
            None => Ok(Flow::End),
        }
    }

    /// Reads a value: a JSON document, a `{a,b}` list or a scalar.
    fn rhs(&mut self) -> Result<Option<(Value, Flow)>, String> {
        if matches!(self.reader, Reader::Literal) {
            let rest: String = self.chars[self.pos..].iter().collect();
            self.pos = self.chars.len();
            return Ok(Some((Value::Str(rest), Flow::End)));
        }
        if matches!(self.reader, Reader::Json) {
            if self.empty_value() {
                return Ok(Some((Value::Null, Flow::More)));
            }
            let rest: String = self.chars[self.pos..].iter().collect();
            let mut stream =
                serde_json::Deserializer::from_str(&rest).into_iter::<serde_json::Value>();
            let parsed = match stream.next() {
                Some(Ok(v)) => v,
                Some(Err(e)) => return Err(e.to_string()),
                None => return Err("unexpected end of JSON input".into()),
            };
            let used = rest[..stream.byte_offset()].chars().count();
            self.pos += used;
            self.empty_value();
            return Ok(Some((crate::values::from_json(&parsed), Flow::More)));
        }
        if self.chars.get(self.pos) == Some(&'{') {
            self.pos += 1;
            return self.list_value().map(|v| Some((Value::Seq(v), Flow::More)));
        }
        if self.pos >= self.chars.len() {
            // `a=` at the very end: an empty string.
            return Ok(Some((Value::Str(String::new()), Flow::End)));
        }
        let (text, last) = self.until(&[',']);
        let value = self.read_value(&text)?;
        Ok(Some((
            value,
            if last.is_none() {
                Flow::End
            } else {
                Flow::More
            },
        )))
    }

    /// After `=` with `--set-json`: true when the value is empty (`a=` or `a=,`).
    fn empty_value(&mut self) -> bool {
        while let Some(&c) = self.chars.get(self.pos) {
            if c == ',' {
                self.pos += 1;
                return true;
            }
            if !c.is_whitespace() {
                return false;
            }
            self.pos += 1;
        }
        true
    }

    fn list_value(&mut self) -> Result<Vec<Value>, String> {
        let mut list = Vec::new();
        loop {
            let (text, last) = self.until(&[',', '}']);
            match last {
                None => return Err("list must terminate with '}'".into()),
                Some('}') => {
                    if self.chars.get(self.pos) == Some(&',') {
                        self.pos += 1;
                    }
                    list.push(self.read_value(&text)?);
                    return Ok(list);
                }
                Some(_) => list.push(self.read_value(&text)?),
            }
        }
    }

    fn index(&mut self) -> Result<usize, String> {
        let (text, last) = self.until(&[']']);
        if last.is_none() {
            return Err("error parsing index: EOF".into());
        }
        let index: i64 = text.parse().map_err(|_| {
            format!("error parsing index: strconv.Atoi: parsing {text:?}: invalid syntax")
        })?;
        if index < 0 {
            return Err(format!("negative {index} index not allowed"));
        }
        let index = usize::try_from(index).map_err(|e| e.to_string())?;
        if index > MAX_INDEX {
            return Err(format!(
                "index of {index} is greater than maximum supported index of {MAX_INDEX}"
            ));
        }
        Ok(index)
    }

    fn list_item(
        &mut self,
        list: &mut Vec<Value>,
        index: usize,
        level: usize,
    ) -> Result<Flow, String> {
        let (rest, last) = self.until(&['[', '.', '=']);
        if !rest.is_empty() {
            // The literal parser quotes the runes it read (Go's `%q` of a
            // `[]rune`: `['b' 'c']`), the other parser the string.
            let shown = if matches!(self.reader, Reader::Literal) {
                let runes: Vec<String> = rest.chars().map(|c| format!("{c:?}")).collect();
                format!("[{}]", runes.join(" "))
            } else {
                format!("{rest:?}")
            };
            return Err(format!("unexpected data at end of array index: {shown}"));
        }
        match last {
            None => Err("EOF".into()),
            Some('=') => match self.rhs()? {
                Some((value, flow)) => {
                    set_index(list, index, value);
                    Ok(flow)
                }
                None => Ok(Flow::End),
            },
            Some('[') => {
                let next = self.index()?;
                let mut inner = match list.get(index) {
                    Some(Value::Seq(items)) => items.clone(),
                    None | Some(Value::Null) => Vec::new(),
                    Some(_) => return Err(format!("error processing index {index}: not a list")),
                };
                let flow = self.list_item(&mut inner, next, level)?;
                set_index(list, index, Value::Seq(inner));
                Ok(flow)
            }
            Some(_) => {
                let mut inner = match list.get(index) {
                    Some(Value::Map(m)) => m.clone(),
                    _ => Map::new(),
                };
                let flow = self.key(&mut inner, level)?;
                set_index(list, index, Value::Map(inner));
                Ok(flow)
            }
        }
    }
}

/// Whether more `key=value` pairs follow.
enum Flow {
    More,
    End,
}

fn set(data: &mut Map, key: &str, value: Value) {
    if !key.is_empty() {
        data.insert(key.to_string(), value);
    }
}

fn set_index(list: &mut Vec<Value>, index: usize, value: Value) {
    if list.len() <= index {
        list.resize(index + 1, Value::Null);
    }
    list[index] = value;
}

/// The Go type of a value `--set` made, as a failed type assertion names it.
fn go_type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "nil",
        Value::Bool(_) => "bool",
        Value::Int(_) => "int64",
        Value::Float(_) => "float64",
        Value::Str(_) => "string",
        Value::Seq(_) => "[]interface {}",
        Value::Map(_) => "map[string]interface {}",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use driftless_render::yaml::emit_document;

    fn set_yaml(args: &[&str]) -> String {
        let mut m = Map::new();
        for a in args {
            parse_set(a, &mut m).unwrap();
        }
        emit_document(&Value::Map(m))
    }

    #[test]
    fn nested_keys_lists_and_types() {
        assert_eq!(
            set_yaml(&["a.b=c,d[1]=x,n=12,z=0,o=007,t=TRUE,f=1.5,e=null"]),
            "a:\n  b: c\nd:\n- null\n- x\ne: null\nf: \"1.5\"\n\"n\": 12\no: \"007\"\nt: true\nz: 0\n"
        );
    }

    #[test]
    fn escapes_and_brace_lists() {
        assert_eq!(
            set_yaml(&[r"a\.b=x\,y", "l={1,b,true}"]),
            "a.b: x,y\nl:\n- 1\n- b\n- true\n"
        );
    }

    #[test]
    fn literal_values_are_the_rest_of_the_argument() {
        let mut m = Map::new();
        parse_set_literal(r"a.b[1]=x,y={z}\,=", &mut m).unwrap();
        assert_eq!(
            emit_document(&Value::Map(m)),
            "a:\n  b:\n  - null\n  - x,y={z}\\,=\n"
        );
        let mut m = Map::new();
        assert_eq!(
            parse_set_literal("a[0]bc=1", &mut m).unwrap_err(),
            "unexpected data at end of array index: ['b' 'c']"
        );
    }

    #[test]
    fn list_of_maps_and_nested_lists() {
        assert_eq!(
            set_yaml(&["s[0].name=a,s[0].v=1", "m[0][1]=q"]),
            "m:\n- - null\n  - q\ns:\n- name: a\n  v: 1\n"
        );
    }

    #[test]
    fn empty_values_and_errors() {
        assert_eq!(set_yaml(&["a="]), "a: \"\"\n");
        let mut m = Map::new();
        assert_eq!(
            parse_set("a", &mut m).unwrap_err(),
            "key \"a\" has no value"
        );
        assert!(
            parse_set("a,b=1", &mut m)
                .unwrap_err()
                .contains("cannot end with ,")
        );
        assert!(
            parse_set("a[-1]=1", &mut m)
                .unwrap_err()
                .contains("negative")
        );
        assert!(
            parse_set("a[70000]=1", &mut m)
                .unwrap_err()
                .contains("maximum")
        );
    }

    #[test]
    fn set_string_and_json() {
        let mut m = Map::new();
        parse_set_string("a=1,b=true", &mut m).unwrap();
        parse_set_json(r#"c={"x":[1,2]},d=3"#, &mut m).unwrap();
        assert_eq!(
            emit_document(&Value::Map(m)),
            "a: \"1\"\nb: \"true\"\nc:\n  x:\n  - 1\n  - 2\nd: 3\n"
        );
    }

    #[test]
    fn set_file_reads_through_the_callback() {
        let mut m = Map::new();
        let mut read = |name: &str| Ok(format!("contents of {name}"));
        parse_set_file("cfg=my.txt", &mut m, &mut read).unwrap();
        assert_eq!(m["cfg"], Value::Str("contents of my.txt".into()));
    }
}
