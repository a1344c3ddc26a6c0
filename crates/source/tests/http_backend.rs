//! Smart HTTP through `git http-backend` behind lighttpd on loopback:
//! anonymous, basic auth and bearer token, right and wrong credentials.

use driftless_testkit as common;

use std::time::Duration;

use common::{BASIC_PASSWORD, BASIC_USER, BEARER_TOKEN, Fixture, HttpServer};
use driftless_source::{
    ArtifactKey, Error, GitAuth, GitFetcher, GitReference, GitSource, Outcome, Storage,
};

fn source(url: String, auth: Option<GitAuth>) -> GitSource {
    let mut s = GitSource::new(url, GitReference::Branch("main".into()));
    s.auth = auth;
    s.timeout = Duration::from_secs(30);
    s
}

#[test]
fn http_backend_with_basic_and_bearer_auth() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let served = tmp.path().join("served");
    std::fs::create_dir_all(&served).expect("mkdir");
    let fx = Fixture::new(&served, "web");
    fx.write("app.yaml", "a: 1\n");
    let c1 = fx.commit("one");
    let server = HttpServer::start(&served);
    let fetcher = GitFetcher::new(Storage::new(tmp.path().join("storage")).expect("storage"));

    let basic = GitAuth::Basic {
        username: BASIC_USER.into(),
        password: BASIC_PASSWORD.into(),
    };
    let bearer = GitAuth::Bearer(BEARER_TOKEN.into());
    let ok_cases = [
        ("anon", None),
        ("basic", Some(basic.clone())),
        ("bearer", Some(bearer.clone())),
    ];
    let mut last = Vec::new();
    for (prefix, auth) in ok_cases {
        let key = ArtifactKey::git_repository("default", prefix);
        let src = source(server.url(prefix, "web"), auth);
        let out = fetcher
            .reconcile(&key, &src, None)
            .unwrap_or_else(|e| panic!("{prefix}: {e}: {:?}", std::error::Error::source(&e)));
        assert_eq!(
            out.artifact().revision,
            format!("main@sha1:{c1}"),
            "{prefix}"
        );
        // No change: one advertisement, same artifact.
        let again = fetcher
            .reconcile(&key, &src, Some(out.artifact()))
            .expect("poll");
        assert_eq!(
            again,
            Outcome::Unchanged(out.artifact().clone()),
            "{prefix}"
        );
        last.push((key, src, out.artifact().clone()));
    }

    // A push is picked up over HTTP too.
    fx.write("app.yaml", "a: 2\n");
    let c2 = fx.commit("two");
    for (key, src, prev) in &last {
        let out = fetcher.reconcile(key, src, Some(prev)).expect("after push");
        assert!(out.is_updated());
        assert_eq!(out.artifact().revision, format!("main@sha1:{c2}"));
    }

    // Wrong or missing credentials.
    let wrong_basic = GitAuth::Basic {
        username: BASIC_USER.into(),
        password: "wrong".into(),
    };
    let bad_cases = [
        ("basic", None),
        ("basic", Some(wrong_basic)),
        ("bearer", None),
        ("bearer", Some(GitAuth::Bearer("wrong".into()))),
    ];
    for (prefix, auth) in bad_cases {
        let key = ArtifactKey::git_repository("default", "denied");
        let src = source(server.url(prefix, "web"), auth.clone());
        let err = fetcher
            .reconcile(&key, &src, None)
            .expect_err("must be refused");
        let cause = std::error::Error::source(&err)
            .map(ToString::to_string)
            .unwrap_or_default();
        eprintln!("{prefix} {auth:?}: {err}: {cause}");
        assert!(
            matches!(err, Error::AuthFailed { .. }),
            "{prefix} {auth:?}: {err}: {cause}"
        );
        assert!(err.to_string().contains(&src.url));
        assert!(
            !cause.contains("credential helper"),
            "gitoxide's credential-helper text misleads: {cause}"
        );
    }

    // A missing repository over HTTP.
    let key = ArtifactKey::git_repository("default", "missing");
    let err = fetcher
        .reconcile(&key, &source(server.url("anon", "nope"), None), None)
        .expect_err("missing repository");
    assert!(
        matches!(err, Error::RepositoryNotFound { .. }),
        "{err}: {:?}",
        std::error::Error::source(&err)
    );
}
