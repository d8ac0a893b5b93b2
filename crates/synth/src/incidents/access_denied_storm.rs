//! A GitHub Actions OIDC token exchanged away from GitHub for a low-privilege role, then a
//! burst of reconnaissance, nearly all of it denied.

use super::*;

pub(super) fn access_denied_storm(w: &World, seed: u64, anchor: i64) -> Incident {
    let mut sc = Scene::new(w, seed, 6);
    let dev = &w.accounts[DEV];
    let role = role(w, &mut sc.rng, DEV, "/", "gh-actions-docs-publisher");
    let subject = "repo:acme-corp/docs-site:ref:refs/heads/main";
    let provider = emit::github_provider_arn(&dev.id);
    let docs = dev.buckets[1].clone();

    // decoy: the real docs workflow earlier
    let td = anchor - 3 * 3600;
    let runner = format!("20.55.{}.{}", sc.rng.below(256), 1 + sc.rng.below(254));
    let k = sc.rng.access_key("ASIA", dev.num);
    let p = emit::assume_role_with_web_identity(
        &mut sc.rng,
        w,
        td,
        HOME,
        &role,
        "GitHubActions",
        subject,
        &k,
        &runner,
        UA_GHA_STS,
    );
    sc.put(p);
    let cred = Cred::role(&role, "GitHubActions", td).with_web_provider(provider.clone());
    let mut ci = Sess::new(w, cred, DEV, &k, &runner, UA_GHA_CLI).cli();
    let mut t = td;
    for i in 0..6 {
        t += sc.rng.range(3, 20);
        if i == 0 {
            sc.call_ok(t, &mut ci, HOME, Src::Sts, "GetCallerIdentity");
        } else {
            let b = docs.clone();
            let key = format!("site/docs/page-{i}.html");
            sc.call_gen(
                t,
                &mut ci,
                HOME,
                Src::S3,
                "PutObject",
                Outcome::Normal,
                Some(&object(b, key)),
            );
        }
    }

    // the storm
    let ip = "192.0.2.61";
    let key = sc.rng.access_key("ASIA", dev.num);
    let p = emit::assume_role_with_web_identity(
        &mut sc.rng,
        w,
        anchor,
        HOME,
        &role,
        "GitHubActions",
        subject,
        &key,
        ip,
        UA_PACU,
    );
    let issue_id = sc.put(p);
    let cred = Cred::role(&role, "GitHubActions", anchor).with_web_provider(provider);
    let mut atk = Sess::new(w, cred, DEV, &key, ip, UA_PACU);
    let mut list = vec![
        ok(Src::Sts, "GetCallerIdentity", HOME),
        denied(Src::Iam, "ListRoles", HOME),
        denied(Src::Iam, "ListUsers", HOME),
        denied(Src::Iam, "ListPolicies", HOME),
        denied(Src::Iam, "ListGroups", HOME),
        denied(Src::Iam, "GetAccountAuthorizationDetails", HOME),
        denied(Src::Iam, "GetAccountSummary", HOME),
        denied(Src::Iam, "ListInstanceProfiles", HOME),
        denied(Src::S3, "ListBuckets", HOME),
        denied(Src::Secrets, "ListSecrets", HOME),
        denied(Src::Lambda, "ListFunctions20150331", HOME),
        denied(Src::Kms, "ListKeys", HOME),
        denied(Src::Ddb, "ListTables", HOME),
        denied(Src::Ssm, "DescribeParameters", HOME),
        denied(Src::Rds, "DescribeDBInstances", HOME),
        denied(Src::Org, "DescribeOrganization", HOME),
        denied(Src::Trail, "DescribeTrails", HOME),
        denied(Src::Logs, "DescribeLogGroups", HOME),
        denied(Src::Ecr, "DescribeRepositories", HOME),
        denied(Src::Cfn, "ListStacks", HOME),
    ];
    for region in [HOME, 1, 2] {
        list.extend([
            denied(Src::Ec2, "DescribeInstances", region),
            denied(Src::Ec2, "DescribeSecurityGroups", region),
            denied(Src::Ec2, "DescribeVpcs", region),
            denied(Src::Ec2, "DescribeSnapshots", region),
            denied(Src::Lambda, "ListFunctions20150331", region),
            denied(Src::Ssm, "DescribeParameters", region),
        ]);
    }
    let mut t = sc.calls(anchor + 12, &mut atk, (1, 9), &list);
    // the role's own permission works
    for i in 0..2 {
        t += 20;
        let b = docs.clone();
        let k = format!("site/.well-known/probe-{i}.txt");
        sc.call_gen(
            t,
            &mut atk,
            HOME,
            Src::S3,
            "PutObject",
            Outcome::Normal,
            Some(&object(b, k)),
        );
    }
    // guessed secret names
    for name in [
        "prod/db-password",
        "dev/github/deploy-token",
        "ci/aws-admin-keys",
    ] {
        t += sc.rng.range(2, 8);
        let arn = format!("arn:aws:secretsmanager:us-east-1:{}:secret:{name}", dev.id);
        sc.call_gen(
            t,
            &mut atk,
            HOME,
            Src::Secrets,
            "GetSecretValue",
            Outcome::Denied,
            Some(&move |f: &mut Fill<'_>| {
                f.s.req.push_str(&format!("{{\"secretId\":\"{name}\"}}"));
                f.s.target.push_str(&arn);
            }),
        );
    }
    for name in ["GetRole", "ListAttachedRolePolicies", "ListRolePolicies"] {
        t += sc.rng.range(1, 4);
        let g = own_role_gen(&role);
        sc.call_gen(t, &mut atk, HOME, Src::Iam, name, Outcome::Denied, Some(&g));
    }
    sc.calls(
        t,
        &mut atk,
        (1, 5),
        &[
            denied(Src::Iam, "ListRoles", HOME),
            denied(Src::GuardDuty, "ListDetectors", HOME),
        ],
    );

    let chain = vec![ChainLink {
        method: "AssumeRoleWithWebIdentity".into(),
        event_id: issue_id.clone(),
        shared_event_id: None,
        other_copy_event_ids: Vec::new(),
        time: iso(anchor),
        caller_arn: None,
        caller_access_key_id: None,
        issued_access_key_id: Some(key.clone()),
        issued_arn: atk.cred.arn.clone(),
        issued_creation_date: iso(anchor),
    }];
    let description = format!(
        "A GitHub Actions OIDC token of {subject} was exchanged for credentials of the low-privilege role gh-actions-docs-publisher in the dev account ({}) from {ip} (not a GitHub runner) and then used for a burst of reconnaissance: dozens of calls across IAM, EC2 (three regions), S3, Secrets Manager, Lambda, KMS, DynamoDB, SSM, RDS, Organizations and CloudTrail, nearly all denied, plus two PutObject calls the role is allowed to make. The docs workflow's own run three hours earlier (same role ARN, another creationDate) is benign.",
        dev.id
    );
    let origin = Origin {
        kind: "WebIdentityUser".into(),
        identifier: subject.to_string(),
        account: dev.id.clone(),
        evidence_event_ids: vec![issue_id],
    };
    let decoys = vec![ci.decoy("same_arn_other_session")];
    let selection = format!(
        "All events of session {} created {} (key {key}); the workflow session with the same ARN created {} is not counted.",
        atk.cred.arn,
        iso(anchor),
        iso(td)
    );
    let meta = Meta {
        seed,
        index: 6,
        description,
        selection,
        subject: &atk,
        origin,
        chain,
        flags: &[
            "access_denied_storm",
            "multi_region",
            "reconnaissance",
            "web_identity",
        ],
        decoys,
        finding_type: "Recon:IAMUser/MaliciousIPCaller",
        finding_api: ("iam.amazonaws.com", "GetAccountAuthorizationDetails"),
        finding_ip: ip.to_string(),
        severity: 5.0,
        title: "Reconnaissance APIs were invoked from a known malicious IP address.",
        remote_account: None,
    };
    sc.finish(meta, vec![&atk], None)
}
