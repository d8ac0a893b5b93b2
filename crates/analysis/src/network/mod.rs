//! Where the calls came from (their network sources): source addresses and user agents,
//! classified, and the flags an investigator checks first (private or caller-chosen
//! addresses, VPC endpoints, stolen instance credentials, log tampering, persistence, bulk
//! reads, attack tools, ...).
//!
//! Every flag carries the ids of the events that raised it, so that each claim can be
//! checked against the records themselves. User-agent patterns and the API lists behind the
//! tampering, persistence and bulk-read flags are reviewed data files (`data/`).

mod classify;
mod flags;
mod geoip;
#[cfg(test)]
mod tests;

pub use classify::{IpClass, UaClass, UaKind, classify_ip, classify_user_agent};
pub use geoip::{Geo, GeoDbError, GeoLookup, MaxMindDb};

use crate::calls::{Counted, iso};
use crate::catalog::Catalog;
use backtrail_model::{Event, Millis};
use flags::{
    api_flags, aws_sources, identity_flags, instance_credentials, multiple_networks,
    private_sources, recycled_keys, vpc_endpoints,
};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;

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

/// Where the calls came from: their network sources.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NetworkSources {
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

    /// Evidence of `all` the events, listing first the `leads` (one example of each thing
    /// the detail names), then the rest while there is room.
    fn led_by(leads: &[&Event], all: &[&Event]) -> Evidence {
        let mut e = Evidence {
            count: all.len() as u64,
            ..Evidence::default()
        };
        for ev in leads.iter().chain(all) {
            e.note(ev);
        }
        e
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
) -> NetworkSources {
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
    NetworkSources {
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
    // The address breaks ties, so rows equal in count and first call come out in one order
    // on every run (the map's order is random).
    rows.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then(a.first_seen.cmp(&b.first_seen))
            .then(a.source_ip.cmp(&b.source_ip))
    });
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
