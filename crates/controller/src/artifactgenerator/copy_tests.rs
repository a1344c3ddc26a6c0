//! The copy rules of source-watcher's spec, each on a small tree.

use super::*;

struct Tree {
    _dir: tempfile::TempDir,
    src: PathBuf,
    staging: PathBuf,
}

impl Tree {
    /// A source `@src` holding these files (path, content).
    fn new(files: &[(&str, &str)]) -> Tree {
        let dir = tempfile::tempdir().expect("tempdir");
        let src = dir.path().join("src");
        let staging = dir.path().join("staging");
        std::fs::create_dir_all(&staging).expect("staging");
        std::fs::create_dir_all(&src).expect("src");
        for (path, content) in files {
            let file = src.join(path);
            std::fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
            std::fs::write(file, content).expect("write");
        }
        Tree {
            _dir: dir,
            src,
            staging,
        }
    }

    fn copy(&self, from: &str, to: &str) -> Result<(), CopyError> {
        self.run(&CopyOperation {
            from: from.into(),
            to: to.into(),
            ..CopyOperation::default()
        })
    }

    fn run(&self, op: &CopyOperation) -> Result<(), CopyError> {
        let sources = HashMap::from([("src".to_owned(), self.src.clone())]);
        let mut budget = Budget::new(&UnpackLimits::default());
        apply(op, &sources, &self.staging, &mut budget)
    }

    /// Every file of the staging directory, sorted.
    fn files(&self) -> Vec<String> {
        fn walk(dir: &Path, rel: &str, out: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).expect("list") {
                let entry = entry.expect("entry");
                let name = join(rel, &entry.file_name().into_string().expect("utf-8"));
                if entry.file_type().expect("type").is_dir() {
                    walk(&entry.path(), &name, out);
                } else {
                    out.push(name);
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.staging, "", &mut out);
        out.sort();
        out
    }

    fn read(&self, path: &str) -> String {
        std::fs::read_to_string(self.staging.join(path)).expect("read")
    }
}

fn configs() -> Tree {
    Tree::new(&[
        ("configs/a.yaml", "a: 1\n"),
        ("configs/b.yaml", "b: 1\n"),
        ("configs/README.md", "docs\n"),
        ("configs/sub/c.yaml", "c: 1\n"),
        ("configs/sub/testdata/t.yaml", "t: 1\n"),
    ])
}

#[test]
fn a_file_goes_to_a_file_or_into_a_directory() {
    let tree = configs();
    tree.copy("@src/configs/a.yaml", "@artifact/apps/app.yaml")
        .expect("to a file");
    tree.copy("@src/configs/b.yaml", "@artifact/apps/")
        .expect("into a directory");
    // No slash, but `apps` is a directory of the artifact now: into it.
    tree.copy("@src/configs/sub/c.yaml", "@artifact/apps")
        .expect("into an existing directory");
    assert_eq!(
        tree.files(),
        ["apps/app.yaml", "apps/b.yaml", "apps/c.yaml"]
    );
    assert_eq!(tree.read("apps/app.yaml"), "a: 1\n");
}

#[test]
fn a_directory_is_copied_as_a_subdirectory_and_the_root_as_its_contents() {
    let tree = configs();
    tree.copy("@src/configs/", "@artifact/apps/").expect("dir");
    assert!(tree.files().contains(&"apps/configs/sub/c.yaml".to_owned()));
    assert_eq!(tree.files().len(), 5);

    let tree = configs();
    tree.copy("@src/", "@artifact/").expect("root");
    assert!(tree.files().contains(&"configs/a.yaml".to_owned()));
}

#[test]
fn a_glob_keeps_paths_and_dir_star_star_strips_the_prefix() {
    let tree = configs();
    tree.copy("@src/configs/*.yaml", "@artifact/apps/")
        .expect("glob");
    assert_eq!(
        tree.files(),
        ["apps/configs/a.yaml", "apps/configs/b.yaml"],
        "a plain glob keeps the matched path"
    );

    let tree = configs();
    tree.copy("@src/configs/**", "@artifact/apps/")
        .expect("glob");
    assert_eq!(
        tree.files(),
        [
            "apps/README.md",
            "apps/a.yaml",
            "apps/b.yaml",
            "apps/sub/c.yaml",
            "apps/sub/testdata/t.yaml"
        ]
    );
}

#[test]
fn excludes_match_names_paths_and_paths_below_the_prefix() {
    let tree = configs();
    tree.run(&CopyOperation {
        from: "@src/configs/**".into(),
        to: "@artifact/".into(),
        exclude: vec!["*.md".into(), "**/testdata/**".into(), "b.yaml".into()],
        ..CopyOperation::default()
    })
    .expect("copy");
    assert_eq!(tree.files(), ["a.yaml", "sub/c.yaml"]);

    let tree = configs();
    tree.run(&CopyOperation {
        from: "@src/configs/**".into(),
        to: "@artifact/".into(),
        exclude: vec!["sub/**".into()],
        ..CopyOperation::default()
    })
    .expect("copy");
    assert_eq!(tree.files(), ["README.md", "a.yaml", "b.yaml"]);

    let error = tree
        .run(&CopyOperation {
            from: "@src/configs/*.yaml".into(),
            to: "@artifact/".into(),
            exclude: vec!["*.yaml".into()],
            ..CopyOperation::default()
        })
        .expect_err("all excluded");
    assert!(matches!(error, CopyError::AllExcluded { .. }), "{error}");
}

#[test]
fn later_copies_overwrite_and_merge_deep_merges_yaml() {
    let tree = Tree::new(&[
        (
            "chart/values.yaml",
            "replicas: 1\nimage:\n  repo: app\n  tag: v1\nports: [80, 443]\n",
        ),
        (
            "prod/values.yaml",
            "image:\n  tag: v2\nports: [8080]\n---\nextra: true\n",
        ),
        ("prod/other.yaml", "x: 1\n"),
    ]);
    tree.copy("@src/chart/values.yaml", "@artifact/values.yaml")
        .expect("copy");
    tree.run(&CopyOperation {
        from: "@src/prod/values.yaml".into(),
        to: "@artifact/values.yaml".into(),
        strategy: Some(CopyStrategy::Merge),
        ..CopyOperation::default()
    })
    .expect("merge");
    assert_eq!(
        tree.read("values.yaml"),
        "extra: true\nimage:\n  repo: app\n  tag: v2\nports:\n- 8080\nreplicas: 1\n"
    );
    // Merge onto nothing is a plain copy; Overwrite replaces.
    tree.run(&CopyOperation {
        from: "@src/prod/other.yaml".into(),
        to: "@artifact/new.yaml".into(),
        strategy: Some(CopyStrategy::Merge),
        ..CopyOperation::default()
    })
    .expect("merge onto nothing");
    assert_eq!(tree.read("new.yaml"), "x: 1\n");
    tree.copy("@src/prod/other.yaml", "@artifact/values.yaml")
        .expect("overwrite");
    assert_eq!(tree.read("values.yaml"), "x: 1\n");

    std::fs::write(tree.staging.join("values.yaml"), "- a list\n").expect("write");
    let error = tree
        .run(&CopyOperation {
            from: "@src/prod/values.yaml".into(),
            to: "@artifact/values.yaml".into(),
            strategy: Some(CopyStrategy::Merge),
            ..CopyOperation::default()
        })
        .expect_err("a list is not a map");
    assert!(error.to_string().contains("values.yaml"), "{error}");
}

#[test]
fn extract_unpacks_tarballs_and_skips_other_matches() {
    let tree = Tree::new(&[("releases/notes.txt", "x")]);
    let chart = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(chart.path().join("podinfo")).expect("mkdir");
    std::fs::write(chart.path().join("podinfo/Chart.yaml"), "name: podinfo\n").expect("write");
    let tarball = driftless_source::oci::pack_directory(chart.path(), None, 1 << 20).expect("pack");
    std::fs::create_dir_all(tree.src.join("releases/v1")).expect("mkdir");
    std::fs::write(tree.src.join("releases/v1/podinfo-1.0.0.tgz"), &tarball).expect("write");
    tree.run(&CopyOperation {
        from: "@src/releases/**/*.tgz".into(),
        to: "@artifact/charts/".into(),
        strategy: Some(CopyStrategy::Extract),
        ..CopyOperation::default()
    })
    .expect("extract");
    assert_eq!(tree.files(), ["charts/podinfo/Chart.yaml"]);

    let error = tree
        .run(&CopyOperation {
            from: "@src/releases/notes.txt".into(),
            to: "@artifact/".into(),
            strategy: Some(CopyStrategy::Extract),
            ..CopyOperation::default()
        })
        .expect_err("not a tarball");
    assert!(matches!(error, CopyError::NotTarball { .. }), "{error}");
}

#[test]
fn bad_input_fails_naming_what_is_wrong() {
    let tree = configs();
    let cases = [
        ("@src/configs/[a.yaml", "@artifact/", "'[' is not closed"),
        ("@src/nothing/*.yaml", "@artifact/", "no files match"),
        ("@src/missing.yaml", "@artifact/", "does not exist"),
        ("@other/a.yaml", "@artifact/", "alias 'other'"),
        ("@src/../etc/passwd", "@artifact/", "climbs out"),
        ("@src/configs/a.yaml", "@artifact/../../x", "climbs out"),
        ("src/a.yaml", "@artifact/", "'@<alias>/<pattern>'"),
        ("@src/configs/a.yaml", "artifact/", "@artifact/"),
    ];
    for (from, to, expected) in cases {
        let error = tree.copy(from, to).expect_err(from);
        assert!(
            error.to_string().contains(expected),
            "{from} -> {to}: {error}"
        );
    }
    assert!(tree.files().is_empty(), "nothing was written");
}

#[test]
fn the_budget_bounds_what_an_artifact_grows_to() {
    let tree = configs();
    let sources = HashMap::from([("src".to_owned(), tree.src.clone())]);
    let mut budget = Budget::new(&UnpackLimits {
        max_bytes: 1 << 20,
        max_entries: 3,
        max_file_bytes: 1 << 20,
    });
    let op = CopyOperation {
        from: "@src/configs/".into(),
        to: "@artifact/".into(),
        ..CopyOperation::default()
    };
    let error = apply(&op, &sources, &tree.staging, &mut budget).expect_err("too many");
    assert!(
        error.to_string().contains("--artifact-max-files"),
        "{error}"
    );
}
