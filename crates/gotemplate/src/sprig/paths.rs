//! Paths: `base`, `dir`, `clean`, `ext`, `isAbs` (Go's `path`) and their
//! `os` twins (Go's `path/filepath`, identical on Linux, where Helm runs
//! charts).

use crate::args::string;
use crate::funcs::{Arity, FuncMap};
use crate::value::Value;

pub(crate) fn register(map: &mut FuncMap) {
    for (plain, os) in [
        ("base", "osBase"),
        ("dir", "osDir"),
        ("clean", "osClean"),
        ("ext", "osExt"),
    ] {
        let apply: fn(&str) -> String = match plain {
            "base" => base,
            "dir" => dir,
            "clean" => clean,
            _ => ext,
        };
        for name in [plain, os] {
            map.add(name, Arity::Exact(1), move |a| {
                Ok(Value::string(apply(string(&a[0])?)))
            });
        }
    }
    for name in ["isAbs", "osIsAbs"] {
        map.add(name, Arity::Exact(1), |a| {
            Ok(Value::Bool(string(&a[0])?.starts_with('/')))
        });
    }
}

/// Go's `path.Clean`: the shortest equivalent path by purely lexical
/// processing.
#[must_use]
pub fn clean(path: &str) -> String {
    if path.is_empty() {
        return ".".to_owned();
    }
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_owned(),
        (false, false) => joined,
    }
}

/// Go's `path.Base`: the last element, trailing slashes removed.
#[must_use]
pub fn base(path: &str) -> String {
    if path.is_empty() {
        return ".".to_owned();
    }
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return "/".to_owned();
    }
    trimmed.rsplit('/').next().unwrap_or(trimmed).to_owned()
}

/// Go's `path.Dir`: everything but the last element, cleaned.
#[must_use]
pub fn dir(path: &str) -> String {
    let cut = path.rfind('/').map_or(0, |i| i + 1);
    clean(&path[..cut])
}

/// Go's `path.Ext`: the suffix from the final dot of the last element.
#[must_use]
pub fn ext(path: &str) -> String {
    for (i, c) in path.char_indices().rev() {
        match c {
            '/' => return String::new(),
            '.' => return path[i..].to_owned(),
            _ => {}
        }
    }
    String::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_like_go() {
        assert_eq!(clean("a//b/./c/../d/"), "a/b/d");
        assert_eq!(clean("/../a"), "/a");
        assert_eq!(clean("../../a"), "../../a");
        assert_eq!(clean(""), ".");
        assert_eq!(base("/a/b/"), "b");
        assert_eq!(base("///"), "/");
        assert_eq!(dir("/a/b/c"), "/a/b");
        assert_eq!(dir("c"), ".");
        assert_eq!(ext("a/b.tar.gz"), ".gz");
        assert_eq!(ext("a.b/c"), "");
    }
}
