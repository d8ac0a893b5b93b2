//! A leaked long-term IAM user key: reconnaissance and a backdoor user from the attacker's
//! address, beside the owner's own use of the same key.

use super::*;

pub(super) fn leaked_iam_key(w: &World, seed: u64, anchor: i64) -> Incident {
    let mut sc = Scene::new(w, seed, 0);
    let dev = &w.accounts[DEV];
    let marco = user(w, &mut sc.rng, DEV, "marco.bianchi");
    let key = sc.rng.access_key("AKIA", dev.num);
    let cred = Cred::user(&marco);

    // the owner's own use of the key, from the office, earlier that day
    let mut own = Sess::new(w, cred.clone(), DEV, &key, OFFICE_IPS[1], UA_CLI_MAC).cli();
    let benign = [
        ok(Src::Sts, "GetCallerIdentity", HOME),
        ok(Src::S3, "ListBuckets", HOME),
        ok(Src::Ecr, "DescribeRepositories", HOME),
        ok(Src::Lambda, "ListFunctions20150331", HOME),
        ok(Src::Cfn, "DescribeStacks", HOME),
        ok(Src::Cfn, "DescribeStackEvents", HOME),
        ok(Src::Logs, "FilterLogEvents", HOME),
        ok(Src::Logs, "DescribeLogStreams", HOME),
        ok(Src::S3, "ListObjects", HOME),
        ok(Src::S3, "GetObject", HOME),
        ok(Src::Lambda, "GetFunction20150331v2", HOME),
        ok(Src::Ecr, "GetAuthorizationToken", HOME),
    ];
    let mut t = anchor - 4 * 3600;
    for round in 0..2 {
        t = sc.calls(t, &mut own, (20, 300), &benign);
        t += 1800 * (round + 1);
    }

    // the attacker, with the same key
    let ip = "203.0.113.42";
    let mut atk = Sess::new(w, cred, DEV, &key, ip, UA_KALI_BOTO3);
    let me = marco.name.clone();
    let mut t = anchor;
    let first = sc.call_ok(t, &mut atk, HOME, Src::Sts, "GetCallerIdentity");
    for name in [
        "GetUser",
        "ListAttachedUserPolicies",
        "ListUserPolicies",
        "ListGroupsForUser",
    ] {
        t += sc.rng.range(1, 4);
        let g = iam_user_gen(me.clone(), dev.id.clone());
        sc.call_gen(t, &mut atk, HOME, Src::Iam, name, Outcome::Normal, Some(&g));
    }
    t = sc.calls(
        t,
        &mut atk,
        (1, 6),
        &[
            ok(Src::Iam, "ListUsers", HOME),
            ok(Src::Iam, "ListRoles", HOME),
            ok(Src::Iam, "ListPolicies", HOME),
            denied(Src::Iam, "GetAccountAuthorizationDetails", HOME),
            ok(Src::S3, "ListBuckets", HOME),
            ok(Src::Ec2, "DescribeRegions", HOME),
            ok(Src::Ec2, "DescribeInstances", HOME),
            ok(Src::Ec2, "DescribeInstances", 1),
            ok(Src::Ec2, "DescribeInstances", 2),
            denied(Src::Secrets, "ListSecrets", HOME),
            ok(Src::Lambda, "ListFunctions20150331", HOME),
            ok(Src::Sts, "GetCallerIdentity", HOME),
        ],
    );
    // persistence: a new admin user with keys and a console password
    let backdoor = "svc-backup-sync";
    let backdoor_id = sc.rng.principal_id("AIDA", dev.num);
    let backdoor_key = sc.rng.access_key("AKIA", dev.num);
    t += 41;
    let (acct_id, b) = (dev.id.clone(), backdoor.to_string());
    let (bid, tt) = (backdoor_id.clone(), t);
    sc.call_gen(
        t,
        &mut atk,
        HOME,
        Src::Iam,
        "CreateUser",
        Outcome::Normal,
        Some(&move |f: &mut Fill<'_>| {
            f.s.req.push_str(&format!("{{\"userName\":\"{b}\"}}"));
            f.s.resp.push_str(&crate::catalog::create_user_response(
                &acct_id, &b, &bid, tt,
            ));
        }),
    );
    t += 3;
    let (b, k, tt) = (backdoor.to_string(), backdoor_key.clone(), t);
    sc.call_gen(
        t,
        &mut atk,
        HOME,
        Src::Iam,
        "CreateAccessKey",
        Outcome::Normal,
        Some(&new_access_key(b, k, tt, true)),
    );
    t += 2;
    let b = backdoor.to_string();
    sc.call_gen(
        t,
        &mut atk,
        HOME,
        Src::Iam,
        "AttachUserPolicy",
        Outcome::Normal,
        Some(&move |f: &mut Fill<'_>| {
            f.s.req.push_str(&format!(
                "{{\"userName\":\"{b}\",\"policyArn\":\"arn:aws:iam::aws:policy/AdministratorAccess\"}}"
            ));
        }),
    );
    t += 4;
    let (b, tt) = (backdoor.to_string(), t);
    sc.call_gen(
        t,
        &mut atk,
        HOME,
        Src::Iam,
        "CreateLoginProfile",
        Outcome::Normal,
        Some(&move |f: &mut Fill<'_>| {
            f.s.req.push_str(&format!(
                "{{\"userName\":\"{b}\",\"passwordResetRequired\":false}}"
            ));
            f.s.resp.push_str(&format!(
                "{{\"loginProfile\":{{\"userName\":\"{b}\",\"createDate\":\"{}\",\"passwordResetRequired\":false}}}}",
                iam_date(tt)
            ));
        }),
    );
    sc.calls(
        t,
        &mut atk,
        (5, 30),
        &[
            ok(Src::Iam, "ListAccessKeys", HOME),
            ok(Src::S3, "GetBucketPolicy", HOME),
            ok(Src::S3, "GetBucketAcl", HOME),
            ok(Src::Kms, "ListKeys", HOME),
        ],
    );

    let description = format!(
        "The long-term access key {key} of IAM user {} in account {} (acme-dev) leaked. Its owner used it from the office ({}) in the morning; later the same key was used from {ip} with a Kali Linux boto3 client for reconnaissance (GetCallerIdentity, IAM listing, ListBuckets, DescribeInstances in three regions) and persistence: a new user {backdoor} with an access key, AdministratorAccess and a console password.",
        marco.name, dev.id, OFFICE_IPS[1]
    );
    let decoys = vec![own.decoy("same_key_legitimate_use")];
    let origin = Origin {
        kind: "IAMUser".into(),
        identifier: marco.arn(),
        account: dev.id.clone(),
        evidence_event_ids: vec![first],
    };
    let meta = Meta {
        seed,
        index: 0,
        description,
        selection: format!(
            "Events signed with access key {key} (user {}) whose sourceIPAddress is {ip}, all between {} and {} UTC; the same key's calls from the office address {} earlier that day are the owner's own and are not counted.",
            marco.arn(),
            iso(anchor),
            iso(anchor + 3600),
            OFFICE_IPS[1]
        ),
        subject: &atk,
        origin,
        chain: Vec::new(),
        flags: &[
            "long_term_key",
            "multiple_networks",
            "persistence",
            "reconnaissance",
        ],
        decoys,
        finding_type: "PenTest:IAMUser/KaliLinux",
        finding_api: ("iam.amazonaws.com", "ListUsers"),
        finding_ip: ip.to_string(),
        severity: 5.0,
        title: "API ListUsers was invoked from a Kali Linux computer.",
        remote_account: None,
    };
    sc.finish(meta, vec![&atk], Some(vec![ip.to_string()]))
}
