//! An EC2 instance role's first credentials, still valid after the instance moved to fresh
//! ones, used from outside AWS: buckets, reports, a secret.

use super::*;

pub(super) fn ec2_credentials_exfiltration(w: &World, seed: u64, anchor: i64) -> Incident {
    let mut sc = Scene::new(w, seed, 2);
    let prod = &w.accounts[PROD];
    let role = role(w, &mut sc.rng, PROD, "/", "reporting-worker-role");
    let instance = sc.rng.instance_id();
    let instance_arn = format!("arn:aws:ec2:us-east-1:{}:instance/{instance}", prod.id);
    let instance_ip = aws_ip(&mut sc.rng, HOME);
    let reports = prod.buckets[2].clone();
    let scope = Scope::Ec2 {
        instance_arn,
        delivery: "2.0",
    };

    let issue = |sc: &mut Scene<'_>, t: i64| {
        let key = sc.rng.access_key("ASIA", prod.num);
        let ids = sc.assume(&Assume {
            t,
            region: HOME,
            caller: AssumeCaller::Service {
                service: "ec2.amazonaws.com",
            },
            role: &role,
            session: &instance,
            duration: 21_600,
            key: &key,
            assumed_user: false,
            external_id: None,
            invoked_internally: false,
        });
        let cred = Cred::role(&role, &instance, t).with_scope(scope.clone());
        (
            Sess::new(w, cred, PROD, &key, &instance_ip, UA_EC2_APP),
            ids,
        )
    };
    let instance_calls =
        |sc: &mut Scene<'_>, sess: &mut Sess, mut t: i64, n: usize, bucket: &str| {
            for i in 0..n {
                t += sc.rng.range(60, 170);
                let pick = i % 6;
                let b = bucket.to_string();
                match pick {
                    0 => {
                        sess.ua = UA_SSM_AGENT.into();
                        sc.call(
                            t,
                            sess,
                            HOME,
                            Src::Ssm,
                            "UpdateInstanceInformation",
                            Outcome::Normal,
                        );
                        sess.ua = UA_EC2_APP.into();
                    }
                    1 | 3 => {
                        let key = format!("daily/report-{:04}.parquet", sc.rng.below(10_000));
                        sc.call_gen(
                            t,
                            sess,
                            HOME,
                            Src::S3,
                            "GetObject",
                            Outcome::Normal,
                            Some(&object(b, key)),
                        );
                    }
                    2 => {
                        let key = format!("daily/out/summary-{:04}.csv.gz", sc.rng.below(10_000));
                        sc.call_gen(
                            t,
                            sess,
                            HOME,
                            Src::S3,
                            "PutObject",
                            Outcome::Normal,
                            Some(&object(b, key)),
                        );
                    }
                    4 => {
                        sc.call_ok(t, sess, HOME, Src::Kms, "Decrypt");
                    }
                    _ => {
                        let arn = w.accounts[PROD].secret_arn("us-east-1", 2);
                        sc.call_gen(
                            t,
                            sess,
                            HOME,
                            Src::Secrets,
                            "GetSecretValue",
                            Outcome::Normal,
                            Some(&move |f: &mut Fill<'_>| {
                                f.s.req.push_str(&format!("{{\"secretId\":\"{arn}\"}}"));
                            }),
                        );
                    }
                }
            }
            t
        };

    let t0 = anchor - 2 * 3600;
    let (mut first_sess, ids1) = issue(&mut sc, t0);
    instance_calls(&mut sc, &mut first_sess, t0 + 20, 24, &reports);
    let t1 = anchor - 3600 + 13;
    let (mut second_sess, _) = issue(&mut sc, t1);
    instance_calls(&mut sc, &mut second_sess, t1 + 15, 40, &reports);

    // the stolen first key, from outside AWS
    let ip = "192.0.2.199";
    let mut atk = Sess::new(
        w,
        first_sess.cred.clone(),
        PROD,
        &first_sess.key,
        ip,
        UA_KALI_CLI,
    )
    .cli();
    let mut t = sc.calls(
        anchor,
        &mut atk,
        (3, 25),
        &[
            ok(Src::Sts, "GetCallerIdentity", HOME),
            ok(Src::S3, "ListBuckets", HOME),
            denied(Src::Iam, "ListRoles", HOME),
            ok(Src::Ec2, "DescribeInstances", HOME),
            denied(Src::Ec2, "DescribeInstances", 1),
            denied(Src::Secrets, "ListSecrets", HOME),
        ],
    );
    t += 4;
    let g = own_role_gen(&role);
    sc.call_gen(
        t,
        &mut atk,
        HOME,
        Src::Iam,
        "ListAttachedRolePolicies",
        Outcome::Denied,
        Some(&g),
    );
    let b = reports.clone();
    t += 30;
    sc.call_gen(t, &mut atk, HOME, Src::S3, "ListObjects", Outcome::Normal, Some(&move |f: &mut Fill<'_>| {
        f.s.req.push_str(&format!("{{\"list-type\":\"2\",\"bucketName\":\"{b}\",\"encoding-type\":\"url\",\"prefix\":\"\",\"Host\":\"{b}.s3.us-east-1.amazonaws.com\"}}"));
        f.s.res.push_str(&format!("[{{\"accountId\":\"{}\",\"type\":\"AWS::S3::Bucket\",\"ARN\":\"arn:aws:s3:::{b}\"}}]", f.acct.id));
        f.s.host.push_str(&format!("{b}.s3.us-east-1.amazonaws.com"));
    }));
    for i in 0..12 {
        t += sc.rng.range(2, 20);
        let b = reports.clone();
        let key = format!("daily/report-{:04}.parquet", 4000 + i * 37);
        sc.get_object(t, &mut atk, HOME, b, key);
    }
    let arn = prod.secret_arn("us-east-1", 2);
    t += 45;
    sc.get_secret(t, &mut atk, HOME, arn, Outcome::Normal);
    sc.calls(
        t,
        &mut atk,
        (10, 90),
        &[
            ok(Src::Ssm, "DescribeParameters", HOME),
            ok(Src::Ssm, "GetParameter", HOME),
            denied(Src::Ec2, "DescribeSnapshots", HOME),
            ok(Src::Sts, "GetCallerIdentity", HOME),
        ],
    );

    let chain = vec![sc.link(
        "AssumeRole",
        &ids1,
        None,
        &first_sess,
        Some(&first_sess.key),
    )];
    let description = format!(
        "EC2 instance {instance} in the prod account ({}) received credentials {} for reporting-worker-role from ec2.amazonaws.com and used them from its own address {instance_ip}. An hour later the instance moved to fresh credentials, while the first key, still valid, was used from {ip} outside AWS with the AWS CLI on Kali Linux: listing buckets, downloading reports, reading a secret and probing IAM and EC2 (several calls denied).",
        prod.id, first_sess.key
    );
    let origin = Origin {
        kind: "EC2Instance".into(),
        identifier: instance.clone(),
        account: prod.id.clone(),
        evidence_event_ids: vec![ids1.caller.clone().expect("service copy")],
    };
    let decoys = vec![first_sess.decoy("same_key_legitimate_use")];
    let selection = format!(
        "Events of session {} created {} (key {}) whose sourceIPAddress is {ip}; the same session's calls from the instance ({instance_ip}) are legitimate.",
        first_sess.cred.arn,
        iso(t0),
        first_sess.key
    );
    let meta = Meta {
        seed,
        index: 2,
        description,
        selection,
        subject: &atk,
        origin,
        chain,
        flags: &["instance_credentials", "multiple_networks", "outside_aws"],
        decoys,
        finding_type: "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS",
        finding_api: ("s3.amazonaws.com", "ListBuckets"),
        finding_ip: ip.to_string(),
        severity: 8.0,
        title: "Credentials for the EC2 instance role reporting-worker-role were used from a remote IP address.",
        remote_account: None,
    };
    sc.finish(meta, vec![&atk], Some(vec![ip.to_string()]))
}
