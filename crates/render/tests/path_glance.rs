//! "At a glance" in the terminal and Markdown reports: the path facts, the forward walk's
//! cuts and the spawned sessions, with hostile log values kept inert.

use backtrail_analysis::forward::{Bounds, Forward, SpawnedBy};
use backtrail_analysis::investigate::Investigation;
use backtrail_analysis::path_facts::{PathFlag, PathFlagKind};
use backtrail_render::investigate::{Parts, markdown, render};

/// The demo's cross-account investigation with two path facts, a cut and a spawned
/// section whose values carry terminal escapes and Markdown.
fn investigation() -> Investigation {
    let v: serde_json::Value =
        serde_json::from_str(include_str!("html_fixtures/cross_account_chain.json")).unwrap();
    let mut inv: Investigation = serde_json::from_value(v["investigation"].clone()).unwrap();
    inv.path_flags = vec![
        PathFlag {
            kind: PathFlagKind::CrossAccount,
            detail: "the path crosses account boundaries (111122223333 → 444455556666)".into(),
            evidence_event_ids: vec!["e-1".into()],
            count: 1,
        },
        PathFlag {
            kind: PathFlagKind::DataAccess,
            detail: "2 successful reads: s3 GetObject ×2 on b/\u{1b}[2Jk|`x`".into(),
            evidence_event_ids: vec!["e-2".into(), "e-3".into()],
            count: 2,
        },
    ];
    inv.forward = Some(Forward {
        bounds: Bounds::DEFAULT,
        chain_sessions_from: None,
        cut: vec!["arn:x: 3 issuing calls not followed (at most 3 generations)".into()],
    });
    let mut spawned = inv.sessions[0].clone();
    spawned.role = "spawned".into();
    spawned.arn = Some("arn:aws:iam::111122223333:user/b\u{7}ob".into());
    spawned.spawned_by = Some(SpawnedBy {
        method: "CreateAccessKey".into(),
        event_id: "e-9".into(),
        other_event_ids: Vec::new(),
        time: "2026-10-01T15:40:40Z".into(),
        parent_arn: Some("arn:aws:iam::111122223333:user/<b>".into()),
        parent_creation_date: None,
        parent_access_key_ids: vec!["AKIAPARENT".into()],
        depth: 1,
    });
    inv.sessions.push(spawned);
    inv
}

/// `text` from `start` up to the next `next` (the following section's heading).
fn block<'a>(text: &'a str, start: &str, next: &str) -> &'a str {
    let from = text
        .find(start)
        .unwrap_or_else(|| panic!("{start} missing"));
    let rest = &text[from..];
    let end = rest[start.len()..]
        .find(next)
        .map_or(rest.len(), |e| e + start.len());
    &rest[..end]
}

#[test]
fn terminal_glance_lists_facts_cuts_and_spawned_sessions() {
    let out = render(&investigation(), Parts::ALL, 200);
    let glance = block(&out, "== at a glance", "\n== ");
    assert!(
        !out.contains('\u{1b}') && !out.contains('\u{7}'),
        "raw control characters"
    );
    insta::assert_snapshot!(glance);
    assert!(
        out.contains("spawned by CreateAccessKey e-9 at 2026-10-01T15:40:40Z from arn:aws:iam::111122223333:user/<b>"),
        "{out}"
    );
}

#[test]
fn markdown_glance_lists_facts_cuts_and_spawned_sessions() {
    let out = markdown(&investigation());
    insta::assert_snapshot!(block(&out, "## At a glance", "\n## "));
    let spawned = block(&out, "## Spawned sessions", "\n## ");
    assert!(
        spawned.contains("spawned by CreateAccessKey e-9"),
        "{spawned}"
    );
    assert!(spawned.contains("user/\\<b\\>"), "{spawned}");
    assert!(
        !out.contains('\u{1b}') && !out.contains('\u{7}'),
        "raw control characters"
    );
}
