//! Two role sessions holding the same temporary key id at overlapping times: a Lambda
//! function's and an attacker's, who opened a bucket to another account.

use super::*;

pub(super) fn recycled_access_key(w: &World, seed: u64, anchor: i64) -> Incident {
    let mut sc = Scene::new(w, seed, 4);
    let prod = &w.accounts[PROD];
    let partner = user(w, &mut sc.rng, PROD, "partner-sftp-sync");
    let export_role = role(w, &mut sc.rng, PROD, "/", "data-export-role");
    let twin_role = role(
        w,
        &mut sc.rng,
        PROD,
        "/service-role/",
        "invoice-exporter-role",
    );
    let recycled = sc.rng.access_key("ASIA", prod.num);
    let ip = "198.51.100.14";

    // the benign twin: a Lambda function that gets the same key id ten minutes earlier
    let t_twin = anchor - 600;
    sc.assume(&Assume {
        t: t_twin,
        region: HOME,
        caller: AssumeCaller::Service {
            service: "lambda.amazonaws.com",
        },
        role: &twin_role,
        session: "invoice-exporter",
        duration: 43_200,
        key: &recycled,
        assumed_user: true,
        external_id: None,
        invoked_internally: false,
    });
    let fn_arn = format!(
        "arn:aws:lambda:us-east-1:{}:function:invoice-exporter",
        prod.id
    );
    let twin_cred = Cred::role(&twin_role, "invoice-exporter", t_twin).with_scope(Scope::Lambda {
        function_arn: fn_arn,
    });
    let lambda_ip = aws_ip(&mut sc.rng, HOME);
    let mut twin = Sess::new(w, twin_cred, PROD, &recycled, &lambda_ip, UA_LAMBDA_PY);
    let mut t = t_twin;
    for i in 0..24 {
        t += sc.rng.range(40, 150);
        let (src, name) = [
            (Src::S3, "GetObject"),
            (Src::S3, "PutObject"),
            (Src::Kms, "GenerateDataKey"),
            (Src::Ddb, "DescribeTable"),
            (Src::Kms, "Decrypt"),
        ][i % 5];
        sc.call_ok(t, &mut twin, HOME, src, name);
    }

    // the attacker: a partner user's key, then a role session with the recycled key id
    let key_p = sc.rng.access_key("AKIA", prod.num);
    let mut origin = Sess::new(w, Cred::user(&partner), PROD, &key_p, ip, UA_PY_SCRIPT);
    let first = sc.call_ok(anchor, &mut origin, HOME, Src::Sts, "GetCallerIdentity");
    let t_atk = anchor + 20;
    let ids = sc.assume(&Assume {
        t: t_atk,
        region: HOME,
        caller: AssumeCaller::Principal {
            identity: &origin.ident,
            acct: PROD,
            principal_id: &partner.id,
            ip,
            ua: UA_PY_SCRIPT,
            tls: Some(true),
        },
        role: &export_role,
        session: "export-job",
        duration: 3600,
        key: &recycled,
        assumed_user: true,
        external_id: None,
        invoked_internally: false,
    });
    let mut atk = Sess::new(
        w,
        Cred::role(&export_role, "export-job", t_atk),
        PROD,
        &recycled,
        ip,
        UA_PY_SCRIPT,
    );
    let exports = prod.buckets[0].clone();
    let mut t = sc.calls(
        t_atk,
        &mut atk,
        (3, 30),
        &[
            ok(Src::Sts, "GetCallerIdentity", HOME),
            ok(Src::S3, "ListBuckets", HOME),
        ],
    );
    let b = exports.clone();
    t += 12;
    sc.call_gen(
        t,
        &mut atk,
        HOME,
        Src::S3,
        "GetBucketPolicy",
        Outcome::Normal,
        Some(&move |f: &mut Fill<'_>| f.s3_bucket(&b, "policy")),
    );
    let b = exports.clone();
    t += 40;
    sc.call_gen(t, &mut atk, HOME, Src::S3, "PutBucketPolicy", Outcome::Normal, Some(&move |f: &mut Fill<'_>| {
        f.s3_bucket(&b, "");
        f.s.req.clear();
        f.s.req.push_str(&format!(
            "{{\"bucketPolicy\":{{\"Version\":\"2012-10-17\",\"Statement\":[{{\"Sid\":\"replication\",\"Effect\":\"Allow\",\"Principal\":{{\"AWS\":\"arn:aws:iam::{ATTACKER_ACCOUNT}:root\"}},\"Action\":[\"s3:GetObject\",\"s3:ListBucket\"],\"Resource\":[\"arn:aws:s3:::{b}\",\"arn:aws:s3:::{b}/*\"]}}]}},\"bucketName\":\"{b}\",\"Host\":\"{b}.s3.us-east-1.amazonaws.com\",\"policy\":\"\"}}"
        ));
    }));
    for i in 0..6 {
        t += sc.rng.range(5, 40);
        let b = exports.clone();
        let key = format!("invoices/2026-09/batch-{:03}.json", 100 + i);
        sc.get_object(t, &mut atk, HOME, b, key);
    }
    for (i, outcome) in [
        (3, Outcome::Normal),
        (3, Outcome::Normal),
        (1, Outcome::Denied),
    ] {
        t += sc.rng.range(20, 120);
        let arn = prod.secret_arn("us-east-1", i);
        sc.get_secret(t, &mut atk, HOME, arn, outcome);
    }
    sc.call_ok(t + 30, &mut atk, HOME, Src::S3, "ListBuckets");

    let chain = vec![sc.link("AssumeRole", &ids, Some(&origin), &atk, Some(&recycled))];
    let description = format!(
        "Two role sessions in the prod account ({}) hold the same temporary key id {recycled} at overlapping times: the Lambda function invoice-exporter's session (invoice-exporter-role, created {}) and a data-export-role session created {} by IAM user {} from {ip}. The attacker's session changed the bucket policy of {exports} to grant account {ATTACKER_ACCOUNT} read access, downloaded invoices and read secrets. Only the data-export-role session is the attacker's; the Lambda twin is benign.",
        prod.id,
        iso(t_twin),
        iso(t_atk),
        partner.name
    );
    let origin_truth = Origin {
        kind: "IAMUser".into(),
        identifier: partner.arn(),
        account: prod.id.clone(),
        evidence_event_ids: vec![first, ids.caller.clone().expect("caller copy")],
    };
    let decoys = vec![twin.decoy("recycled_key_twin")];
    let selection = format!(
        "Events of key {recycled} with arn {} and creationDate {}, plus the partner user's key {key_p}; events of the same key id with arn {} are the benign twin.",
        atk.cred.arn,
        iso(t_atk),
        twin.cred.arn
    );
    let meta = Meta {
        seed,
        index: 4,
        description,
        selection,
        subject: &atk,
        origin: origin_truth,
        chain,
        flags: &[
            "bucket_policy_change",
            "data_access",
            "long_term_key",
            "recycled_access_key",
            "secrets_access",
        ],
        decoys,
        finding_type: "UnauthorizedAccess:IAMUser/MaliciousIPCaller",
        finding_api: ("s3.amazonaws.com", "PutBucketPolicy"),
        finding_ip: ip.to_string(),
        severity: 5.0,
        title: "The API PutBucketPolicy was invoked from a known malicious IP address.",
        remote_account: None,
    };
    sc.finish(meta, vec![&origin, &atk], None)
}
