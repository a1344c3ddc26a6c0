//! `ensure` and `clean_up` against stand-ins for GitHub (Enterprise base
//! URL), GitLab (subgroup path) and Gitea that check every request against
//! the documented API: open, update (same branch, newer tag), unchanged,
//! supersede (per-tag branches), clean-up of merged and closed requests.

mod support;

use std::sync::Arc;

use driftless_changerequest::{
    BranchTemplate, CleanUp, DEFAULT_BRANCH_TEMPLATE, Outcome, PolicyRef, ProviderKind,
    RetryPolicy, Update,
};
use support::{FakeHost, TestPause};

const KINDS: [ProviderKind; 3] = [
    ProviderKind::GitHub,
    ProviderKind::GitLab,
    ProviderKind::Gitea,
];

fn update(old: &str, new: &str) -> Update {
    Update {
        policy: PolicyRef {
            namespace: "apps".into(),
            name: "web".into(),
        },
        image: "registry.test/org/web".into(),
        old_tag: Some(old.into()),
        new_tag: new.into(),
        files: vec!["deploy/web.yaml".into()],
    }
}

fn web_url(kind: ProviderKind, number: u64) -> String {
    match kind {
        ProviderKind::GitHub => format!("https://github.example.com/org/app/pull/{number}"),
        ProviderKind::GitLab => {
            format!("https://gitlab.example.com/group/sub/app/-/merge_requests/{number}")
        }
        ProviderKind::Gitea => format!("https://gitea.example.com/org/app/pulls/{number}"),
    }
}

#[tokio::test]
async fn open_then_update_then_unchanged_on_every_host() {
    for kind in KINDS {
        let fake = FakeHost::start(kind).await;
        let host = fake.host(Arc::new(TestPause::default()), RetryPolicy::default());
        let template = BranchTemplate::parse(DEFAULT_BRANCH_TEMPLATE).expect("template");

        let first = update("1.0.0", "1.1.0")
            .change_request(&template, "main", Some("https://ci.test/run/1"))
            .expect("request");
        assert_eq!(first.source_branch, "driftless/apps-web");
        fake.push_branch(&first.source_branch);
        let opened = host.ensure(&first).await.expect("open");
        assert_eq!(
            opened,
            Outcome::Opened {
                number: 1,
                url: web_url(kind, 1)
            },
            "{kind}"
        );
        let pulls = fake.pulls();
        assert_eq!(pulls.len(), 1, "{kind}");
        assert_eq!(pulls[0].head, "driftless/apps-web");
        assert_eq!(pulls[0].base, "main");
        assert_eq!(pulls[0].title, "Update registry.test/org/web to 1.1.0");
        assert!(pulls[0].body.contains("`1.0.0`") && pulls[0].body.contains("`1.1.0`"));
        assert!(pulls[0].body.contains("deploy/web.yaml"));
        assert!(pulls[0].body.contains("https://ci.test/run/1"));

        // A newer tag for the same policy: same branch, same request, updated.
        let second = update("1.0.0", "1.2.0")
            .change_request(&template, "main", None)
            .expect("request");
        assert_eq!(second.source_branch, first.source_branch);
        let updated = host.ensure(&second).await.expect("update");
        assert_eq!(
            updated,
            Outcome::Updated {
                number: 1,
                url: web_url(kind, 1)
            },
            "{kind}"
        );
        let pulls = fake.pulls();
        assert_eq!(pulls.len(), 1, "{kind}: no duplicate request");
        assert_eq!(pulls[0].title, "Update registry.test/org/web to 1.2.0");
        assert!(pulls[0].body.contains("`1.2.0`") && !pulls[0].body.contains("`1.1.0`"));

        // Nothing new: no write at all.
        let writes_before = fake.seen().iter().filter(|s| s.method != "GET").count();
        let same = host.ensure(&second).await.expect("unchanged");
        assert!(
            matches!(same, Outcome::Unchanged { number: 1, .. }),
            "{kind}: {same:?}"
        );
        let writes_after = fake.seen().iter().filter(|s| s.method != "GET").count();
        assert_eq!(writes_before, writes_after, "{kind}");

        assert_eq!(fake.violations(), Vec::<String>::new(), "{kind}");
    }
}

#[tokio::test]
async fn a_fork_request_with_the_same_branch_is_ignored() {
    for kind in KINDS {
        let fake = FakeHost::start(kind).await;
        let host = fake.host(Arc::new(TestPause::default()), RetryPolicy::default());
        let template = BranchTemplate::parse(DEFAULT_BRANCH_TEMPLATE).expect("template");
        fake.add_pull("driftless/apps-web", true, false, true);
        fake.push_branch("driftless/apps-web");
        let request = update("1.0.0", "1.1.0")
            .change_request(&template, "main", None)
            .expect("request");
        let outcome = host.ensure(&request).await.expect("open");
        assert!(
            matches!(outcome, Outcome::Opened { number: 2, .. }),
            "{kind}: {outcome:?}"
        );
        assert_eq!(fake.pulls()[0].title, "seeded 1", "{kind}: fork untouched");
        assert_eq!(fake.violations(), Vec::<String>::new(), "{kind}");
    }
}

#[tokio::test]
async fn a_per_tag_branch_supersedes_the_older_request() {
    for kind in KINDS {
        let fake = FakeHost::start(kind).await;
        let host = fake.host(Arc::new(TestPause::default()), RetryPolicy::default());
        let template =
            BranchTemplate::parse("bot/{{ .Policy.Name }}-{{ .NewTag }}").expect("template");

        let older = update("1.0.0", "1.1.0")
            .change_request(&template, "main", None)
            .expect("request");
        fake.push_branch(&older.source_branch);
        host.ensure(&older).await.expect("open older");
        let newer = update("1.0.0", "1.2.0")
            .change_request(&template, "main", None)
            .expect("request");
        fake.push_branch(&newer.source_branch);
        let opened = host.ensure(&newer).await.expect("open newer");
        assert_eq!(opened.number(), 2, "{kind}");

        let done = host
            .clean_up(template.prefix(), &[newer.source_branch.clone()])
            .await
            .expect("clean up");
        assert_eq!(done.closed.len(), 1, "{kind}");
        assert_eq!(done.closed[0].number, 1);
        assert_eq!(done.closed[0].branch, "bot/web-1.1.0");
        assert_eq!(done.closed[0].url, web_url(kind, 1));
        assert_eq!(done.deleted_branches, ["bot/web-1.1.0"], "{kind}");

        let pulls = fake.pulls();
        assert!(!pulls[0].open && !pulls[0].merged, "{kind}: older closed");
        assert!(pulls[1].open, "{kind}: newer still open");
        let comments = fake.comments();
        assert_eq!(comments.len(), 1, "{kind}");
        assert_eq!(comments[0].0, 1);
        assert!(comments[0].1.starts_with("Superseded"), "{}", comments[0].1);
        assert_eq!(fake.branches(), ["bot/web-1.2.0"], "{kind}");
        assert_eq!(fake.violations(), Vec::<String>::new(), "{kind}");
    }
}

#[tokio::test]
async fn clean_up_deletes_branches_of_merged_and_closed_requests_only() {
    for kind in KINDS {
        let fake = FakeHost::start(kind).await;
        let host = fake.host(Arc::new(TestPause::default()), RetryPolicy::default());
        for branch in [
            "driftless/apps-merged",
            "driftless/apps-closed",
            "driftless/apps-no-request",
            "driftless/apps-kept",
            "driftless/apps-fork-only",
            "feature/merged",
            "main",
        ] {
            fake.push_branch(branch);
        }
        fake.add_pull("driftless/apps-merged", false, true, false);
        fake.add_pull("driftless/apps-closed", false, false, false);
        fake.add_pull("driftless/apps-kept", false, true, false);
        fake.add_pull("driftless/apps-fork-only", false, true, true);
        fake.add_pull("feature/merged", false, true, false);

        let done = host
            .clean_up("driftless/", &["driftless/apps-kept".to_owned()])
            .await
            .expect("clean up");
        assert!(done.closed.is_empty(), "{kind}: {done:?}");
        assert_eq!(
            done.deleted_branches,
            ["driftless/apps-closed", "driftless/apps-merged"],
            "{kind}"
        );
        assert_eq!(
            fake.branches(),
            [
                "driftless/apps-fork-only",
                "driftless/apps-kept",
                "driftless/apps-no-request",
                "feature/merged",
                "main"
            ],
            "{kind}"
        );
        assert!(fake.comments().is_empty(), "{kind}");
        assert_eq!(fake.violations(), Vec::<String>::new(), "{kind}");

        // A second run finds nothing more to do.
        let again = host
            .clean_up("driftless/", &["driftless/apps-kept".to_owned()])
            .await
            .expect("clean up again");
        assert_eq!(again, CleanUp::default(), "{kind}");
    }
}

#[tokio::test]
async fn clean_up_refuses_an_empty_prefix() {
    let fake = FakeHost::start(ProviderKind::GitHub).await;
    let host = fake.host(Arc::new(TestPause::default()), RetryPolicy::default());
    let err = host.clean_up("", &[]).await.expect_err("empty prefix");
    assert!(err.hint().is_some_and(|h| h.contains("prefix")), "{err}");
    assert!(fake.seen().is_empty());
}

#[tokio::test]
async fn a_branch_that_was_not_pushed_fails_with_the_hosts_message() {
    for kind in KINDS {
        let fake = FakeHost::start(kind).await;
        let host = fake.host(Arc::new(TestPause::default()), RetryPolicy::default());
        let template = BranchTemplate::parse(DEFAULT_BRANCH_TEMPLATE).expect("template");
        let request = update("1.0.0", "1.1.0")
            .change_request(&template, "main", None)
            .expect("request");
        let err = host.ensure(&request).await.expect_err("no branch");
        let text = err.to_string();
        assert!(text.contains("driftless/apps-web"), "{kind}: {text}");
        assert!(text.contains("HTTP status"), "{kind}: {text}");
        assert!(err.hint().is_some(), "{kind}: {text}");
        assert_eq!(fake.violations(), Vec::<String>::new(), "{kind}");
    }
}

#[test]
fn host_futures_can_be_spawned() {
    fn assert_send<T: Send>(_: &T) {}
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let fake = FakeHost::start(ProviderKind::Gitea).await;
        let host = fake.host(Arc::new(TestPause::default()), RetryPolicy::default());
        let template = BranchTemplate::parse(DEFAULT_BRANCH_TEMPLATE).expect("template");
        let request = update("1", "2")
            .change_request(&template, "main", None)
            .expect("request");
        assert_send(&host.ensure(&request));
        assert_send(&host.clean_up("driftless/", &[]));
    });
}
