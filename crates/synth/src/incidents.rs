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

mod access_denied_storm;
mod build;
mod cross_account_role_chain;
mod ec2_credentials_exfiltration;
mod identity_center_console;
mod key_minting_leaked_key;
mod leaked_iam_key;
mod quiet_data_theft;
mod recycled_access_key;
mod sso_path;
mod vpc_endpoint_stolen_credentials;

use build::{
    denied, iam_user_gen, new_access_key, object, ok, own_role_gen, parameter, role, secret, user,
};

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

/// Builds every incident for a run starting at `start` lasting `days`.
pub(crate) fn build_all(world: &World, seed: u64, start: i64, days: u32) -> Vec<Incident> {
    let anchor = |i: usize| {
        let (frac, offset) = PLACEMENT[i];
        let day = (frac * days as f64).floor() as i64;
        start + day * 86_400 + offset
    };
    vec![
        leaked_iam_key::leaked_iam_key(world, seed, anchor(0)),
        identity_center_console::identity_center_console(world, seed, anchor(1)),
        ec2_credentials_exfiltration::ec2_credentials_exfiltration(world, seed, anchor(2)),
        cross_account_role_chain::cross_account_role_chain(world, seed, anchor(3)),
        recycled_access_key::recycled_access_key(world, seed, anchor(4)),
        vpc_endpoint_stolen_credentials::vpc_endpoint_stolen_credentials(world, seed, anchor(5)),
        access_denied_storm::access_denied_storm(world, seed, anchor(6)),
        key_minting_leaked_key::key_minting_leaked_key(world, seed, anchor(7)),
        quiet_data_theft::quiet_data_theft(world, seed, anchor(8)),
        sso_path::sso_switch_renew(world, seed, anchor(9), 9, true),
        sso_path::sso_switch_renew(world, seed, anchor(10), 10, false),
    ]
}
