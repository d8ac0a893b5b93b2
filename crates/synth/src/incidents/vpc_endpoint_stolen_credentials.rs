//! A Lambda function's stolen execution-role credentials used through the attacker's own
//! VPC endpoint, with a caller-chosen private source address.

use super::*;

pub(super) fn vpc_endpoint_stolen_credentials(w: &World, seed: u64, anchor: i64) -> Incident {
    let mut sc = Scene::new(w, seed, 5);
    let prod = &w.accounts[PROD];
    let func = "payments-reconciler";
    let role = role(
        w,
        &mut sc.rng,
        PROD,
        "/service-role/",
        "payments-reconciler-role",
    );
    let fn_arn = format!("arn:aws:lambda:us-east-1:{}:function:{func}", prod.id);
    let t0 = anchor - 40 * 60;
    let key = sc.rng.access_key("ASIA", prod.num);
    let ids = sc.assume(&Assume {
        t: t0,
        region: HOME,
        caller: AssumeCaller::Service {
            service: "lambda.amazonaws.com",
        },
        role: &role,
        session: func,
        duration: 43_200,
        key: &key,
        assumed_user: true,
        external_id: None,
        invoked_internally: false,
    });
    let cred = Cred::role(&role, func, t0).with_scope(Scope::Lambda {
        function_arn: fn_arn,
    });
    let lambda_ips: Vec<String> = (0..3).map(|_| aws_ip(&mut sc.rng, HOME)).collect();
    let mut own = Sess::new(w, cred.clone(), PROD, &key, &lambda_ips[0], UA_LAMBDA_PY);
    let stripe = prod.secret_arn("us-east-1", 1);
    let mut t = t0;
    for i in 0..26 {
        t += sc.rng.range(60, 240);
        own.ip = lambda_ips[i % lambda_ips.len()].clone();
        match i % 5 {
            0 => {
                let arn = stripe.clone();
                sc.call_gen(
                    t,
                    &mut own,
                    HOME,
                    Src::Secrets,
                    "GetSecretValue",
                    Outcome::Normal,
                    Some(&move |f: &mut Fill<'_>| {
                        f.s.req.push_str(&format!("{{\"secretId\":\"{arn}\"}}"));
                    }),
                );
            }
            1 => {
                sc.call_ok(t, &mut own, HOME, Src::Ddb, "DescribeTable");
            }
            2 | 4 => {
                sc.call_ok(t, &mut own, HOME, Src::S3, "PutObject");
            }
            _ => {
                sc.call_ok(t, &mut own, HOME, Src::Kms, "Decrypt");
            }
        }
    }

    // the stolen credentials, through the attacker's own VPC endpoint
    let ip = "10.213.47.9";
    let vpce = format!("vpce-0{}", sc.rng.hex(16));
    let mut atk = Sess::new(w, cred, PROD, &key, ip, UA_VPCE_SCRIPT);
    atk.vpce = Some((vpce.clone(), ATTACKER_ACCOUNT.to_string()));
    let mut t = sc.calls(
        anchor,
        &mut atk,
        (2, 30),
        &[
            ok(Src::Sts, "GetCallerIdentity", HOME),
            ok(Src::S3, "ListBuckets", HOME),
            ok(Src::Secrets, "ListSecrets", HOME),
        ],
    );
    for (i, outcome) in [
        (1, Outcome::Normal),
        (1, Outcome::Normal),
        (0, Outcome::Denied),
        (2, Outcome::Denied),
    ] {
        t += sc.rng.range(10, 60);
        let arn = prod.secret_arn("us-east-1", i);
        sc.get_secret(t, &mut atk, HOME, arn, outcome);
    }
    let exports = prod.buckets[0].clone();
    for i in 0..7 {
        t += sc.rng.range(3, 25);
        let b = exports.clone();
        let key = format!("exports/2026/payouts-{:02}.csv.gz", i + 3);
        sc.get_object(t, &mut atk, HOME, b, key);
    }
    sc.calls(
        t,
        &mut atk,
        (10, 60),
        &[
            ok(Src::Ssm, "GetParametersByPath", HOME),
            denied(Src::Kms, "ListKeys", HOME),
            denied(Src::Iam, "ListRoles", HOME),
            ok(Src::Sts, "GetCallerIdentity", HOME),
        ],
    );

    let chain = vec![sc.link("AssumeRole", &ids, None, &own, Some(&key))];
    let description = format!(
        "The execution role credentials {key} of Lambda function {func} in the prod account ({}) were stolen and used through VPC endpoint {vpce}, which belongs to account {ATTACKER_ACCOUNT} outside the organization, with the caller-chosen private source address {ip}: GetCallerIdentity, secrets (two reads denied), customer exports from S3 and SSM parameters. The function's own calls with the same key come from Lambda's public addresses and are not part of the incident.",
        prod.id
    );
    let origin = Origin {
        kind: "LambdaFunction".into(),
        identifier: func.to_string(),
        account: prod.id.clone(),
        evidence_event_ids: vec![ids.caller.clone().expect("service copy")],
    };
    let decoys = vec![own.decoy("same_key_legitimate_use")];
    let selection = format!(
        "Events of session {} created {} (key {key}) whose sourceIPAddress is {ip} (all of them carry vpcEndpointId {vpce}, vpcEndpointAccountId {ATTACKER_ACCOUNT}); the function's own calls from public AWS addresses are not counted.",
        own.cred.arn,
        iso(t0)
    );
    let attacker = ATTACKER_ACCOUNT.to_string();
    let meta = Meta {
        seed,
        index: 5,
        description,
        selection,
        subject: &atk,
        origin,
        chain,
        flags: &[
            "caller_chosen_source_ip",
            "foreign_vpc_endpoint",
            "multiple_networks",
            "secrets_access",
            "vpc_endpoint",
        ],
        decoys,
        finding_type: "CredentialAccess:IAMUser/AnomalousBehavior",
        finding_api: ("secretsmanager.amazonaws.com", "GetSecretValue"),
        finding_ip: ip.to_string(),
        severity: 8.0,
        title: "The API GetSecretValue was invoked through a VPC endpoint of an unaffiliated account.",
        remote_account: Some(&attacker),
    };
    sc.finish(meta, vec![&atk], Some(vec![ip.to_string()]))
}
