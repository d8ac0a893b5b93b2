//! Ground truth of a planted incident: which sessions are the attacker's, how they were
//! obtained, and the counts an attribution tool should reproduce. The counts are not
//! written by hand: they are computed by applying [`GroundTruth::selects`] to the
//! incident's own records, the same rule anyone can apply to the whole trail.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The attacker's subject credential: the key a detector (the finding) points at.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subject {
    /// Access key id of the subject session.
    pub access_key_id: String,
    /// `userIdentity.arn` of the subject session.
    pub arn: String,
}

/// Where the attack chain starts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    /// `IAMUser`, `Root`, `SAMLUser`, `WebIdentityUser`, `IdentityCenterUser`,
    /// `FederatedUser`, `AWSService`, `EC2Instance`, `LambdaFunction`, `AWSAccount`.
    pub kind: String,
    /// Depends on `kind`: the ARN of an IAM user or root, the SAML subject, the token
    /// subject, the Identity Center user name (e-mail), the federated user ARN, the service
    /// name, the instance id (`i-…`) of an EC2 instance, the function name of a Lambda
    /// function, the principal id of a foreign principal.
    pub identifier: String,
    /// Account of the origin principal.
    pub account: String,
    /// Events that show the origin acting (sign-in, first calls, issuing event).
    pub evidence_event_ids: Vec<String>,
}

/// One hand-over of credentials, ordered from origin to subject.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainLink {
    /// `AssumeRole`, `AssumeRoleWithSAML`, `AssumeRoleWithWebIdentity`, `ConsoleLogin`,
    /// `SwitchRole`, `RenewRole`.
    pub method: String,
    /// The caller's copy of the issuing event (for SwitchRole and RenewRole: the sign-in
    /// event).
    pub event_id: String,
    /// `sharedEventID` of cross-account (or service) copies.
    pub shared_event_id: Option<String>,
    /// Event ids of the other records of the step (role owner's AWSAccount copy, the
    /// AssumeRole pair of a SwitchRole or RenewRole, the ConsoleLogin of a federated console
    /// sign-in planted as one link).
    pub other_copy_event_ids: Vec<String>,
    /// eventTime of `event_id`.
    pub time: String,
    /// ARN of the caller; `None` when the caller has none (SAML/web identity/AWS service).
    pub caller_arn: Option<String>,
    /// Key the caller signed the issuing call with, if any.
    pub caller_access_key_id: Option<String>,
    /// Key returned by the issuing call; `None` for console hand-overs (the console mints
    /// its own keys).
    pub issued_access_key_id: Option<String>,
    /// ARN of the session the link creates.
    pub issued_arn: String,
    /// `creationDate` of the session the link creates.
    pub issued_creation_date: String,
}

/// A session whose selected events are the attacker's activity.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionTruth {
    /// Every key of the session (all console keys of a console session).
    pub access_key_ids: Vec<String>,
    /// `userIdentity.arn`.
    pub arn: String,
    /// `sessionContext.attributes.creationDate`; `None` for long-term keys.
    pub creation_date: Option<String>,
    /// Number of selected events of this session.
    pub attacker_event_count: u64,
}

/// Per-API counts over all selected events.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiCount {
    /// eventSource.
    pub event_source: String,
    /// eventName.
    pub event_name: String,
    /// Selected events of this API.
    pub occurrences: u64,
    /// Those without errorCode.
    pub successes: u64,
    /// Those with errorCode.
    pub failures: u64,
}

/// A target named in an AccessDenied message of a selected event.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct DeniedTarget {
    /// eventName of the denied call.
    pub event_name: String,
    /// Text after "on resource: " (an ARN, or `*`).
    pub target: String,
}

/// Activity that looks like the incident but is not part of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decoy {
    /// `recycled_key_twin`, `same_arn_other_session`, `same_user_other_session`,
    /// `same_role_other_user`, `same_key_legitimate_use`.
    pub kind: String,
    /// A key of the decoy session.
    pub access_key_id: String,
    /// Its ARN.
    pub arn: String,
    /// Its creationDate (`None` for long-term keys).
    pub creation_date: Option<String>,
    /// Up to five of its events.
    pub event_ids_sample: Vec<String>,
}

/// `OUT/ground-truth/<incident>.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroundTruth {
    /// Incident name (file stem).
    pub incident: String,
    /// What happened, in one paragraph.
    pub description: String,
    /// How the attacker's events were selected, in words. The rule is always: events
    /// whose `userIdentity` matches one of `sessions` (accessKeyId in `access_key_ids`,
    /// same `arn`, same `creationDate` or none for long-term keys) and whose
    /// `sourceIPAddress` is in `source_ips`.
    pub selection: String,
    /// Path of the finding, relative to the output directory.
    pub finding: String,
    /// The session the finding points at.
    pub subject: Subject,
    /// Where the chain starts.
    pub origin: Origin,
    /// Credential hand-overs from origin to subject.
    pub chain: Vec<ChainLink>,
    /// Attacker sessions.
    pub sessions: Vec<SessionTruth>,
    /// Per-API counts of the selected events, sorted by (event_source, event_name).
    pub api_counts: Vec<ApiCount>,
    /// Distinct sourceIPAddress of the selected events, sorted.
    pub source_ips: Vec<String>,
    /// Distinct targets of AccessDenied messages of the selected events, sorted.
    pub denied_targets: Vec<DeniedTarget>,
    /// Properties of the incident (`cross_account`, `console_session`, ...), sorted.
    pub flags: Vec<String>,
    /// Look-alike activity that must not be attributed to the incident.
    pub decoys: Vec<Decoy>,
    /// Sessions the attacker's sessions issued and then used (`investigate` shows them with
    /// role `spawned`), in issuing order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub spawned: Vec<SpawnedTruth>,
    /// Path facts (`investigate` `path_flags` kinds) the incident plants, sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub path_flags: Vec<String>,
}

/// A session an attacker session issued and used.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpawnedTruth {
    /// The issuing call: `CreateAccessKey`, `AssumeRole`, ...
    pub method: String,
    /// Its event id (the caller's copy).
    pub event_id: String,
    /// The key that signed the issuing call.
    pub parent_access_key_id: String,
    /// Index of the spawned session in `sessions`.
    pub session: usize,
}

/// A session's identity as it appears in records.
#[derive(Clone, Debug)]
pub(crate) struct SessionKey {
    pub keys: Vec<String>,
    pub arn: String,
    pub creation: Option<String>,
}

/// A record belongs to a session when it carries one of its keys, its ARN and its
/// creationDate; records logged without a key (the console's own sign-in records, such as
/// SwitchRole) belong to the session whose ARN and creationDate they carry.
fn identity_matches(record: &Value, keys: &[String], arn: &str, creation: Option<&str>) -> bool {
    let ui = &record["userIdentity"];
    if ui["arn"].as_str() != Some(arn) {
        return false;
    }
    let cd = ui["sessionContext"]["attributes"]["creationDate"].as_str();
    if cd != creation {
        return false;
    }
    match ui["accessKeyId"].as_str().filter(|k| !k.is_empty()) {
        Some(key) => keys.iter().any(|k| k == key),
        None => creation.is_some(),
    }
}

impl GroundTruth {
    /// Index of the session `record` belongs to, if it is one of the attacker's events.
    pub fn selects(&self, record: &Value) -> Option<usize> {
        let ip = record["sourceIPAddress"].as_str()?;
        if !self.source_ips.iter().any(|s| s == ip) {
            return None;
        }
        self.sessions.iter().position(|s| {
            identity_matches(
                record,
                &s.access_key_ids,
                &s.arn,
                s.creation_date.as_deref(),
            )
        })
    }
}

/// Target named by an AccessDenied-style message: the text after "on resource: " up to
/// " because" (or the end). `None` when the message names no resource.
pub fn denied_target(message: &str) -> Option<&str> {
    let start = message.find(" on resource: ")? + " on resource: ".len();
    let rest = &message[start..];
    let end = rest.find(" because").unwrap_or(rest.len());
    Some(&rest[..end])
}

/// Whether an errorCode means the call was denied by authorization.
pub fn is_denial(code: &str) -> bool {
    matches!(
        code,
        "AccessDenied"
            | "AccessDeniedException"
            | "Client.UnauthorizedOperation"
            | "UnauthorizedOperation"
    )
}

/// Counts computed over the selected records.
pub(crate) struct Tally {
    pub per_session: Vec<u64>,
    pub api_counts: Vec<ApiCount>,
    pub source_ips: Vec<String>,
    pub denied_targets: Vec<DeniedTarget>,
}

/// Applies the selection rule (sessions, and `allowed_ips` if given) to `records`.
pub(crate) fn tally(
    records: &[Value],
    sessions: &[SessionKey],
    allowed_ips: Option<&[String]>,
) -> Tally {
    let mut per_session = vec![0u64; sessions.len()];
    let mut apis: BTreeMap<(String, String), (u64, u64)> = BTreeMap::new();
    let mut ips = BTreeSet::new();
    let mut denied = BTreeSet::new();
    for r in records {
        let Some(ip) = r["sourceIPAddress"].as_str() else {
            continue;
        };
        if allowed_ips.is_some_and(|a| !a.iter().any(|x| x == ip)) {
            continue;
        }
        let Some(i) = sessions
            .iter()
            .position(|s| identity_matches(r, &s.keys, &s.arn, s.creation.as_deref()))
        else {
            continue;
        };
        per_session[i] += 1;
        ips.insert(ip.to_string());
        let src = r["eventSource"].as_str().unwrap_or_default().to_string();
        let name = r["eventName"].as_str().unwrap_or_default().to_string();
        let entry = apis.entry((src, name.clone())).or_default();
        match r["errorCode"].as_str() {
            Some(code) => {
                entry.1 += 1;
                if is_denial(code)
                    && let Some(t) = r["errorMessage"].as_str().and_then(denied_target)
                {
                    denied.insert(DeniedTarget {
                        event_name: name,
                        target: t.to_string(),
                    });
                }
            }
            None => entry.0 += 1,
        }
    }
    Tally {
        per_session,
        api_counts: apis
            .into_iter()
            .map(|((event_source, event_name), (ok, failed))| ApiCount {
                event_source,
                event_name,
                occurrences: ok + failed,
                successes: ok,
                failures: failed,
            })
            .collect(),
        source_ips: ips.into_iter().collect(),
        denied_targets: denied.into_iter().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        assert_eq!(
            denied_target(
                "User: arn:aws:sts::1:assumed-role/x/y is not authorized to perform: iam:ListRoles on resource: arn:aws:iam::1:role/ because no identity-based policy allows the iam:ListRoles action"
            ),
            Some("arn:aws:iam::1:role/")
        );
        assert_eq!(
            denied_target(
                "User: a is not authorized to perform: lambda:ListFunctions on resource: * because x"
            ),
            Some("*")
        );
        assert_eq!(
            denied_target(
                "You are not authorized to perform this operation. Encoded authorization failure message: abc"
            ),
            None
        );
    }
}
