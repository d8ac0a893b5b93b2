//! The flags raised over a set of events, one function per concern: private and
//! service addresses, VPC endpoints, several networks, instance credentials used elsewhere,
//! tampering / persistence / bulk reads, identity facts, recycled keys.

use super::classify::{ApiFlag, IpClass, PATTERNS, classify_ip, network_of};
use super::{
    BULK_CALLS, BULK_WINDOW_MS, DETAIL_TARGETS, Evidence, Flag, FlagKind, counted, list, nonempty,
};
use crate::calls::{api_name, json_of};
use crate::catalog::Catalog;
use backtrail_model::time::format_iso;
use backtrail_model::{Event, Millis};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;

/// Substrings (lower case) of user agents that only software on the instance itself uses;
/// the addresses they call from are the instance's own.
const INSTANCE_AGENT_MARKERS: &[&str] = &[
    "amazon-ssm-agent",
    "amazoncloudwatchagent",
    "ec2-instance-connect",
    "aws-codedeploy-agent",
    "amazon ecs agent",
    "cloud-init",
];

pub(super) fn private_sources(order: &[&Event]) -> Option<Flag> {
    // Per address: range, calls, calls through a VPC endpoint.
    let mut per: BTreeMap<&str, (&'static str, u64, u64, Millis)> = BTreeMap::new();
    let mut leads = Vec::new();
    let mut all = Vec::new();
    for ev in order {
        let Some(ip) = nonempty(&ev.source_ip) else {
            continue;
        };
        if let (IpClass::Private, range) = classify_ip(ip) {
            let entry = per
                .entry(ip)
                .or_insert((range.unwrap_or("private"), 0, 0, ev.event_time));
            if entry.1 == 0 {
                leads.push(*ev);
            }
            entry.1 += 1;
            if nonempty(&ev.vpc_endpoint_id).is_some() {
                entry.2 += 1;
            }
            all.push(*ev);
        }
    }
    if per.is_empty() {
        return None;
    }
    let e = Evidence::led_by(&leads, &all);
    let mut ips: Vec<_> = per.into_iter().collect();
    ips.sort_by(|a, b| b.1.1.cmp(&a.1.1).then(a.1.3.cmp(&b.1.3)).then(a.0.cmp(b.0)));
    let detail = format!(
        "calls from private addresses, which AWS logs for calls through a VPC endpoint (an \
         address in the caller's VPC) and which otherwise point to an anonymised log: {}",
        list(ips.into_iter().map(|(ip, (range, n, via, _))| {
            let via = if via == 0 {
                "no VPC endpoint".to_string()
            } else {
                format!("{via} through a VPC endpoint")
            };
            format!("{ip} ({range}, {n} calls, {via})")
        }))
    );
    Some(e.flag(FlagKind::PrivateSourceIp, detail))
}

pub(super) fn aws_sources(order: &[&Event]) -> Option<Flag> {
    let mut per: HashMap<&str, u64> = HashMap::new();
    let mut leads = Vec::new();
    let mut all = Vec::new();
    for ev in order {
        let Some(ip) = nonempty(&ev.source_ip) else {
            continue;
        };
        if matches!(
            classify_ip(ip).0,
            IpClass::AwsInternal | IpClass::AwsService
        ) {
            let n = per.entry(ip).or_default();
            if *n == 0 {
                leads.push(*ev);
            }
            *n += 1;
            all.push(*ev);
        }
    }
    if per.is_empty() {
        return None;
    }
    let e = Evidence::led_by(&leads, &all);
    let detail = format!(
        "calls AWS made on the identity's behalf (a service acting with its credentials, or the \
         console), so the source is not the caller's network: {}",
        list(
            counted(per)
                .into_iter()
                .map(|c| format!("{} ({} calls)", c.value, c.count))
        )
    );
    Some(e.flag(FlagKind::AwsInternalOrServiceSource, detail))
}

pub(super) fn vpc_endpoints(order: &[&Event], known_accounts: &[String]) -> Vec<Flag> {
    struct Acc<'a> {
        evidence: Evidence,
        owners: BTreeSet<String>,
        recipients: BTreeSet<String>,
        sources: BTreeSet<String>,
        ips: BTreeSet<String>,
        foreign: Vec<&'a Event>,
    }
    let mut per: BTreeMap<&str, Acc> = BTreeMap::new();
    for ev in order {
        let Some(id) = nonempty(&ev.vpc_endpoint_id) else {
            continue;
        };
        let a = per.entry(id).or_insert_with(|| Acc {
            evidence: Evidence::default(),
            owners: BTreeSet::new(),
            recipients: BTreeSet::new(),
            sources: BTreeSet::new(),
            ips: BTreeSet::new(),
            foreign: Vec::new(),
        });
        a.evidence.add(ev);
        a.sources.insert(ev.event_source.clone());
        a.ips.extend(ev.source_ip.clone());
        a.recipients.extend(ev.recipient_account_id.clone());
        if let Some(owner) = nonempty(&ev.vpc_endpoint_account_id) {
            a.owners.insert(owner.to_string());
            let ours = ev.recipient_account_id.as_deref() == Some(owner)
                || known_accounts.iter().any(|k| k == owner);
            if !ours {
                a.foreign.push(ev);
            }
        }
    }
    let mut flags = Vec::new();
    for (id, a) in per {
        let owner = if a.owners.is_empty() {
            "owner account not logged (vpcEndpointAccountId appears from eventVersion 1.09)"
                .to_string()
        } else {
            format!(
                "owner account {}",
                a.owners.iter().cloned().collect::<Vec<_>>().join(", ")
            )
        };
        let detail = format!(
            "{id} ({owner}): {} calls to {} from {}",
            a.evidence.count,
            a.sources.iter().cloned().collect::<Vec<_>>().join(", "),
            list(a.ips.iter().cloned())
        );
        flags.push(a.evidence.flag(FlagKind::VpcEndpoint, detail));
        if !a.foreign.is_empty() {
            let mut e = Evidence::default();
            let mut owners = BTreeSet::new();
            let mut ips = BTreeSet::new();
            for ev in &a.foreign {
                e.add(ev);
                owners.extend(ev.vpc_endpoint_account_id.clone());
                ips.extend(ev.source_ip.clone());
            }
            let detail = format!(
                "{id} belongs to account {}, which is neither the recipient ({}) nor any account \
                 in the store: the calls went through the caller's own VPC endpoint, so the \
                 source address ({}) is one the caller chose inside its VPC and says nothing \
                 about where the credentials were used from",
                owners.into_iter().collect::<Vec<_>>().join(", "),
                a.recipients.iter().cloned().collect::<Vec<_>>().join(", "),
                list(ips)
            );
            flags.push(e.flag(FlagKind::CallerChosenSourceIp, detail));
        }
    }
    flags
}

/// Whether AWS made the call for the identity (a service source or `invokedBy`).
pub(super) fn made_by_aws(ev: &Event) -> bool {
    nonempty(&ev.identity.invoked_by).is_some()
        || nonempty(&ev.source_ip).is_some_and(|ip| {
            matches!(
                classify_ip(ip).0,
                IpClass::AwsService | IpClass::AwsInternal
            )
        })
}

/// `key (arn)` label of a session.
pub(super) fn session_label(ev: &Event) -> String {
    let key = nonempty(&ev.identity.access_key_id).unwrap_or("no key");
    let arn = nonempty(&ev.identity.arn).unwrap_or("no ARN");
    match ev.identity.session_creation_date {
        Some(c) => format!("{key} ({arn}, created {})", format_iso(c)),
        None => format!("{key} ({arn})"),
    }
}

pub(super) fn multiple_networks(order: &[&Event]) -> Vec<Flag> {
    // Session → network → (class, calls, first event).
    type Nets<'a> = BTreeMap<String, (IpClass, u64, &'a Event)>;
    let mut sessions: BTreeMap<_, Nets> = BTreeMap::new();
    for ev in order {
        let key = ev.session_key();
        if key.access_key_id.is_none() && key.arn.is_none() {
            continue;
        }
        let Some(ip) = nonempty(&ev.source_ip) else {
            continue;
        };
        let (class, _) = classify_ip(ip);
        let net = match (class, ip.parse::<IpAddr>()) {
            (IpClass::Public, Ok(addr)) => network_of(addr),
            (IpClass::Private, _) => format!("private {ip}"),
            _ => continue,
        };
        let n = sessions
            .entry(key)
            .or_default()
            .entry(net)
            .or_insert((class, 0, ev));
        n.1 += 1;
    }
    let mut flags = Vec::new();
    for (_, nets) in sessions {
        let public = nets.values().filter(|n| n.0 == IpClass::Public).count();
        let private = nets.len() - public;
        if public < 2 && (public == 0 || private == 0) {
            continue;
        }
        let why = if public >= 2 {
            format!("{public} public networks")
        } else {
            "both public and private addresses".to_string()
        };
        let mut firsts: Vec<&Event> = nets.values().map(|n| n.2).collect();
        firsts.sort_by_key(|e| e.event_time);
        let mut e = Evidence::default();
        for ev in &firsts {
            e.add(ev);
        }
        e.count = nets.values().map(|n| n.1).sum();
        let detail = format!(
            "session {} was used from {why}: {}",
            session_label(firsts[0]),
            list(nets.iter().map(|(net, n)| format!("{net} ({} calls)", n.1)))
        );
        flags.push(e.flag(FlagKind::MultipleNetworks, detail));
    }
    flags
}

pub(super) fn is_instance_id(s: &str) -> bool {
    s.strip_prefix("i-").is_some_and(|h| {
        (h.len() == 8 || h.len() == 17) && h.bytes().all(|c| c.is_ascii_hexdigit())
    })
}

/// The instance whose credentials signed the call: `inScopeOf.credentialsIssuedTo`, an
/// `inScopeOf` issuer of type EC2 instance, or a role session named after an instance id
/// (what EC2 names instance-profile sessions).
pub(super) fn instance_of(ev: &Event) -> Option<String> {
    let id = &ev.identity;
    if let Some(to) = nonempty(&id.in_scope_of_credentials_issued_to) {
        if let Some(i) = to.rsplit('/').next().filter(|s| is_instance_id(s)) {
            return Some(i.to_string());
        }
        if id.in_scope_of_issuer_type.as_deref() == Some("AWS::EC2::Instance") {
            return Some(to.to_string());
        }
    }
    let arn = nonempty(&id.arn)?;
    let session = arn.strip_prefix("arn:")?.split(':').nth(4)?;
    let mut parts = session.split('/');
    (parts.next() == Some("assumed-role"))
        .then(|| parts.nth(1))
        .flatten()
        .filter(|s| is_instance_id(s))
        .map(str::to_string)
}

pub(super) fn instance_credentials(order: &[&Event]) -> Vec<Flag> {
    struct Ip<'a> {
        class: IpClass,
        calls: Vec<&'a Event>,
        agent: bool,
        uas: BTreeSet<String>,
    }
    let mut per: BTreeMap<String, (String, BTreeMap<String, Ip>)> = BTreeMap::new();
    for ev in order {
        let Some(instance) = instance_of(ev) else {
            continue;
        };
        let Some(ip) = nonempty(&ev.source_ip) else {
            continue;
        };
        let (class, _) = classify_ip(ip);
        if !matches!(class, IpClass::Public | IpClass::Private) {
            continue;
        }
        let role = ev
            .identity
            .issuer_arn
            .clone()
            .or_else(|| ev.identity.arn.clone())
            .unwrap_or_default();
        let ua = ev.user_agent.clone().unwrap_or_default();
        let lower = ua.to_ascii_lowercase();
        let entry = per
            .entry(instance)
            .or_insert_with(|| (role, BTreeMap::new()));
        let slot = entry.1.entry(ip.to_string()).or_insert(Ip {
            class,
            calls: Vec::new(),
            agent: false,
            uas: BTreeSet::new(),
        });
        slot.calls.push(ev);
        slot.agent |= INSTANCE_AGENT_MARKERS.iter().any(|m| lower.contains(m));
        slot.uas.insert(ua);
    }
    let mut flags = Vec::new();
    for (instance, (role, ips)) in per {
        if ips.len() < 2 {
            continue;
        }
        let by_agent = ips.values().any(|i| i.agent);
        let first_ip = ips
            .iter()
            .min_by_key(|(_, i)| (i.calls[0].event_time, &i.calls[0].event_id))
            .map(|(ip, _)| ip.clone());
        let home = |ip: &String, i: &Ip| {
            if by_agent {
                i.agent
            } else {
                Some(ip) == first_ip.as_ref()
            }
        };
        let describe = |ip: &String, i: &Ip| {
            format!(
                "{ip} ({}, {} calls, user agent {})",
                i.class.label(),
                i.calls.len(),
                i.uas.iter().cloned().collect::<Vec<_>>().join(" | ")
            )
        };
        let homes: Vec<String> = ips
            .iter()
            .filter(|(ip, i)| home(ip, i))
            .map(|(ip, i)| describe(ip, i))
            .collect();
        let outside: Vec<(&String, &Ip)> = ips.iter().filter(|(ip, i)| !home(ip, i)).collect();
        let mut e = Evidence::default();
        for (_, i) in &outside {
            for ev in &i.calls {
                e.add(ev);
            }
        }
        let basis = if by_agent {
            "the addresses its own agents (amazon-ssm-agent, ...) call from"
        } else {
            "no agent call to compare with, so the address the credentials were first used from"
        };
        let detail = format!(
            "credentials of instance {instance} ({role}) were used from {} while the instance's \
             own address ({basis}) is {}; instance credentials used away from the instance \
             suggest they were stolen (best effort: only the events given are compared)",
            list(outside.iter().map(|(ip, i)| describe(ip, i))),
            homes.join("; ")
        );
        flags.push(e.flag(FlagKind::InstanceCredentialsOutside, detail));
    }
    flags
}

pub(super) fn api_flags(order: &[&Event], catalog: &Catalog) -> Vec<Flag> {
    struct Acc<'a> {
        flag: ApiFlag,
        note: String,
        calls: Vec<&'a Event>,
    }
    let mut per: BTreeMap<(&str, &str), Acc> = BTreeMap::new();
    for ev in order {
        if let Some((flag, note)) = PATTERNS.api_flag(ev) {
            per.entry((ev.event_source.as_str(), api_name(&ev.event_name)))
                .or_insert_with(|| Acc {
                    flag: *flag,
                    note: note.clone(),
                    calls: Vec::new(),
                })
                .calls
                .push(ev);
        }
    }
    let mut flags = Vec::new();
    for ((source, name), a) in per {
        // Targets in the order they were first called on; those first called at the same
        // time by name, so the text does not depend on the order the store returns ties in.
        let mut first: Vec<(i64, String)> = Vec::new();
        for ev in &a.calls {
            for t in catalog.targets(ev) {
                match first.iter_mut().find(|(_, x)| *x == t) {
                    Some(seen) => seen.0 = seen.0.min(ev.event_time),
                    None => first.push((ev.event_time, t)),
                }
            }
        }
        first.sort();
        let targets: Vec<String> = first.into_iter().map(|(_, t)| t).collect();
        let failed = a.calls.iter().filter(|e| e.failed()).count();
        let shown_targets = if targets.is_empty() {
            String::new()
        } else {
            let mut s = targets
                .iter()
                .take(DETAIL_TARGETS)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ");
            if targets.len() > DETAIL_TARGETS {
                s.push_str(&format!(" and {} more", targets.len() - DETAIL_TARGETS));
            }
            format!(" on {s}")
        };
        match a.flag {
            ApiFlag::LoggingTampering | ApiFlag::Persistence => {
                let mut e = Evidence::default();
                for ev in &a.calls {
                    e.add(ev);
                }
                let detail = format!(
                    "{source} {name} ({}): {} calls, {failed} failed{shown_targets}",
                    a.note,
                    a.calls.len()
                );
                let kind = if a.flag == ApiFlag::Persistence {
                    FlagKind::Persistence
                } else {
                    FlagKind::LoggingTampering
                };
                flags.push(e.flag(kind, detail));
            }
            ApiFlag::BulkDataAccess => {
                // Direct, successful calls: a service's own follow-up calls (KMS Decrypt by
                // Secrets Manager for each GetSecretValue) would count every read twice.
                let ok: Vec<&Event> = a
                    .calls
                    .iter()
                    .copied()
                    .filter(|e| !e.failed() && !made_by_aws(e))
                    .collect();
                // Largest number of successful calls inside any window, and where it starts.
                let (mut best, mut start, mut lo) = (0usize, 0usize, 0usize);
                for hi in 0..ok.len() {
                    while ok[hi].event_time - ok[lo].event_time > BULK_WINDOW_MS {
                        lo += 1;
                    }
                    if hi + 1 - lo > best {
                        best = hi + 1 - lo;
                        start = lo;
                    }
                }
                if (best as u64) < BULK_CALLS {
                    continue;
                }
                let mut e = Evidence::default();
                for ev in &ok {
                    e.add(ev);
                }
                let window = &ok[start..start + best];
                let detail = format!(
                    "{source} {name} ({}): {} successful calls, {best} of them within {} minutes \
                     ({} to {}; threshold {BULK_CALLS} per {} minutes), {} distinct targets{}",
                    a.note,
                    ok.len(),
                    BULK_WINDOW_MS / 60_000,
                    format_iso(window[0].event_time),
                    format_iso(window[best - 1].event_time),
                    BULK_WINDOW_MS / 60_000,
                    targets.len(),
                    shown_targets
                );
                flags.push(e.flag(FlagKind::BulkDataAccess, detail));
            }
        }
    }
    flags
}

/// Flags read off the identity block and sign-in events: console, MFA, cross-account,
/// web identity, federation.
pub(super) fn identity_flags(order: &[&Event], known_accounts: &[String]) -> Vec<Flag> {
    let mut console = (Evidence::default(), 0u64, BTreeMap::<String, u64>::new());
    let mut mfa = (Evidence::default(), BTreeMap::<String, u64>::new());
    let mut cross = (
        Evidence::default(),
        BTreeMap::<(String, String), u64>::new(),
    );
    let mut web = (Evidence::default(), BTreeSet::<String>::new());
    let mut fed = (Evidence::default(), BTreeSet::<String>::new());
    for ev in order {
        let id = &ev.identity;
        let name = ev.event_name.as_str();
        let sign_in = matches!(name, "ConsoleLogin" | "SwitchRole" | "GetSigninToken");
        if sign_in {
            *console.2.entry(name.to_string()).or_default() += 1;
        }
        if ev.session_credential_from_console == Some(true) {
            console.1 += 1;
        }
        if sign_in || ev.session_credential_from_console == Some(true) {
            console.0.add(ev);
        }

        let mfa_login = name == "ConsoleLogin"
            && json_of(ev.additional_event_data.as_deref())
                .and_then(|v| v.get("MFAUsed")?.as_str().map(|s| s == "Yes"))
                .unwrap_or(false);
        if mfa_login || id.mfa_authenticated == Some(true) {
            mfa.0.add(ev);
            let who = nonempty(&id.arn).unwrap_or("no ARN").to_string();
            *mfa.1.entry(who).or_default() += 1;
        }

        if let (Some(from), Some(to)) =
            (nonempty(&id.account_id), nonempty(&ev.recipient_account_id))
            && from != to
        {
            cross.0.add(ev);
            *cross
                .1
                .entry((from.to_string(), to.to_string()))
                .or_default() += 1;
        }

        let kind = id.kind.as_deref().unwrap_or("");
        if kind == "WebIdentityUser" || name == "AssumeRoleWithWebIdentity" {
            web.0.add(ev);
            let provider = nonempty(&id.identity_provider)
                .map(str::to_string)
                .or_else(|| {
                    json_of(ev.response_elements.as_deref())
                        .and_then(|v| v.get("provider")?.as_str().map(str::to_string))
                })
                .unwrap_or_else(|| "provider not logged".into());
            web.1.insert(format!("{name} via {provider}"));
        }
        if matches!(kind, "FederatedUser" | "SAMLUser")
            || matches!(name, "GetFederationToken" | "AssumeRoleWithSAML")
        {
            fed.0.add(ev);
            let who = nonempty(&id.arn).or(nonempty(&id.user_name)).unwrap_or("?");
            fed.1.insert(format!("{name} by {kind} {who}"));
        }
    }
    let mut flags = Vec::new();
    if console.0.count > 0 {
        let logins = console.2.iter().map(|(k, v)| format!("{k} ×{v}"));
        let detail = format!(
            "console use: {} calls signed with console-minted credentials \
             (sessionCredentialFromConsole); sign-in events: {}",
            console.1,
            if console.2.is_empty() {
                "none in these events".to_string()
            } else {
                list(logins)
            }
        );
        flags.push(console.0.flag(FlagKind::ConsoleSession, detail));
    }
    if mfa.0.count > 0 {
        let detail = format!(
            "MFA was used (mfaAuthenticated or ConsoleLogin MFAUsed) by {}",
            list(
                mfa.1
                    .into_iter()
                    .map(|(who, n)| format!("{who} ({n} calls)"))
            )
        );
        flags.push(mfa.0.flag(FlagKind::MfaUsed, detail));
    }
    if cross.0.count > 0 {
        let detail = format!(
            "calls into another account than the identity's: {}",
            list(cross.1.into_iter().map(|((from, to), n)| {
                let note = if known_accounts.contains(&from) {
                    ""
                } else {
                    ", identity account not in the store"
                };
                format!("{from} → {to} ({n} calls{note})")
            }))
        );
        flags.push(cross.0.flag(FlagKind::CrossAccount, detail));
    }
    if web.0.count > 0 {
        let detail = format!("web-identity (OIDC) federation: {}", list(web.1));
        flags.push(web.0.flag(FlagKind::WebIdentity, detail));
    }
    if fed.0.count > 0 {
        let detail = format!("federated or SAML identities: {}", list(fed.1));
        flags.push(fed.0.flag(FlagKind::FederatedUser, detail));
    }
    flags
}

/// Identities one key appeared as: (ARN, creation date) → (calls, first call).
pub(super) type KeyIdentities<'a> = BTreeMap<(Option<&'a str>, Option<Millis>), (u64, &'a Event)>;

pub(super) fn recycled_keys(order: &[&Event]) -> Vec<Flag> {
    let mut per: BTreeMap<&str, KeyIdentities> = BTreeMap::new();
    for ev in order {
        let Some(key) = nonempty(&ev.identity.access_key_id) else {
            continue;
        };
        if key.contains('*') {
            // Redacted (AKIA****): not an id at all.
            continue;
        }
        per.entry(key)
            .or_default()
            .entry((
                nonempty(&ev.identity.arn),
                ev.identity.session_creation_date,
            ))
            .or_insert((0, ev))
            .0 += 1;
    }
    let mut flags = Vec::new();
    for (key, ids) in per {
        if ids.len() < 2 {
            continue;
        }
        let mut firsts: Vec<&Event> = ids.values().map(|v| v.1).collect();
        firsts.sort_by_key(|e| e.event_time);
        let mut e = Evidence::default();
        for ev in &firsts {
            e.add(ev);
        }
        e.count = ids.values().map(|v| v.0).sum();
        let detail = format!(
            "access key {key} appears as {} identities: {}; AWS regenerates temporary key ids, \
             so only key + ARN + creation date identify a session",
            ids.len(),
            list(ids.iter().map(|((arn, created), (n, _))| {
                let created = created
                    .map(format_iso)
                    .unwrap_or_else(|| "no creation date".into());
                format!("{} created {created} ({n} calls)", arn.unwrap_or("no ARN"))
            }))
        );
        flags.push(e.flag(FlagKind::RecycledAccessKey, detail));
    }
    flags
}
