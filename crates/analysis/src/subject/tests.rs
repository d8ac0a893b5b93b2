use super::testkit::*;
use super::*;
use serde_json::json;

const A: &str = "111111111111";

fn t(s: &str) -> Millis {
    parse_iso(s).unwrap()
}

#[test]
fn parse_tells_the_forms_apart() {
    assert_eq!(
        Subject::parse(" AKIAIOSFODNN7EXAMPLE "),
        Subject::AccessKey("AKIAIOSFODNN7EXAMPLE".into())
    );
    assert_eq!(
        Subject::parse("ASIATFQR7NSC7E2ZIBM2"),
        Subject::AccessKey("ASIATFQR7NSC7E2ZIBM2".into())
    );
    assert!(matches!(
        Subject::parse("arn:aws:iam::123456789012:role/Admin"),
        Subject::Arn(_)
    ));
    assert!(matches!(
        Subject::parse("AROAIDPPEZS35WEXAMPLE:alice"),
        Subject::PrincipalId(_)
    ));
    assert!(matches!(
        Subject::parse("AIDAJ45Q7YFFAREXAMPLE"),
        Subject::PrincipalId(_)
    ));
    assert!(matches!(
        Subject::parse("742491224508:stratus_red_team"),
        Subject::PrincipalId(_)
    ));
    // Lower case, too short, or a name with a colon in it: a name.
    assert!(matches!(
        Subject::parse("akiaiosfodnn7example"),
        Subject::SessionName(_)
    ));
    assert!(matches!(Subject::parse("AKIA1"), Subject::SessionName(_)));
    assert!(matches!(
        Subject::parse("bert-jan"),
        Subject::SessionName(_)
    ));
    assert!(matches!(
        Subject::parse("i-0dbc91f429e48eeed"),
        Subject::SessionName(_)
    ));
    assert!(matches!(
        Subject::parse("team:alice"),
        Subject::SessionName(_)
    ));
    assert_eq!(Subject::parse("bert-jan").kind(), "session_name");
}

const FINDING: &str = r#"{
      "accountId": "111111111111", "region": "eu-west-1", "id": "abc123",
      "type": "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS",
      "resource": {"resourceType": "AccessKey", "accessKeyDetails": {
          "accessKeyId": "ASIAEXAMPLEKEY000001", "principalId": "AROAROLEX:i-0abc",
          "userName": "RoleX", "userType": "AssumedRole"}},
      "service": {"eventFirstSeen": "2024-05-01T10:00:05.000Z",
                  "eventLastSeen": "2024-05-01T10:30:00.000Z",
                  "action": {"actionType": "AWS_API_CALL", "awsApiCallAction": {
                      "api": "ListBuckets",
                      "remoteIpDetails": {"ipAddressV4": "203.0.113.50"}}}}
    }"#;

#[test]
fn finding_gives_subject_window_and_ip() {
    let f = Finding::parse(FINDING).unwrap();
    assert_eq!(
        f.subject(),
        Some(Subject::AccessKey("ASIAEXAMPLEKEY000001".into()))
    );
    assert_eq!(f.ip.as_deref(), Some("203.0.113.50"));
    assert_eq!(f.user_type.as_deref(), Some("AssumedRole"));
    let w = f.window().unwrap();
    assert_eq!(w.start, t("2024-05-01T10:00:05Z"));
    assert_eq!(w.end, t("2024-05-01T10:30:00Z"));
    // The same finding inside an EventBridge event and in get-findings output.
    let eb = format!(r#"{{"source": "aws.guardduty", "detail": {FINDING}}}"#);
    assert_eq!(Finding::parse(&eb).unwrap(), f);
    let gf = format!(r#"{{"Findings": [{FINDING}, {FINDING}]}}"#);
    assert_eq!(Finding::parse_all(&gf).unwrap().len(), 2);
    assert!(matches!(Finding::parse(&gf), Err(FindingError::Several(2))));
    assert!(matches!(
        Finding::parse("{}"),
        Err(FindingError::NotAFinding)
    ));
    assert!(matches!(Finding::parse("nope"), Err(FindingError::Json(_))));
}

/// Key K recycled: role session R1/a at 10:00 and R2/b at 14:00 both signed with it.
fn recycled() -> backtrail_model::MemoryLookup {
    let u = user(A, "alice", Some("AKIAALICE00000000001"));
    let r1 = format!("arn:aws:iam::{A}:role/R1");
    let r2 = format!("arn:aws:iam::{A}:role/R2");
    let k = "ASIARECYCLED00000001";
    lookup(&[
        assume_role("e1", "2024-05-01T10:00:00Z", u.clone(), &r1, "a", k),
        assume_role("e2", "2024-05-01T14:00:00Z", u, &r2, "b", k),
        call(
            "c1",
            "2024-05-01T10:05:00Z",
            role_session(A, "R1", "a", Some(k), "2024-05-01T10:00:00Z"),
            "DescribeInstances",
            "198.51.100.7",
        ),
        call(
            "c2",
            "2024-05-01T14:05:00Z",
            role_session(A, "R2", "b", Some(k), "2024-05-01T14:00:00Z"),
            "DescribeInstances",
            "203.0.113.50",
        ),
    ])
}

#[test]
fn recycled_key_gives_separate_sessions_ranked_by_ip_and_cut_by_window() {
    let l = recycled();
    let key = Subject::AccessKey("ASIARECYCLED00000001".into());
    let all = resolve(&l, &key, None, Some("203.0.113.50")).unwrap();
    assert_eq!(all.len(), 2, "never merged");
    assert!(
        all[0].arn.as_deref().unwrap().ends_with("R2/b"),
        "the session that used the IP first"
    );
    assert_eq!(all[0].used_hint_ip, Some(true));
    assert_eq!(all[1].used_hint_ip, Some(false));
    assert!(all[0].notes.iter().any(|n| n.contains("recycled")));
    let w = Window {
        start: t("2024-05-01T09:00:00Z"),
        end: t("2024-05-01T11:00:00Z"),
    };
    let morning = resolve(&l, &key, Some(w), None).unwrap();
    assert_eq!(morning.len(), 1);
    assert!(morning[0].arn.as_deref().unwrap().ends_with("R1/a"));
    assert_eq!(morning[0].creation_date, Some(t("2024-05-01T10:00:00Z")));
}

#[test]
fn finding_with_other_principal_ranks_last() {
    let l = recycled();
    let mut f = Finding::parse(FINDING).unwrap();
    f.access_key_id = Some("ASIARECYCLED00000001".into());
    f.ip = None;
    f.first_seen = None;
    f.last_seen = None;
    f.principal_id = Some("AROAR2:b".into());
    let out = resolve_finding(&l, &f).unwrap();
    assert_eq!(out.len(), 2);
    assert_eq!(out[0].principal_id.as_deref(), Some("AROAR2:b"));
    assert!(
        out[1]
            .notes
            .iter()
            .any(|n| n.contains("differs from the finding"))
    );
}

#[test]
fn console_keys_of_one_sign_in_are_one_session() {
    let created = "2024-05-01T09:00:00Z";
    let mut rows = vec![console_login("login", created, user(A, "bob", None))];
    for (i, k) in [
        "ASIACONSOLE000000001",
        "ASIACONSOLE000000002",
        "ASIACONSOLE000000003",
    ]
    .iter()
    .enumerate()
    {
        let mut c = call(
            &format!("c{i}"),
            "2024-05-01T09:10:00Z",
            user_console(A, "bob", k, created),
            "DescribeVpcs",
            "203.0.113.9",
        );
        c["sessionCredentialFromConsole"] = json!("true");
        rows.push(c);
    }
    // A later sign-in is another session.
    rows.push(call(
        "later",
        "2024-05-01T15:10:00Z",
        user_console(A, "bob", "ASIACONSOLE000000009", "2024-05-01T15:00:00Z"),
        "DescribeVpcs",
        "203.0.113.9",
    ));
    let l = lookup(&rows);
    let out = resolve(
        &l,
        &Subject::AccessKey("ASIACONSOLE000000002".into()),
        None,
        None,
    )
    .unwrap();
    assert_eq!(out.len(), 1);
    let m = &out[0];
    assert_eq!(
        m.access_key_ids[0], "ASIACONSOLE000000002",
        "the matched key first"
    );
    assert_eq!(m.access_key_ids.len(), 3);
    assert!(m.from_console);
    assert_eq!(m.events, 3);
    assert_eq!(m.rows.len(), 3);
    // By the user's ARN: the two sign-ins, each once, and the row of the sign-in
    // records themselves (logged without key or creationDate).
    let by_arn = resolve(
        &l,
        &Subject::Arn(format!("arn:aws:iam::{A}:user/bob")),
        None,
        None,
    )
    .unwrap();
    assert_eq!(by_arn.len(), 3);
    let keyless: Vec<_> = by_arn
        .iter()
        .filter(|m| m.access_key_ids.is_empty())
        .collect();
    assert_eq!(keyless.len(), 1);
    assert!(
        keyless[0]
            .notes
            .iter()
            .any(|n| n.contains("without access key"))
    );
}

#[test]
fn keys_with_their_own_issuing_events_stay_apart() {
    // Two AssumeRole calls in the same second give the same ARN and creationDate.
    let u = user(A, "alice", Some("AKIAALICE00000000001"));
    let role = format!("arn:aws:iam::{A}:role/R");
    let at = "2024-05-01T10:00:00Z";
    let l = lookup(&[
        assume_role("e1", at, u.clone(), &role, "s", "ASIAFIRST00000000001"),
        assume_role("e2", at, u, &role, "s", "ASIASECOND0000000001"),
        call(
            "c1",
            "2024-05-01T10:01:00Z",
            role_session(A, "R", "s", Some("ASIAFIRST00000000001"), at),
            "ListBuckets",
            "198.51.100.7",
        ),
        call(
            "c2",
            "2024-05-01T10:02:00Z",
            role_session(A, "R", "s", Some("ASIASECOND0000000001"), at),
            "ListBuckets",
            "198.51.100.7",
        ),
        // A service acting with the session: same ARN and creationDate, no key.
        call(
            "c3",
            "2024-05-01T10:03:00Z",
            role_session(A, "R", "s", None, at),
            "Decrypt",
            "kms.amazonaws.com",
        ),
    ]);
    let out = resolve(
        &l,
        &Subject::AccessKey("ASIAFIRST00000000001".into()),
        None,
        None,
    )
    .unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(
        out[0].access_key_ids,
        vec!["ASIAFIRST00000000001".to_string()]
    );
    assert_eq!(out[0].rows.len(), 2, "the keyless service row joins");
    assert!(
        out[0]
            .notes
            .iter()
            .any(|n| n.contains("ASIASECOND0000000001") && n.contains("separate"))
    );
}

#[test]
fn role_arn_name_and_principal_find_sessions() {
    let l = recycled();
    let by_role = resolve(
        &l,
        &Subject::Arn(format!("arn:aws:iam::{A}:role/R1")),
        None,
        None,
    )
    .unwrap();
    assert_eq!(by_role.len(), 1);
    assert!(
        by_role[0]
            .arn
            .as_deref()
            .unwrap()
            .ends_with("assumed-role/R1/a")
    );
    let by_name = resolve(&l, &Subject::parse("b"), None, None).unwrap();
    assert_eq!(by_name.len(), 1);
    let by_pid = resolve(&l, &Subject::PrincipalId("AROAR1:a".into()), None, None).unwrap();
    assert_eq!(by_pid.len(), 1);
    assert!(by_pid[0].arn.as_deref().unwrap().ends_with("R1/a"));
}

#[test]
fn issued_but_unused_credentials_are_still_a_session() {
    let u = user(A, "alice", Some("AKIAALICE00000000001"));
    let l = lookup(&[assume_role(
        "e1",
        "2024-05-01T10:00:00Z",
        u,
        &format!("arn:aws:iam::{A}:role/R"),
        "s",
        "ASIAUNUSED0000000001",
    )]);
    let out = resolve(&l, &Subject::parse("ASIAUNUSED0000000001"), None, None).unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].first_seen, None);
    assert_eq!(out[0].creation_date, Some(t("2024-05-01T10:00:00Z")));
    assert_eq!(out[0].identity_type.as_deref(), Some("AssumedRole"));
    assert!(out[0].notes[0].contains("known only from AssumeRole e1"));
    // Outside the credentials' life: nothing.
    let w = Window {
        start: t("2031-01-01T00:00:00Z"),
        end: t("2031-01-02T00:00:00Z"),
    };
    assert!(
        resolve(&l, &Subject::parse("ASIAUNUSED0000000001"), Some(w), None)
            .unwrap()
            .is_empty()
    );
}
