//! The CloudTrail event model shared by every backtrail crate.
//!
//! An [`Event`] is one CloudTrail record with the fields that attribution depends on pulled
//! out into typed values, and everything else kept as JSON text so that the record can be
//! printed again as AWS wrote it. The crate has no query engine and no I/O: the analyses
//! (chain, session, activity, network sources) work on these plain types, and any store that can
//! answer [`EventLookup`] can feed them.

pub mod json;
pub mod session_agg;
pub mod text;
pub mod time;

use serde::{Deserialize, Serialize};
pub use session_agg::{SESSION_LIST_CAP, SessionAggregator};

/// Milliseconds since the Unix epoch, UTC. CloudTrail times have second precision, but
/// shipper-reshaped records carry milliseconds, and ordering must not lose them.
pub type Millis = i64;

/// One CloudTrail record, normalized.
///
/// JSON-valued fields (`request_parameters`, `user_identity`, ...) hold the original text of
/// that field (`"null"` when the record had an explicit JSON null, `None` when the field was
/// absent), so nested values are never re-serialised or reordered.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// `eventTime` (or the shipper's timestamp when `eventTime` is missing).
    pub event_time: Millis,
    /// `eventID`, or a content hash prefixed `bt-` when the record had none.
    pub event_id: String,
    pub event_name: String,
    pub event_source: String,
    pub event_type: Option<String>,
    pub event_category: Option<String>,
    pub event_version: Option<String>,
    pub aws_region: Option<String>,
    pub recipient_account_id: Option<String>,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    /// `readOnly` as logged: `None` when the record does not say.
    pub read_only: Option<bool>,
    pub management_event: Option<bool>,
    pub request_id: Option<String>,
    pub shared_event_id: Option<String>,
    pub vpc_endpoint_id: Option<String>,
    pub vpc_endpoint_account_id: Option<String>,
    pub tls_version: Option<String>,
    pub tls_cipher_suite: Option<String>,
    pub tls_client_host_header: Option<String>,
    /// `sessionCredentialFromConsole`: the call was signed with a console-minted key.
    pub session_credential_from_console: Option<bool>,
    pub identity: Identity,
    pub request_parameters: Option<String>,
    pub response_elements: Option<String>,
    pub resources: Option<String>,
    pub additional_event_data: Option<String>,
    pub service_event_details: Option<String>,
    pub tls_details: Option<String>,
    /// The whole `userIdentity` object as logged.
    pub user_identity: Option<String>,
    /// Top-level fields that have no column of their own, or whose value did not have the
    /// type CloudTrail documents (kept verbatim, as a JSON object).
    pub extra: Option<String>,
    /// The record's top-level keys in their original order, comma separated; `show` uses it
    /// to print the record with the same fields in the same order.
    pub key_order: String,
}

/// The `userIdentity` block, flattened.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// `type`: IAMUser, AssumedRole, Root, AWSService, AWSAccount, FederatedUser, SAMLUser,
    /// WebIdentityUser, IdentityCenterUser, Unknown.
    pub kind: Option<String>,
    pub principal_id: Option<String>,
    pub arn: Option<String>,
    pub account_id: Option<String>,
    pub access_key_id: Option<String>,
    pub user_name: Option<String>,
    pub invoked_by: Option<String>,
    pub issuer_type: Option<String>,
    pub issuer_principal_id: Option<String>,
    pub issuer_arn: Option<String>,
    pub issuer_account_id: Option<String>,
    pub issuer_user_name: Option<String>,
    /// `sessionContext.attributes.creationDate`: with key and ARN, what identifies a session.
    pub session_creation_date: Option<Millis>,
    pub mfa_authenticated: Option<bool>,
    pub source_identity: Option<String>,
    pub on_behalf_of_user_id: Option<String>,
    pub on_behalf_of_identity_store_arn: Option<String>,
    /// `identityProvider` of SAML and web-identity users.
    pub identity_provider: Option<String>,
    /// `credentialId` (Identity Center portal session).
    pub credential_id: Option<String>,
    pub in_scope_of_issuer_type: Option<String>,
    pub in_scope_of_credentials_issued_to: Option<String>,
    /// `ec2RoleDelivery` (1.0 = IMDSv1, 2.0 = IMDSv2).
    pub ec2_role_delivery: Option<String>,
}

/// The identity of a session: an access key id alone is not one (ASIA ids are recycled).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SessionKey {
    pub access_key_id: Option<String>,
    pub arn: Option<String>,
    pub creation_date: Option<Millis>,
}

/// A credential-issuing or session-starting event, extracted at ingest.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Issuance {
    pub event_time: Millis,
    pub event_id: String,
    pub event_name: String,
    pub event_source: String,
    pub recipient_account_id: Option<String>,
    pub aws_region: Option<String>,
    pub error_code: Option<String>,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    pub shared_event_id: Option<String>,
    pub request_id: Option<String>,
    pub caller_type: Option<String>,
    pub caller_arn: Option<String>,
    pub caller_principal_id: Option<String>,
    pub caller_account_id: Option<String>,
    pub caller_access_key_id: Option<String>,
    pub caller_user_name: Option<String>,
    pub caller_invoked_by: Option<String>,
    pub caller_session_creation_date: Option<Millis>,
    /// Access key id the call returned (`responseElements.credentials.accessKeyId`, or the
    /// new key of CreateAccessKey).
    pub issued_access_key_id: Option<String>,
    /// ARN of the session or principal the credentials act as.
    pub issued_arn: Option<String>,
    pub assumed_role_id: Option<String>,
    pub expiration: Option<Millis>,
    pub role_arn: Option<String>,
    pub role_session_name: Option<String>,
    pub source_identity: Option<String>,
    /// SAML issuer / web-identity provider.
    pub provider: Option<String>,
    /// SAML subject or web-identity subject (`sub`).
    pub subject: Option<String>,
    /// For IAM user issuances (CreateAccessKey, login profiles), the user acted upon.
    pub target_user_name: Option<String>,
    /// ConsoleLogin / SwitchRole outcome: Success or Failure.
    pub outcome: Option<String>,
    pub mfa_used: Option<bool>,
    /// `additionalEventData.SwitchFrom` of a SwitchRole.
    pub switch_from: Option<String>,
}

/// Aggregate of one session's calls, built at ingest.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SessionSummary {
    pub access_key_id: Option<String>,
    pub arn: Option<String>,
    pub creation_date: Option<Millis>,
    pub identity_type: Option<String>,
    pub principal_id: Option<String>,
    pub account_id: Option<String>,
    pub user_name: Option<String>,
    pub issuer_arn: Option<String>,
    pub first_seen: Millis,
    pub last_seen: Millis,
    pub events: u64,
    pub errors: u64,
    pub source_ips: Vec<String>,
    pub user_agents: Vec<String>,
    pub regions: Vec<String>,
    pub from_console: bool,
}

impl SessionSummary {
    /// The key of this session.
    pub fn key(&self) -> SessionKey {
        SessionKey {
            access_key_id: self.access_key_id.clone(),
            arn: self.arn.clone(),
            creation_date: self.creation_date,
        }
    }
}

/// A time window, both ends inclusive, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    pub start: Millis,
    pub end: Millis,
}

impl Window {
    /// Everything.
    pub const ALL: Window = Window {
        start: i64::MIN,
        end: i64::MAX,
    };

    /// Whether `t` falls inside.
    pub fn contains(&self, t: Millis) -> bool {
        t >= self.start && t <= self.end
    }
}

/// The questions the analyses ask of a store. Implemented by the query engine over the
/// Parquet store and by [`MemoryLookup`] for tests; the analyses never see which.
pub trait EventLookup {
    /// Error of the backing store.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Issuances whose issued access key id is `key`.
    fn issuances_by_issued_key(&self, key: &str) -> Result<Vec<Issuance>, Self::Error>;
    /// Issuances whose issued ARN is `arn` (role sessions, federated users, console logins).
    fn issuances_by_issued_arn(&self, arn: &str) -> Result<Vec<Issuance>, Self::Error>;
    /// Issuances with this sharedEventID (the other account's copy of a cross-account call).
    fn issuances_by_shared_id(&self, shared_event_id: &str) -> Result<Vec<Issuance>, Self::Error>;
    /// Issuances whose caller ARN is `arn` within `window` (what a session went on to mint).
    fn issuances_by_caller_arn(
        &self,
        arn: &str,
        window: Window,
    ) -> Result<Vec<Issuance>, Self::Error>;
    /// Issuances of one event name in `window` (e.g. the SwitchRole next to an AssumeRole).
    fn issuances_by_name(
        &self,
        event_name: &str,
        window: Window,
    ) -> Result<Vec<Issuance>, Self::Error>;
    /// Sessions that used access key `key`.
    fn sessions_by_key(&self, key: &str) -> Result<Vec<SessionSummary>, Self::Error>;
    /// Sessions whose ARN is `arn`.
    fn sessions_by_arn(&self, arn: &str) -> Result<Vec<SessionSummary>, Self::Error>;
    /// Sessions whose principal id is `principal_id` or whose ARN ends with `/name`.
    fn sessions_by_principal_or_name(
        &self,
        needle: &str,
    ) -> Result<Vec<SessionSummary>, Self::Error>;
    /// Every event of the given sessions (matched on key, ARN and creation date).
    fn events_of_sessions(&self, sessions: &[SessionKey]) -> Result<Vec<Event>, Self::Error>;
    /// One event by id.
    fn event_by_id(&self, event_id: &str) -> Result<Option<Event>, Self::Error>;
    /// The events with these ids that the store holds, in no particular order (the
    /// evidence a report embeds).
    fn events_by_ids(&self, event_ids: &[String]) -> Result<Vec<Event>, Self::Error>;
    /// Every session row of the store (ranking looks at each principal's whole history).
    fn all_sessions(&self) -> Result<Vec<SessionSummary>, Self::Error>;
    /// Account ids that appear as recipients in the store (to tell "ours" from foreign).
    fn known_accounts(&self) -> Result<Vec<String>, Self::Error>;
}

/// An in-memory [`EventLookup`] over a list of events; used by tests and small inputs.
#[derive(Debug, Default, Clone)]
pub struct MemoryLookup {
    pub events: Vec<Event>,
    pub issuances: Vec<Issuance>,
    pub sessions: Vec<SessionSummary>,
}

/// Never fails.
#[derive(Debug, thiserror::Error)]
#[error("infallible")]
pub enum Infallible {}

impl MemoryLookup {
    /// A lookup over already derived rows (the normalize crate derives issuances and
    /// sessions from events; this crate stays free of parsing).
    pub fn new(
        events: Vec<Event>,
        issuances: Vec<Issuance>,
        sessions: Vec<SessionSummary>,
    ) -> Self {
        MemoryLookup {
            events,
            issuances,
            sessions,
        }
    }
}

fn opt_eq(a: &Option<String>, b: &str) -> bool {
    a.as_deref() == Some(b)
}

impl EventLookup for MemoryLookup {
    type Error = Infallible;

    fn issuances_by_issued_key(&self, key: &str) -> Result<Vec<Issuance>, Infallible> {
        Ok(self
            .issuances
            .iter()
            .filter(|i| opt_eq(&i.issued_access_key_id, key))
            .cloned()
            .collect())
    }
    fn issuances_by_issued_arn(&self, arn: &str) -> Result<Vec<Issuance>, Infallible> {
        Ok(self
            .issuances
            .iter()
            .filter(|i| opt_eq(&i.issued_arn, arn))
            .cloned()
            .collect())
    }
    fn issuances_by_shared_id(&self, id: &str) -> Result<Vec<Issuance>, Infallible> {
        Ok(self
            .issuances
            .iter()
            .filter(|i| opt_eq(&i.shared_event_id, id))
            .cloned()
            .collect())
    }
    fn issuances_by_caller_arn(&self, arn: &str, w: Window) -> Result<Vec<Issuance>, Infallible> {
        Ok(self
            .issuances
            .iter()
            .filter(|i| opt_eq(&i.caller_arn, arn) && w.contains(i.event_time))
            .cloned()
            .collect())
    }
    fn issuances_by_name(&self, name: &str, w: Window) -> Result<Vec<Issuance>, Infallible> {
        Ok(self
            .issuances
            .iter()
            .filter(|i| i.event_name == name && w.contains(i.event_time))
            .cloned()
            .collect())
    }
    fn sessions_by_key(&self, key: &str) -> Result<Vec<SessionSummary>, Infallible> {
        Ok(self
            .sessions
            .iter()
            .filter(|s| opt_eq(&s.access_key_id, key))
            .cloned()
            .collect())
    }
    fn sessions_by_arn(&self, arn: &str) -> Result<Vec<SessionSummary>, Infallible> {
        Ok(self
            .sessions
            .iter()
            .filter(|s| opt_eq(&s.arn, arn))
            .cloned()
            .collect())
    }
    fn sessions_by_principal_or_name(
        &self,
        needle: &str,
    ) -> Result<Vec<SessionSummary>, Infallible> {
        let suffix = format!("/{needle}");
        Ok(self
            .sessions
            .iter()
            .filter(|s| {
                opt_eq(&s.principal_id, needle)
                    || s.arn.as_deref().is_some_and(|a| a.ends_with(&suffix))
            })
            .cloned()
            .collect())
    }
    fn events_of_sessions(&self, keys: &[SessionKey]) -> Result<Vec<Event>, Infallible> {
        let mut out: Vec<Event> = self
            .events
            .iter()
            .filter(|e| keys.contains(&e.session_key()))
            .cloned()
            .collect();
        out.sort_by(|a, b| (a.event_time, &a.event_id).cmp(&(b.event_time, &b.event_id)));
        Ok(out)
    }
    fn event_by_id(&self, id: &str) -> Result<Option<Event>, Infallible> {
        Ok(self.events.iter().find(|e| e.event_id == id).cloned())
    }
    fn events_by_ids(&self, ids: &[String]) -> Result<Vec<Event>, Infallible> {
        Ok(self
            .events
            .iter()
            .filter(|e| ids.contains(&e.event_id))
            .cloned()
            .collect())
    }
    fn all_sessions(&self) -> Result<Vec<SessionSummary>, Infallible> {
        Ok(self.sessions.clone())
    }
    fn known_accounts(&self) -> Result<Vec<String>, Infallible> {
        let mut v: Vec<String> = self
            .events
            .iter()
            .filter_map(|e| e.recipient_account_id.clone())
            .collect();
        v.sort();
        v.dedup();
        Ok(v)
    }
}

impl Event {
    /// The session this call belongs to.
    pub fn session_key(&self) -> SessionKey {
        SessionKey {
            access_key_id: self
                .identity
                .access_key_id
                .clone()
                .filter(|k| !k.is_empty()),
            arn: self.identity.arn.clone(),
            creation_date: self.identity.session_creation_date,
        }
    }

    /// Whether the call failed (any error code).
    pub fn failed(&self) -> bool {
        self.error_code.as_deref().is_some_and(|c| !c.is_empty())
    }
}
