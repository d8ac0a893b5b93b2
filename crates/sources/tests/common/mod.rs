//! The AWSLogs tree and filter cases that the local and S3 tests share, so that both
//! backends are held to the same answers.

use backtrail_model::time::parse_iso;
use backtrail_sources::Filter;

/// Files of the tree, relative to its root; each file's content is its own path.
pub const TREE: &[&str] = &[
    "AWSLogs/111122223333/CloudTrail/eu-west-1/2024/03/10/b1.json.gz",
    "AWSLogs/111122223333/CloudTrail/us-east-1/2023/12/31/a0.json.gz",
    "AWSLogs/111122223333/CloudTrail/us-east-1/2024/03/09/a1.json.gz",
    "AWSLogs/111122223333/CloudTrail/us-east-1/2024/03/10/a2.json.gz",
    "AWSLogs/111122223333/CloudTrail/us-east-1/2024/03/20/a3.json.gz",
    "AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2024/03/10/d1.json.gz",
    "AWSLogs/o-abcdef1234/444455556666/CloudTrail/ap-south-1/2024/04/01/o2.json.gz",
    "AWSLogs/o-abcdef1234/444455556666/CloudTrail/us-east-1/2024/03/10/o1.json.gz",
    "exports/2024/x1.json",
    "top.json",
];

/// One filter, the files (by name) it must keep, and the folders it must skip unlisted.
pub struct Case {
    pub name: &'static str,
    pub filter: Filter,
    pub kept: Vec<&'static str>,
    pub pruned: Vec<&'static str>,
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

pub fn cases() -> Vec<Case> {
    let all = vec!["b1", "a0", "a1", "a2", "a3", "d1", "o2", "o1", "x1", "top"];
    vec![
        Case {
            name: "no filter",
            filter: Filter::default(),
            kept: all,
            pruned: vec![],
        },
        Case {
            name: "account",
            filter: Filter {
                accounts: strings(&["111122223333"]),
                ..Filter::default()
            },
            kept: vec!["b1", "a0", "a1", "a2", "a3", "d1", "x1", "top"],
            pruned: vec!["AWSLogs/o-abcdef1234/444455556666"],
        },
        Case {
            name: "region",
            filter: Filter {
                regions: strings(&["us-east-1"]),
                ..Filter::default()
            },
            kept: vec!["a0", "a1", "a2", "a3", "d1", "o1", "x1", "top"],
            pruned: vec![
                "AWSLogs/111122223333/CloudTrail/eu-west-1",
                "AWSLogs/o-abcdef1234/444455556666/CloudTrail/ap-south-1",
            ],
        },
        Case {
            name: "one day",
            filter: Filter {
                since: parse_iso("2024-03-10T00:00:00Z"),
                until: parse_iso("2024-03-10T23:59:59Z"),
                ..Filter::default()
            },
            kept: vec!["b1", "a1", "a2", "d1", "o1", "x1", "top"],
            pruned: vec![
                "AWSLogs/111122223333/CloudTrail/us-east-1/2023",
                "AWSLogs/111122223333/CloudTrail/us-east-1/2024/03/20",
                "AWSLogs/o-abcdef1234/444455556666/CloudTrail/ap-south-1/2024/04",
            ],
        },
        Case {
            name: "everything at once",
            filter: Filter {
                since: parse_iso("2024-04-01T10:00:00Z"),
                until: None,
                accounts: strings(&["444455556666"]),
                regions: strings(&["ap-south-1"]),
            },
            kept: vec!["o2", "x1", "top"],
            pruned: vec![
                "AWSLogs/111122223333",
                "AWSLogs/o-abcdef1234/444455556666/CloudTrail/us-east-1",
            ],
        },
    ]
}

/// The tree's paths whose file names (without extension) are `names`, sorted.
pub fn expected(names: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = TREE
        .iter()
        .filter(|p| {
            let file = p.rsplit('/').next().unwrap();
            names.contains(&file.split('.').next().unwrap())
        })
        .map(|p| p.to_string())
        .collect();
    assert_eq!(
        v.len(),
        names.len(),
        "a name in {names:?} is not in the tree"
    );
    v.sort();
    v
}
