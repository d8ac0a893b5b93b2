//! Where the calls came from: source addresses and user agents, classified, and the flags an
//! investigator checks first (private or caller-chosen addresses, VPC endpoints, stolen
//! instance credentials, log tampering, persistence, bulk reads, attack tools, ...).
//!
//! Every flag carries the ids of the events that raised it, so that each claim can be
//! checked against the records themselves. User-agent patterns and the API lists behind the
//! tampering, persistence and bulk-read flags are reviewed data files (`data/`).

use crate::calls::{Counted, api_name, iso, json_of};
use crate::catalog::{Catalog, CatalogError, tsv_rows};
use backtrail_model::time::format_iso;
use backtrail_model::{Event, Millis};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::LazyLock;

const USER_AGENTS_TSV: &str = include_str!("../data/user_agents.tsv");
const FLAG_EVENTS_TSV: &str = include_str!("../data/flag_events.tsv");

/// Event ids kept as evidence per flag.
pub const EVIDENCE_IDS: usize = 10;
/// Successful direct calls (not made by an AWS service for the identity) to one bulk-read
/// API within [`BULK_WINDOW_MS`] that raise `bulk_data_access`. Tools that dump secrets or buckets make tens to thousands of calls
/// in minutes (Stratus Red Team's secrets technique: 20 secrets, read twice); a person or an
/// application reading its own configuration makes a handful.
pub const BULK_CALLS: u64 = 20;
/// Window of the bulk-read count.
pub const BULK_WINDOW_MS: Millis = 10 * 60 * 1000;
/// Targets named in a tampering or persistence flag's detail.
const DETAIL_TARGETS: usize = 5;
/// User agents quoted in an attack-tool flag (tools put a run id in it: hundreds of them).
const TOOL_EXAMPLES: usize = 3;
/// Items listed in a flag's detail before "and N more".
const DETAIL_ITEMS: usize = 10;
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

/// Country and network of a public address.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Geo {
    /// ISO 3166-1 alpha-2 code.
    pub country: Option<String>,
    pub asn: Option<u32>,
    pub as_org: Option<String>,
}

/// A GeoIP database (MaxMind or other); optional, so that the analysis runs offline without
/// one.
pub trait GeoLookup {
    /// What the database knows of `ip`.
    fn lookup(&self, ip: IpAddr) -> Option<Geo>;
}

/// What kind of address `sourceIPAddress` holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IpClass {
    Public,
    /// RFC 1918, CGNAT, loopback, link-local, IPv6 unique-local: a VPC endpoint, or an
    /// anonymised log.
    Private,
    /// Unspecified, documentation, multicast and other ranges no real caller has (often a
    /// redacted log: `0.0.0.0`).
    Reserved,
    /// A service name such as `ec2.amazonaws.com`: the service called on the identity's
    /// behalf.
    AwsService,
    /// `AWS Internal`: the console or a service inside AWS.
    AwsInternal,
    /// Anything else (a host name, an empty string).
    Unknown,
}

impl IpClass {
    /// The snake_case name used in JSON.
    pub fn label(self) -> &'static str {
        match self {
            IpClass::Public => "public",
            IpClass::Private => "private",
            IpClass::Reserved => "reserved",
            IpClass::AwsService => "aws_service",
            IpClass::AwsInternal => "aws_internal",
            IpClass::Unknown => "unknown",
        }
    }
}

/// Class of a `sourceIPAddress` value, with the named range for private and reserved ones.
pub fn classify_ip(source: &str) -> (IpClass, Option<&'static str>) {
    let s = source.trim();
    if s.eq_ignore_ascii_case("AWS Internal") {
        return (IpClass::AwsInternal, None);
    }
    match s.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => classify_v4(v4),
        Ok(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => classify_v4(v4),
            None => classify_v6(v6),
        },
        Err(_) if s.ends_with(".amazonaws.com") || s.ends_with(".amazon.com") => {
            (IpClass::AwsService, None)
        }
        Err(_) => (IpClass::Unknown, None),
    }
}

fn classify_v4(ip: Ipv4Addr) -> (IpClass, Option<&'static str>) {
    let [a, b, c, _] = ip.octets();
    let private = |r| (IpClass::Private, Some(r));
    let reserved = |r| (IpClass::Reserved, Some(r));
    match (a, b, c) {
        (10, _, _) | (192, 168, _) => private("rfc1918"),
        (172, 16..=31, _) => private("rfc1918"),
        (100, 64..=127, _) => private("cgnat"),
        (127, _, _) => private("loopback"),
        (169, 254, _) => private("link_local"),
        (0, _, _) => reserved("unspecified"),
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => reserved("documentation"),
        (198, 18..=19, _) => reserved("benchmarking"),
        (224..=239, _, _) => reserved("multicast"),
        (240..=255, _, _) => reserved("reserved"),
        _ => (IpClass::Public, None),
    }
}

fn classify_v6(ip: Ipv6Addr) -> (IpClass, Option<&'static str>) {
    let seg = ip.segments();
    if ip.is_loopback() {
        (IpClass::Private, Some("loopback"))
    } else if ip.is_unspecified() {
        (IpClass::Reserved, Some("unspecified"))
    } else if seg[0] & 0xffc0 == 0xfe80 {
        (IpClass::Private, Some("link_local"))
    } else if seg[0] & 0xfe00 == 0xfc00 {
        (IpClass::Private, Some("unique_local"))
    } else if seg[0] == 0x2001 && seg[1] == 0x0db8 {
        (IpClass::Reserved, Some("documentation"))
    } else if seg[0] & 0xff00 == 0xff00 {
        (IpClass::Reserved, Some("multicast"))
    } else {
        (IpClass::Public, None)
    }
}

/// The network an address belongs to for "same network" comparisons: /24 for IPv4, /48 for
/// IPv6.
fn network_of(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            format!("{a}.{b}.{c}.0/24")
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}::/48", s[0], s[1], s[2])
        }
    }
}

/// What software a user agent names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UaKind {
    /// A penetration-testing or attack tool, or an attack-distribution build (Kali, Parrot).
    AttackTool,
    Console,
    Browser,
    AwsCli,
    Sdk,
    Terraform,
    Cloudformation,
    AwsService,
    /// curl, wget, python-requests and other raw HTTP clients (hand-signed requests).
    HttpClient,
    Other,
}

/// A user agent's class and the name of the software.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UaClass {
    pub kind: UaKind,
    pub name: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Match {
    Prefix,
    Contains,
    Word,
}

#[derive(Debug, Clone)]
struct UaPattern {
    how: Match,
    pattern: String,
    kind: UaKind,
    name: String,
}

/// Which flag an API raises, from `data/flag_events.tsv`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ApiFlag {
    LoggingTampering,
    Persistence,
    BulkDataAccess,
}

/// The origin tables, parsed once.
struct Patterns {
    user_agents: Vec<UaPattern>,
    api_flags: HashMap<String, HashMap<String, (ApiFlag, String)>>,
}

static PATTERNS: LazyLock<Patterns> = LazyLock::new(|| {
    Patterns::parse(USER_AGENTS_TSV, FLAG_EVENTS_TSV)
        .unwrap_or_else(|e| panic!("built-in data table is invalid: {e}"))
});

impl Patterns {
    fn parse(user_agents: &str, flag_events: &str) -> Result<Patterns, CatalogError> {
        let bad = |table: &str, line: usize, message: String| CatalogError {
            table: table.to_string(),
            line,
            message,
        };
        let mut p = Patterns {
            user_agents: Vec::new(),
            api_flags: HashMap::new(),
        };
        for (line, c) in tsv_rows(user_agents, "user_agents", 4)? {
            let how = match c[0] {
                "prefix" => Match::Prefix,
                "contains" => Match::Contains,
                "word" => Match::Word,
                other => return Err(bad("user_agents", line, format!("match {other:?}"))),
            };
            let kind = serde_json::from_value(serde_json::Value::String(c[2].to_string()))
                .map_err(|_| bad("user_agents", line, format!("kind {:?}", c[2])))?;
            p.user_agents.push(UaPattern {
                how,
                pattern: c[1].to_ascii_lowercase(),
                kind,
                name: c[3].to_string(),
            });
        }
        for (line, c) in tsv_rows(flag_events, "flag_events", 4)? {
            let flag = match c[0] {
                "logging_tampering" => ApiFlag::LoggingTampering,
                "persistence" => ApiFlag::Persistence,
                "bulk_data_access" => ApiFlag::BulkDataAccess,
                other => return Err(bad("flag_events", line, format!("flag {other:?}"))),
            };
            p.api_flags
                .entry(c[1].to_string())
                .or_default()
                .insert(c[2].to_string(), (flag, c[3].to_string()));
        }
        Ok(p)
    }

    fn api_flag(&self, ev: &Event) -> Option<&(ApiFlag, String)> {
        self.api_flags
            .get(&ev.event_source)?
            .get(api_name(&ev.event_name))
    }
}

fn word_match(hay: &str, needle: &str) -> bool {
    let hb = hay.as_bytes();
    hay.match_indices(needle).any(|(i, _)| {
        let before = i.checked_sub(1).map(|j| hb[j]);
        let after = hb.get(i + needle.len()).copied();
        !before.is_some_and(|c| c.is_ascii_alphabetic())
            && !after.is_some_and(|c| c.is_ascii_alphabetic())
    })
}

/// Classifies a user agent by the first matching pattern of `data/user_agents.tsv`.
pub fn classify_user_agent(ua: &str) -> UaClass {
    let lower = ua.to_ascii_lowercase();
    let trimmed = lower.trim_start_matches(['[', ' ']);
    PATTERNS
        .user_agents
        .iter()
        .find(|p| match p.how {
            Match::Prefix => trimmed.starts_with(&p.pattern),
            Match::Contains => lower.contains(&p.pattern),
            Match::Word => word_match(&lower, &p.pattern),
        })
        .map(|p| UaClass {
            kind: p.kind,
            name: Some(p.name.clone()),
        })
        .unwrap_or(UaClass {
            kind: UaKind::Other,
            name: None,
        })
}

/// One source address and what used it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceIp {
    /// `sourceIPAddress` as logged.
    pub source_ip: String,
    pub class: IpClass,
    /// Named range of private and reserved addresses (`rfc1918`, `cgnat`, ...).
    pub range: Option<String>,
    pub count: u64,
    #[serde(with = "iso")]
    pub first_seen: Millis,
    #[serde(with = "iso")]
    pub last_seen: Millis,
    /// User agents seen with this address, most frequent first.
    pub user_agents: Vec<Counted>,
    pub regions: Vec<String>,
    /// VPC endpoints the calls from this address went through.
    pub vpc_endpoints: Vec<String>,
    /// From the GeoIP database, for public addresses when one was given.
    pub geo: Option<Geo>,
}

/// One user agent string and its class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserAgent {
    /// As logged.
    pub user_agent: String,
    pub kind: UaKind,
    pub name: Option<String>,
    pub count: u64,
    #[serde(with = "iso")]
    pub first_seen: Millis,
    #[serde(with = "iso")]
    pub last_seen: Millis,
}

/// What a flag says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlagKind {
    PrivateSourceIp,
    AwsInternalOrServiceSource,
    VpcEndpoint,
    CallerChosenSourceIp,
    MultipleNetworks,
    InstanceCredentialsOutside,
    LoggingTampering,
    Persistence,
    BulkDataAccess,
    ConsoleSession,
    MfaUsed,
    CrossAccount,
    WebIdentity,
    FederatedUser,
    RecycledAccessKey,
    AttackToolUserAgent,
}

/// One finding about where the calls came from or what they mean.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flag {
    pub kind: FlagKind,
    /// What was seen, in words, with the values that support it.
    pub detail: String,
    /// Ids of the events behind the flag (at most [`EVIDENCE_IDS`], the most telling first).
    pub evidence_event_ids: Vec<String>,
    /// Events behind the flag.
    pub count: u64,
}

/// Where the calls came from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Origins {
    /// Most used first.
    pub source_ips: Vec<SourceIp>,
    /// Most used first.
    pub user_agents: Vec<UserAgent>,
    /// In [`FlagKind`] order, then by first evidence.
    pub flags: Vec<Flag>,
}

/// Ids and count of the events behind a flag.
#[derive(Default)]
struct Evidence {
    ids: Vec<String>,
    count: u64,
}

impl Evidence {
    fn add(&mut self, ev: &Event) {
        self.count += 1;
        if self.ids.len() < EVIDENCE_IDS && !self.ids.contains(&ev.event_id) {
            self.ids.push(ev.event_id.clone());
        }
    }

    /// Keeps `ev`'s id if there is room, without counting it (to list one example of each
    /// thing named in the detail before the rest).
    fn note(&mut self, ev: &Event) {
        if self.ids.len() < EVIDENCE_IDS && !self.ids.contains(&ev.event_id) {
            self.ids.push(ev.event_id.clone());
        }
    }

    fn flag(self, kind: FlagKind, detail: String) -> Flag {
        Flag {
            kind,
            detail,
            evidence_event_ids: self.ids,
            count: self.count,
        }
    }
}

/// `a; b; c; and N more`.
pub(crate) fn list(items: impl IntoIterator<Item = String>) -> String {
    let all: Vec<String> = items.into_iter().collect();
    let mut s = all
        .iter()
        .take(DETAIL_ITEMS)
        .cloned()
        .collect::<Vec<_>>()
        .join("; ");
    if all.len() > DETAIL_ITEMS {
        s.push_str(&format!("; and {} more", all.len() - DETAIL_ITEMS));
    }
    s
}

fn counted(map: HashMap<&str, u64>) -> Vec<Counted> {
    let mut v: Vec<Counted> = map
        .into_iter()
        .map(|(value, count)| Counted {
            value: value.to_string(),
            count,
        })
        .collect();
    v.sort_by(|a, b| b.count.cmp(&a.count).then(a.value.cmp(&b.value)));
    v
}

fn nonempty(s: &Option<String>) -> Option<&str> {
    s.as_deref().filter(|s| !s.is_empty())
}

/// Analyzes where `events` came from. `known_accounts` are the accounts present in the store
/// (to tell a foreign VPC endpoint from one of ours); `geo` adds country and network to
/// public addresses.
pub fn analyze(
    events: &[Event],
    known_accounts: &[String],
    geo: Option<&dyn GeoLookup>,
) -> Origins {
    let mut order: Vec<&Event> = events.iter().collect();
    order.sort_by(|a, b| (a.event_time, &a.event_id).cmp(&(b.event_time, &b.event_id)));
    let catalog = Catalog::builtin();
    let mut flags = Vec::new();
    flags.extend(private_sources(&order));
    flags.extend(aws_sources(&order));
    flags.extend(vpc_endpoints(&order, known_accounts));
    flags.extend(multiple_networks(&order));
    flags.extend(instance_credentials(&order));
    flags.extend(api_flags(&order, catalog));
    flags.extend(identity_flags(&order, known_accounts));
    flags.extend(recycled_keys(&order));
    let (user_agents, tool_flags) = user_agent_rows(&order);
    flags.extend(tool_flags);
    flags.sort_by_key(|f| f.kind);
    Origins {
        source_ips: ip_rows(&order, geo),
        user_agents,
        flags,
    }
}

fn ip_rows(order: &[&Event], geo: Option<&dyn GeoLookup>) -> Vec<SourceIp> {
    struct Acc<'a> {
        row: SourceIp,
        uas: HashMap<&'a str, u64>,
        regions: BTreeSet<String>,
        endpoints: BTreeSet<String>,
    }
    let mut map: HashMap<&str, Acc> = HashMap::new();
    for ev in order {
        let Some(ip) = nonempty(&ev.source_ip) else {
            continue;
        };
        let acc = map.entry(ip).or_insert_with(|| {
            let (class, range) = classify_ip(ip);
            let geo = match (class, geo, ip.parse::<IpAddr>()) {
                (IpClass::Public, Some(g), Ok(addr)) => g.lookup(addr),
                _ => None,
            };
            Acc {
                row: SourceIp {
                    source_ip: ip.to_string(),
                    class,
                    range: range.map(str::to_string),
                    count: 0,
                    first_seen: ev.event_time,
                    last_seen: ev.event_time,
                    user_agents: Vec::new(),
                    regions: Vec::new(),
                    vpc_endpoints: Vec::new(),
                    geo,
                },
                uas: HashMap::new(),
                regions: BTreeSet::new(),
                endpoints: BTreeSet::new(),
            }
        });
        acc.row.count += 1;
        acc.row.last_seen = ev.event_time;
        if let Some(ua) = nonempty(&ev.user_agent) {
            *acc.uas.entry(ua).or_default() += 1;
        }
        if let Some(r) = nonempty(&ev.aws_region) {
            acc.regions.insert(r.to_string());
        }
        if let Some(v) = nonempty(&ev.vpc_endpoint_id) {
            acc.endpoints.insert(v.to_string());
        }
    }
    let mut rows: Vec<SourceIp> = map
        .into_values()
        .map(|mut a| {
            a.row.user_agents = counted(a.uas);
            a.row.regions = a.regions.into_iter().collect();
            a.row.vpc_endpoints = a.endpoints.into_iter().collect();
            a.row
        })
        .collect();
    rows.sort_by(|a, b| b.count.cmp(&a.count).then(a.first_seen.cmp(&b.first_seen)));
    rows
}

fn user_agent_rows(order: &[&Event]) -> (Vec<UserAgent>, Vec<Flag>) {
    let mut map: HashMap<&str, (UserAgent, Vec<&Event>)> = HashMap::new();
    for ev in order {
        let Some(ua) = nonempty(&ev.user_agent) else {
            continue;
        };
        let entry = map.entry(ua).or_insert_with(|| {
            let class = classify_user_agent(ua);
            (
                UserAgent {
                    user_agent: ua.to_string(),
                    kind: class.kind,
                    name: class.name,
                    count: 0,
                    first_seen: ev.event_time,
                    last_seen: ev.event_time,
                },
                Vec::new(),
            )
        });
        entry.0.count += 1;
        entry.0.last_seen = ev.event_time;
        if entry.0.kind == UaKind::AttackTool {
            entry.1.push(ev);
        }
    }
    // One flag per tool: the user agents it used and its calls.
    let mut tools: BTreeMap<String, (Vec<String>, Vec<&Event>)> = BTreeMap::new();
    let mut rows = Vec::new();
    for (ua, (row, evs)) in map {
        if row.kind == UaKind::AttackTool {
            let t = tools
                .entry(row.name.clone().unwrap_or_default())
                .or_default();
            t.0.push(ua.to_string());
            t.1.extend(evs);
        }
        rows.push(row);
    }
    rows.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then(a.first_seen.cmp(&b.first_seen))
            .then(a.user_agent.cmp(&b.user_agent))
    });
    let mut flags = Vec::new();
    for (tool, (mut uas, mut evs)) in tools {
        uas.sort();
        evs.sort_by(|a, b| (a.event_time, &a.event_id).cmp(&(b.event_time, &b.event_id)));
        let mut e = Evidence::default();
        for ev in &evs {
            e.add(ev);
        }
        let examples: Vec<String> = uas.iter().take(TOOL_EXAMPLES).cloned().collect();
        let detail = format!(
            "{tool}: {} calls with {} distinct user agent(s), e.g. {}",
            evs.len(),
            uas.len(),
            examples.join(" | ")
        );
        flags.push(e.flag(FlagKind::AttackToolUserAgent, detail));
    }
    (rows, flags)
}

fn private_sources(order: &[&Event]) -> Option<Flag> {
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
    let mut e = Evidence {
        count: all.len() as u64,
        ..Evidence::default()
    };
    for ev in leads.iter().chain(&all) {
        e.note(ev);
    }
    let mut ips: Vec<_> = per.into_iter().collect();
    ips.sort_by(|a, b| b.1.1.cmp(&a.1.1).then(a.1.3.cmp(&b.1.3)));
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

fn aws_sources(order: &[&Event]) -> Option<Flag> {
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
    let mut e = Evidence {
        count: all.len() as u64,
        ..Evidence::default()
    };
    for ev in leads.iter().chain(&all) {
        e.note(ev);
    }
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

fn vpc_endpoints(order: &[&Event], known_accounts: &[String]) -> Vec<Flag> {
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
fn made_by_aws(ev: &Event) -> bool {
    nonempty(&ev.identity.invoked_by).is_some()
        || nonempty(&ev.source_ip).is_some_and(|ip| {
            matches!(
                classify_ip(ip).0,
                IpClass::AwsService | IpClass::AwsInternal
            )
        })
}

/// `key (arn)` label of a session.
fn session_label(ev: &Event) -> String {
    let key = nonempty(&ev.identity.access_key_id).unwrap_or("no key");
    let arn = nonempty(&ev.identity.arn).unwrap_or("no ARN");
    match ev.identity.session_creation_date {
        Some(c) => format!("{key} ({arn}, created {})", format_iso(c)),
        None => format!("{key} ({arn})"),
    }
}

fn multiple_networks(order: &[&Event]) -> Vec<Flag> {
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

fn is_instance_id(s: &str) -> bool {
    s.strip_prefix("i-").is_some_and(|h| {
        (h.len() == 8 || h.len() == 17) && h.bytes().all(|c| c.is_ascii_hexdigit())
    })
}

/// The instance whose credentials signed the call: `inScopeOf.credentialsIssuedTo`, an
/// `inScopeOf` issuer of type EC2 instance, or a role session named after an instance id
/// (what EC2 names instance-profile sessions).
fn instance_of(ev: &Event) -> Option<String> {
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

fn instance_credentials(order: &[&Event]) -> Vec<Flag> {
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

fn api_flags(order: &[&Event], catalog: &Catalog) -> Vec<Flag> {
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
        let mut targets: Vec<String> = Vec::new();
        for ev in &a.calls {
            for t in catalog.targets(ev) {
                if !targets.contains(&t) {
                    targets.push(t);
                }
            }
        }
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
fn identity_flags(order: &[&Event], known_accounts: &[String]) -> Vec<Flag> {
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
type KeyIdentities<'a> = BTreeMap<(Option<&'a str>, Option<Millis>), (u64, &'a Event)>;

fn recycled_keys(order: &[&Event]) -> Vec<Flag> {
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

/// Why a GeoIP database could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum GeoDbError {
    #[error("reading {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("not a usable MaxMind DB: {0}")]
    Format(String),
}

/// Start of the metadata section of a MaxMind DB file.
const MMDB_MARKER: &[u8] = b"\xAB\xCD\xEFMaxMind.com";
/// Nesting and pointer depth allowed in a data record.
const MMDB_DEPTH: u8 = 16;
/// Values decoded per lookup at most: a crafted file cannot make one lookup slow.
const MMDB_BUDGET: u32 = 100_000;

/// A MaxMind DB file (GeoLite2 / GeoIP2 Country, City or ASN), held in memory. Read with
/// the published format (search tree + data section) rather than a dependency; every read
/// is bounds-checked, since the file comes from outside.
pub struct MaxMindDb {
    data: Vec<u8>,
    node_count: u32,
    record_size: u32,
    ip_version: u32,
    /// Start of the data section (after the tree and its 16-byte separator).
    data_start: usize,
    /// Node reached after 96 zero bits: where IPv4 addresses start in an IPv6 tree.
    ipv4_start: u32,
}

/// The part of a data-section value the lookup needs.
#[derive(Debug)]
enum MmValue {
    Str(String),
    Uint(u64),
    Map(Vec<(String, MmValue)>),
    Other,
}

impl MmValue {
    fn get(&self, key: &str) -> Option<&MmValue> {
        match self {
            MmValue::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
    fn as_str(&self) -> Option<&str> {
        match self {
            MmValue::Str(s) => Some(s),
            _ => None,
        }
    }
    fn as_uint(&self) -> Option<u64> {
        match self {
            MmValue::Uint(n) => Some(*n),
            _ => None,
        }
    }
}

fn be(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
}

/// Decodes the value at `off` of `buf` (pointers are offsets into `buf`); returns it and
/// the offset after it.
fn mm_decode(buf: &[u8], off: usize, depth: u8, budget: &mut u32) -> Option<(MmValue, usize)> {
    if depth > MMDB_DEPTH || *budget == 0 {
        return None;
    }
    *budget -= 1;
    let ctrl = *buf.get(off)?;
    let mut off = off + 1;
    let mut kind = ctrl >> 5;
    if kind == 1 {
        let size = usize::from((ctrl >> 3) & 3);
        let low = u64::from(ctrl & 7);
        let bytes = buf.get(off..off + size + 1)?;
        let target = match size {
            0 => (low << 8) | be(bytes),
            1 => ((low << 16) | be(bytes)) + 2048,
            2 => ((low << 24) | be(bytes)) + 526_336,
            _ => be(bytes),
        };
        let (v, _) = mm_decode(buf, usize::try_from(target).ok()?, depth + 1, budget)?;
        return Some((v, off + size + 1));
    }
    if kind == 0 {
        kind = 7u8.checked_add(*buf.get(off)?)?;
        off += 1;
    }
    let mut size = usize::from(ctrl & 0x1f);
    if size >= 29 {
        let extra = size - 28;
        let n = usize::try_from(be(buf.get(off..off + extra)?)).ok()?;
        size = match extra {
            1 => 29 + n,
            2 => 285 + n,
            _ => 65_821 + n,
        };
        off += extra;
    }
    match kind {
        2 => {
            let s = std::str::from_utf8(buf.get(off..off + size)?).ok()?;
            Some((MmValue::Str(s.to_string()), off + size))
        }
        5 | 6 | 9 | 10 => {
            let bytes = buf.get(off..off + size)?;
            let v = if size <= 8 {
                MmValue::Uint(be(bytes))
            } else {
                MmValue::Other
            };
            Some((v, off + size))
        }
        7 => {
            let mut entries = Vec::new();
            for _ in 0..size {
                let (k, next) = mm_decode(buf, off, depth + 1, budget)?;
                let (v, next) = mm_decode(buf, next, depth + 1, budget)?;
                off = next;
                if let MmValue::Str(k) = k {
                    entries.push((k, v));
                }
            }
            Some((MmValue::Map(entries), off))
        }
        11 => {
            for _ in 0..size {
                off = mm_decode(buf, off, depth + 1, budget)?.1;
            }
            Some((MmValue::Other, off))
        }
        // Double, bytes, int32, float: skipped; boolean and end marker have no payload.
        3 | 4 | 8 | 15 => {
            buf.get(off..off + size)?;
            Some((MmValue::Other, off + size))
        }
        13 | 14 => Some((MmValue::Other, off)),
        _ => None,
    }
}

impl MaxMindDb {
    /// Reads the database at `path`.
    pub fn open(path: &std::path::Path) -> Result<MaxMindDb, GeoDbError> {
        let data = std::fs::read(path).map_err(|source| GeoDbError::Io {
            path: path.display().to_string(),
            source,
        })?;
        MaxMindDb::from_bytes(data)
    }

    /// Checks the metadata of a database held in memory.
    pub fn from_bytes(data: Vec<u8>) -> Result<MaxMindDb, GeoDbError> {
        let bad = |m: &str| GeoDbError::Format(m.to_string());
        let marker = data
            .windows(MMDB_MARKER.len())
            .rposition(|w| w == MMDB_MARKER)
            .ok_or_else(|| bad("no metadata marker"))?;
        let meta = &data[marker + MMDB_MARKER.len()..];
        let mut budget = MMDB_BUDGET;
        let (meta, _) = mm_decode(meta, 0, 0, &mut budget).ok_or_else(|| bad("metadata"))?;
        let field = |k: &str| {
            meta.get(k)
                .and_then(MmValue::as_uint)
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| bad(&format!("metadata lacks {k}")))
        };
        let node_count = field("node_count")?;
        let record_size = field("record_size")?;
        let ip_version = field("ip_version")?;
        if ![24, 28, 32].contains(&record_size) {
            return Err(bad("record_size is not 24, 28 or 32"));
        }
        if ![4, 6].contains(&ip_version) {
            return Err(bad("ip_version is not 4 or 6"));
        }
        let tree_size = (node_count as usize) * (record_size as usize) / 4;
        if tree_size + 16 > marker {
            return Err(bad("search tree larger than the file"));
        }
        let mut db = MaxMindDb {
            data,
            node_count,
            record_size,
            ip_version,
            data_start: tree_size + 16,
            ipv4_start: 0,
        };
        if ip_version == 6 {
            let mut node = 0;
            for _ in 0..96 {
                if node >= node_count {
                    break;
                }
                node = db.record(node, false).ok_or_else(|| bad("search tree"))?;
            }
            db.ipv4_start = node;
        }
        Ok(db)
    }

    fn record(&self, node: u32, right: bool) -> Option<u32> {
        let n = node as usize;
        let d = &self.data;
        let v = match self.record_size {
            24 => {
                let at = n * 6 + if right { 3 } else { 0 };
                be(d.get(at..at + 3)?)
            }
            28 => {
                let at = n * 7;
                let middle = u64::from(*d.get(at + 3)?);
                if right {
                    ((middle & 0x0f) << 24) | be(d.get(at + 4..at + 7)?)
                } else {
                    ((middle & 0xf0) << 20) | be(d.get(at..at + 3)?)
                }
            }
            _ => {
                let at = n * 8 + if right { 4 } else { 0 };
                be(d.get(at..at + 4)?)
            }
        };
        u32::try_from(v).ok()
    }

    /// The data record of the network holding `ip`.
    fn find(&self, ip: IpAddr) -> Option<MmValue> {
        // IPv4-mapped IPv6 addresses are looked up as IPv4 (whether or not the file has the
        // ::ffff:0:0/96 alias).
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        let (bytes, start): (Vec<u8>, u32) = match (ip, self.ip_version) {
            (IpAddr::V4(v4), 4) => (v4.octets().to_vec(), 0),
            (IpAddr::V4(v4), _) => (v4.octets().to_vec(), self.ipv4_start),
            (IpAddr::V6(v6), 6) => (v6.octets().to_vec(), 0),
            (IpAddr::V6(_), _) => return None,
        };
        let mut node = start;
        for i in 0..bytes.len() * 8 {
            if node >= self.node_count {
                break;
            }
            let bit = (bytes[i / 8] >> (7 - i % 8)) & 1 == 1;
            node = self.record(node, bit)?;
        }
        if node <= self.node_count {
            return None;
        }
        let offset = (node - self.node_count) as usize;
        let section = self.data.get(self.data_start..)?;
        let mut budget = MMDB_BUDGET;
        mm_decode(section, offset.checked_sub(16)?, 0, &mut budget).map(|v| v.0)
    }
}

impl GeoLookup for MaxMindDb {
    fn lookup(&self, ip: IpAddr) -> Option<Geo> {
        let rec = self.find(ip)?;
        let country = ["country", "registered_country"]
            .iter()
            .find_map(|k| rec.get(k)?.get("iso_code")?.as_str())
            .map(str::to_string);
        let asn = rec
            .get("autonomous_system_number")
            .and_then(MmValue::as_uint)
            .and_then(|n| u32::try_from(n).ok());
        let as_org = rec
            .get("autonomous_system_organization")
            .and_then(MmValue::as_str)
            .map(str::to_string);
        (country.is_some() || asn.is_some() || as_org.is_some()).then_some(Geo {
            country,
            asn,
            as_org,
        })
    }
}

/// Several databases (typically a Country or City one and an ASN one): each field from the
/// first database that has it.
impl GeoLookup for Vec<MaxMindDb> {
    fn lookup(&self, ip: IpAddr) -> Option<Geo> {
        let mut geo: Option<Geo> = None;
        for g in self.iter().filter_map(|db| db.lookup(ip)) {
            let acc = geo.get_or_insert_with(Geo::default);
            acc.country = acc.country.take().or(g.country);
            acc.asn = acc.asn.or(g.asn);
            acc.as_org = acc.as_org.take().or(g.as_org);
        }
        geo
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use backtrail_normalize::parse_file;
    use serde_json::{Value, json};

    /// A record: defaults overridden by `fields` (top level; `userIdentity` replaced whole).
    fn rec(id: &str, second: u32, fields: Value) -> Value {
        let mut base = json!({
            "eventVersion": "1.09",
            "eventTime": format!("2024-05-01T10:{:02}:{:02}Z", second / 60, second % 60),
            "eventSource": "sts.amazonaws.com",
            "eventName": "GetCallerIdentity",
            "awsRegion": "us-east-1",
            "sourceIPAddress": "198.51.100.7",
            "userAgent": "aws-cli/2.15.0",
            "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111111111111:user/alice",
                             "accountId": "111111111111", "accessKeyId": "AKIAALICE"},
            "eventID": id,
            "readOnly": true,
            "recipientAccountId": "111111111111"
        });
        for (k, v) in fields.as_object().unwrap() {
            base[k] = v.clone();
        }
        base
    }

    fn parse(records: Vec<Value>) -> Vec<Event> {
        let text = serde_json::to_string(&json!({ "Records": records })).unwrap();
        let pf = parse_file(text.as_bytes());
        assert!(pf.rejects.is_empty(), "{:?}", pf.rejects);
        pf.events
    }

    fn flags(o: &Origins, kind: FlagKind) -> Vec<&Flag> {
        o.flags.iter().filter(|f| f.kind == kind).collect()
    }

    fn role(session: &str, key: &str) -> Value {
        json!({"type": "AssumedRole",
               "arn": format!("arn:aws:sts::111111111111:assumed-role/app/{session}"),
               "accountId": "111111111111", "accessKeyId": key,
               "sessionContext": {"sessionIssuer": {"type": "Role",
                   "arn": "arn:aws:iam::111111111111:role/app"},
                   "attributes": {"creationDate": "2024-05-01T09:00:00Z", "mfaAuthenticated": "false"}}})
    }

    #[test]
    fn addresses_are_classified() {
        let c = |s| classify_ip(s);
        assert_eq!(c("10.1.2.3"), (IpClass::Private, Some("rfc1918")));
        assert_eq!(c("172.31.0.1"), (IpClass::Private, Some("rfc1918")));
        assert_eq!(c("172.32.0.1"), (IpClass::Public, None));
        assert_eq!(c("192.168.10.20"), (IpClass::Private, Some("rfc1918")));
        assert_eq!(c("100.64.0.1"), (IpClass::Private, Some("cgnat")));
        assert_eq!(c("127.0.0.1"), (IpClass::Private, Some("loopback")));
        assert_eq!(c("169.254.169.254"), (IpClass::Private, Some("link_local")));
        assert_eq!(c("0.0.0.0"), (IpClass::Reserved, Some("unspecified")));
        assert_eq!(c("52.45.102.28"), (IpClass::Public, None));
        assert_eq!(c("fd00::1"), (IpClass::Private, Some("unique_local")));
        assert_eq!(c("fe80::1"), (IpClass::Private, Some("link_local")));
        assert_eq!(c("::1"), (IpClass::Private, Some("loopback")));
        assert_eq!(c("::ffff:10.0.0.1"), (IpClass::Private, Some("rfc1918")));
        assert_eq!(c("2600:1f18::1"), (IpClass::Public, None));
        assert_eq!(c("AWS Internal"), (IpClass::AwsInternal, None));
        assert_eq!(c("ec2.amazonaws.com"), (IpClass::AwsService, None));
        assert_eq!(c("example.org"), (IpClass::Unknown, None));
    }

    #[test]
    fn user_agents_are_classified() {
        let k = |s: &str| {
            let c = classify_user_agent(s);
            (c.kind, c.name.unwrap_or_default())
        };
        assert_eq!(
            k("stratus-red-team_39f95f43-cd2f-4beb-b69e-be60b6fe1f57"),
            (UaKind::AttackTool, "Stratus Red Team".into())
        );
        assert_eq!(
            k("Boto3/1.26.165 Python/3.11.2 Linux/6.1.0-kali7-amd64 Botocore/1.29.165"),
            (UaKind::AttackTool, "Kali Linux build".into())
        );
        assert_eq!(k("Pacu/1.5 boto3/1.26").0, UaKind::AttackTool);
        assert_eq!(k("python-requests/2.28.0 alkaline/1").0, UaKind::HttpClient);
        assert_eq!(
            k("[aws-cli/2.17.32 md/awscrt#0.21.2 ua/2.0]").0,
            UaKind::AwsCli
        );
        assert_eq!(
            k("Boto3/1.26.165 Python/3.10.6 Linux/5.19.0-46-generic").0,
            UaKind::Sdk
        );
        assert_eq!(
            k("APN/1.0 HashiCorp/1.0 Terraform/1.1.2 (+https://www.terraform.io)").0,
            UaKind::Terraform
        );
        assert_eq!(k("AWS Internal").0, UaKind::Console);
        assert_eq!(
            k("[S3Console/0.4, aws-internal/3 aws-sdk-java/1.12.488]").0,
            UaKind::Console
        );
        assert_eq!(
            k("Mozilla/5.0 (X11; Ubuntu; Linux x86_64)").0,
            UaKind::Browser
        );
        assert_eq!(k("curl/8.4.0").0, UaKind::HttpClient);
        assert_eq!(k("cloudformation.amazonaws.com").0, UaKind::Cloudformation);
        assert_eq!(k("secretsmanager.amazonaws.com").0, UaKind::AwsService);
        assert_eq!(k("my-own-tool/1.0").0, UaKind::Other);
    }

    #[test]
    fn word_match_needs_letter_boundaries() {
        assert!(word_match("linux/6.1.0-kali7-amd64", "kali"));
        assert!(word_match("kali", "kali"));
        assert!(!word_match("alkaline", "kali"));
        assert!(!word_match("kalimba", "kali"));
    }

    #[test]
    fn vpc_endpoints_and_caller_chosen_addresses() {
        let evs = parse(vec![
            rec(
                "own",
                1,
                json!({"sourceIPAddress": "10.0.0.5", "vpcEndpointId": "vpce-ours",
                                "vpcEndpointAccountId": "111111111111"}),
            ),
            rec(
                "foreign1",
                2,
                json!({"sourceIPAddress": "10.9.9.9", "vpcEndpointId": "vpce-theirs",
                                     "vpcEndpointAccountId": "999999999999"}),
            ),
            rec(
                "foreign2",
                3,
                json!({"sourceIPAddress": "10.9.9.9", "vpcEndpointId": "vpce-theirs",
                                     "vpcEndpointAccountId": "999999999999"}),
            ),
            rec(
                "known",
                4,
                json!({"sourceIPAddress": "10.7.7.7", "vpcEndpointId": "vpce-sister",
                                  "vpcEndpointAccountId": "222222222222"}),
            ),
        ]);
        let known = vec!["111111111111".to_string(), "222222222222".to_string()];
        let o = analyze(&evs, &known, None);
        let vpce = flags(&o, FlagKind::VpcEndpoint);
        assert_eq!(vpce.len(), 3);
        assert!(vpce.iter().any(|f| {
            f.detail
                .starts_with("vpce-theirs (owner account 999999999999)")
        }));
        let chosen = flags(&o, FlagKind::CallerChosenSourceIp);
        assert_eq!(chosen.len(), 1, "only the endpoint of an unknown account");
        assert_eq!(chosen[0].evidence_event_ids, vec!["foreign1", "foreign2"]);
        assert_eq!(chosen[0].count, 2);
        assert!(chosen[0].detail.contains("10.9.9.9"));
        let private = flags(&o, FlagKind::PrivateSourceIp);
        assert_eq!(private[0].count, 4);
        assert!(
            private[0]
                .detail
                .contains("10.9.9.9 (rfc1918, 2 calls, 2 through a VPC endpoint)")
        );
        let ip = o
            .source_ips
            .iter()
            .find(|s| s.source_ip == "10.9.9.9")
            .unwrap();
        assert_eq!(ip.vpc_endpoints, vec!["vpce-theirs"]);
        assert_eq!(ip.count, 2);
    }

    #[test]
    fn one_session_from_several_networks() {
        let evs = parse(vec![
            rec(
                "a1",
                1,
                json!({"userIdentity": role("s1", "ASIAONE"), "sourceIPAddress": "203.0.114.1"}),
            ),
            rec(
                "a2",
                2,
                json!({"userIdentity": role("s1", "ASIAONE"), "sourceIPAddress": "203.0.114.99"}),
            ),
            rec(
                "a3",
                3,
                json!({"userIdentity": role("s1", "ASIAONE"), "sourceIPAddress": "45.1.2.3"}),
            ),
            // Same /24 only: not flagged.
            rec(
                "b1",
                4,
                json!({"userIdentity": role("s2", "ASIATWO"), "sourceIPAddress": "203.0.114.1"}),
            ),
            rec(
                "b2",
                5,
                json!({"userIdentity": role("s2", "ASIATWO"), "sourceIPAddress": "203.0.114.2"}),
            ),
            // Public and private.
            rec(
                "c1",
                6,
                json!({"userIdentity": role("s3", "ASIATHREE"), "sourceIPAddress": "203.0.114.1"}),
            ),
            rec(
                "c2",
                7,
                json!({"userIdentity": role("s3", "ASIATHREE"), "sourceIPAddress": "10.1.1.1"}),
            ),
            // AWS acting for the session does not count as a network.
            rec(
                "d1",
                8,
                json!({"userIdentity": role("s4", "ASIAFOUR"), "sourceIPAddress": "203.0.114.1"}),
            ),
            rec(
                "d2",
                9,
                json!({"userIdentity": role("s4", "ASIAFOUR"), "sourceIPAddress": "AWS Internal"}),
            ),
        ]);
        let o = analyze(&evs, &[], None);
        let f = flags(&o, FlagKind::MultipleNetworks);
        assert_eq!(f.len(), 2, "{f:#?}");
        let one = f.iter().find(|f| f.detail.contains("ASIAONE")).unwrap();
        assert!(one.detail.contains("2 public networks"));
        assert!(one.detail.contains("203.0.114.0/24 (2 calls)"));
        assert_eq!(one.evidence_event_ids, vec!["a1", "a3"]);
        assert_eq!(one.count, 3);
        let three = f.iter().find(|f| f.detail.contains("ASIATHREE")).unwrap();
        assert!(three.detail.contains("both public and private"));
        assert_eq!(
            flags(&o, FlagKind::AwsInternalOrServiceSource)[0].evidence_event_ids,
            vec!["d2"]
        );
    }

    #[test]
    fn instance_credentials_used_elsewhere() {
        let inst = "i-0123456789abcdef0";
        let evs = parse(vec![
            rec(
                "h1",
                1,
                json!({"userIdentity": role(inst, "ASIAINST"), "sourceIPAddress": "3.225.16.109",
                               "userAgent": "aws-sdk-go/1.41.4 (go1.18.3; linux; amd64) amazon-ssm-agent/3.2"}),
            ),
            rec(
                "x1",
                2,
                json!({"userIdentity": role(inst, "ASIAINST"), "sourceIPAddress": "45.9.9.9",
                               "userAgent": "aws-cli/2.15.0"}),
            ),
            rec(
                "x2",
                3,
                json!({"userIdentity": role(inst, "ASIAINST"), "sourceIPAddress": "45.9.9.9",
                               "userAgent": "aws-cli/2.15.0"}),
            ),
            rec(
                "h2",
                4,
                json!({"userIdentity": role(inst, "ASIAINST"), "sourceIPAddress": "3.225.16.109",
                               "userAgent": "aws-sdk-go/1.41.4 amazon-ssm-agent/3.2"}),
            ),
            // Not an instance id: no flag.
            rec(
                "n1",
                5,
                json!({"userIdentity": role("i-xyz", "ASIAX"), "sourceIPAddress": "3.3.3.3"}),
            ),
            rec(
                "n2",
                6,
                json!({"userIdentity": role("i-xyz", "ASIAX"), "sourceIPAddress": "4.4.4.4"}),
            ),
        ]);
        let o = analyze(&evs, &[], None);
        let f = flags(&o, FlagKind::InstanceCredentialsOutside);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].evidence_event_ids, vec!["x1", "x2"]);
        assert_eq!(f[0].count, 2);
        assert!(f[0].detail.contains(inst));
        assert!(f[0].detail.contains("45.9.9.9 (public, 2 calls"));
        assert!(f[0].detail.contains("is 3.225.16.109"));
        assert!(f[0].detail.contains("own agents"));
    }

    #[test]
    fn instance_from_in_scope_of() {
        let mut ident = role("botocore-session-1", "ASIAIN");
        ident["inScopeOf"] = json!({"issuerType": "AWS::EC2::Instance",
            "credentialsIssuedTo": "arn:aws:ec2:us-east-1:111111111111:instance/i-0aaaabbbbccccdddd"});
        let evs = parse(vec![
            rec(
                "f1",
                1,
                json!({"userIdentity": ident.clone(), "sourceIPAddress": "3.3.3.3"}),
            ),
            rec(
                "f2",
                2,
                json!({"userIdentity": ident, "sourceIPAddress": "10.20.30.40"}),
            ),
        ]);
        assert_eq!(
            evs[0].identity.in_scope_of_issuer_type.as_deref(),
            Some("AWS::EC2::Instance")
        );
        let o = analyze(&evs, &[], None);
        let f = flags(&o, FlagKind::InstanceCredentialsOutside);
        assert_eq!(f.len(), 1);
        assert!(f[0].detail.contains("i-0aaaabbbbccccdddd"));
        assert!(f[0].detail.contains("first used from"));
        assert_eq!(f[0].evidence_event_ids, vec!["f2"]);
    }

    #[test]
    fn tampering_persistence_and_bulk_reads() {
        let mut recs = vec![
            rec(
                "t1",
                1,
                json!({"eventSource": "cloudtrail.amazonaws.com", "eventName": "StopLogging",
                               "requestParameters": {"name": "org-trail"}, "readOnly": false}),
            ),
            rec(
                "t2",
                2,
                json!({"eventSource": "cloudtrail.amazonaws.com", "eventName": "StopLogging",
                               "requestParameters": null, "readOnly": false, "errorCode": "AccessDenied",
                               "errorMessage": "User: arn:aws:iam::111111111111:user/alice is not authorized to perform: cloudtrail:StopLogging on resource: arn:aws:cloudtrail:us-east-1:111111111111:trail/other because no identity-based policy allows the cloudtrail:StopLogging action"}),
            ),
            rec(
                "p1",
                3,
                json!({"eventSource": "iam.amazonaws.com", "eventName": "CreateUser",
                               "requestParameters": {"userName": "backdoor"}, "readOnly": false}),
            ),
            rec(
                "p2",
                4,
                json!({"eventSource": "lambda.amazonaws.com", "eventName": "AddPermission20150331v2",
                               "requestParameters": {"functionName": "f", "principal": "*"}, "readOnly": false}),
            ),
        ];
        // 25 secret reads in 4 minutes: bulk. 19 parameter reads: under the threshold.
        for i in 0..25 {
            recs.push(rec(
                &format!("s{i:02}"),
                10 + i * 10,
                json!({
                "eventSource": "secretsmanager.amazonaws.com", "eventName": "GetSecretValue",
                "requestParameters": {"secretId": format!("prod/{}", i % 5)}}),
            ));
        }
        for i in 0..19 {
            recs.push(rec(
                &format!("q{i:02}"),
                10 + i,
                json!({
                "eventSource": "ssm.amazonaws.com", "eventName": "GetParameter",
                "requestParameters": {"name": "/x"}}),
            ));
        }
        let o = analyze(&parse(recs), &[], None);
        let t = flags(&o, FlagKind::LoggingTampering);
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].evidence_event_ids, vec!["t1", "t2"]);
        assert!(t[0].detail.contains("2 calls, 1 failed"), "{}", t[0].detail);
        assert!(
            t[0].detail
                .contains("org-trail, arn:aws:cloudtrail:us-east-1:111111111111:trail/other")
        );
        let p = flags(&o, FlagKind::Persistence);
        assert_eq!(p.len(), 2);
        assert!(
            p.iter()
                .any(|f| f.detail.contains("CreateUser") && f.detail.contains("backdoor"))
        );
        assert!(
            p.iter()
                .any(|f| f.detail.contains("AddPermission") && f.evidence_event_ids == ["p2"])
        );
        let b = flags(&o, FlagKind::BulkDataAccess);
        assert_eq!(b.len(), 1, "{b:#?}");
        assert!(b[0].detail.contains("GetSecretValue"));
        assert!(
            b[0].detail
                .contains("25 successful calls, 25 of them within 10 minutes")
        );
        assert!(b[0].detail.contains("5 distinct targets"));
        assert_eq!(b[0].count, 25);
        assert_eq!(b[0].evidence_event_ids.len(), EVIDENCE_IDS);
    }

    #[test]
    fn identity_flags_and_recycled_keys() {
        let console_user = json!({"type": "IAMUser", "arn": "arn:aws:iam::111111111111:user/alice",
            "accountId": "111111111111", "accessKeyId": "ASIACONSOLE",
            "sessionContext": {"attributes": {"creationDate": "2024-05-01T09:59:00Z", "mfaAuthenticated": "true"}}});
        let evs = parse(vec![
            rec(
                "login",
                1,
                json!({"eventSource": "signin.amazonaws.com", "eventName": "ConsoleLogin",
                "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111111111111:user/alice", "accountId": "111111111111"},
                "responseElements": {"ConsoleLogin": "Success"},
                "additionalEventData": {"MFAUsed": "Yes", "LoginTo": "https://console.aws.amazon.com"}}),
            ),
            rec(
                "con",
                2,
                json!({"userIdentity": console_user, "sessionCredentialFromConsole": "true",
                                "userAgent": "AWS Internal"}),
            ),
            rec(
                "xacct",
                3,
                json!({"userIdentity": {"type": "AssumedRole",
                "arn": "arn:aws:sts::333333333333:assumed-role/ext/s", "accountId": "333333333333",
                "accessKeyId": "ASIAEXT"}}),
            ),
            rec(
                "web",
                4,
                json!({"userIdentity": {"type": "WebIdentityUser", "userName": "sub-1",
                "identityProvider": "token.actions.githubusercontent.com", "principalId": "x"},
                "eventName": "AssumeRoleWithWebIdentity"}),
            ),
            rec(
                "fed",
                5,
                json!({"userIdentity": {"type": "FederatedUser",
                "arn": "arn:aws:sts::111111111111:federated-user/bob", "accountId": "111111111111",
                "accessKeyId": "ASIAFED"}}),
            ),
            rec(
                "r1",
                6,
                json!({"userIdentity": role("one", "ASIARECYCLED")}),
            ),
            rec(
                "r2",
                7,
                json!({"userIdentity": role("two", "ASIARECYCLED")}),
            ),
            rec(
                "r3",
                8,
                json!({"userIdentity": role("two", "ASIARECYCLED")}),
            ),
            rec(
                "tool",
                9,
                json!({"userAgent": "stratus-red-team_0a05817a-84d2-40d7-afde-8311715b1ee6"}),
            ),
        ]);
        let o = analyze(&evs, &["111111111111".to_string()], None);
        let one = |k| {
            let f = flags(&o, k);
            assert_eq!(f.len(), 1, "{k:?}: {f:#?}");
            f[0].clone()
        };
        let c = one(FlagKind::ConsoleSession);
        assert_eq!(c.evidence_event_ids, vec!["login", "con"]);
        assert!(c.detail.contains("1 calls signed with console-minted"));
        assert!(c.detail.contains("ConsoleLogin ×1"));
        assert_eq!(
            one(FlagKind::MfaUsed).evidence_event_ids,
            vec!["login", "con"]
        );
        let x = one(FlagKind::CrossAccount);
        assert_eq!(x.evidence_event_ids, vec!["xacct"]);
        assert!(
            x.detail.contains(
                "333333333333 → 111111111111 (1 calls, identity account not in the store)"
            )
        );
        let w = one(FlagKind::WebIdentity);
        assert!(w.detail.contains("token.actions.githubusercontent.com"));
        assert_eq!(one(FlagKind::FederatedUser).evidence_event_ids, vec!["fed"]);
        let r = one(FlagKind::RecycledAccessKey);
        assert_eq!(r.evidence_event_ids, vec!["r1", "r2"]);
        assert_eq!(r.count, 3);
        assert!(r.detail.contains("2 identities"));
        let t = one(FlagKind::AttackToolUserAgent);
        assert_eq!(t.evidence_event_ids, vec!["tool"]);
        assert!(t.detail.starts_with("Stratus Red Team: 1 calls"));
        // Flags come out in kind order.
        let kinds: Vec<FlagKind> = o.flags.iter().map(|f| f.kind).collect();
        let mut sorted = kinds.clone();
        sorted.sort();
        assert_eq!(kinds, sorted);
    }

    struct FakeGeo;
    impl GeoLookup for FakeGeo {
        fn lookup(&self, ip: IpAddr) -> Option<Geo> {
            (ip.to_string() == "45.1.2.3").then(|| Geo {
                country: Some("NL".into()),
                asn: Some(64500),
                as_org: Some("Example Hosting".into()),
            })
        }
    }

    #[test]
    fn rows_by_address_and_user_agent_with_geo() {
        let evs = parse(vec![
            rec(
                "a",
                1,
                json!({"sourceIPAddress": "45.1.2.3", "awsRegion": "eu-west-1"}),
            ),
            rec(
                "b",
                2,
                json!({"sourceIPAddress": "45.1.2.3", "userAgent": "curl/8.0"}),
            ),
            rec("c", 3, json!({"sourceIPAddress": "10.0.0.1"})),
        ]);
        let o = analyze(&evs, &[], Some(&FakeGeo));
        let top = &o.source_ips[0];
        assert_eq!((top.source_ip.as_str(), top.count), ("45.1.2.3", 2));
        assert_eq!(top.geo.as_ref().unwrap().country.as_deref(), Some("NL"));
        assert_eq!(top.regions, vec!["eu-west-1", "us-east-1"]);
        assert_eq!(top.user_agents.len(), 2);
        assert_eq!(
            o.source_ips[1].geo, None,
            "private addresses are not looked up"
        );
        assert_eq!(o.source_ips[1].range.as_deref(), Some("rfc1918"));
        let ua = &o.user_agents[0];
        assert_eq!(
            (ua.user_agent.as_str(), ua.kind, ua.count),
            ("aws-cli/2.15.0", UaKind::AwsCli, 2)
        );
        let v = serde_json::to_value(&o).unwrap();
        assert_eq!(v["source_ips"][0]["class"], "public");
        assert_eq!(v["source_ips"][0]["first_seen"], "2024-05-01T10:00:01Z");
        let back: Origins = serde_json::from_value(v).unwrap();
        assert_eq!(back, o);
    }

    #[test]
    fn bad_origin_tables_are_refused() {
        assert!(Patterns::parse("glob\tx\tsdk\tX\n", "").is_err());
        assert!(Patterns::parse("prefix\tx\tnot_a_kind\tX\n", "").is_err());
        assert!(Patterns::parse("", "nope\ts\tn\tnote\n").is_err());
        assert!(Patterns::parse(USER_AGENTS_TSV, FLAG_EVENTS_TSV).is_ok());
    }

    /// Control byte(s) of a MaxMind DB value of `kind` and `size`.
    fn mm_ctrl(kind: u8, size: usize) -> Vec<u8> {
        let (first, ext) = if kind <= 7 {
            (kind << 5, None)
        } else {
            (0, Some(kind - 7))
        };
        let (low, extra): (u8, Vec<u8>) = match size {
            0..29 => (size as u8, vec![]),
            29..285 => (29, vec![(size - 29) as u8]),
            _ => (30, ((size - 285) as u16).to_be_bytes().to_vec()),
        };
        let mut out = vec![first | low];
        out.extend(ext);
        out.extend(extra);
        out
    }

    fn mm_str(s: &str) -> Vec<u8> {
        let mut out = mm_ctrl(2, s.len());
        out.extend(s.as_bytes());
        out
    }

    fn mm_uint(kind: u8, v: u32) -> Vec<u8> {
        let bytes: Vec<u8> = v
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        let mut out = mm_ctrl(kind, bytes.len());
        out.extend(bytes);
        out
    }

    fn mm_map(entries: &[(&str, Vec<u8>)]) -> Vec<u8> {
        let mut out = mm_ctrl(7, entries.len());
        for (k, v) in entries {
            out.extend(mm_str(k));
            out.extend(v);
        }
        out
    }

    /// A complete database: the given networks, each pointing at its data record (encoded
    /// with offsets relative to the data section).
    fn build_db(
        ip_version: u16,
        record_size: u32,
        nets: &[(IpAddr, usize, usize)],
        data: &[u8],
    ) -> Vec<u8> {
        #[derive(Clone, Copy)]
        enum Rec {
            Node(u32),
            Empty,
            Data(usize),
        }
        let mut nodes: Vec<[Rec; 2]> = vec![[Rec::Empty, Rec::Empty]];
        for (ip, prefix, offset) in nets {
            let bits: Vec<bool> = match (ip, ip_version) {
                (IpAddr::V4(v4), 6) => {
                    let mut b = vec![false; 96];
                    b.extend((0..32).map(|i| v4.octets()[i / 8] >> (7 - i % 8) & 1 == 1));
                    b
                }
                (IpAddr::V4(v4), _) => (0..32)
                    .map(|i| v4.octets()[i / 8] >> (7 - i % 8) & 1 == 1)
                    .collect(),
                (IpAddr::V6(v6), _) => (0..128)
                    .map(|i| v6.octets()[i / 8] >> (7 - i % 8) & 1 == 1)
                    .collect(),
            };
            let prefix = if matches!(ip, IpAddr::V4(_)) && ip_version == 6 {
                prefix + 96
            } else {
                *prefix
            };
            let mut node = 0usize;
            for (depth, bit) in bits.iter().take(prefix).enumerate() {
                let side = usize::from(*bit);
                if depth + 1 == prefix {
                    nodes[node][side] = Rec::Data(*offset);
                } else {
                    node = match nodes[node][side] {
                        Rec::Node(n) => n as usize,
                        // A shorter network already covers this one: push it down a level.
                        inherited => {
                            nodes.push([inherited, inherited]);
                            let n = nodes.len() - 1;
                            nodes[node][side] = Rec::Node(n as u32);
                            n
                        }
                    };
                }
            }
        }
        let count = nodes.len() as u32;
        let value = |r: Rec| match r {
            Rec::Node(n) => n,
            Rec::Empty => count,
            Rec::Data(off) => count + 16 + off as u32,
        };
        let mut out = Vec::new();
        for [l, r] in nodes {
            let (l, r) = (value(l), value(r));
            match record_size {
                24 => {
                    out.extend(&l.to_be_bytes()[1..]);
                    out.extend(&r.to_be_bytes()[1..]);
                }
                28 => {
                    out.extend(&l.to_be_bytes()[1..]);
                    out.push((((l >> 24) & 0x0f) << 4) as u8 | ((r >> 24) & 0x0f) as u8);
                    out.extend(&r.to_be_bytes()[1..]);
                }
                _ => {
                    out.extend(l.to_be_bytes());
                    out.extend(r.to_be_bytes());
                }
            }
        }
        out.extend([0u8; 16]);
        out.extend(data);
        out.extend(MMDB_MARKER);
        out.extend(mm_map(&[
            ("binary_format_major_version", mm_uint(5, 2)),
            ("database_type", mm_str("backtrail-test")),
            ("ip_version", mm_uint(5, u32::from(ip_version))),
            ("node_count", mm_uint(6, count)),
            ("record_size", mm_uint(5, record_size)),
        ]));
        out
    }

    /// Two records: a City-style one (country map) and an ASN one whose organisation is a
    /// pointer to a string stored first.
    fn sample_data() -> (Vec<u8>, usize, usize) {
        let mut data = mm_str("Example Hosting B.V.");
        let city = data.len();
        data.extend(mm_map(&[
            (
                "country",
                mm_map(&[
                    ("iso_code", mm_str("NL")),
                    ("geoname_id", mm_uint(6, 2750405)),
                ]),
            ),
            ("location", mm_map(&[("accuracy_radius", mm_uint(5, 100))])),
        ]));
        let asn = data.len();
        data.extend(mm_map(&[
            ("autonomous_system_number", mm_uint(6, 64500)),
            // Pointer, size 0: two bytes with the offset (0) of the string.
            ("autonomous_system_organization", vec![0b0010_0000, 0]),
        ]));
        (data, city, asn)
    }

    #[test]
    fn maxmind_databases_of_both_ip_versions_and_record_sizes() {
        let (data, city, asn) = sample_data();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        for (version, size) in [(4u16, 24u32), (6, 24), (6, 28), (4, 32)] {
            let mut nets = vec![(ip("45.1.0.0"), 16, city), (ip("45.1.2.0"), 24, asn)];
            if version == 6 {
                nets.push((ip("2a01:4f8::"), 32, city));
            }
            let db = MaxMindDb::from_bytes(build_db(version, size, &nets, &data)).unwrap();
            let g = db.lookup(ip("45.1.9.9")).unwrap();
            assert_eq!(g.country.as_deref(), Some("NL"), "v{version}/{size}");
            assert_eq!(g.asn, None);
            let g = db.lookup(ip("45.1.2.3")).unwrap();
            assert_eq!(g.asn, Some(64500), "v{version}/{size}");
            assert_eq!(g.as_org.as_deref(), Some("Example Hosting B.V."));
            assert_eq!(db.lookup(ip("8.8.8.8")), None);
            assert_eq!(
                db.lookup(ip("::ffff:45.1.9.9")).and_then(|g| g.country),
                Some("NL".into())
            );
            if version == 6 {
                assert!(db.lookup(ip("2a01:4f8:1::1")).is_some());
            }
        }
        // A Country database and an ASN database together: fields merged.
        let both = vec![
            MaxMindDb::from_bytes(build_db(6, 24, &[(ip("45.1.0.0"), 16, city)], &data)).unwrap(),
            MaxMindDb::from_bytes(build_db(4, 24, &[(ip("45.1.0.0"), 16, asn)], &data)).unwrap(),
        ];
        let g = both.lookup(ip("45.1.200.1")).unwrap();
        assert_eq!((g.country.as_deref(), g.asn), (Some("NL"), Some(64500)));
        // And through the analysis.
        let evs = parse(vec![rec("g", 1, json!({"sourceIPAddress": "45.1.2.3"}))]);
        let o = analyze(&evs, &[], Some(&both));
        assert_eq!(o.source_ips[0].geo.as_ref().unwrap().asn, Some(64500));
    }

    #[test]
    fn damaged_maxmind_databases_fail_cleanly() {
        assert!(matches!(
            MaxMindDb::from_bytes(b"hello".to_vec()),
            Err(GeoDbError::Format(_))
        ));
        assert!(MaxMindDb::open(std::path::Path::new("/nonexistent/x.mmdb")).is_err());
        let (data, city, _) = sample_data();
        let ip: IpAddr = "45.1.2.3".parse().unwrap();
        let good = build_db(4, 24, &[(ip, 16, city)], &data);
        // Every truncation and every single-byte corruption: no panic, at worst no answer.
        for cut in 0..good.len() {
            if let Ok(db) = MaxMindDb::from_bytes(good[..cut].to_vec()) {
                let _ = db.lookup(ip);
            }
        }
        for i in 0..good.len() {
            let mut bad = good.clone();
            bad[i] ^= 0xff;
            if let Ok(db) = MaxMindDb::from_bytes(bad) {
                let _ = db.lookup(ip);
            }
        }
        // A record that points at itself ends at the depth bound.
        let looped = vec![0b0010_0000, 0];
        let db = MaxMindDb::from_bytes(build_db(4, 24, &[(ip, 16, 0)], &looped)).unwrap();
        assert_eq!(db.lookup(ip), None);
    }
}
