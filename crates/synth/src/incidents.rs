//! The planted incidents. Each builds its own records (attack, the benign activity that
//! makes it hard, and decoys) from its own random stream, then derives its ground truth
//! from those records and writes a GuardDuty-style finding for it.

use serde_json::{Value, json};

use crate::background::{
    BROWSERS, OFFICE_IPS, UA_CLI_MAC, UA_EC2_APP, UA_GHA_CLI, UA_GHA_STS, UA_LAMBDA_PY,
    UA_S3_CONSOLE, UA_SSM_AGENT, aws_ip,
};
use crate::catalog::{CATALOG, Fill, Outcome, Scratch, Src, find};
use crate::cred::{self, Cred, Scope};
use crate::emit::{self, Assume, AssumeCaller, Caller, Produced, SignIn, api_region, render_call};
use crate::rng::Rng;
use crate::time::{iam_date, iso};
use crate::truth::{
    ChainLink, Decoy, GroundTruth, Origin, SessionKey, SessionTruth, Subject, tally,
};
use crate::world::{ATTACKER_ACCOUNT, DEV, HOME, MGMT, PROD, REGIONS, Role, SEC, User, World};

mod path;
mod sso_path;

/// Incident names, in the order they are planted.
pub(crate) const NAMES: [&str; 11] = [
    "leaked-iam-key",
    "identity-center-console",
    "ec2-credentials-exfiltration",
    "cross-account-role-chain",
    "recycled-access-key",
    "vpc-endpoint-stolen-credentials",
    "access-denied-storm",
    "key-minting-leaked-key",
    "quiet-data-theft",
    "sso-console-switch-renew",
    "sso-console-keyless-login",
];

/// Where each incident sits: fraction of the period (selects the day) and the time of
/// day offset from the period start. Every incident keeps its records within
/// `anchor - 5h .. anchor + 3h`, so all of them fit in a single day.
const PLACEMENT: [(f64, i64); 11] = [
    (0.20, 9 * 3600 + 12 * 60 + 7),
    (0.30, 10 * 3600 + 47 * 60 + 33),
    (0.42, 13 * 3600 + 5 * 60 + 12),
    (0.51, 15 * 3600 + 31 * 60 + 40),
    (0.62, 17 * 3600 + 20 * 60 + 3),
    (0.71, 19 * 3600 + 2 * 60 + 51),
    (0.80, 20 * 3600 + 14 * 60 + 26),
    (0.25, 12 * 3600 + 8 * 60 + 19),
    (0.57, 8 * 3600 + 44 * 60 + 2),
    (0.36, 11 * 3600 + 41 * 60 + 19),
    (0.57, 16 * 3600 + 24 * 60 + 52),
];

const UA_KALI_BOTO3: &str = "Boto3/1.34.34 md/Botocore#1.34.34 ua/2.0 os/linux#6.6.9-1kali1-amd64 md/arch#x86_64 lang/python#3.11.8 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.34";
const UA_KALI_CLI: &str = "aws-cli/2.15.30 md/awscrt#0.19.19 ua/2.0 os/linux#6.5.0-kali3-amd64 md/arch#x86_64 lang/python#3.11.8 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/prompt#off";
const UA_OLD_CLI_KALI: &str =
    "aws-cli/2.13.5 Python/3.11.4 Linux/6.1.0-kali7-amd64 exe/x86_64.kali.2023 prompt/off";
const UA_PY_SCRIPT: &str = "Boto3/1.35.24 md/Botocore#1.35.24 ua/2.0 os/linux#6.8.0-40-generic md/arch#x86_64 lang/python#3.12.3 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.35.24";
const UA_PACU: &str =
    "Boto3/1.28.62 Python/3.11.6 Linux/6.5.0-kali2-amd64 Botocore/1.31.62 Pacu/1.5.2";
const UA_VPCE_SCRIPT: &str = "Boto3/1.34.162 md/Botocore#1.34.162 ua/2.0 os/linux#6.8.0-1016-aws md/arch#x86_64 lang/python#3.12.3 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.162";
const UA_FIREFOX_WIN: &str =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:131.0) Gecko/20100101 Firefox/131.0";

/// One generated incident.
pub(crate) struct Incident {
    pub records: Vec<Produced>,
    pub truth: GroundTruth,
    pub finding: Value,
}

/// A credential an incident signs calls with, and what it did.
#[derive(Clone)]
struct Sess {
    cred: Cred,
    acct: usize,
    acct_num: u64,
    key: String,
    ident: String,
    ip: String,
    ua: String,
    cli: bool,
    tls: Option<bool>,
    console: bool,
    vpce: Option<(String, String)>,
    invoked_by: Option<String>,
    keys: Vec<String>,
    events: Vec<String>,
    console_keys: Vec<Option<(String, i64)>>,
}

impl Sess {
    fn new(world: &World, cred: Cred, acct: usize, key: &str, ip: &str, ua: &str) -> Self {
        let mut s = Sess {
            cred,
            acct,
            acct_num: world.accounts[acct].num,
            key: String::new(),
            ident: String::new(),
            ip: ip.to_string(),
            ua: ua.to_string(),
            cli: false,
            tls: Some(true),
            console: false,
            vpce: None,
            invoked_by: None,
            keys: Vec::new(),
            events: Vec::new(),
            console_keys: vec![None; REGIONS.len()],
        };
        s.set_key(key);
        s
    }

    fn set_key(&mut self, key: &str) {
        self.key = key.to_string();
        self.ident = self.cred.render(Some(key), self.invoked_by.as_deref());
        if !self.keys.iter().any(|k| k == key) {
            self.keys.push(key.to_string());
        }
    }

    fn cli(mut self) -> Self {
        self.cli = true;
        self
    }

    /// Console session: keys minted per region and replaced over time.
    fn console(mut self) -> Self {
        self.console = true;
        self.tls = None;
        self
    }

    /// Calls a service makes with this session (`invokedBy`, forward-access key).
    fn invoked(&self, rng: &mut Rng, world: &World, service: &str) -> Sess {
        let key = rng.access_key("ASIA", self.acct_num);
        let mut s = Sess::new(world, self.cred.clone(), self.acct, &key, service, service);
        s.tls = None;
        s.invoked_by = Some(service.to_string());
        s.set_key(&key);
        s
    }

    fn rotate_console(&mut self, rng: &mut Rng, region: usize, t: i64) {
        let due = self.console_keys[region]
            .as_ref()
            .is_none_or(|(_, at)| t >= *at);
        if due {
            let key = rng.access_key("ASIA", self.acct_num);
            self.console_keys[region] = Some((key.clone(), t + rng.range(1_200, 2_400)));
            self.set_key(&key);
        } else {
            let key = self.console_keys[region].as_ref().expect("slot").0.clone();
            if key != self.key {
                self.set_key(&key);
            }
        }
    }

    fn session_key(&self) -> SessionKey {
        SessionKey {
            keys: self.keys.clone(),
            arn: self.cred.arn.clone(),
            creation: self.cred.creation.map(iso),
        }
    }

    fn truth(&self) -> SessionTruth {
        SessionTruth {
            access_key_ids: self.keys.clone(),
            arn: self.cred.arn.clone(),
            creation_date: self.cred.creation.map(iso),
            attacker_event_count: 0,
        }
    }

    fn decoy(&self, kind: &str) -> Decoy {
        Decoy {
            kind: kind.to_string(),
            access_key_id: self.keys[0].clone(),
            arn: self.cred.arn.clone(),
            creation_date: self.cred.creation.map(iso),
            event_ids_sample: self.events.iter().take(5).cloned().collect(),
        }
    }
}

/// Ids of an AssumeRole's copies.
struct AssumeIds {
    caller: Option<String>,
    owner: Option<String>,
    shared: Option<String>,
    time: i64,
}

/// Builds one incident's records.
struct Scene<'w> {
    world: &'w World,
    rng: Rng,
    s: Scratch,
    records: Vec<Produced>,
}

impl<'w> Scene<'w> {
    fn new(world: &'w World, seed: u64, index: usize) -> Self {
        Scene {
            world,
            rng: Rng::stream(seed, 100 + index as u64),
            s: Scratch::default(),
            records: Vec::new(),
        }
    }

    fn put(&mut self, p: Produced) -> String {
        let id = p.event_id.clone();
        self.records.push(p);
        id
    }

    fn call(
        &mut self,
        t: i64,
        sess: &mut Sess,
        region: usize,
        src: Src,
        name: &str,
        outcome: Outcome,
    ) -> String {
        self.call_gen(t, sess, region, src, name, outcome, None)
    }

    #[allow(clippy::too_many_arguments)]
    fn call_gen(
        &mut self,
        t: i64,
        sess: &mut Sess,
        region: usize,
        src: Src,
        name: &str,
        outcome: Outcome,
        custom: Option<&dyn Fn(&mut Fill<'_>)>,
    ) -> String {
        let api = &CATALOG[find(src, name)];
        let region = api_region(api, region);
        if sess.console {
            sess.rotate_console(&mut self.rng, region, t);
        }
        let ua = if sess.console {
            if src == Src::S3 {
                UA_S3_CONSOLE.to_string()
            } else if self.rng.chance(0.7) {
                "AWS Internal".to_string()
            } else {
                sess.ua.clone()
            }
        } else {
            sess.ua.clone()
        };
        let tls = if sess.console {
            (ua != "AWS Internal").then_some(true)
        } else {
            sess.tls
        };
        let mut json = String::with_capacity(2048);
        render_call(
            &mut self.rng,
            self.world,
            sess.acct,
            region,
            t,
            api,
            &Caller {
                identity: &sess.ident,
                arn: &sess.cred.arn,
                ip: &sess.ip,
                ua: &ua,
                cli: sess.cli,
                tls,
                console: sess.console,
                vpce: sess.vpce.as_ref().map(|(a, b)| (a.as_str(), b.as_str())),
            },
            outcome,
            custom,
            &mut self.s,
            &mut json,
        );
        let id = self.s.eid.clone();
        sess.events.push(id.clone());
        self.records.push(Produced {
            acct: sess.acct,
            region,
            time: t,
            event_id: id.clone(),
            json,
        });
        id
    }

    /// A run of calls spaced `gap` seconds apart (randomized), returning the last time.
    fn calls(
        &mut self,
        mut t: i64,
        sess: &mut Sess,
        gap: (i64, i64),
        list: &[(Src, &str, usize, Outcome)],
    ) -> i64 {
        for &(src, name, region, outcome) in list {
            t += self.rng.range(gap.0, gap.1);
            self.call(t, sess, region, src, name, outcome);
        }
        t
    }

    fn assume(&mut self, a: &Assume<'_>) -> AssumeIds {
        let recs = emit::assume_role(&mut self.rng, self.world, a);
        let has_caller_copy = !matches!(a.caller, AssumeCaller::External { .. });
        let mut ids = AssumeIds {
            caller: None,
            owner: None,
            shared: None,
            time: a.t,
        };
        for (i, p) in recs.into_iter().enumerate() {
            if ids.shared.is_none() {
                let v: Value = serde_json::from_str(&p.json).expect("valid record");
                ids.shared = v["sharedEventID"].as_str().map(String::from);
            }
            let id = self.put(p);
            if i == 0 && has_caller_copy {
                ids.caller = Some(id);
            } else {
                ids.owner = Some(id);
            }
        }
        ids
    }

    fn link(
        &self,
        method: &str,
        ids: &AssumeIds,
        caller: Option<&Sess>,
        issued: &Sess,
        issued_key: Option<&str>,
    ) -> ChainLink {
        ChainLink {
            method: method.to_string(),
            event_id: ids
                .caller
                .clone()
                .or_else(|| ids.owner.clone())
                .expect("an event"),
            shared_event_id: ids.shared.clone(),
            other_copy_event_ids: if ids.caller.is_some() {
                ids.owner.iter().cloned().collect()
            } else {
                Vec::new()
            },
            time: iso(ids.time),
            caller_arn: caller.map(|c| c.cred.arn.clone()),
            caller_access_key_id: caller.map(|c| c.key.clone()),
            issued_access_key_id: issued_key.map(String::from),
            issued_arn: issued.cred.arn.clone(),
            issued_creation_date: iso(issued.cred.creation.expect("role session")),
        }
    }

    /// Identity Center portal sign-in, federation into `role` and ConsoleLogin, logged with
    /// the federation's key or, as some public samples show it, without a key (`login_key`
    /// false: the key then never appears and is not one of the session's keys); returns the
    /// console session and the sign-in event ids.
    #[allow(clippy::too_many_arguments)]
    fn sso_console_as(
        &mut self,
        t: i64,
        email: &str,
        user_id: &str,
        role: &Role,
        ps: &str,
        (ip, ua): (&str, &str),
        with_portal_listing: bool,
        login_key: bool,
    ) -> (Sess, Vec<String>, String, String) {
        let w = self.world;
        let credential_id = self.rng.mixed_alnum(32);
        let idc = cred::identity_center_user(
            &w.accounts[MGMT].id,
            user_id,
            &w.identity_store_arn(),
            &credential_id,
        );
        let mut evidence = Vec::new();
        for p in emit::portal_sign_in(&mut self.rng, w, t - 60, &idc, email, ip, ua) {
            evidence.push(self.put(p));
        }
        let acct = w.acct_index(&role.account).expect("trail account");
        let request = format!(
            "{{\"roleName\":\"{ps}\",\"accountId\":\"{}\"}}",
            w.accounts[acct].id
        );
        if with_portal_listing {
            let p = emit::portal_call(
                &mut self.rng,
                w,
                t - 20,
                &idc,
                "ListAccounts",
                Some("{\"maxResults\":100}"),
                ip,
                ua,
            );
            evidence.push(self.put(p));
            let req = format!(
                "{{\"accountId\":\"{}\",\"maxResults\":100}}",
                w.accounts[acct].id
            );
            let p = emit::portal_call(
                &mut self.rng,
                w,
                t - 12,
                &idc,
                "ListAccountRoles",
                Some(&req),
                ip,
                ua,
            );
            evidence.push(self.put(p));
        }
        let p = emit::portal_call(
            &mut self.rng,
            w,
            t - 2,
            &idc,
            "Federate",
            Some(&request),
            ip,
            ua,
        );
        evidence.push(self.put(p));
        let key = self.rng.access_key("ASIA", w.accounts[acct].num);
        let saml = emit::assume_role_with_saml(&mut self.rng, w, t, role, email, &key, ip, ua);
        let saml_id = self.put(saml);
        let mut sess = Sess::new(w, Cred::role(role, email, t), acct, &key, ip, ua).console();
        let login_ident = if login_key {
            sess.ident.clone()
        } else {
            sess.keys.clear();
            sess.cred.render(None, None)
        };
        let login = emit::console_login(&mut self.rng, w, t + 1, acct, &login_ident, ip, ua, None);
        let login_id = self.put(login);
        sess.events.push(login_id.clone());
        (sess, evidence, saml_id, login_id)
    }

    fn finish(
        self,
        meta: Meta,
        sessions: Vec<&Sess>,
        allowed_ips: Option<Vec<String>>,
    ) -> Incident {
        let parsed: Vec<Value> = self
            .records
            .iter()
            .map(|p| serde_json::from_str(&p.json).expect("valid record"))
            .collect();
        let keys: Vec<SessionKey> = sessions.iter().map(|s| s.session_key()).collect();
        let t = tally(&parsed, &keys, allowed_ips.as_deref());
        let mut truth_sessions: Vec<SessionTruth> = sessions.iter().map(|s| s.truth()).collect();
        for (s, n) in truth_sessions.iter_mut().zip(&t.per_session) {
            s.attacker_event_count = *n;
        }
        let mut flags: Vec<String> = meta.flags.iter().map(|f| f.to_string()).collect();
        flags.sort();
        let name = NAMES[meta.index];
        let truth = GroundTruth {
            incident: name.to_string(),
            description: meta.description,
            selection: meta.selection,
            finding: format!("findings/{name}.json"),
            subject: Subject {
                access_key_id: meta.subject.keys[0].clone(),
                arn: meta.subject.cred.arn.clone(),
            },
            origin: meta.origin,
            chain: meta.chain,
            sessions: truth_sessions,
            api_counts: t.api_counts,
            source_ips: t.source_ips,
            denied_targets: t.denied_targets,
            flags,
            decoys: meta.decoys,
            spawned: Vec::new(),
            path_flags: Vec::new(),
        };
        let times: Vec<&str> = parsed
            .iter()
            .filter(|r| truth.selects(r).is_some())
            .filter_map(|r| r["eventTime"].as_str())
            .collect();
        let first = times.iter().min().copied().unwrap_or_default();
        let last = times.iter().max().copied().unwrap_or_default();
        let mut frng = Rng::stream(meta.seed, 200 + meta.index as u64);
        let finding = finding(
            &mut frng,
            &FindingSpec {
                account: &self.world.accounts[meta.subject.acct].id,
                ftype: meta.finding_type,
                subject: meta.subject,
                api: meta.finding_api,
                ip: &meta.finding_ip,
                first,
                last,
                count: times.len() as u64,
                severity: meta.severity,
                title: meta.title,
                description: &truth.description,
                remote_account: meta.remote_account,
            },
        );
        let mut records = self.records;
        records.sort_by_key(|p| p.time);
        Incident {
            records,
            truth,
            finding,
        }
    }
}

/// What an incident declares about itself; the counts are computed.
struct Meta<'a> {
    seed: u64,
    index: usize,
    description: String,
    selection: String,
    subject: &'a Sess,
    origin: Origin,
    chain: Vec<ChainLink>,
    flags: &'a [&'a str],
    decoys: Vec<Decoy>,
    finding_type: &'a str,
    finding_api: (&'a str, &'a str),
    finding_ip: String,
    severity: f64,
    title: &'a str,
    remote_account: Option<&'a str>,
}

struct FindingSpec<'a> {
    account: &'a str,
    ftype: &'a str,
    subject: &'a Sess,
    api: (&'a str, &'a str),
    ip: &'a str,
    first: &'a str,
    last: &'a str,
    count: u64,
    severity: f64,
    title: &'a str,
    description: &'a str,
    remote_account: Option<&'a str>,
}

/// GuardDuty finding (schema 2.0) about the subject's access key.
fn finding(rng: &mut Rng, f: &FindingSpec<'_>) -> Value {
    let detector = rng.hex(32);
    let id = rng.hex(32);
    let region = "us-east-1";
    let user_type = match f.subject.cred.who {
        cred::Who::User(_) => "IAMUser",
        cred::Who::Role { .. } => "AssumedRole",
    };
    let private = f.ip.starts_with("10.");
    let remote_ip = if private {
        json!({
            "ipAddressV4": f.ip,
            "organization": {"asn": "16509", "asnOrg": "AMAZON-02", "isp": "Amazon.com", "org": "Amazon.com"},
            "country": {"countryName": "United States"},
            "city": {"cityName": "Ashburn"},
            "geoLocation": {"lat": 39.0481, "lon": -77.4728}
        })
    } else {
        json!({
            "ipAddressV4": f.ip,
            "organization": {"asn": "64500", "asnOrg": "EXAMPLE-HOSTING-AS", "isp": "Example Hosting Ltd", "org": "Example Hosting Ltd"},
            "country": {"countryName": "Netherlands"},
            "city": {"cityName": "Amsterdam"},
            "geoLocation": {"lat": 52.3759, "lon": 4.8975}
        })
    };
    let mut action = json!({
        "api": f.api.1,
        "serviceName": f.api.0,
        "callerType": "Remote IP",
        "remoteIpDetails": remote_ip,
        "affectedResources": {}
    });
    if let Some(acct) = f.remote_account {
        action["remoteAccountDetails"] = json!({"accountId": acct, "affiliated": false});
    }
    let created = f.last.replace('Z', ".512Z");
    json!({
        "schemaVersion": "2.0",
        "accountId": f.account,
        "region": region,
        "partition": "aws",
        "id": id,
        "arn": format!("arn:aws:guardduty:{region}:{}:detector/{detector}/finding/{id}", f.account),
        "type": f.ftype,
        "resource": {
            "resourceType": "AccessKey",
            "accessKeyDetails": {
                "accessKeyId": f.subject.keys[0],
                "principalId": f.subject.cred.principal_id,
                "userName": f.subject.cred.user_name(),
                "userType": user_type
            }
        },
        "service": {
            "serviceName": "guardduty",
            "detectorId": detector,
            "action": {
                "actionType": "AWS_API_CALL",
                "awsApiCallAction": action
            },
            "resourceRole": "TARGET",
            "additionalInfo": {"value": "{}", "type": "default"},
            "eventFirstSeen": f.first,
            "eventLastSeen": f.last,
            "archived": false,
            "count": f.count
        },
        "severity": f.severity,
        "createdAt": created,
        "updatedAt": created,
        "title": f.title,
        "description": f.description
    })
}

fn ok(src: Src, name: &str, region: usize) -> (Src, &str, usize, Outcome) {
    (src, name, region, Outcome::Normal)
}

fn denied(src: Src, name: &str, region: usize) -> (Src, &str, usize, Outcome) {
    (src, name, region, Outcome::Denied)
}

/// Builds every incident for a run starting at `start` lasting `days`.
pub(crate) fn build_all(world: &World, seed: u64, start: i64, days: u32) -> Vec<Incident> {
    let anchor = |i: usize| {
        let (frac, offset) = PLACEMENT[i];
        let day = (frac * days as f64).floor() as i64;
        start + day * 86_400 + offset
    };
    vec![
        leaked_iam_key(world, seed, anchor(0)),
        identity_center_console(world, seed, anchor(1)),
        ec2_credentials_exfiltration(world, seed, anchor(2)),
        cross_account_role_chain(world, seed, anchor(3)),
        recycled_access_key(world, seed, anchor(4)),
        vpc_endpoint_stolen_credentials(world, seed, anchor(5)),
        access_denied_storm(world, seed, anchor(6)),
        path::key_minting_leaked_key(world, seed, anchor(7)),
        path::quiet_data_theft(world, seed, anchor(8)),
        sso_path::sso_switch_renew(world, seed, anchor(9), 9, true),
        sso_path::sso_switch_renew(world, seed, anchor(10), 10, false),
    ]
}

fn user(world: &World, rng: &mut Rng, acct: usize, name: &str) -> User {
    let a = &world.accounts[acct];
    User::new(rng, &a.id, a.num, name)
}

fn role(world: &World, rng: &mut Rng, acct: usize, path: &str, name: &str) -> Role {
    let a = &world.accounts[acct];
    Role::new(rng, &a.id, a.num, path, name)
}

/// requestParameters/target of an IAM call about the caller's own role.
fn own_role_gen(role: &Role) -> impl Fn(&mut Fill<'_>) + use<> {
    let (name, arn) = (role.name.clone(), role.arn());
    move |f: &mut Fill<'_>| {
        f.s.req.push_str(&format!("{{\"roleName\":\"{name}\"}}"));
        f.s.target.push_str(&arn);
    }
}

fn iam_user_gen(name: String, account: String) -> impl Fn(&mut Fill<'_>) {
    move |f: &mut Fill<'_>| {
        f.s.req.push_str(&format!("{{\"userName\":\"{name}\"}}"));
        f.s.target
            .push_str(&format!("arn:aws:iam::{account}:user/{name}"));
    }
}

// ---- 1 ------------------------------------------------------------------------------

fn leaked_iam_key(w: &World, seed: u64, anchor: i64) -> Incident {
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
    let first = sc.call(
        t,
        &mut atk,
        HOME,
        Src::Sts,
        "GetCallerIdentity",
        Outcome::Normal,
    );
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
        Some(&move |f: &mut Fill<'_>| {
            f.s.req.push_str(&format!("{{\"userName\":\"{b}\"}}"));
            f.s.resp
                .push_str(&emit::create_access_key_response(&b, &k, tt));
        }),
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

// ---- 2 ------------------------------------------------------------------------------

fn identity_center_console(w: &World, seed: u64, anchor: i64) -> Incident {
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
        let g = move |f: &mut Fill<'_>| {
            f.s.req.push_str(&format!("{{\"secretId\":\"{arn}\"}}"));
            f.s.target.push_str(&arn);
        };
        sc.call_gen(
            t,
            &mut prod_sess,
            HOME,
            Src::Secrets,
            "GetSecretValue",
            outcome,
            Some(&g),
        );
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
    sc.call(
        t,
        &mut prod_sess,
        HOME,
        Src::S3,
        "ListBuckets",
        Outcome::Normal,
    );
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
        sc.call_gen(
            t,
            &mut prod_sess,
            HOME,
            Src::S3,
            "GetObject",
            Outcome::Normal,
            Some(&move |f: &mut Fill<'_>| f.s3_object(&b, &key)),
        );
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

// ---- 3 ------------------------------------------------------------------------------

fn ec2_credentials_exfiltration(w: &World, seed: u64, anchor: i64) -> Incident {
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
                            Some(&move |f: &mut Fill<'_>| f.s3_object(&b, &key)),
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
                            Some(&move |f: &mut Fill<'_>| f.s3_object(&b, &key)),
                        );
                    }
                    4 => {
                        sc.call(t, sess, HOME, Src::Kms, "Decrypt", Outcome::Normal);
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
        sc.call_gen(
            t,
            &mut atk,
            HOME,
            Src::S3,
            "GetObject",
            Outcome::Normal,
            Some(&move |f: &mut Fill<'_>| f.s3_object(&b, &key)),
        );
    }
    let arn = prod.secret_arn("us-east-1", 2);
    t += 45;
    sc.call_gen(
        t,
        &mut atk,
        HOME,
        Src::Secrets,
        "GetSecretValue",
        Outcome::Normal,
        Some(&move |f: &mut Fill<'_>| {
            f.s.req.push_str(&format!("{{\"secretId\":\"{arn}\"}}"));
            f.s.target.push_str(&arn);
        }),
    );
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

// ---- 4 ------------------------------------------------------------------------------

fn cross_account_role_chain(w: &World, seed: u64, anchor: i64) -> Incident {
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
    let first = sc.call(
        t,
        &mut origin,
        HOME,
        Src::Sts,
        "GetCallerIdentity",
        Outcome::Normal,
    );
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

// ---- 5 ------------------------------------------------------------------------------

fn recycled_access_key(w: &World, seed: u64, anchor: i64) -> Incident {
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
        sc.call(t, &mut twin, HOME, src, name, Outcome::Normal);
    }

    // the attacker: a partner user's key, then a role session with the recycled key id
    let key_p = sc.rng.access_key("AKIA", prod.num);
    let mut origin = Sess::new(w, Cred::user(&partner), PROD, &key_p, ip, UA_PY_SCRIPT);
    let first = sc.call(
        anchor,
        &mut origin,
        HOME,
        Src::Sts,
        "GetCallerIdentity",
        Outcome::Normal,
    );
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
        sc.call_gen(
            t,
            &mut atk,
            HOME,
            Src::S3,
            "GetObject",
            Outcome::Normal,
            Some(&move |f: &mut Fill<'_>| f.s3_object(&b, &key)),
        );
    }
    for (i, outcome) in [
        (3, Outcome::Normal),
        (3, Outcome::Normal),
        (1, Outcome::Denied),
    ] {
        t += sc.rng.range(20, 120);
        let arn = prod.secret_arn("us-east-1", i);
        sc.call_gen(
            t,
            &mut atk,
            HOME,
            Src::Secrets,
            "GetSecretValue",
            outcome,
            Some(&move |f: &mut Fill<'_>| {
                f.s.req.push_str(&format!("{{\"secretId\":\"{arn}\"}}"));
                f.s.target.push_str(&arn);
            }),
        );
    }
    sc.call(
        t + 30,
        &mut atk,
        HOME,
        Src::S3,
        "ListBuckets",
        Outcome::Normal,
    );

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

// ---- 6 ------------------------------------------------------------------------------

fn vpc_endpoint_stolen_credentials(w: &World, seed: u64, anchor: i64) -> Incident {
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
                sc.call(
                    t,
                    &mut own,
                    HOME,
                    Src::Ddb,
                    "DescribeTable",
                    Outcome::Normal,
                );
            }
            2 | 4 => {
                sc.call(t, &mut own, HOME, Src::S3, "PutObject", Outcome::Normal);
            }
            _ => {
                sc.call(t, &mut own, HOME, Src::Kms, "Decrypt", Outcome::Normal);
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
        sc.call_gen(
            t,
            &mut atk,
            HOME,
            Src::Secrets,
            "GetSecretValue",
            outcome,
            Some(&move |f: &mut Fill<'_>| {
                f.s.req.push_str(&format!("{{\"secretId\":\"{arn}\"}}"));
                f.s.target.push_str(&arn);
            }),
        );
    }
    let exports = prod.buckets[0].clone();
    for i in 0..7 {
        t += sc.rng.range(3, 25);
        let b = exports.clone();
        let key = format!("exports/2026/payouts-{:02}.csv.gz", i + 3);
        sc.call_gen(
            t,
            &mut atk,
            HOME,
            Src::S3,
            "GetObject",
            Outcome::Normal,
            Some(&move |f: &mut Fill<'_>| f.s3_object(&b, &key)),
        );
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

// ---- 7 ------------------------------------------------------------------------------

fn access_denied_storm(w: &World, seed: u64, anchor: i64) -> Incident {
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
            sc.call(
                t,
                &mut ci,
                HOME,
                Src::Sts,
                "GetCallerIdentity",
                Outcome::Normal,
            );
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
                Some(&move |f: &mut Fill<'_>| f.s3_object(&b, &key)),
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
            Some(&move |f: &mut Fill<'_>| f.s3_object(&b, &k)),
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
