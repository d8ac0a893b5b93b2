//! A leaked key that mints a second key for the same user and a cross-account role
//! session, and uses both; the user's other key and the role's own owner are benign twins.

use super::*;
use crate::truth::SpawnedTruth;

pub(super) fn key_minting_leaked_key(w: &World, seed: u64, anchor: i64) -> Incident {
    let index = 7;
    let mut sc = Scene::new(w, seed, index);
    let dev = &w.accounts[DEV];
    let prod = &w.accounts[PROD];
    let agent = user(w, &mut sc.rng, DEV, "build-agent");
    let deploy = role(w, &mut sc.rng, PROD, "/", "release-deployer");
    let relmgr = user(w, &mut sc.rng, PROD, "release-manager");
    let session = "build-agent";

    // twin 1: the owner's other key of the same user, from the office
    let k0 = sc.rng.access_key("AKIA", dev.num);
    let mut own = Sess::new(w, Cred::user(&agent), DEV, &k0, OFFICE_IPS[2], UA_CLI_MAC).cli();
    sc.calls(
        anchor - 3 * 3600,
        &mut own,
        (30, 400),
        &[
            ok(Src::Sts, "GetCallerIdentity", HOME),
            ok(Src::Ecr, "DescribeRepositories", HOME),
            ok(Src::Cfn, "DescribeStacks", HOME),
            ok(Src::S3, "ListBuckets", HOME),
            ok(Src::Ecr, "GetAuthorizationToken", HOME),
        ],
    );
    // twin 2: the release manager's own session on the same role ARN (same account)
    let kr = sc.rng.access_key("AKIA", prod.num);
    let mut rm = Sess::new(w, Cred::user(&relmgr), PROD, &kr, OFFICE_IPS[0], UA_CLI_MAC).cli();
    let tr = anchor - 2 * 3600;
    sc.call_ok(tr - 20, &mut rm, HOME, Src::Sts, "GetCallerIdentity");
    let kt = sc.rng.access_key("ASIA", prod.num);
    sc.assume(&Assume {
        t: tr,
        region: HOME,
        caller: AssumeCaller::Principal {
            identity: &rm.ident,
            acct: PROD,
            principal_id: &rm.cred.principal_id,
            ip: OFFICE_IPS[0],
            ua: UA_CLI_MAC,
            tls: Some(true),
        },
        role: &deploy,
        session,
        duration: 3600,
        key: &kt,
        assumed_user: true,
        external_id: None,
        invoked_internally: false,
    });
    let mut twin = Sess::new(
        w,
        Cred::role(&deploy, session, tr),
        PROD,
        &kt,
        OFFICE_IPS[0],
        UA_CLI_MAC,
    )
    .cli();
    let mut t = tr;
    for (i, name) in ["GetCallerIdentity", "ListBuckets", "PutObject", "PutObject"]
        .into_iter()
        .enumerate()
    {
        t += sc.rng.range(5, 60);
        if name == "PutObject" {
            let g = object(prod.buckets[0].clone(), format!("releases/v4.{i}.tgz"));
            sc.home_call(t, &mut twin, Src::S3, name, &g);
        } else {
            let src = if name == "ListBuckets" {
                Src::S3
            } else {
                Src::Sts
            };
            sc.call_ok(t, &mut twin, HOME, src, name);
        }
    }

    // the attacker, with the leaked key k1
    let ip = "198.51.100.77";
    let k1 = sc.rng.access_key("AKIA", dev.num);
    let mut atk = Sess::new(w, Cred::user(&agent), DEV, &k1, ip, UA_KALI_CLI);
    let mut t = anchor;
    let first = sc.call_ok(t, &mut atk, HOME, Src::Sts, "GetCallerIdentity");
    t += 4;
    let g = iam_user_gen(agent.name.clone(), dev.id.clone());
    sc.home_call(t, &mut atk, Src::Iam, "ListAccessKeys", &g);
    // a second key of the same user: no userName, so IAM acts on the caller
    t += 7;
    let k2 = sc.rng.access_key("AKIA", dev.num);
    let (name, key2, tt) = (agent.name.clone(), k2.clone(), t);
    let mint_key = sc.call_gen(
        t,
        &mut atk,
        HOME,
        Src::Iam,
        "CreateAccessKey",
        Outcome::Normal,
        Some(&new_access_key(name, key2, tt, false)),
    );
    // a role session in the production account
    t += 30;
    let k3 = sc.rng.access_key("ASIA", prod.num);
    let ids = sc.assume(&Assume {
        t,
        region: HOME,
        caller: AssumeCaller::Principal {
            identity: &atk.ident,
            acct: DEV,
            principal_id: &atk.cred.principal_id,
            ip,
            ua: UA_KALI_CLI,
            tls: Some(true),
        },
        role: &deploy,
        session,
        duration: 3600,
        key: &k3,
        assumed_user: true,
        external_id: None,
        invoked_internally: false,
    });
    let mint_role = ids.caller.expect("the caller's account is in the trail");
    let t_role = t;
    // the new key, a minute later
    let mut second = Sess::new(w, Cred::user(&agent), DEV, &k2, ip, UA_KALI_BOTO3);
    t = sc.calls(
        t + 60,
        &mut second,
        (2, 9),
        &[
            ok(Src::Sts, "GetCallerIdentity", HOME),
            ok(Src::Iam, "ListUsers", HOME),
            ok(Src::Ec2, "DescribeInstances", HOME),
            ok(Src::Ec2, "DescribeInstances", 1),
            denied(Src::Iam, "ListRoles", HOME),
            ok(Src::S3, "ListBuckets", HOME),
        ],
    );
    // the role session: a look around and a few reads
    let mut role_sess = Sess::new(
        w,
        Cred::role(&deploy, session, t_role),
        PROD,
        &k3,
        ip,
        UA_KALI_CLI,
    );
    t += 20;
    sc.call_ok(t, &mut role_sess, HOME, Src::Sts, "GetCallerIdentity");
    t += 5;
    sc.call_ok(t, &mut role_sess, HOME, Src::S3, "ListBuckets");
    for name in ["config/prod.env", "backups/customers-2026-09.csv.gz"] {
        t += sc.rng.range(3, 12);
        let g = object(prod.buckets[0].clone(), name.to_string());
        sc.home_call(t, &mut role_sess, Src::S3, "GetObject", &g);
    }
    t += 9;
    let g = secret(prod.secret_arn(REGIONS[HOME], 0));
    sc.home_call(t, &mut role_sess, Src::Secrets, "GetSecretValue", &g);

    let description = format!(
        "The long-term key {k1} of IAM user {} in the dev account ({}) leaked. From {ip} the attacker listed the user's keys, created a second key for the same user (CreateAccessKey without userName) and assumed the role release-deployer in the production account ({}) as session {session}; a minute later the new key {k2} was used for reconnaissance and the role session read two objects and a secret. The owner's other key of the same user (office, earlier) and the release manager's own session on the same role ARN are benign.",
        agent.name, dev.id, prod.id
    );
    let origin = Origin {
        kind: "IAMUser".into(),
        identifier: agent.arn(),
        account: dev.id.clone(),
        evidence_event_ids: vec![first],
    };
    let decoys = vec![
        own.decoy("same_user_other_session"),
        twin.decoy("same_arn_other_session"),
    ];
    let meta = Meta {
        seed,
        index,
        description,
        selection: format!(
            "Events signed with key {k1} (the leaked key), {k2} (the key it created) or {k3} (the role session it assumed, created {}), all from {ip}.",
            iso(t_role)
        ),
        subject: &atk,
        origin,
        chain: Vec::new(),
        flags: &["long_term_key", "persistence", "spawned_credentials"],
        decoys,
        finding_type: "UnauthorizedAccess:IAMUser/MaliciousIPCaller.Custom",
        finding_api: ("iam.amazonaws.com", "CreateAccessKey"),
        finding_ip: ip.to_string(),
        severity: 8.0,
        title: "API CreateAccessKey was invoked from an IP address on a custom threat list.",
        remote_account: None,
    };
    let mut inc = sc.finish(meta, vec![&atk, &second, &role_sess], None);
    inc.truth.spawned = vec![
        SpawnedTruth {
            method: "CreateAccessKey".into(),
            event_id: mint_key,
            parent_access_key_id: k1.clone(),
            session: 1,
        },
        SpawnedTruth {
            method: "AssumeRole".into(),
            event_id: mint_role,
            parent_access_key_id: k1,
            session: 2,
        },
    ];
    inc.truth.path_flags = vec!["cross_account".into(), "data_access".into()];
    inc
}
