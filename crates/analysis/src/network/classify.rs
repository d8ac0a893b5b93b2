//! What a source address and a user agent are: the address's class and named range, the
//! software a user agent names (`data/user_agents.tsv`), and the API flags table
//! (`data/flag_events.tsv`), parsed once.

use crate::calls::api_name;
use crate::catalog::{CatalogError, tsv_rows};
use backtrail_model::Event;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::LazyLock;

pub(super) const USER_AGENTS_TSV: &str = include_str!("../../data/user_agents.tsv");
pub(super) const FLAG_EVENTS_TSV: &str = include_str!("../../data/flag_events.tsv");

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

pub(super) fn classify_v4(ip: Ipv4Addr) -> (IpClass, Option<&'static str>) {
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

pub(super) fn classify_v6(ip: Ipv6Addr) -> (IpClass, Option<&'static str>) {
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
pub(super) fn network_of(ip: IpAddr) -> String {
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
pub(super) enum Match {
    Prefix,
    Contains,
    Word,
}

#[derive(Debug, Clone)]
pub(super) struct UaPattern {
    how: Match,
    pattern: String,
    kind: UaKind,
    name: String,
}

/// Which flag an API raises, from `data/flag_events.tsv`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ApiFlag {
    LoggingTampering,
    Persistence,
    BulkDataAccess,
}

/// The user-agent and API-flag tables, parsed once.
pub(super) struct Patterns {
    user_agents: Vec<UaPattern>,
    api_flags: HashMap<String, HashMap<String, (ApiFlag, String)>>,
}

pub(super) static PATTERNS: LazyLock<Patterns> = LazyLock::new(|| {
    Patterns::parse(USER_AGENTS_TSV, FLAG_EVENTS_TSV)
        .unwrap_or_else(|e| panic!("built-in data table is invalid: {e}"))
});

impl Patterns {
    pub(super) fn parse(user_agents: &str, flag_events: &str) -> Result<Patterns, CatalogError> {
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

    pub(super) fn api_flag(&self, ev: &Event) -> Option<&(ApiFlag, String)> {
        self.api_flags
            .get(&ev.event_source)?
            .get(api_name(&ev.event_name))
    }
}

pub(super) fn word_match(hay: &str, needle: &str) -> bool {
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
