//! Stolen credentials that read a handful of objects and secrets, spaced out and far
//! below any bulk threshold, beside the owner's own use of the same key.

use super::*;

pub(super) fn quiet_data_theft(w: &World, seed: u64, anchor: i64) -> Incident {
    let index = 8;
    let mut sc = Scene::new(w, seed, index);
    let prod = &w.accounts[PROD];
    let svc = user(w, &mut sc.rng, PROD, "reporting-svc");
    let key = sc.rng.access_key("AKIA", prod.num);
    let app_ip = aws_ip(&mut sc.rng, HOME);

    // the application's own use of the key, all day: writes reports, reads nothing
    let mut app = Sess::new(w, Cred::user(&svc), PROD, &key, &app_ip, UA_EC2_APP);
    let mut t = anchor - 4 * 3600;
    for run in 0..3 {
        t += 3600;
        sc.call_ok(t, &mut app, HOME, Src::Sts, "GetCallerIdentity");
        for part in 0..2 {
            t += sc.rng.range(2, 20);
            let g = object(
                prod.buckets[1].clone(),
                format!("reports/daily-{run}-{part}.parquet"),
            );
            sc.home_call(t, &mut app, Src::S3, "PutObject", &g);
        }
    }

    // the thief: a few reads, spaced out, far below the bulk threshold
    let ip = "203.0.113.200";
    let mut atk = Sess::new(w, Cred::user(&svc), PROD, &key, ip, UA_PY_SCRIPT);
    let mut t = anchor;
    let first = sc.call_ok(t, &mut atk, HOME, Src::Sts, "GetCallerIdentity");
    t = sc.calls(
        t,
        &mut atk,
        (20, 90),
        &[
            ok(Src::S3, "ListBuckets", HOME),
            ok(Src::S3, "ListObjects", HOME),
            ok(Src::Secrets, "ListSecrets", HOME),
        ],
    );
    for name in [
        "finance/payroll-2026-09.xlsx",
        "finance/payroll-2026-08.xlsx",
        "hr/contracts.zip",
        "exports/customers.csv",
    ] {
        t += sc.rng.range(30, 120);
        let g = object(prod.buckets[0].clone(), name.to_string());
        sc.home_call(t, &mut atk, Src::S3, "GetObject", &g);
    }
    for i in 0..2 {
        t += sc.rng.range(30, 120);
        let g = secret(prod.secret_arn(REGIONS[HOME], i));
        sc.home_call(t, &mut atk, Src::Secrets, "GetSecretValue", &g);
    }
    t += 40;
    let g = parameter(REGIONS[HOME], &prod.id, "/prod/db/password", true);
    sc.home_call(t, &mut atk, Src::Ssm, "GetParameter", &g);
    // a parameter read without decryption returns no secret: not a data read
    t += 25;
    let g = parameter(REGIONS[HOME], &prod.id, "/prod/app/region", false);
    sc.home_call(t, &mut atk, Src::Ssm, "GetParameter", &g);

    let description = format!(
        "The long-term key {key} of the application user {} in the production account ({}) was stolen. From {ip} the thief read four objects, two secrets and one decrypted parameter over about fifteen minutes, well below any bulk-read threshold. The application's own calls with the same key (from {app_ip}) only write reports and are benign.",
        svc.name, prod.id
    );
    let origin = Origin {
        kind: "IAMUser".into(),
        identifier: svc.arn(),
        account: prod.id.clone(),
        evidence_event_ids: vec![first],
    };
    let decoys = vec![app.decoy("same_key_legitimate_use")];
    let meta = Meta {
        seed,
        index,
        description,
        selection: format!(
            "Events signed with key {key} whose sourceIPAddress is {ip}; the same key's calls from {app_ip} are the application's."
        ),
        subject: &atk,
        origin,
        chain: Vec::new(),
        flags: &["long_term_key", "low_volume_collection"],
        decoys,
        finding_type: "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS",
        finding_api: ("s3.amazonaws.com", "GetObject"),
        finding_ip: ip.to_string(),
        severity: 8.0,
        title: "Credentials of user reporting-svc were used from an unusual address.",
        remote_account: None,
    };
    let mut inc = sc.finish(meta, vec![&atk], Some(vec![ip.to_string()]));
    inc.truth.path_flags = vec!["data_access".into()];
    inc
}
