//! Discovery and reads over local directories laid out like a CloudTrail bucket.

mod common;

use std::path::{Path, PathBuf};

use backtrail_sources::{Filter, Location, SourceError, Sources};
use common::{TREE, cases, expected};

/// The shared tree plus hidden files that discovery must never report.
fn tree() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let hidden = [".hidden/h.json", "exports/.DS_Store", "AWSLogs/.tmp/z.json"];
    for rel in TREE.iter().chain(&hidden) {
        let path = dir.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, rel.as_bytes()).unwrap();
    }
    dir
}

fn input(p: &Path) -> Vec<String> {
    vec![p.to_str().unwrap().to_string()]
}

/// Keys made relative to `root`, with `/` separators.
fn relative(root: &Path, keys: impl IntoIterator<Item = String>) -> Vec<String> {
    keys.into_iter()
        .map(|k| {
            let rel = Path::new(&k).strip_prefix(root).unwrap();
            rel.components()
                .map(|c| c.as_os_str().to_str().unwrap())
                .collect::<Vec<_>>()
                .join("/")
        })
        .collect()
}

#[test]
fn filters_prune_the_same_folders_as_on_s3() {
    let dir = tree();
    let sources = Sources::new().unwrap();
    for case in cases() {
        let found = sources.discover(&input(dir.path()), &case.filter).unwrap();
        let keys = relative(dir.path(), found.files.iter().map(|f| f.key.clone()));
        assert_eq!(keys, expected(&case.kept), "{}", case.name);
        assert_eq!(
            found.pruned_prefixes,
            case.pruned.len() as u64,
            "{}",
            case.name
        );
        assert!(found.listed_prefixes > 0, "{}", case.name);
    }
}

#[test]
fn unfiltered_walk_reads_every_directory_once() {
    let dir = tree();
    let found = Sources::new()
        .unwrap()
        .discover(&input(dir.path()), &Filter::default())
        .unwrap();
    // Every distinct directory of the tree, the root included, and no hidden one.
    let mut dirs: Vec<PathBuf> = TREE
        .iter()
        .flat_map(|p| Path::new(p).ancestors().skip(1).map(Path::to_path_buf))
        .collect();
    dirs.sort();
    dirs.dedup();
    assert_eq!(found.listed_prefixes, dirs.len() as u64);
    assert_eq!(found.pruned_prefixes, 0);
}

#[test]
fn files_are_absolute_sized_versioned_and_readable() {
    let dir = tree();
    let sources = Sources::new().unwrap();
    let found = sources
        .discover(&input(dir.path()), &Filter::default())
        .unwrap();
    assert_eq!(found.files.len(), TREE.len());
    for f in &found.files {
        let Location::Local(path) = &f.location else {
            panic!("{} is not local", f.key)
        };
        assert!(path.is_absolute());
        assert_eq!(f.key, path.to_str().unwrap());
        let bytes = sources.read(f).unwrap();
        assert_eq!(bytes.len() as u64, f.size);
        assert!(f.key.ends_with(std::str::from_utf8(&bytes).unwrap()));
        assert!(f.version.parse::<u128>().unwrap() > 0);
    }
}

#[test]
fn rewriting_a_file_changes_its_version() {
    let dir = tree();
    let sources = Sources::new().unwrap();
    let path = dir.path().join("top.json");
    let before = sources.discover(&input(&path), &Filter::default()).unwrap();
    let file = std::fs::File::options().write(true).open(&path).unwrap();
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(5);
    file.set_modified(later).unwrap();
    let after = sources.discover(&input(&path), &Filter::default()).unwrap();
    assert_ne!(before.files[0].version, after.files[0].version);
}

#[test]
fn a_file_given_directly_is_kept_whatever_the_filter() {
    let dir = tree();
    let path = dir.path().join(TREE[0]);
    let filter = Filter {
        accounts: vec!["999999999999".into()],
        ..Filter::default()
    };
    let found = Sources::new()
        .unwrap()
        .discover(&input(&path), &filter)
        .unwrap();
    assert_eq!(found.files.len(), 1);
    assert_eq!(found.files[0].key, path.to_str().unwrap());
}

#[test]
fn a_directory_given_inside_the_layout_is_filtered_too() {
    let dir = tree();
    let sources = Sources::new().unwrap();
    let region = dir.path().join("AWSLogs/111122223333/CloudTrail/eu-west-1");
    let filter = Filter {
        regions: vec!["us-east-1".into()],
        ..Filter::default()
    };
    let found = sources.discover(&input(&region), &filter).unwrap();
    assert!(found.files.is_empty());
    assert_eq!(found.pruned_prefixes, 1);
    let found = sources
        .discover(&input(&region), &Filter::default())
        .unwrap();
    assert_eq!(found.files.len(), 1);
}

#[test]
fn overlapping_inputs_are_listed_once_and_sorted() {
    let dir = tree();
    let inputs = vec![
        dir.path().join("exports").to_str().unwrap().to_string(),
        dir.path().to_str().unwrap().to_string(),
        dir.path().join("top.json").to_str().unwrap().to_string(),
    ];
    let found = Sources::new()
        .unwrap()
        .discover(&inputs, &Filter::default())
        .unwrap();
    let keys = relative(dir.path(), found.files.iter().map(|f| f.key.clone()));
    let mut all: Vec<String> = TREE.iter().map(|s| s.to_string()).collect();
    all.sort();
    assert_eq!(keys, all);
}

#[test]
fn a_missing_input_is_an_error_naming_it() {
    let dir = tree();
    let missing = dir.path().join("no/such/dir");
    let err = Sources::new()
        .unwrap()
        .discover(&input(&missing), &Filter::default())
        .unwrap_err();
    assert!(matches!(err, SourceError::NotFound { .. }), "{err:?}");
    assert!(err.to_string().contains(missing.to_str().unwrap()), "{err}");
}

#[test]
fn reading_a_vanished_file_is_not_found() {
    let dir = tree();
    let sources = Sources::new().unwrap();
    let path = dir.path().join("top.json");
    let found = sources.discover(&input(&path), &Filter::default()).unwrap();
    std::fs::remove_file(&path).unwrap();
    let err = sources.read(&found.files[0]).unwrap_err();
    assert!(matches!(err, SourceError::NotFound { .. }), "{err:?}");
}

#[test]
fn other_url_schemes_are_rejected() {
    let err = Sources::new()
        .unwrap()
        .discover(&["gs://bucket/x".into()], &Filter::default());
    assert!(matches!(err, Err(SourceError::BadUrl(_))), "{err:?}");
    let err = Sources::new()
        .unwrap()
        .discover(&["s3://".into()], &Filter::default());
    assert!(matches!(err, Err(SourceError::BadUrl(_))), "{err:?}");
}

#[test]
fn sources_can_be_shared_by_reader_threads() {
    fn shared<T: Send + Sync>() {}
    shared::<Sources>();
}

#[test]
fn s3_options_do_not_print_secrets() {
    let o = backtrail_sources::S3Options {
        secret_access_key: Some("very-secret".into()),
        session_token: Some("also-secret".into()),
        ..Default::default()
    };
    let shown = format!("{o:?}");
    assert!(
        !shown.contains("very-secret") && !shown.contains("also-secret"),
        "{shown}"
    );
    assert!(shown.contains("<redacted>"), "{shown}");
}

#[test]
fn bad_paths_in_a_tree_are_reported_and_the_rest_is_found() {
    let dir = tree();
    let odd = dir.path().join("odd");
    std::fs::create_dir_all(&odd).unwrap();
    std::fs::write(odd.join("ok.json"), b"{}").unwrap();
    std::os::unix::fs::symlink("..", odd.join("loop")).unwrap();
    std::os::unix::fs::symlink(dir.path().join("gone"), odd.join("dangling.json")).unwrap();
    let sources = Sources::new().unwrap();
    let found = sources
        .discover(&input(dir.path()), &Filter::default())
        .unwrap();
    let keys = relative(dir.path(), found.files.iter().map(|f| f.key.clone()));
    assert!(keys.contains(&"odd/ok.json".to_string()), "{keys:?}");
    // Everything of the plain tree is still found.
    for rel in TREE {
        assert!(
            keys.contains(&rel.to_string()),
            "{rel} missing from {keys:?}"
        );
    }
    let problem = |end: &str| {
        found
            .problems
            .iter()
            .find(|p| p.path.ends_with(end))
            .unwrap_or_else(|| panic!("{end} not reported: {:?}", found.problems))
    };
    assert!(problem("loop").skipped);
    assert!(problem("loop").reason.contains("loop"));
    assert!(!problem("dangling.json").skipped);
    assert!(problem("dangling.json").reason.contains("dangling"));
    assert_eq!(found.problems.len(), 2, "{:?}", found.problems);
}
