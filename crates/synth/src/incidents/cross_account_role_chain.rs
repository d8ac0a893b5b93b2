//! A user's key hopping through three accounts by AssumeRole (dev to prod to security to
//! management), then discovery as the management account's admin.

use super::*;

pub(super) fn cross_account_role_chain(w: &World, seed: u64, anchor: i64) -> Incident {
    let mut sc = Scene::new(w, seed, 3);
    let deployer = user(w, &mut sc.rng, DEV, "ci-legacy-deployer");
    let role_b = role(w, &mut sc.rng, PROD, "/", "cross-account-deployer");
    let role_c = role(w, &mut sc.rng, SEC, "/", "incident-response-automation");
    let role_d = role(w, &mut sc.rng, MGMT, "/", "admin");
    let ip = "203.0.113.128";

    // decoy: the real IT admin session on admin/itadmin, four hours earlier, assumed
    // from an Identity Center CLI session in the security account
    let alice = w.person(&mut sc.rng, "alice.nguyen");
    let sso_role = w.sso(SEC, "AdministratorAccess").clone();
    let td = anchor - 4 * 3600;
    let credential_id = sc.rng.mixed_alnum(32);
    let idc = cred::identity_center_user(
        &w.accounts[MGMT].id,
        &alice.user_id,
        &w.identity_store_arn(),
        &credential_id,
    );
    for p in emit::portal_sign_in(
        &mut sc.rng,
        w,
        td - 300,
        &idc,
        &alice.email,
        OFFICE_IPS[0],
        BROWSERS[0],
    ) {
        sc.put(p);
    }
    let req = format!(
        "{{\"roleName\":\"AdministratorAccess\",\"accountId\":\"{}\"}}",
        w.accounts[SEC].id
    );
    let p = emit::portal_call(
        &mut sc.rng,
        w,
        td - 240,
        &idc,
        "GetRoleCredentials",
        Some(&req),
        OFFICE_IPS[0],
        UA_CLI_MAC,
    );
    sc.put(p);
    let k = sc.rng.access_key("ASIA", w.accounts[SEC].num);
    let alice_sec = Sess::new(
        w,
        Cred::role(&sso_role, &alice.email, td - 240),
        SEC,
        &k,
        OFFICE_IPS[0],
        UA_CLI_MAC,
    )
    .cli();
    let dk = sc.rng.access_key("ASIA", w.accounts[MGMT].num);
    sc.assume(&Assume {
        t: td,
        region: HOME,
        caller: AssumeCaller::Principal {
            identity: &alice_sec.ident,
            acct: SEC,
            principal_id: &alice_sec.cred.principal_id,
            ip: OFFICE_IPS[0],
            ua: UA_CLI_MAC,
            tls: Some(true),
        },
        role: &role_d,
        session: "itadmin",
        duration: 3600,
        key: &dk,
        assumed_user: true,
        external_id: None,
        invoked_internally: false,
    });
    let mut decoy = Sess::new(
        w,
        Cred::role(&role_d, "itadmin", td),
        MGMT,
        &dk,
        OFFICE_IPS[0],
        UA_CLI_MAC,
    )
    .cli();
    sc.calls(
        td + 5,
        &mut decoy,
        (15, 200),
        &[
            ok(Src::Sts, "GetCallerIdentity", HOME),
            ok(Src::Org, "ListAccounts", HOME),
            ok(Src::Org, "DescribeOrganization", HOME),
            ok(Src::Iam, "ListRoles", HOME),
            ok(Src::Iam, "GetRole", HOME),
            ok(Src::Iam, "ListAttachedRolePolicies", HOME),
            ok(Src::Trail, "GetTrailStatus", HOME),
            ok(Src::Ec2, "DescribeInstances", HOME),
            ok(Src::Org, "ListAccounts", HOME),
            ok(Src::S3, "ListBuckets", HOME),
        ],
    );

    // the attack
    let key_a = sc.rng.access_key("AKIA", w.accounts[DEV].num);
    let mut origin = Sess::new(w, Cred::user(&deployer), DEV, &key_a, ip, UA_OLD_CLI_KALI);
    let mut t = anchor;
    let first = sc.call_ok(t, &mut origin, HOME, Src::Sts, "GetCallerIdentity");
    t += 9;
    sc.call(t, &mut origin, HOME, Src::Iam, "ListRoles", Outcome::Denied);

    let mut links = Vec::new();
    let hop =
        |sc: &mut Scene<'_>, t: i64, caller: &mut Sess, role: &Role, session: &str, acct: usize| {
            let key = sc.rng.access_key("ASIA", w.accounts[acct].num);
            let ids = sc.assume(&Assume {
                t,
                region: HOME,
                caller: AssumeCaller::Principal {
                    identity: &caller.ident,
                    acct: caller.acct,
                    principal_id: &caller.cred.principal_id,
                    ip,
                    ua: UA_OLD_CLI_KALI,
                    tls: Some(true),
                },
                role,
                session,
                duration: 3600,
                key: &key,
                assumed_user: true,
                external_id: None,
                invoked_internally: false,
            });
            let next = Sess::new(
                w,
                Cred::role(role, session, t),
                acct,
                &key,
                ip,
                UA_OLD_CLI_KALI,
            );
            let link = sc.link("AssumeRole", &ids, Some(&*caller), &next, Some(&key));
            (next, link, ids)
        };
    t += 16;
    let (mut s1, l1, ids1) = hop(&mut sc, t, &mut origin, &role_b, "ci-deploy", PROD);
    links.push(l1);
    t = sc.calls(
        t,
        &mut s1,
        (4, 40),
        &[
            ok(Src::Sts, "GetCallerIdentity", HOME),
            ok(Src::Iam, "ListRoles", HOME),
            ok(Src::Iam, "ListAttachedRolePolicies", HOME),
            ok(Src::Iam, "GetRole", HOME),
            ok(Src::S3, "ListBuckets", HOME),
        ],
    );
    t = t.max(anchor + 300);
    let (mut s2, l2, _) = hop(&mut sc, t, &mut s1, &role_c, "audit", SEC);
    links.push(l2);
    t = sc.calls(
        t,
        &mut s2,
        (4, 40),
        &[
            ok(Src::Sts, "GetCallerIdentity", HOME),
            ok(Src::Iam, "ListRoles", HOME),
            ok(Src::Iam, "ListRolePolicies", HOME),
            ok(Src::GuardDuty, "ListDetectors", HOME),
        ],
    );
    t = t.max(anchor + 540);
    let (mut s3, l3, _) = hop(&mut sc, t, &mut s2, &role_d, "itadmin", MGMT);
    links.push(l3);
    let discovery = [
        ok(Src::Sts, "GetCallerIdentity", HOME),
        ok(Src::Org, "DescribeOrganization", HOME),
        ok(Src::Org, "ListAccounts", HOME),
        ok(Src::Org, "ListRoots", HOME),
        ok(Src::Org, "ListOrganizationalUnitsForParent", HOME),
        ok(Src::Org, "ListPolicies", HOME),
        ok(Src::Org, "ListDelegatedAdministrators", HOME),
        ok(Src::Org, "ListAWSServiceAccessForOrganization", HOME),
        ok(Src::Iam, "ListUsers", HOME),
        ok(Src::Iam, "ListRoles", HOME),
        ok(Src::Iam, "GetAccountAuthorizationDetails", HOME),
        ok(Src::Iam, "ListAccessKeys", HOME),
        ok(Src::Iam, "GetAccountSummary", HOME),
        ok(Src::Iam, "ListSAMLProviders", HOME),
        ok(Src::Iam, "ListOpenIDConnectProviders", HOME),
        ok(Src::Iam, "GetAccountPasswordPolicy", HOME),
        ok(Src::S3, "ListBuckets", HOME),
        ok(Src::S3, "GetBucketPolicy", HOME),
        ok(Src::S3, "GetBucketPolicy", HOME),
        ok(Src::S3, "GetBucketAcl", HOME),
        ok(Src::Ec2, "DescribeInstances", HOME),
        ok(Src::Ec2, "DescribeInstances", 1),
        ok(Src::Ec2, "DescribeInstances", 2),
        ok(Src::Ec2, "DescribeSecurityGroups", HOME),
        ok(Src::Ec2, "DescribeVpcs", HOME),
        ok(Src::Trail, "DescribeTrails", HOME),
        ok(Src::Trail, "GetTrailStatus", HOME),
        ok(Src::Trail, "GetEventSelectors", HOME),
        ok(Src::GuardDuty, "ListDetectors", HOME),
        ok(Src::Kms, "ListKeys", HOME),
        ok(Src::Secrets, "ListSecrets", HOME),
        ok(Src::Lambda, "ListFunctions20150331", HOME),
        ok(Src::Rds, "DescribeDBInstances", HOME),
        ok(Src::Iam, "ListUsers", HOME),
        ok(Src::Org, "ListAccounts", HOME),
    ];
    sc.calls(t + 3, &mut s3, (8, 70), &discovery);

    let description = format!(
        "Access key {key_a} of IAM user {} in the dev account ({}) was used from {ip} to hop through three accounts: AssumeRole into cross-account-deployer in prod ({}), from there into incident-response-automation in security ({}), and from there into admin in the management account ({}) with session name itadmin, which then ran discovery across Organizations, IAM, S3, EC2, CloudTrail and GuardDuty. Every cross-account AssumeRole has a caller copy and an AWSAccount copy sharing a sharedEventID. A legitimate admin/itadmin session four hours earlier (same ARN, another creationDate and key) is not part of it.",
        deployer.name,
        w.accounts[DEV].id,
        w.accounts[PROD].id,
        w.accounts[SEC].id,
        w.accounts[MGMT].id
    );
    let origin_truth = Origin {
        kind: "IAMUser".into(),
        identifier: deployer.arn(),
        account: w.accounts[DEV].id.clone(),
        evidence_event_ids: vec![first, ids1.caller.clone().expect("caller copy")],
    };
    let decoys = vec![decoy.decoy("same_arn_other_session")];
    let selection = format!(
        "All events of the four attacker sessions: user key {key_a}, and the role sessions ci-deploy, audit and itadmin created by the chain (the AWSAccount copies in the role owners' accounts carry no access key and are not counted). The admin/itadmin session created {} is not counted.",
        iso(td)
    );
    let meta = Meta {
        seed,
        index: 3,
        description,
        selection,
        subject: &s3,
        origin: origin_truth,
        chain: links,
        flags: &["cross_account", "discovery", "long_term_key", "role_chain"],
        decoys,
        finding_type: "Discovery:IAMUser/AnomalousBehavior",
        finding_api: ("organizations.amazonaws.com", "ListAccounts"),
        finding_ip: ip.to_string(),
        severity: 5.0,
        title: "The API ListAccounts was invoked using a role session in an anomalous way.",
        remote_account: None,
    };
    let sessions = vec![&origin, &s1, &s2, &s3];
    sc.finish(meta, sessions, None)
}
