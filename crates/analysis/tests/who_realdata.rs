//! "Who" over real CloudTrail captures whose story is known (see realdata/README.md).
//!
//! The data lives outside the repository: `BACKTRAIL_REALDATA`, or `shared/realdata` next to
//! the workspace. Without it the tests say so and pass; with `BACKTRAIL_REALDATA` set to a
//! missing directory they fail.

use backtrail_analysis::chain::{Confidence, OriginKind, who};
use backtrail_analysis::subject::Subject;
use backtrail_model::{EventLookup, MemoryLookup};
use backtrail_normalize::{SessionAggregator, issuance_of, parse_file};
use std::path::{Path, PathBuf};

fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            json_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "json")
            && p.file_name().is_some_and(|n| n != "manifest.json")
        {
            out.push(p);
        }
    }
}

/// Every event of the given files, with issuances and sessions derived as at ingest.
fn load(files: &[PathBuf]) -> MemoryLookup {
    let mut events = Vec::new();
    for f in files {
        let bytes = std::fs::read(f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        events.extend(parse_file(&bytes).events);
    }
    assert!(!events.is_empty(), "no events read");
    let issuances = events.iter().filter_map(issuance_of).collect();
    let mut agg = SessionAggregator::default();
    for e in &events {
        agg.add(e);
    }
    MemoryLookup::new(events, issuances, agg.finish())
}

fn load_dir(dir: &Path) -> MemoryLookup {
    let mut files = Vec::new();
    json_files(dir, &mut files);
    load(&files)
}

#[test]
fn invictus_stratus_role_sessions_attribute_to_bert_jan() {
    let Some(root) = backtrail_testkit::realdata() else {
        return;
    };
    let l = load_dir(&root.join("invictus-ir-aws_dataset"));
    let bert = "arn:aws:iam::123837392027:user/bert-jan";
    let sessions: Vec<_> = l
        .sessions
        .iter()
        .filter(|s| {
            s.arn.as_deref().is_some_and(|a| {
                a.contains(":assumed-role/stratus-red-team-")
                    && a.contains("-role")
                    && a.contains("/aws-go-sdk-")
            })
        })
        .collect();
    assert!(sessions.len() >= 5, "{} sessions", sessions.len());
    for s in sessions {
        let key = s.access_key_id.clone().unwrap();
        let r = who(&l, &Subject::AccessKey(key.clone()), None, None).unwrap();
        assert_eq!(r.sessions.len(), 1, "{key}");
        let c = &r.sessions[0];
        assert_eq!(c.origin.kind, OriginKind::IAMUser, "{key}: {c:#?}");
        assert_eq!(c.origin.identifier, bert);
        assert_eq!(c.chain.len(), 1, "{key}");
        let hop = &c.chain[0];
        assert_eq!(hop.method, "AssumeRole");
        assert_eq!(hop.confidence, Confidence::Certain, "{key}: {}", hop.reason);
        assert_eq!(hop.issued_access_key_id.as_deref(), Some(key.as_str()));
        assert_eq!(hop.caller.arn.as_deref(), Some(bert));
        let id = hop.event_id.as_deref().unwrap();
        let ev = l
            .event_by_id(id)
            .unwrap()
            .expect("the issuing event is in the data");
        assert_eq!(ev.event_name, "AssumeRole");
        // The twin AssumeRole of the same second returned another key: rejected, listed.
        assert!(
            hop.candidates
                .iter()
                .all(|c| c.why_rejected_or_open.contains("returned key")
                    || c.why_rejected_or_open.contains("failed")),
            "{:#?}",
            hop.candidates
        );
    }

    // The same role sessions found through the role's ARN.
    let by_role = who(
        &l,
        &Subject::parse(
            "arn:aws:iam::123837392027:role/stratus-red-team-ec2-get-password-data-role",
        ),
        None,
        None,
    )
    .unwrap();
    assert_eq!(by_role.sessions.len(), 1);
    assert_eq!(by_role.sessions[0].origin.identifier, bert);

    // Instance credentials lead to the instance.
    let ec2 = who(&l, &Subject::parse("ASIATFQR7NSCSHSEVYP5"), None, None).unwrap();
    let c = &ec2.sessions[0];
    assert_eq!(c.chain[0].method, "EC2InstanceProfile");
    assert_eq!(c.chain[0].confidence, Confidence::Certain);
    assert_eq!(c.origin.kind, OriginKind::EC2Instance);
    assert_eq!(c.origin.identifier, "i-0dbc91f429e48eeed");

    // bert-jan's console sign-in at 12:27:45 holds all the keys the console minted for it.
    let console = who(&l, &Subject::parse("ASIATFQR7NSCS5BLNV76"), None, None).unwrap();
    let c = &console.sessions[0];
    assert!(c.access_key_ids.len() > 5, "{:?}", c.access_key_ids);
    assert_eq!(c.chain.len(), 1);
    assert_eq!(c.chain[0].method, "ConsoleLogin");
    assert_eq!(
        c.chain[0].event_id.as_deref(),
        Some("8feee4c2-5e27-4857-8475-bfa7e7b6d791")
    );
    assert_eq!(c.chain[0].confidence, Confidence::Certain);
    assert_eq!(c.origin.identifier, bert);

    // The backdoor user's sign-in leads to bert-jan, who set its password.
    let backdoor = who(
        &l,
        &Subject::parse("stratus-red-team-nmfalu-gfjyeaypjt"),
        None,
        None,
    )
    .unwrap();
    assert_eq!(backdoor.sessions.len(), 1);
    let c = &backdoor.sessions[0];
    let methods: Vec<&str> = c.chain.iter().map(|h| h.method.as_str()).collect();
    assert_eq!(methods, ["CreateLoginProfile", "ConsoleLogin"]);
    assert_eq!(
        c.chain[0].event_id.as_deref(),
        Some("1170c908-ce8d-4c6f-bc65-cf43aae5235b")
    );
    assert_eq!(c.origin.identifier, bert);
}

#[test]
fn stratus_federated_user_attributes_to_its_iam_user() {
    let Some(root) = backtrail_testkit::realdata() else {
        return;
    };
    let l = load(&[root
        .join("stratus-red-team/docs/detonation-logs/aws.persistence.sts-federation-token.json")]);
    let arn = l
        .sessions
        .iter()
        .find_map(|s| {
            s.arn
                .clone()
                .filter(|a| a.ends_with(":federated-user/stratus_red_team"))
        })
        .expect("the federated user's session");
    let r = who(&l, &Subject::Arn(arn), None, None).unwrap();
    assert_eq!(r.sessions.len(), 1);
    let c = &r.sessions[0];
    assert_eq!(c.chain.len(), 1);
    let hop = &c.chain[0];
    assert_eq!(hop.method, "GetFederationToken");
    assert_eq!(
        hop.event_id.as_deref(),
        Some("6e882b9d-2af8-4c67-b91f-aeac6a0e5e70")
    );
    assert_eq!(hop.confidence, Confidence::Certain);
    assert_eq!(c.origin.kind, OriginKind::IAMUser);
    assert!(
        c.origin
            .identifier
            .ends_with(":user/stratus-red-team-user-federation-user")
    );
}

#[test]
fn awsdocs_cross_account_copies_are_joined() {
    let Some(root) = backtrail_testkit::realdata() else {
        return;
    };
    let l = load_dir(&root.join("awsdocs"));
    // The two records of one AssumeRole, one per account, that share a sharedEventID.
    let mut pair = None;
    for i in &l.issuances {
        let Some(sh) = i.shared_event_id.as_deref() else {
            continue;
        };
        let copies: Vec<_> = l
            .issuances
            .iter()
            .filter(|j| j.event_name == "AssumeRole" && j.shared_event_id.as_deref() == Some(sh))
            .collect();
        if i.event_name == "AssumeRole" && copies.len() == 2 {
            pair = Some((copies[0].clone(), copies[1].clone()));
            break;
        }
    }
    let (a, b) = pair.expect("an AssumeRole pair sharing a sharedEventID");
    let issued = a
        .issued_arn
        .clone()
        .expect("the AssumeRole names the role session");
    let r = who(&l, &Subject::Arn(issued), None, None).unwrap();
    assert_eq!(r.sessions.len(), 1, "both copies describe one session");
    let c = &r.sessions[0];
    assert_eq!(c.chain.len(), 1);
    let hop = &c.chain[0];
    let mut ids: Vec<&str> = hop.other_event_ids.iter().map(String::as_str).collect();
    ids.extend(hop.event_id.as_deref());
    ids.sort();
    let mut want = vec![a.event_id.as_str(), b.event_id.as_str()];
    want.sort();
    assert_eq!(ids, want, "the hop lists both copies");
    // The caller's copy (IAMUser), not the role owner's (AWSAccount), leads the hop.
    assert_eq!(hop.caller.kind.as_deref(), Some("IAMUser"));
    assert_eq!(hop.confidence, Confidence::Certain);
    assert!(c.origin.identifier.ends_with(":user/JohnDoe"));
    assert_eq!(c.asserted_source_identity.as_deref(), Some("JohnDoe"));
    assert!(c.continue_at.is_none());
}
