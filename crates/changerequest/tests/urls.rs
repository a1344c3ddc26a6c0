//! GitRepository URLs in their https, ssh and scp-like forms, to the
//! repository path and the default API root of each provider.

use driftless_changerequest::{Error, ProviderKind, Repository};

fn parse(kind: &str, url: &str, base: Option<&str>) -> Result<(String, String), Error> {
    let repo = Repository::from_git_url(kind.parse()?, url, base)?;
    Ok((repo.path().to_owned(), repo.api_base().to_string()))
}

#[test]
fn each_form_names_the_repository_and_the_api_root() {
    for (kind, url, path, base) in [
        (
            "github",
            "https://github.com/org/repo",
            "org/repo",
            "https://api.github.com/",
        ),
        (
            "github",
            "https://github.com/org/repo.git",
            "org/repo",
            "https://api.github.com/",
        ),
        (
            "github",
            "ssh://git@github.com/org/repo",
            "org/repo",
            "https://api.github.com/",
        ),
        (
            "GitHub",
            "git@github.com:org/repo.git",
            "org/repo",
            "https://api.github.com/",
        ),
        (
            "github",
            "https://x-access-token:abc@ghe.example.com/org/repo",
            "org/repo",
            "https://ghe.example.com/api/v3",
        ),
        (
            "github",
            "ssh://git@ghe.example.com:2222/org/repo.git",
            "org/repo",
            "https://ghe.example.com/api/v3",
        ),
        (
            "gitlab",
            "git@gitlab.example.com:group/sub/repo.git",
            "group/sub/repo",
            "https://gitlab.example.com/api/v4",
        ),
        (
            "gitlab",
            "https://gitlab.example.com:8443/group/repo/",
            "group/repo",
            "https://gitlab.example.com:8443/api/v4",
        ),
        (
            "gitlab",
            "http://127.0.0.1:8080/group/repo",
            "group/repo",
            "http://127.0.0.1:8080/api/v4",
        ),
        (
            "gitea",
            "https://gitea.example.com/org/repo.git",
            "org/repo",
            "https://gitea.example.com/api/v1",
        ),
        (
            "forgejo",
            "ssh://git@codeberg.example:22/org/repo",
            "org/repo",
            "https://codeberg.example/api/v1",
        ),
        (
            "gitea",
            "ssh://git@[::1]:2222/org/repo",
            "org/repo",
            "https://[::1]/api/v1",
        ),
    ] {
        let got = parse(kind, url, None).unwrap_or_else(|e| panic!("{url}: {e}"));
        assert_eq!(got, (path.to_owned(), base.to_owned()), "{kind} {url}");
    }
}

#[test]
fn an_explicit_api_base_wins() {
    let got = parse(
        "github",
        "git@github.example.com:org/repo",
        Some("https://github.example.com/api/v3"),
    )
    .expect("parses");
    assert_eq!(got.1, "https://github.example.com/api/v3");
    let repo = Repository::from_git_url(
        ProviderKind::Gitea,
        "https://h/o/r",
        Some("http://127.0.0.1:3000/api/v1"),
    )
    .expect("parses");
    assert_eq!(repo.kind(), ProviderKind::Gitea);
    assert_eq!(repo.api_base().as_str(), "http://127.0.0.1:3000/api/v1");
}

#[test]
fn bad_urls_say_what_is_wrong() {
    for (kind, url, base, want) in [
        (
            "github",
            "https://github.com/org/sub/repo",
            None,
            "owner/repo",
        ),
        ("gitea", "https://gitea.example.com/org", None, "owner/repo"),
        (
            "gitlab",
            "https://gitlab.example.com/project",
            None,
            "group/project",
        ),
        (
            "github",
            "https://github.com/org//repo",
            None,
            "empty segments",
        ),
        ("github", "ftp://github.com/org/repo", None, "no host"),
        ("github", "github.com/org/repo", None, "no host"),
        (
            "github",
            "https://github.com/org/repo",
            Some("ftp://x/api"),
            "http and https",
        ),
        (
            "github",
            "https://github.com/org/repo",
            Some("not a url"),
            "not a URL",
        ),
        (
            "bitbucket",
            "https://bitbucket.org/org/repo",
            None,
            "unknown git provider",
        ),
    ] {
        let err = parse(kind, url, base).expect_err(url);
        assert!(err.to_string().contains(want), "{url}: {err}");
        assert!(err.hint().is_some(), "{url}");
    }
}
