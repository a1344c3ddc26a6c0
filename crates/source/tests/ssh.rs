//! SSH through a real `sshd` on loopback with a deploy key: the host key must
//! match `known_hosts`; a wrong key or an unknown host is refused.

use driftless_testkit as common;

use std::time::Duration;

use common::{Fixture, SshServer, keygen};
use driftless_source::{
    ArtifactKey, Error, GitAuth, GitFetcher, GitReference, GitSource, Outcome, Storage,
};

#[test]
fn ssh_deploy_key_and_known_hosts() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let served = tmp.path().join("served");
    std::fs::create_dir_all(&served).expect("mkdir");
    let fx = Fixture::new(&served, "deploy");
    fx.write("app.yaml", "a: 1\n");
    let c1 = fx.commit("one");
    let (identity, public) = keygen(&tmp.path().join("deploy_key"));
    let server = SshServer::start(&public);
    let fetcher = GitFetcher::new(Storage::new(tmp.path().join("storage")).expect("storage"));
    let source = |identity: &str, known_hosts: String| {
        let mut s = GitSource::new(server.url(&fx.bare), GitReference::Branch("main".into()));
        s.timeout = Duration::from_secs(30);
        s.auth = Some(GitAuth::Ssh {
            identity: identity.to_owned(),
            known_hosts,
        });
        s
    };

    let key = ArtifactKey::git_repository("default", "ssh");
    let good = source(&identity, server.known_hosts());
    let out = fetcher
        .reconcile(&key, &good, None)
        .unwrap_or_else(|e| panic!("{e}: {:?}", std::error::Error::source(&e)));
    assert_eq!(out.artifact().revision, format!("main@sha1:{c1}"));
    let again = fetcher
        .reconcile(&key, &good, Some(out.artifact()))
        .expect("poll");
    assert_eq!(again, Outcome::Unchanged(out.artifact().clone()));

    // A host key that is not the server's.
    let (_, other_host) = keygen(&tmp.path().join("other_host"));
    let wrong_host = source(
        &identity,
        format!("[127.0.0.1]:{} {other_host}\n", server.port),
    );
    let err = fetcher
        .reconcile(&key, &wrong_host, Some(out.artifact()))
        .expect_err("changed host key");
    assert!(
        matches!(err, Error::HostKeyVerification { .. }),
        "{err}: {:?}",
        std::error::Error::source(&err)
    );
    // An unknown host (empty known_hosts).
    let err = fetcher
        .reconcile(&key, &source(&identity, String::new()), None)
        .expect_err("unknown host");
    assert!(
        matches!(err, Error::HostKeyVerification { .. }),
        "{err}: {:?}",
        std::error::Error::source(&err)
    );

    // A key the server does not know.
    let (stranger, _) = keygen(&tmp.path().join("stranger"));
    let err = fetcher
        .reconcile(
            &key,
            &source(&stranger, server.known_hosts()),
            Some(out.artifact()),
        )
        .expect_err("unknown key");
    assert!(
        matches!(err, Error::AuthFailed { .. }),
        "{err}: {:?}",
        std::error::Error::source(&err)
    );
    assert!(fetcher.storage().open_verified(out.artifact()).is_ok());
}
