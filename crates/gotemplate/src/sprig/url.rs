//! URLs and the network: `urlParse`, `urlJoin` (Go's `net/url` parsing
//! and `URL.String()`), and `getHostByName`, which fails by design:
//! rendering must not touch the network (Sprig resolves the name with
//! DNS; Helm itself panics inside it when resolution fails).

use std::collections::BTreeMap;

use crate::args::string;
use crate::error::FuncError;
use crate::funcs::{Arity, FuncMap, MapParams};
use crate::value::Value;

pub(crate) fn register(map: &mut FuncMap) {
    map.add("urlParse", Arity::Exact(1), |a| {
        let url = parse(string(&a[0])?)
            .map_err(|e| FuncError::new(format!("unable to parse url: {e}")))?;
        let hostname = hostname(&url.host);
        let mut entries = BTreeMap::new();
        for (key, value) in [
            ("scheme", url.scheme),
            ("host", url.host),
            ("hostname", hostname),
            ("path", url.path),
            ("query", url.query),
            ("opaque", url.opaque),
            ("fragment", url.fragment),
            ("userinfo", url.userinfo),
        ] {
            entries.insert(key.to_owned(), Value::string(value));
        }
        Ok(Value::map(entries))
    });
    map.add_with_map_params("urlJoin", MapParams::First, Arity::Exact(1), |a| {
        let Value::Map(dict) = &a[0] else {
            return Err(FuncError::wrong_type("map[string]interface {}", &a[0]));
        };
        let field = |key: &str| -> Result<String, FuncError> {
            match dict.get(key) {
                None => Ok(String::new()),
                Some(Value::String(s)) => Ok(s.to_string()),
                Some(Value::Nil) => Err(FuncError::new(super::lists::NIL_DEREFERENCE)),
                Some(other) => Err(FuncError::new(format!(
                    "unable to parse {key} key, must be of type string, but {} found",
                    other.kind_name()
                ))),
            }
        };
        let url = Url {
            scheme: field("scheme")?,
            host: field("host")?,
            path: field("path")?,
            query: field("query")?,
            opaque: field("opaque")?,
            fragment: field("fragment")?,
            userinfo: field("userinfo")?,
        };
        Ok(Value::string(url.to_go_string()))
    });
    map.add("getHostByName", Arity::Exact(1), |_| {
        Err(FuncError::new(
            "getHostByName is not available: rendering does not touch the network",
        ))
    });
}

/// The parts of a URL as Go's `url.URL` exposes them.
#[derive(Debug, Default, PartialEq, Eq)]
struct Url {
    scheme: String,
    host: String,
    path: String,
    query: String,
    opaque: String,
    fragment: String,
    userinfo: String,
}

fn unescape(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3).ok_or_else(|| {
                format!("invalid URL escape {}", crate::fmt::quote_go(&text[i..]))
            })?;
            let byte = u8::from_str_radix(hex, 16).map_err(|_| {
                format!(
                    "invalid URL escape {}",
                    crate::fmt::quote_go(&format!("%{hex}"))
                )
            })?;
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// Go's `url.Parse` for the shapes charts use.
fn parse(raw: &str) -> Result<Url, String> {
    let mut url = Url::default();
    let (rest, fragment) = raw.split_once('#').unwrap_or((raw, ""));
    url.fragment = unescape(fragment)?;
    let mut rest = rest;
    if let Some(colon) = rest.find(':') {
        let candidate = &rest[..colon];
        let valid = candidate
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic())
            && candidate
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
        if colon == 0 {
            return Err(format!(
                "parse {}: missing protocol scheme",
                crate::fmt::quote_go(raw)
            ));
        }
        if valid {
            url.scheme = candidate.to_ascii_lowercase();
            rest = &rest[colon + 1..];
        }
    }
    if let Some((before, query)) = rest.split_once('?') {
        url.query = query.to_owned();
        rest = before;
    }
    if !url.scheme.is_empty() && !rest.starts_with('/') {
        url.opaque = rest.to_owned();
        return Ok(url);
    }
    if let Some(authority_and_path) = rest.strip_prefix("//") {
        let cut = authority_and_path
            .find('/')
            .unwrap_or(authority_and_path.len());
        let authority = &authority_and_path[..cut];
        rest = &authority_and_path[cut..];
        let host = match authority.rsplit_once('@') {
            Some((userinfo, host)) => {
                url.userinfo = userinfo.to_owned();
                host
            }
            None => authority,
        };
        url.host = unescape(host)?;
    }
    url.path = unescape(rest)?;
    Ok(url)
}

/// Go's `URL.Hostname()`: the host without port or IPv6 brackets.
fn hostname(host: &str) -> String {
    if let Some(inner) = host.strip_prefix('[') {
        return inner.split(']').next().unwrap_or(inner).to_owned();
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name.to_owned(),
        _ => host.to_owned(),
    }
}

/// Go's `shouldEscape` for paths (`path`) or fragments.
fn escape(text: &str, fragment: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        let keep = byte.is_ascii_alphanumeric()
            || b"-_.~$&+,/:;=@".contains(&byte)
            || (fragment && b"?!()*".contains(&byte));
        if keep {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

impl Url {
    /// Go's `URL.String()`.
    fn to_go_string(&self) -> String {
        let mut out = String::new();
        if self.opaque.is_empty() {
            if !self.scheme.is_empty() || !self.host.is_empty() || !self.userinfo.is_empty() {
                if !self.scheme.is_empty() {
                    out.push_str(&self.scheme);
                    out.push(':');
                }
                if !self.host.is_empty() || !self.path.is_empty() || !self.userinfo.is_empty() {
                    out.push_str("//");
                }
                if !self.userinfo.is_empty() {
                    out.push_str(&self.userinfo);
                    out.push('@');
                }
                out.push_str(&self.host);
            }
            let path = escape(&self.path, false);
            if !path.is_empty() && !path.starts_with('/') && !self.host.is_empty() {
                out.push('/');
            }
            if out.is_empty()
                && path
                    .split('/')
                    .next()
                    .is_some_and(|segment| segment.contains(':'))
            {
                out.push_str("./");
            }
            out.push_str(&path);
        } else {
            out.push_str(&self.scheme);
            out.push(':');
            out.push_str(&self.opaque);
        }
        if !self.query.is_empty() {
            out.push('?');
            out.push_str(&self.query);
        }
        if !self.fragment.is_empty() {
            out.push('#');
            out.push_str(&escape(&self.fragment, true));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_joins_like_net_url() {
        let url = parse("https://u:p@host:8080/a%20b?q=1#frag").unwrap_or_default();
        assert_eq!(url.host, "host:8080");
        assert_eq!(url.path, "/a b");
        assert_eq!(url.userinfo, "u:p");
        assert_eq!(hostname(&url.host), "host");
        assert_eq!(url.to_go_string(), "https://u:p@host:8080/a%20b?q=1#frag");
        assert_eq!(parse("mailto:a@b").map(|u| u.opaque), Ok("a@b".to_owned()));
    }
}
