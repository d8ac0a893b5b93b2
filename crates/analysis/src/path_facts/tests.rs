use super::rules::parse_rules;
use super::*;
use backtrail_model::{Identity, MemoryLookup};

fn ev(id: &str, t: Millis, source: &str, name: &str, req: &str) -> Event {
    Event {
        event_time: t,
        event_id: id.into(),
        event_name: name.into(),
        event_source: source.into(),
        recipient_account_id: Some("111122223333".into()),
        source_ip: Some("203.0.113.9".into()),
        request_parameters: (!req.is_empty()).then(|| req.to_string()),
        identity: Identity {
            kind: Some("IAMUser".into()),
            arn: Some("arn:aws:iam::111122223333:user/u".into()),
            account_id: Some("111122223333".into()),
            ..Default::default()
        },
        ..Default::default()
    }
}

fn facts(events: &[Event]) -> Vec<PathFlag> {
    let who = WhoReport {
        subject: "s".into(),
        subject_kind: "arn".into(),
        window_start: None,
        window_end: None,
        ip_hint: None,
        sessions: Vec::new(),
        notes: Vec::new(),
    };
    let keys = vec!["AKIA1".to_string()];
    let s = [PathSession {
        arn: Some("arn:aws:iam::111122223333:user/u"),
        access_key_ids: &keys,
        spawned_by: None,
        events,
    }];
    path_flags(
        &MemoryLookup::default(),
        &who,
        &s,
        &["111122223333".to_string()],
    )
    .unwrap()
}

fn kinds(f: &[PathFlag]) -> Vec<PathFlagKind> {
    f.iter().map(|f| f.kind).collect()
}

#[test]
fn the_rule_tables_parse() {
    let r = parse_rules().unwrap();
    assert!(r.data.len() >= 10 && r.exfil.len() >= 5 && r.denied.contains("AccessDenied"));
}

#[test]
fn few_reads_are_data_access_and_parameters_need_decryption() {
    let t = 1_700_000_000_000;
    let mut kms_by_service = ev("k", t, "kms.amazonaws.com", "Decrypt", "");
    kms_by_service.identity.invoked_by = Some("secretsmanager.amazonaws.com".into());
    let mut denied_get = ev("d", t, "s3.amazonaws.com", "GetObject", "");
    denied_get.error_code = Some("AccessDenied".into());
    let f = facts(&[
        ev(
            "g",
            t,
            "s3.amazonaws.com",
            "GetObject",
            r#"{"bucketName":"b","key":"k"}"#,
        ),
        ev(
            "p",
            t,
            "ssm.amazonaws.com",
            "GetParameter",
            r#"{"name":"/x","withDecryption":true}"#,
        ),
        ev(
            "q",
            t,
            "ssm.amazonaws.com",
            "GetParameter",
            r#"{"name":"/y"}"#,
        ),
        kms_by_service,
        denied_get,
    ]);
    assert_eq!(kinds(&f), vec![PathFlagKind::DataAccess]);
    assert_eq!(f[0].count, 2);
    assert_eq!(f[0].evidence_event_ids, vec!["g", "p"]);
}

#[test]
fn shares_with_foreign_or_public_are_exfiltration_but_ours_are_not() {
    let t = 1_700_000_000_000;
    let f = facts(&[
        ev(
            "a",
            t,
            "ec2.amazonaws.com",
            "ModifySnapshotAttribute",
            r#"{"snapshotId":"snap-1","createVolumePermission":{"add":{"items":[{"userId":"012345678912"}]}}}"#,
        ),
        ev(
            "b",
            t,
            "ec2.amazonaws.com",
            "ModifyImageAttribute",
            r#"{"imageId":"ami-1","launchPermission":{"add":{"items":[{"userId":"111122223333"}]}}}"#,
        ),
        ev(
            "c",
            t,
            "rds.amazonaws.com",
            "ModifyDBSnapshotAttribute",
            r#"{"dBSnapshotIdentifier":"x","attributeName":"restore","valuesToAdd":["all"]}"#,
        ),
        ev(
            "d",
            t,
            "s3.amazonaws.com",
            "PutBucketPolicy",
            r#"{"bucketName":"b","bucketPolicy":{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::193672423079:root"},"Action":"s3:GetObject"}]}}"#,
        ),
        ev(
            "e",
            t,
            "s3.amazonaws.com",
            "PutBucketPolicy",
            r#"{"bucketName":"b","bucketPolicy":{"Statement":[{"Effect":"Allow","Principal":{"Service":"cloudtrail.amazonaws.com"},"Action":"s3:PutObject"}]}}"#,
        ),
        ev(
            "f",
            t,
            "s3.amazonaws.com",
            "PutBucketAcl",
            r#"{"bucketName":"b","x-amz-acl":["public-read"]}"#,
        ),
    ]);
    assert_eq!(kinds(&f), vec![PathFlagKind::Exfiltration]);
    assert_eq!(f[0].evidence_event_ids, vec!["a", "c", "d", "f"]);
    assert!(
        f[0].detail.contains("account 012345678912"),
        "{}",
        f[0].detail
    );
    assert!(f[0].detail.contains("public"), "{}", f[0].detail);
}

#[test]
fn denial_bursts_follow_the_stated_rule() {
    let t = 1_700_000_000_000;
    let denied = |i: usize, gap: Millis| {
        let mut e = ev(
            &format!("d{i:02}"),
            t + i as Millis * gap,
            "iam.amazonaws.com",
            "ListUsers",
            "",
        );
        e.error_code = Some("AccessDenied".into());
        e.error_message = Some(
                "User: arn:aws:iam::111122223333:user/u is not authorized to perform: iam:ListUsers on resource: arn:aws:iam::111122223333:user/".into(),
            );
        e
    };
    // Nine in a minute among many successes: neither rule.
    let mut few: Vec<Event> = (0..9).map(|i| denied(i, 1_000)).collect();
    few.extend((0..20).map(|i| {
        ev(
            &format!("ok{i}"),
            t,
            "sts.amazonaws.com",
            "GetCallerIdentity",
            "",
        )
    }));
    assert!(facts(&few).is_empty());
    // Ten in a minute: a burst.
    let burst: Vec<Event> = (0..10).map(|i| denied(i, 1_000)).collect();
    let f = facts(&burst);
    assert_eq!(kinds(&f), vec![PathFlagKind::AccessDeniedBurst]);
    assert!(f[0].detail.contains("iam:ListUsers ×10"), "{}", f[0].detail);
    // Ten spread over hours but all of the session's calls: the share rule.
    let spread: Vec<Event> = (0..10).map(|i| denied(i, 3_600_000)).collect();
    let f = facts(&spread);
    assert!(
        f[0].detail.contains("10 of the 10 calls"),
        "{}",
        f[0].detail
    );
}
