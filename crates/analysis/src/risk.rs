//! Ranking sessions by risk, so that a responder without a finding knows where to look
//! first. A session is what the rest of backtrail calls one: access key, ARN and creation
//! date, with a console session's many minted keys folded into one row. The score adds what
//! the session's summary shows (attack tools, failures, networks), what is new for its
//! principal, and what the hunting rules found in its calls; every point has its reason.

use crate::network::{IpClass, UaKind, classify_ip, classify_user_agent};
use backtrail_hunt::Level;
use backtrail_model::time::format_iso;
use backtrail_model::{SessionAggregator, SessionKey, SessionSummary};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// A session with its score and the reasons for it.
#[derive(Debug, Clone, Serialize)]
pub struct RankedSession {
    pub score: u32,
    pub reasons: Vec<String>,
    /// The session's key; `None` for a console session (its keys are in `access_key_ids`).
    pub access_key_id: Option<String>,
    /// Every key the session signed with.
    pub access_key_ids: Vec<String>,
    pub arn: Option<String>,
    pub identity_type: Option<String>,
    pub account_id: Option<String>,
    pub creation_date: Option<String>,
    pub first_seen: String,
    pub last_seen: String,
    pub events: u64,
    pub errors: u64,
    pub source_ips: Vec<String>,
    pub user_agents: Vec<String>,
    pub from_console: bool,
    /// Events behind the reasons that come from the session's calls (hunt hits).
    pub evidence_event_ids: Vec<String>,
}

/// A hunting rule's hits in one session: evidence found in the session's calls rather
/// than in its summary row.
#[derive(Debug, Clone, PartialEq)]
pub struct Signal {
    pub rule: String,
    pub level: Level,
    pub events: u64,
    pub evidence_event_ids: Vec<String>,
}

impl Signal {
    /// Points a rule's hits add, by the rule's level.
    pub fn points(&self) -> u32 {
        match self.level {
            Level::Critical => 40,
            Level::High => 30,
            Level::Medium => 15,
            Level::Low => 5,
            Level::Informational => 1,
        }
    }
}

/// The session a summary row belongs to: a console session's keys are folded into one
/// session (same ARN and creationDate: one sign-in).
pub fn session_key(s: &SessionSummary) -> SessionKey {
    let console = s.from_console && s.arn.is_some() && s.creation_date.is_some();
    SessionKey {
        access_key_id: if console {
            None
        } else {
            s.access_key_id.clone()
        },
        arn: s.arn.clone(),
        creation_date: s.creation_date,
    }
}

/// Rows folded into sessions, each with every key it used.
fn fold(rows: Vec<SessionSummary>) -> Vec<(SessionSummary, Vec<String>)> {
    let mut keys: BTreeMap<SessionKey, BTreeSet<String>> = BTreeMap::new();
    let mut agg = SessionAggregator::default();
    for mut r in rows {
        let k = session_key(&r);
        keys.entry(k.clone())
            .or_default()
            .extend(r.access_key_id.iter().cloned());
        r.access_key_id = k.access_key_id;
        agg.merge(r);
    }
    agg.finish()
        .into_iter()
        .map(|s| {
            let k = keys.remove(&s.key()).unwrap_or_default();
            (s, k.into_iter().collect())
        })
        .collect()
}

fn public_net(ip: &str) -> Option<String> {
    (classify_ip(ip).0 == IpClass::Public).then(|| {
        ip.rsplit_once('.')
            .map_or(ip.to_string(), |(n, _)| format!("{n}.0/24"))
    })
}

/// Scores from the row alone. The weights are documented in docs/report-format.md; the
/// order, not the number, matters.
fn score(s: &SessionSummary) -> (u32, Vec<String>) {
    let mut score = 0;
    let mut why = Vec::new();
    let kinds: BTreeSet<UaKind> = s
        .user_agents
        .iter()
        .map(|u| classify_user_agent(u).kind)
        .collect();
    if kinds.contains(&UaKind::AttackTool) {
        score += 40;
        why.push("attack tool user agent".to_string());
    }
    if kinds.contains(&UaKind::HttpClient) {
        score += 15;
        why.push("raw HTTP client user agent".to_string());
    }
    if s.identity_type.as_deref() == Some("Root") {
        // A reason to look, not a rank of its own: owners sign in as root too.
        score += 10;
        why.push("root user".to_string());
    }
    if s.errors >= 5 && s.errors * 3 >= s.events {
        score += 20;
        why.push(format!("{} of {} calls failed", s.errors, s.events));
    }
    let nets: BTreeSet<String> = s
        .source_ips
        .iter()
        .filter_map(|ip| public_net(ip))
        .collect();
    if nets.len() > 1 {
        score += 15;
        why.push(format!("used from {} public networks", nets.len()));
    }
    if s.source_ips
        .iter()
        .any(|ip| classify_ip(ip).0 == IpClass::Private)
    {
        score += 5;
        why.push("private source address (VPC endpoint or internal)".to_string());
    }
    if s.from_console {
        score += 2;
        why.push("console session".to_string());
    }
    (score, why)
}

/// Public networks an IAM user or the root user had not used in any earlier session: a
/// leaked long-term key shows up from somewhere new. (Role sessions are left out: services
/// and functions assume roles from ever-changing AWS addresses.)
fn new_networks(sessions: &[(SessionSummary, Vec<String>)]) -> Vec<Vec<String>> {
    let mut order: Vec<usize> = (0..sessions.len()).collect();
    order.sort_by_key(|&i| (sessions[i].0.first_seen, i));
    let mut seen: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    let mut out = vec![Vec::new(); sessions.len()];
    for i in order {
        let s = &sessions[i].0;
        let long_term = matches!(s.identity_type.as_deref(), Some("IAMUser" | "Root"));
        let Some(arn) = s.arn.as_deref().filter(|_| long_term) else {
            continue;
        };
        let nets: BTreeSet<String> = s
            .source_ips
            .iter()
            .filter_map(|ip| public_net(ip))
            .collect();
        match seen.get_mut(arn) {
            None => {
                seen.insert(arn, nets);
            }
            Some(before) => {
                out[i] = nets.difference(before).cloned().collect();
                before.extend(nets);
            }
        }
    }
    out
}

/// Sessions ordered riskiest first (then by activity). `signals` are keyed by
/// [`session_key`].
pub fn rank_sessions(
    rows: Vec<SessionSummary>,
    signals: &BTreeMap<SessionKey, Vec<Signal>>,
) -> Vec<RankedSession> {
    let sessions = fold(rows);
    let fresh = new_networks(&sessions);
    let mut v: Vec<RankedSession> = sessions
        .into_iter()
        .zip(fresh)
        .map(|((s, keys), fresh)| {
            let (mut score, mut reasons) = score(&s);
            if !fresh.is_empty() {
                score += 10;
                reasons.push(format!(
                    "network never used by this principal before: {}",
                    fresh.join(", ")
                ));
            }
            let mut evidence = Vec::new();
            for sig in signals.get(&s.key()).into_iter().flatten() {
                score += sig.points();
                reasons.push(format!(
                    "hunt: {} ({}, {} event(s))",
                    sig.rule,
                    sig.level.as_str(),
                    sig.events
                ));
                evidence.extend(sig.evidence_event_ids.iter().cloned());
            }
            RankedSession {
                score,
                reasons,
                access_key_id: s.access_key_id,
                access_key_ids: keys,
                arn: s.arn,
                identity_type: s.identity_type,
                account_id: s.account_id,
                creation_date: s.creation_date.map(format_iso),
                first_seen: format_iso(s.first_seen),
                last_seen: format_iso(s.last_seen),
                events: s.events,
                errors: s.errors,
                source_ips: s.source_ips,
                user_agents: s.user_agents,
                from_console: s.from_console,
                evidence_event_ids: evidence,
            }
        })
        .collect();
    v.sort_by(|a, b| {
        b.score
            .cmp(&a.score)
            .then(b.events.cmp(&a.events))
            .then(a.arn.cmp(&b.arn))
    });
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attack_tools_and_failures_rank_first() {
        let quiet = SessionSummary {
            arn: Some("arn:aws:sts::1:assumed-role/app/x".into()),
            events: 1000,
            user_agents: vec!["aws-sdk-go-v2/1.30".into()],
            source_ips: vec!["3.3.3.3".into()],
            ..Default::default()
        };
        let loud = SessionSummary {
            arn: Some("arn:aws:iam::1:user/bob".into()),
            events: 30,
            errors: 20,
            user_agents: vec!["Boto3/1.34 Python/3.11 Linux/6.5.0-kali3-amd64".into()],
            source_ips: vec!["203.0.113.7".into(), "198.51.100.9".into()],
            ..Default::default()
        };
        let r = rank_sessions(vec![quiet, loud], &BTreeMap::new());
        assert_eq!(r[0].arn.as_deref(), Some("arn:aws:iam::1:user/bob"));
        assert!(r[0].reasons.iter().any(|x| x.contains("attack tool")));
        assert!(r[0].reasons.iter().any(|x| x.contains("20 of 30")));
        assert_eq!(r[1].score, 0);
    }

    #[test]
    fn console_keys_fold_and_hunt_hits_outrank_root() {
        let root = "arn:aws:iam::1:root";
        let console = |key: &str, events: u64| SessionSummary {
            access_key_id: Some(key.into()),
            arn: Some(root.into()),
            creation_date: Some(1_000),
            identity_type: Some("Root".into()),
            first_seen: 2_000,
            last_seen: 3_000 + events as i64,
            events,
            from_console: true,
            source_ips: vec!["198.51.100.1".into()],
            ..Default::default()
        };
        let user = "arn:aws:iam::1:user/dev";
        let key_use = |ip: &str, t: i64, key: &str| SessionSummary {
            access_key_id: Some(key.into()),
            arn: Some(user.into()),
            identity_type: Some("IAMUser".into()),
            first_seen: t,
            last_seen: t + 10,
            events: 3,
            source_ips: vec![ip.into()],
            ..Default::default()
        };
        let attacker = key_use("3.80.1.2", 9_000, "AKIANEW");
        let mut signals = BTreeMap::new();
        signals.insert(
            session_key(&attacker),
            vec![Signal {
                rule: "IAM policy document that allows every action".into(),
                level: Level::High,
                events: 1,
                evidence_event_ids: vec!["e1".into()],
            }],
        );
        let r = rank_sessions(
            vec![
                console("ASIA1", 5),
                console("ASIA2", 6),
                console("ASIA3", 7),
                console("ASIA4", 8),
                key_use("198.51.100.1", 1_000, "AKIAOLD"),
                attacker,
            ],
            &signals,
        );
        assert_eq!(r.len(), 3, "four console keys are one session");
        assert_eq!(r[0].access_key_id.as_deref(), Some("AKIANEW"));
        assert_eq!(r[0].evidence_event_ids, ["e1"]);
        assert!(r[0].reasons.contains(
            &"hunt: IAM policy document that allows every action (high, 1 event(s))".to_string()
        ));
        assert!(
            r[0].reasons
                .iter()
                .any(|x| x.contains("never used by this principal")),
            "{:?}",
            r[0].reasons
        );
        let folded = &r[1];
        assert_eq!(folded.access_key_ids, ["ASIA1", "ASIA2", "ASIA3", "ASIA4"]);
        assert_eq!((folded.events, folded.access_key_id.clone()), (26, None));
        assert_eq!(folded.score, 12, "root and console: {:?}", folded.reasons);
    }
}
