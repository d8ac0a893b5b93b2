//! Ranking sessions by risk from their summary rows alone, so that a responder without a
//! finding knows where to look first. Every point comes with its reason.

use crate::origin::{IpClass, UaKind, classify_ip, classify_user_agent};
use backtrail_model::SessionSummary;
use backtrail_model::time::format_iso;
use serde::Serialize;
use std::collections::BTreeSet;

/// A session with its score and the reasons for it.
#[derive(Debug, Clone, Serialize)]
pub struct RankedSession {
    pub score: u32,
    pub reasons: Vec<String>,
    pub access_key_id: Option<String>,
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
}

/// Scores: attack tools and raw HTTP clients, root, many errors, several public networks.
/// The weights are documented in docs/report-format.md; the order, not the number, matters.
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
        score += 30;
        why.push("root user".to_string());
    }
    if s.errors >= 5 && s.errors * 3 >= s.events {
        score += 20;
        why.push(format!("{} of {} calls failed", s.errors, s.events));
    }
    let nets: BTreeSet<String> = s
        .source_ips
        .iter()
        .filter(|ip| classify_ip(ip).0 == IpClass::Public)
        .map(|ip| {
            ip.rsplit_once('.')
                .map_or(ip.clone(), |(n, _)| n.to_string())
        })
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

/// Sessions ordered riskiest first (then by activity).
pub fn rank_sessions(rows: Vec<SessionSummary>) -> Vec<RankedSession> {
    let mut v: Vec<RankedSession> = rows
        .into_iter()
        .map(|s| {
            let (score, reasons) = score(&s);
            RankedSession {
                score,
                reasons,
                access_key_id: s.access_key_id,
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
        let r = rank_sessions(vec![quiet, loud]);
        assert_eq!(r[0].arn.as_deref(), Some("arn:aws:iam::1:user/bob"));
        assert!(r[0].reasons.iter().any(|x| x.contains("attack tool")));
        assert!(r[0].reasons.iter().any(|x| x.contains("20 of 30")));
        assert_eq!(r[1].score, 0);
    }
}
