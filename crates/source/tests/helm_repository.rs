//! Helm repository indexes over real HTTP: fetched, stored, not fetched
//! again (ETag), basic auth, limits, timeouts, and chart selection checked
//! against `helm pull`. Fixtures: `helm_common`.

use crate::helm_common::{chart_key, env, env_with, podinfo, repo_key, with_auth};
use driftless_source::Storage;
use driftless_source::helm::{
    ChartRequest, HelmError, HelmFetcher, HelmLimits, HelmRepository, IndexOutcome, LastIndex,
};
use driftless_testkit::BASIC_PASSWORD;
use driftless_testkit::helm_repo::helm_pull_version;
use sha2::{Digest, Sha256};

#[test]
fn index_is_stored_then_not_modified_then_unchanged() {
    let Some(chart) = podinfo() else { return };
    let env = env(&chart, None);
    let repo = HelmRepository::new(env.server.url("anon", ""));
    let first = env
        .fetcher
        .reconcile_index(&repo_key(), &repo, None)
        .expect("first fetch");
    let IndexOutcome::Updated { artifact, etag } = &first else {
        panic!("first fetch stores: {first:?}")
    };
    let served = std::fs::read(env.repo_dir.join("index.yaml")).expect("index");
    let revision_hex = hex::encode(Sha256::digest(&served));
    assert_eq!(artifact.revision, format!("sha256:{revision_hex}"));
    assert_eq!(
        artifact.path,
        format!("helmrepository/flux-system/podinfo/index-{revision_hex}.yaml")
    );
    assert!(etag.is_some(), "lighttpd sends an ETag");
    let stored = env
        .fetcher
        .storage()
        .open_verified(artifact)
        .expect("digest checks");
    drop(stored);
    let index = env
        .fetcher
        .load_index(artifact)
        .expect("stored index reads");
    let versions: Vec<&str> = index.entries["podinfo"]
        .iter()
        .map(|c| c.version.as_str())
        .collect();
    assert_eq!(versions, ["7.0.0-rc.1", "6.15.0", "6.14.1", "5.2.0"]);

    let last = LastIndex::from(&first);
    let second = env
        .fetcher
        .reconcile_index(&repo_key(), &repo, Some(&last))
        .expect("second fetch");
    assert!(
        matches!(&second, IndexOutcome::NotModified { artifact: a, .. } if a == artifact),
        "{second:?}"
    );

    // Without the ETag the index is downloaded, found the same, not stored again.
    let no_etag = LastIndex {
        artifact: artifact.clone(),
        etag: None,
    };
    let third = env
        .fetcher
        .reconcile_index(&repo_key(), &repo, Some(&no_etag))
        .expect("third fetch");
    assert!(matches!(third, IndexOutcome::Unchanged { .. }), "{third:?}");

    // The ETag is not trusted when the artifact's file is gone: downloaded and stored again.
    std::fs::remove_file(env.fetcher.storage().local_path(artifact)).expect("remove");
    let fourth = env
        .fetcher
        .reconcile_index(&repo_key(), &repo, Some(&last))
        .expect("fourth fetch");
    assert!(
        matches!(&fourth, IndexOutcome::Updated { artifact: a, .. } if a.revision == artifact.revision),
        "{fourth:?}"
    );
    assert!(env.fetcher.storage().looks_present(fourth.artifact()));
}

#[test]
fn basic_auth_is_sent_and_a_wrong_password_names_no_secret() {
    let Some(chart) = podinfo() else { return };
    let env = env(&chart, None);
    let url = env.server.url("basic", "");
    let ok = env
        .fetcher
        .reconcile_index(&repo_key(), &with_auth(url.clone(), BASIC_PASSWORD), None)
        .expect("with credentials");
    assert!(ok.is_updated());

    let wrong = "not-the-password-42";
    let repo = with_auth(url.clone(), wrong);
    let err = env
        .fetcher
        .reconcile_index(&repo_key(), &repo, None)
        .expect_err("wrong password");
    assert!(
        matches!(err, HelmError::AuthFailed { status: 401, .. }),
        "{err:?}"
    );
    let shown = format!("{err} {err:?} {:?} {repo:?}", err.hint());
    assert!(!shown.contains(wrong), "{shown}");
    assert!(!shown.contains(BASIC_PASSWORD), "{shown}");

    let anonymous = HelmRepository::new(url);
    let err = env
        .fetcher
        .reconcile_index(&repo_key(), &anonymous, None)
        .expect_err("no credentials");
    assert!(matches!(err, HelmError::AuthFailed { .. }), "{err:?}");

    // The chart, on the repository's own host, gets the credentials.
    let repo = with_auth(env.server.url("basic", ""), BASIC_PASSWORD);
    let index = env.fetcher.load_index(ok.artifact()).expect("index");
    let built = env
        .fetcher
        .reconcile_chart(
            &chart_key(),
            &repo,
            &index,
            &ChartRequest::new("podinfo", "6.14.x"),
            None,
        )
        .expect("chart over basic auth");
    assert_eq!(built.build().version, "6.14.1");
}

#[test]
fn a_missing_version_lists_what_exists() {
    let Some(chart) = podinfo() else { return };
    let env = env(&chart, None);
    let repo = HelmRepository::new(env.server.url("anon", ""));
    let fetched = env
        .fetcher
        .reconcile_index(&repo_key(), &repo, None)
        .expect("index");
    let index = env.fetcher.load_index(fetched.artifact()).expect("index");
    let err = env
        .fetcher
        .reconcile_chart(
            &chart_key(),
            &repo,
            &index,
            &ChartRequest::new("podinfo", "8.x"),
            None,
        )
        .expect_err("no 8.x");
    assert_eq!(
        err.to_string(),
        format!(
            "no chart version found for podinfo-8.x in {} (available: 7.0.0-rc.1, 6.15.0, 6.14.1, 5.2.0)",
            env.server.url("anon", "")
        )
    );
}

#[test]
fn an_oversized_index_or_chart_is_refused() {
    let Some(chart) = podinfo() else { return };
    let env = env(&chart, None);
    let repo = HelmRepository::new(env.server.url("anon", ""));
    let small = HelmFetcher::with_limits(
        env.fetcher.storage().clone(),
        HelmLimits {
            max_index_size: 100,
            max_chart_size: 1000,
            ..HelmLimits::default()
        },
    );
    let err = small
        .reconcile_index(&repo_key(), &repo, None)
        .expect_err("index too large");
    assert!(
        err.to_string().contains("--helm-index-max-size"),
        "names the flag: {err}"
    );
    assert!(
        matches!(
            err,
            HelmError::TooLarge {
                what: "index",
                limit: 100,
                ..
            }
        ),
        "{err:?}"
    );
    let fetched = env
        .fetcher
        .reconcile_index(&repo_key(), &repo, None)
        .expect("index");
    let index = env.fetcher.load_index(fetched.artifact()).expect("index");
    let err = small
        .reconcile_chart(
            &chart_key(),
            &repo,
            &index,
            &ChartRequest::new("podinfo", "*"),
            None,
        )
        .expect_err("chart too large");
    assert!(
        matches!(err, HelmError::TooLarge { what: "chart", .. }),
        "{err:?}"
    );
}

#[test]
fn a_silent_server_times_out() {
    // Accepts connections and never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let held = std::thread::spawn(move || {
        let (stream, _) = listener.accept().expect("accept");
        std::thread::sleep(std::time::Duration::from_secs(2));
        drop(stream);
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let fetcher = HelmFetcher::new(Storage::new(dir.path()).expect("storage"));
    let mut repo = HelmRepository::new(format!("http://127.0.0.1:{port}/charts"));
    repo.timeout = std::time::Duration::from_millis(300);
    let err = fetcher
        .reconcile_index(&repo_key(), &repo, None)
        .expect_err("timeout");
    assert!(
        matches!(&err, HelmError::Timeout { url, .. } if url.ends_with("/charts/index.yaml")),
        "{err:?}"
    );
    held.join().expect("server thread");
}

#[test]
fn ranges_pick_what_helm_pull_picks() {
    let Some(chart) = podinfo() else { return };
    let versions = [
        "5.2.0",
        "6.0.0-rc.1",
        "6.0.0",
        "6.14.1",
        "6.15.0",
        "6.15.1-beta.1",
        "7.0.0-rc.1",
    ];
    let env = env_with(&chart, &versions, None);
    let url = env.server.url("anon", "");
    let repo = HelmRepository::new(url.clone());
    let fetched = env
        .fetcher
        .reconcile_index(&repo_key(), &repo, None)
        .expect("index");
    let index = env.fetcher.load_index(fetched.artifact()).expect("index");
    let ranges = [
        "*",
        "6.x",
        "6.14.x",
        "~6.14",
        "~6",
        "^6.14.1",
        "^5",
        "<=6.14",
        "<6.15",
        ">6.14",
        ">=6.0.0-0 <7",
        ">=6.0.0-0 <7.0.0-0",
        "<7.0.0-0",
        ">=7.0.0-0",
        "~6.15.1-0",
        "6.0.0-rc.1",
        "!=6.15.0",
        "5.x || 7.x",
        "6.0 - 6.14",
        ">= 6.14.1, < 6.15.1",
        "^0",
        "8.x",
        "v6.14.1",
        "=6.15.0",
    ];
    let mut differ = Vec::new();
    let mut helm_found = 0;
    for range in ranges {
        let ours = index
            .select("podinfo", range, &url)
            .ok()
            .map(|cv| cv.version.clone());
        let helm = helm_pull_version(&url, "podinfo", range);
        helm_found += usize::from(helm.is_some());
        if ours != helm {
            differ.push(format!("{range:?}: ours {ours:?}, helm {helm:?}"));
        }
    }
    assert!(
        differ.is_empty(),
        "selection differs from helm pull:\n{}",
        differ.join("\n")
    );
    // Only "^0" and "8.x" have no match; helm must really have pulled the rest.
    assert_eq!(helm_found, ranges.len() - 2);
}
