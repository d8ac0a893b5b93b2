//! A whole console path through Identity Center: portal sign-in, federation into a
//! permission set role (AssumeRoleWithSAML) and ConsoleLogin in the same second, a console
//! role switch into another account (SwitchRole with the AssumeRole the console makes on
//! the user's behalf) and, an hour later, the switch renewed (RenewRole, a new session of
//! the same ARN). Every session on the path acts. Public samples differ on whether the
//! ConsoleLogin carries the key the federation returned, so the path is planted in both
//! shapes. A benign twin, the same person earlier that day from home, walks the same path
//! and so shares every ARN with the attacker's sessions (not their creation dates).

use super::*;

/// The sessions of one walk along the path.
struct Walked {
    console: Sess,
    switched: Switch,
    renewed: Switch,
    evidence: Vec<String>,
    /// AssumeRoleWithSAML, ConsoleLogin.
    ids: [String; 2],
    /// When the last call was made.
    end: i64,
}

/// A console switch or renewal: the new session, the sign-in event, the AssumeRole made
/// on the user's behalf and the console key of the session it was made with.
struct Switch {
    sess: Sess,
    id: String,
    pair: AssumeIds,
    caller_key: String,
}

/// Who walks the path and how.
struct Walker<'a> {
    person: &'a crate::world::Person,
    sso: &'a Role,
    target: &'a Role,
    ip: &'a str,
    ua: &'a str,
    login_key: bool,
}

impl Scene<'_> {
    /// A console switch (`renew` false) or renewal into `target` by the console session
    /// `from`: the AssumeRole made on the user's behalf and the sign-in event, logged as
    /// the new session (created at `t`), which is returned.
    fn console_switch(&mut self, t: i64, from: &mut Sess, target: &Role, renew: bool) -> Switch {
        let w = self.world;
        from.rotate_console(&mut self.rng, HOME, t);
        let caller_key = from.key.clone();
        let acct = w.acct_index(&target.account).expect("trail account");
        let session = from
            .cred
            .arn
            .rsplit('/')
            .next()
            .expect("session name")
            .to_string();
        let unused = self.rng.access_key("ASIA", w.accounts[acct].num);
        let (ip, ua) = (from.ip.clone(), from.ua.clone());
        let ids = self.assume(&Assume {
            t,
            region: HOME,
            caller: AssumeCaller::Principal {
                identity: &from.ident,
                acct: from.acct,
                principal_id: &from.cred.principal_id,
                ip: &ip,
                ua: &ua,
                tls: None,
            },
            role: target,
            session: &session,
            duration: 3600,
            key: &unused,
            assumed_user: true,
            external_id: None,
            invoked_internally: true,
        });
        let mut new =
            Sess::new(w, Cred::role(target, &session, t), acct, &unused, &ip, &ua).console();
        new.keys.clear();
        let who = new.cred.render(None, None);
        let (name, additional) = if renew {
            (
                "RenewRole",
                "{\"RedirectTo\":\"https://us-east-1.console.aws.amazon.com/console/home?region=us-east-1#\"}".to_string(),
            )
        } else {
            (
                "SwitchRole",
                format!(
                    "{{\"SwitchFrom\":\"{}\",\"RedirectTo\":\"https://us-east-1.console.aws.amazon.com/console/home?region=us-east-1#\"}}",
                    from.cred.arn
                ),
            )
        };
        let response = format!("{{\"{name}\":\"Success\"}}");
        let rec = emit::signin_event(
            &mut self.rng,
            w,
            &SignIn {
                t,
                acct,
                identity: &who,
                name,
                ip: &ip,
                ua: &ua,
                response: Some(&response),
                additional: Some(&additional),
                error: None,
            },
        );
        let id = self.put(rec);
        new.events.push(id.clone());
        Switch {
            sess: new,
            id,
            pair: ids,
            caller_key,
        }
    }

    /// The whole path from `t`: sign-in, work in the first account, switch, work, renew an
    /// hour after the switch, work.
    fn sso_path(
        &mut self,
        t: i64,
        who: &Walker<'_>,
        work: [&[(Src, &str, usize, Outcome)]; 3],
    ) -> Walked {
        let (mut console, evidence, saml_id, login_id) = self.sso_console_as(
            t,
            &who.person.email,
            &who.person.user_id,
            who.sso,
            who.sso.name.split('_').nth(1).expect("permission set"),
            (who.ip, who.ua),
            true,
            who.login_key,
        );
        let end = self.calls(t + 20, &mut console, (8, 50), work[0]);
        let switched_at = end + 30;
        let mut switched = self.console_switch(switched_at, &mut console, who.target, false);
        self.calls(switched_at + 10, &mut switched.sess, (10, 70), work[1]);
        let renew_at = switched_at + 3600;
        let mut renewed = self.console_switch(renew_at, &mut console, who.target, true);
        let end = self.calls(renew_at + 15, &mut renewed.sess, (6, 40), work[2]);
        Walked {
            console,
            switched,
            renewed,
            evidence,
            ids: [saml_id, login_id],
            end,
        }
    }
}

/// Identity Center console path (sign-in, SwitchRole into prod, RenewRole); the
/// ConsoleLogin carries the federation's key when `login_key`.
pub(super) fn sso_switch_renew(
    w: &World,
    seed: u64,
    anchor: i64,
    index: usize,
    login_key: bool,
) -> Incident {
    let mut sc = Scene::new(w, seed, index);
    let sso = w.sso(DEV, "DeveloperAccess").clone();
    let (target_name, local) = if login_key {
        ("release-manager", "lena.marsh")
    } else {
        ("billing-ops", "omar.haddad")
    };
    let target = role(w, &mut sc.rng, PROD, "/", target_name);
    let person = w.person(&mut sc.rng, local);
    let home = if login_key {
        "24.18.201.77"
    } else {
        "98.207.54.12"
    };
    let ip = if login_key {
        "203.0.113.148"
    } else {
        "198.51.100.203"
    };

    // The benign twin: the same person, same roles, from home four hours earlier.
    let twin = sc.sso_path(
        anchor - 4 * 3600,
        &Walker {
            person: &person,
            sso: &sso,
            target: &target,
            ip: home,
            ua: BROWSERS[0],
            login_key,
        },
        [
            &[
                ok(Src::Lambda, "ListFunctions20150331", HOME),
                ok(Src::Logs, "DescribeLogGroups", HOME),
                ok(Src::Logs, "FilterLogEvents", HOME),
            ],
            &[
                ok(Src::Ec2, "DescribeInstances", HOME),
                ok(Src::Cfn, "DescribeStacks", HOME),
            ],
            &[
                ok(Src::Ec2, "DescribeInstances", HOME),
                ok(Src::Monitoring, "DescribeAlarms", HOME),
            ],
        ],
    );

    // The attack: the person's portal credentials used from elsewhere.
    let path = sc.sso_path(
        anchor,
        &Walker {
            person: &person,
            sso: &sso,
            target: &target,
            ip,
            ua: UA_FIREFOX_WIN,
            login_key,
        },
        [
            &[
                ok(Src::Sts, "GetCallerIdentity", HOME),
                ok(Src::Iam, "ListRoles", HOME),
                ok(Src::Org, "DescribeOrganization", HOME),
                ok(Src::S3, "ListBuckets", HOME),
            ],
            &[
                ok(Src::Secrets, "ListSecrets", HOME),
                denied(Src::Iam, "ListUsers", HOME),
                ok(Src::Ssm, "DescribeParameters", HOME),
                ok(Src::S3, "ListBuckets", HOME),
            ],
            &[
                ok(Src::Secrets, "ListSecrets", HOME),
                ok(Src::Ec2, "DescribeInstances", HOME),
                ok(Src::Ec2, "DescribeInstances", 1),
                denied(Src::Iam, "ListUsers", HOME),
            ],
        ],
    );
    let Walked {
        console,
        switched,
        mut renewed,
        evidence,
        ids: [saml_id, login_id],
        end,
    } = path;
    let prod = &w.accounts[PROD];
    let t = sc.calls(
        end,
        &mut renewed.sess,
        (5, 30),
        &[ok(Src::Secrets, "DescribeSecret", HOME)],
    );
    let secret = prod.secret_arn("us-east-1", 1);
    let g = move |f: &mut Fill<'_>| {
        f.s.req.push_str(&format!("{{\"secretId\":\"{secret}\"}}"));
        f.s.target.push_str(&secret);
    };
    sc.call_gen(
        t + 9,
        &mut renewed.sess,
        HOME,
        Src::Secrets,
        "GetSecretValue",
        Outcome::Normal,
        Some(&g),
    );

    let created = console.cred.creation.expect("role session");
    let federation = ChainLink {
        method: "AssumeRoleWithSAML".into(),
        event_id: saml_id,
        shared_event_id: None,
        other_copy_event_ids: vec![login_id],
        time: iso(created),
        caller_arn: None,
        caller_access_key_id: None,
        issued_access_key_id: login_key.then(|| console.keys[0].clone()),
        issued_arn: console.cred.arn.clone(),
        issued_creation_date: iso(created),
    };
    // A switch is made from the console session (its key signs the AssumeRole behind it);
    // a renewal continues the switched session (its sign-in record carries no key).
    let switch_link = |method: &str, sw: &Switch, from: &Sess| ChainLink {
        method: method.to_string(),
        event_id: sw.id.clone(),
        shared_event_id: sw.pair.shared.clone(),
        other_copy_event_ids: sw
            .pair
            .caller
            .iter()
            .chain(&sw.pair.owner)
            .cloned()
            .collect(),
        time: iso(sw.pair.time),
        caller_arn: Some(from.cred.arn.clone()),
        caller_access_key_id: (from.cred.arn == console.cred.arn).then(|| sw.caller_key.clone()),
        issued_access_key_id: None,
        issued_arn: sw.sess.cred.arn.clone(),
        issued_creation_date: iso(sw.pair.time),
    };
    let chain = vec![
        federation,
        switch_link("SwitchRole", &switched, &console),
        switch_link("RenewRole", &renewed, &switched.sess),
    ];
    let shape = if login_key {
        "The ConsoleLogin is signed with the key AssumeRoleWithSAML returned."
    } else {
        "The ConsoleLogin is logged without a key (as some public samples show it): only the session's ARN and creationDate tie it to the federation."
    };
    let description = format!(
        "The Identity Center user {email} signed in to the access portal from {ip}, federated into {sso} in acme-dev ({dev}) and opened the console (AssumeRoleWithSAML and ConsoleLogin in the same second). {shape} From there she switched roles into {target} in acme-prod ({prod}) and renewed the switch an hour later (a new session of the same ARN), reading secrets. Four hours earlier the same person walked the same path from home: those sessions share every ARN with the incident's and are not part of it.",
        email = person.email,
        sso = sso.name,
        dev = w.accounts[DEV].id,
        target = target.name,
        prod = prod.id,
    );
    let selection = format!(
        "All events of the three console sessions from {ip}: {} created {}, {} created {} and {} created {} (every console key; the keyless SwitchRole and RenewRole records belong to the session they name). The twin sessions of the same ARNs from {home} are not counted.",
        console.cred.arn,
        iso(created),
        switched.sess.cred.arn,
        iso(switched.pair.time),
        renewed.sess.cred.arn,
        iso(renewed.pair.time),
    );
    let origin = Origin {
        kind: "IdentityCenterUser".into(),
        identifier: person.email.clone(),
        account: w.accounts[MGMT].id.clone(),
        evidence_event_ids: evidence,
    };
    let decoys = vec![
        twin.console.decoy("same_arn_other_session"),
        twin.switched.sess.decoy("same_arn_other_session"),
        twin.renewed.sess.decoy("same_arn_other_session"),
    ];
    let meta = Meta {
        seed,
        index,
        description,
        selection,
        subject: &renewed.sess,
        origin,
        chain,
        flags: &[
            "console_session",
            "cross_account",
            "identity_center",
            "switch_role",
            "secrets_access",
        ],
        decoys,
        finding_type: "CredentialAccess:IAMUser/AnomalousBehavior",
        finding_api: ("secretsmanager.amazonaws.com", "GetSecretValue"),
        finding_ip: ip.to_string(),
        severity: 7.0,
        title: "The API GetSecretValue was invoked using a console session of an Identity Center user from an unusual location.",
        remote_account: None,
    };
    let mut inc = sc.finish(meta, vec![&console, &switched.sess, &renewed.sess], None);
    // The switch crosses from dev into prod; the renewed session reads a secret.
    inc.truth.path_flags = vec![
        "cross_account".into(),
        "identity_center".into(),
        "console_session".into(),
        "data_access".into(),
    ];
    inc
}
