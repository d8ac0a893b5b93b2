//! Identity Center credentials used from elsewhere: portal sign-in, console session, a
//! role switch into prod, secrets and customer exports read; the owner's and a colleague's
//! sessions on the same role as decoys.

use super::*;

pub(super) fn identity_center_console(w: &World, seed: u64, anchor: i64) -> Incident {
    let mut sc = Scene::new(w, seed, 1);
    let dev_role = w.sso(DEV, "DeveloperAccess").clone();
    let prod_role = role(w, &mut sc.rng, PROD, "/", "prod-support");
    let dana = w.person(&mut sc.rng, "dana.whitfield");
    let sam = w.person(&mut sc.rng, "sam.oduya");
    let dana_home = "71.202.16.145";

    // decoy: Dana's own session on the same role earlier that day
    let (mut earlier, ..) = sc.sso_console_as(
        anchor - 3 * 3600,
        &dana.email,
        &dana.user_id,
        &dev_role,
        "DeveloperAccess",
        (dana_home, BROWSERS[0]),
        false,
        true,
    );
    sc.calls(
        anchor - 3 * 3600 + 20,
        &mut earlier,
        (30, 240),
        &[
            ok(Src::Lambda, "ListFunctions20150331", HOME),
            ok(Src::Lambda, "GetFunction20150331v2", HOME),
            ok(Src::Logs, "DescribeLogGroups", HOME),
            ok(Src::Logs, "DescribeLogStreams", HOME),
            ok(Src::Logs, "FilterLogEvents", HOME),
            ok(Src::Logs, "StartQuery", HOME),
            ok(Src::Logs, "GetQueryResults", HOME),
            ok(Src::Monitoring, "DescribeAlarms", HOME),
            ok(Src::Monitoring, "GetMetricData", HOME),
            ok(Src::Ddb, "ListTables", HOME),
            ok(Src::Ddb, "DescribeTable", HOME),
            ok(Src::Cfn, "DescribeStacks", HOME),
            ok(Src::Cfn, "DescribeStackEvents", HOME),
            ok(Src::Ec2, "DescribeInstances", HOME),
        ],
    );
    // decoy: a colleague on the same permission set role
    let (mut colleague, ..) = sc.sso_console_as(
        anchor - 70 * 60,
        &sam.email,
        &sam.user_id,
        &dev_role,
        "DeveloperAccess",
        (OFFICE_IPS[2], BROWSERS[1]),
        false,
        true,
    );
    sc.calls(
        anchor - 70 * 60 + 15,
        &mut colleague,
        (20, 200),
        &[
            ok(Src::Ec2, "DescribeInstances", HOME),
            ok(Src::Ec2, "DescribeInstanceStatus", HOME),
            ok(Src::Ec2, "DescribeSecurityGroups", HOME),
            ok(Src::S3, "ListBuckets", HOME),
            ok(Src::S3, "ListObjects", HOME),
            ok(Src::Ssm, "DescribeParameters", HOME),
            ok(Src::Ssm, "GetParameter", HOME),
            ok(Src::Ecs, "DescribeServices", HOME),
            ok(Src::Logs, "FilterLogEvents", HOME),
            ok(Src::Iam, "GetRole", HOME),
        ],
    );

    // the attack: Dana's Identity Center credentials used from elsewhere
    let ip = "198.51.100.77";
    let (mut dev_sess, evidence, saml_id, login_id) = sc.sso_console_as(
        anchor,
        &dana.email,
        &dana.user_id,
        &dev_role,
        "DeveloperAccess",
        (ip, UA_FIREFOX_WIN),
        true,
        true,
    );
    let mut t = sc.calls(
        anchor + 25,
        &mut dev_sess,
        (8, 60),
        &[
            ok(Src::Iam, "ListRoles", HOME),
            ok(Src::Sts, "GetCallerIdentity", HOME),
            ok(Src::S3, "ListBuckets", HOME),
            ok(Src::Ec2, "DescribeInstances", HOME),
            ok(Src::Ec2, "DescribeInstances", 1),
            ok(Src::Ec2, "DescribeInstances", 2),
            ok(Src::Secrets, "ListSecrets", HOME),
            ok(Src::Org, "DescribeOrganization", HOME),
            ok(Src::Iam, "ListRoles", HOME),
            ok(Src::Iam, "GetRole", HOME),
            ok(Src::Ssm, "DescribeParameters", HOME),
            ok(Src::Lambda, "ListFunctions20150331", HOME),
        ],
    );
    // console role switch into prod
    t = t.max(anchor + 12 * 60) + 7;
    dev_sess.rotate_console(&mut sc.rng, HOME, t);
    let switch_key_caller = dev_sess.key.clone();
    let issued_unused = sc.rng.access_key("ASIA", w.accounts[PROD].num);
    let mut prod_sess = Sess::new(
        w,
        Cred::role(&prod_role, &dana.email, t),
        PROD,
        &issued_unused,
        ip,
        UA_FIREFOX_WIN,
    )
    .console();
    prod_sess.keys.clear();
    let ids = sc.assume(&Assume {
        t,
        region: HOME,
        caller: AssumeCaller::Principal {
            identity: &dev_sess.ident,
            acct: DEV,
            principal_id: &dev_sess.cred.principal_id,
            ip,
            ua: UA_FIREFOX_WIN,
            tls: None,
        },
        role: &prod_role,
        session: &dana.email,
        duration: 3600,
        key: &issued_unused,
        assumed_user: true,
        external_id: None,
        invoked_internally: true,
    });
    let who = prod_sess.cred.render(None, None);
    let additional = format!(
        "{{\"SwitchFrom\":\"{}\",\"RedirectTo\":\"https://us-east-1.console.aws.amazon.com/secretsmanager/listsecrets?region=us-east-1\"}}",
        dev_sess.cred.arn
    );
    let switch = emit::signin_event(
        &mut sc.rng,
        w,
        &SignIn {
            t,
            acct: PROD,
            identity: &who,
            name: "SwitchRole",
            ip,
            ua: UA_FIREFOX_WIN,
            response: Some("{\"SwitchRole\":\"Success\"}"),
            additional: Some(&additional),
            error: None,
        },
    );
    let switch_id = sc.put(switch);

    // secrets and customer data in prod, with the switched console session
    let mut fas = prod_sess.invoked(&mut sc.rng, w, "secretsmanager.amazonaws.com");
    fas.keys.clear();
    let prod = &w.accounts[PROD];
    let exports = prod.buckets[0].clone();
    t = sc.calls(
        t + 20,
        &mut prod_sess,
        (5, 40),
        &[
            ok(Src::Secrets, "ListSecrets", HOME),
            ok(Src::Secrets, "DescribeSecret", HOME),
            ok(Src::Secrets, "DescribeSecret", HOME),
        ],
    );
    for (i, outcome) in [
        (0, Outcome::Normal),
        (2, Outcome::Normal),
        (1, Outcome::Denied),
        (0, Outcome::Normal),
        (3, Outcome::Denied),
        (2, Outcome::Normal),
    ] {
        t += sc.rng.range(10, 90);
        let arn = prod.secret_arn("us-east-1", i);
        sc.get_secret(t, &mut prod_sess, HOME, arn, outcome);
        if outcome == Outcome::Normal {
            let key = sc.rng.access_key("ASIA", prod.num);
            fas.set_key(&key);
            let arn = prod.secret_arn("us-east-1", i);
            let g = move |f: &mut Fill<'_>| {
                f.s.req.push_str(&format!(
                    "{{\"encryptionAlgorithm\":\"SYMMETRIC_DEFAULT\",\"encryptionContext\":{{\"SecretARN\":\"{arn}\"}}}}"
                ));
                let key_id = f.acct.kms_keys[0].clone();
                f.s.res.push_str(&format!(
                    "[{{\"accountId\":\"{a}\",\"type\":\"AWS::KMS::Key\",\"ARN\":\"arn:aws:kms:us-east-1:{a}:key/{key_id}\"}}]",
                    a = f.acct.id
                ));
            };
            sc.call_gen(
                t,
                &mut fas,
                HOME,
                Src::Kms,
                "Decrypt",
                Outcome::Normal,
                Some(&g),
            );
        }
    }
    t += 60;
    sc.call_ok(t, &mut prod_sess, HOME, Src::S3, "ListBuckets");
    let b = exports.clone();
    t += 14;
    sc.call_gen(
        t,
        &mut prod_sess,
        HOME,
        Src::S3,
        "GetBucketPolicy",
        Outcome::Normal,
        Some(&move |f: &mut Fill<'_>| f.s3_bucket(&b, "policy")),
    );
    for i in 0..9 {
        t += sc.rng.range(4, 50);
        let b = exports.clone();
        let key = format!("exports/2026/customers-{:02}.csv.gz", i + 1);
        sc.get_object(t, &mut prod_sess, HOME, b, key);
    }

    let mut prod_truth = prod_sess.clone();
    prod_truth.keys.extend(fas.keys.iter().cloned());
    let chain = vec![
        ChainLink {
            method: "AssumeRoleWithSAML".into(),
            event_id: saml_id,
            shared_event_id: None,
            other_copy_event_ids: Vec::new(),
            time: iso(anchor),
            caller_arn: None,
            caller_access_key_id: None,
            issued_access_key_id: Some(dev_sess.keys[0].clone()),
            issued_arn: dev_sess.cred.arn.clone(),
            issued_creation_date: iso(anchor),
        },
        ChainLink {
            method: "ConsoleLogin".into(),
            event_id: login_id,
            shared_event_id: None,
            other_copy_event_ids: Vec::new(),
            time: iso(anchor + 1),
            caller_arn: Some(dev_sess.cred.arn.clone()),
            caller_access_key_id: Some(dev_sess.keys[0].clone()),
            issued_access_key_id: None,
            issued_arn: dev_sess.cred.arn.clone(),
            issued_creation_date: iso(anchor),
        },
        ChainLink {
            method: "SwitchRole".into(),
            event_id: switch_id,
            shared_event_id: ids.shared.clone(),
            other_copy_event_ids: ids.caller.iter().chain(ids.owner.iter()).cloned().collect(),
            time: iso(ids.time),
            caller_arn: Some(dev_sess.cred.arn.clone()),
            caller_access_key_id: Some(switch_key_caller),
            issued_access_key_id: None,
            issued_arn: prod_sess.cred.arn.clone(),
            issued_creation_date: iso(ids.time),
        },
    ];
    let description = format!(
        "The Identity Center user {} signed in to the access portal from {ip} with a browser she does not use, federated into the {} account ({}) as {} and used the console (keys minted by the console, no issuing events). She switched roles into prod-support in the prod account ({}) and read secrets (two GetSecretValue calls were denied) and customer exports from S3. Earlier the same day she used the same role from home, and a colleague uses the same permission set role: neither is part of the incident.",
        dana.email, "acme-dev", w.accounts[DEV].id, dev_role.name, prod.id
    );
    let origin = Origin {
        kind: "IdentityCenterUser".into(),
        identifier: dana.email.clone(),
        account: w.accounts[MGMT].id.clone(),
        evidence_event_ids: evidence,
    };
    let decoys = vec![
        earlier.decoy("same_user_other_session"),
        colleague.decoy("same_role_other_user"),
    ];
    let selection = format!(
        "All events of the console session {} created {} (every console key, including the SAML-issued key on ConsoleLogin and the key on the AssumeRole made for the role switch), and of the switched session {} created {} (console keys and the keys Secrets Manager used on its behalf). Dana's session on the same role ARN created {} and the colleague's session are not counted.",
        dev_sess.cred.arn,
        iso(anchor),
        prod_sess.cred.arn,
        iso(ids.time),
        iso(anchor - 3 * 3600)
    );
    let meta = Meta {
        seed,
        index: 1,
        description,
        selection,
        subject: &prod_sess,
        origin,
        chain,
        flags: &[
            "console_session",
            "cross_account",
            "identity_center",
            "secrets_access",
            "switch_role",
            "data_access",
        ],
        decoys,
        finding_type: "CredentialAccess:IAMUser/AnomalousBehavior",
        finding_api: ("secretsmanager.amazonaws.com", "GetSecretValue"),
        finding_ip: ip.to_string(),
        severity: 8.0,
        title: "The API GetSecretValue was invoked using a session of an Identity Center user in an anomalous way.",
        remote_account: None,
    };
    sc.finish(meta, vec![&dev_sess, &prod_truth], None)
}
