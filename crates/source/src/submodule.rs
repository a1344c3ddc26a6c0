//! Submodules (Flux's `spec.recurseSubmodules`): where a gitlink's commit
//! is fetched from, read from the `.gitmodules` of the tree that holds it.
//!
//! The fetch itself is the git layer's (a fixed commit, shallow, into its
//! own kept repository beside the source's); the archive walks the fetched
//! tree in place of the gitlink, under the same ignore rules.
//!
//! Two deliberate limits, both for safety:
//! - URLs that name the local file system (`file://`, `/path`, `./path`
//!   without a remote to resolve against) are refused, as git itself does
//!   for submodules by default (`protocol.file.allow=user`): a repository
//!   must not make the controller read its own host's files.
//! - The source's credentials are sent only to the same scheme, host and
//!   port as `spec.url`; a submodule elsewhere is fetched anonymously, so a
//!   `.gitmodules` cannot send them to another server.

use crate::Error;

/// `(path, url)` of each submodule in a `.gitmodules` file, in file order.
pub(crate) fn parse_gitmodules(text: &str, origin: &str) -> Result<Vec<(String, String)>, Error> {
    let file = gix::config::File::try_from(text).map_err(|e| Error::SubmoduleConfig {
        path: origin.to_owned(),
        problem: format!("is not valid git config: {e}"),
    })?;
    let mut out = Vec::new();
    for section in file.sections_by_name("submodule").into_iter().flatten() {
        if let (Some(path), Some(url)) = (section.value("path"), section.value("url")) {
            out.push((
                path.to_string().trim_matches('/').to_owned(),
                url.to_string(),
            ));
        }
    }
    Ok(out)
}

/// The URL to fetch a submodule from: `url` as written in `.gitmodules`,
/// with `./` and `../` resolved against the superproject's URL as git does
/// (the superproject URL counts as a directory).
pub(crate) fn resolve_url(superproject: &str, url: &str) -> Result<String, &'static str> {
    let resolved = if url.starts_with("./") || url.starts_with("../") {
        let (prefix, separator, path) = split_url(superproject)
            .ok_or("is relative, and spec.url has no server part to resolve it against")?;
        let mut segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let mut rest = url;
        loop {
            if let Some(r) = rest.strip_prefix("./") {
                rest = r;
            } else if let Some(r) = rest.strip_prefix("../") {
                segments
                    .pop()
                    .ok_or("climbs above the root of the server of spec.url")?;
                rest = r;
            } else {
                break;
            }
        }
        segments.push(rest);
        format!("{prefix}{separator}{}", segments.join("/"))
    } else {
        url.to_owned()
    };
    if resolved.starts_with("file://") || split_url(&resolved).is_none() {
        return Err("names the local file system, which is not fetched for submodules");
    }
    Ok(resolved)
}

/// `(scheme://host[:port], "/", path)` or `(user@host:, "", path)` for scp-like URLs.
fn split_url(url: &str) -> Option<(&str, &'static str, &str)> {
    if let Some(i) = url.find("://") {
        if url.starts_with("file://") {
            return None;
        }
        let after = i + 3;
        return Some(match url[after..].find('/') {
            Some(j) => (&url[..after + j], "/", &url[after + j + 1..]),
            None => (url, "/", ""),
        });
    }
    // scp-like `user@host:path`; a `/` before the `:` makes it a local path.
    let colon = url.find(':')?;
    if url[..colon].contains('/') || colon == 0 {
        return None;
    }
    Some((&url[..=colon], "", &url[colon + 1..]))
}

/// Scheme, host and port of a URL, to decide whether credentials may go there.
pub(crate) fn same_server(a: &str, b: &str) -> bool {
    let parse = |url: &str| gix::url::parse(gix::bstr::BStr::new(url));
    match (parse(a), parse(b)) {
        (Ok(a), Ok(b)) => {
            a.scheme == b.scheme
                && a.host() == b.host()
                && a.port_or_default() == b.port_or_default()
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_urls_resolve_against_the_superproject() {
        let base = "git://127.0.0.1:9418/org/app.git";
        assert_eq!(
            resolve_url(base, "../lib.git").expect("sibling"),
            "git://127.0.0.1:9418/org/lib.git"
        );
        assert_eq!(
            resolve_url(base, "../../other/lib.git").expect("up two"),
            "git://127.0.0.1:9418/other/lib.git"
        );
        assert_eq!(
            resolve_url(base, "./sub.git").expect("below"),
            "git://127.0.0.1:9418/org/app.git/sub.git"
        );
        assert_eq!(
            resolve_url("git@example.com:org/app.git", "../lib.git").expect("scp"),
            "git@example.com:org/lib.git"
        );
        assert_eq!(
            resolve_url(base, "https://example.com/x.git").expect("absolute"),
            "https://example.com/x.git"
        );
        assert!(resolve_url(base, "../../../x.git").is_err());
        for local in ["/srv/git/lib.git", "file:///srv/lib.git", "lib.git"] {
            assert!(resolve_url(base, local).is_err(), "{local}");
        }
        assert!(resolve_url("file:///srv/app.git", "../lib.git").is_err());
    }

    #[test]
    fn gitmodules_paths_and_urls() {
        let text = "[submodule \"lib\"]\n\tpath = vendor/lib\n\turl = ../lib.git\n\
                    [submodule \"broken\"]\n\tpath = nourl\n";
        assert_eq!(
            parse_gitmodules(text, ".gitmodules").expect("parses"),
            [("vendor/lib".to_owned(), "../lib.git".to_owned())]
        );
        assert!(parse_gitmodules("[submodule", ".gitmodules").is_err());
    }

    #[test]
    fn credentials_stay_on_the_same_server() {
        assert!(same_server(
            "https://example.com/a.git",
            "https://example.com/b.git"
        ));
        assert!(!same_server(
            "https://example.com/a.git",
            "https://evil.example/a.git"
        ));
        assert!(!same_server(
            "https://example.com/a.git",
            "http://example.com/a.git"
        ));
        assert!(!same_server(
            "git://127.0.0.1:1/a.git",
            "git://127.0.0.1:2/a.git"
        ));
    }
}
