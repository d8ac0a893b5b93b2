//! What the walk reports: per subject, per session, per hop, and where the chain starts.

use serde::{Deserialize, Serialize};

/// What the walk reports for one subject.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WhoReport {
    /// The subject as given.
    pub subject: String,
    /// `access_key`, `arn`, `principal_id` or `session_name`.
    pub subject_kind: String,
    pub window_start: Option<String>,
    pub window_end: Option<String>,
    pub ip_hint: Option<String>,
    /// One chain per matched session (recycled key ids give several: never merged).
    pub sessions: Vec<SessionChain>,
    /// Notes about the subject as a whole (nothing matched, ...).
    pub notes: Vec<String>,
}

/// One session and the chain that produced it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionChain {
    /// Every key the session signed with (console sessions: many).
    pub access_key_ids: Vec<String>,
    pub arn: Option<String>,
    pub identity_type: Option<String>,
    pub account: Option<String>,
    /// RFC 3339, or null when the calls carry no creationDate (long-term keys).
    pub creation_date: Option<String>,
    /// First and last call in the data; null when no call with the session is in the data.
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
    pub events: u64,
    pub from_console: bool,
    /// With an IP hint: whether this session used that address.
    pub used_hint_ip: Option<bool>,
    /// Services that made calls with this session on its behalf (`invokedBy`).
    pub invoked_by: Vec<String>,
    /// `sourceIdentity` carried by the session or set along the chain: the origin someone
    /// asserted, checked against the chain in `notes`.
    pub asserted_source_identity: Option<String>,
    /// The hops, ordered from the origin to this session.
    pub chain: Vec<Hop>,
    pub origin: Origin,
    /// Uncertainty said out loud.
    pub notes: Vec<String>,
    /// Where the walk ran out of data: what to ingest to go further.
    pub continue_at: Option<ContinueAt>,
}

/// How sure a hop is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    /// One call matches key, ARN and time (or ARN and time where no key is logged).
    Certain,
    /// A call fits, but by time order, a looser time, or among equals with the same caller.
    Probable,
    /// Several calls fit and they disagree on who made them: the walk stops here.
    Unknown,
}

/// One hand-over of credentials: the call that issued the next principal's credentials.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hop {
    /// AssumeRole, AssumeRoleWithSAML, AssumeRoleWithWebIdentity, GetSessionToken,
    /// GetFederationToken, GetRoleCredentials, AssumeRoot, ConsoleLogin, GetSigninToken,
    /// SwitchRole, RenewRole, CreateAccessKey, CreateLoginProfile, UpdateLoginProfile, or
    /// EC2InstanceProfile (AssumeRole by ec2.amazonaws.com).
    pub method: String,
    /// The record the hop rests on; null when no single record could be chosen.
    pub event_id: Option<String>,
    /// Other records of the same step: the other account's copy (sharedEventID, or
    /// requestID + time); for a SwitchRole or RenewRole, the AssumeRole made on the user's
    /// behalf; for a console sign-in through SAML or Identity Center, the ConsoleLogin.
    pub other_event_ids: Vec<String>,
    pub time: Option<String>,
    pub caller: Caller,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    pub issued_access_key_id: Option<String>,
    pub issued_arn: Option<String>,
    /// creationDate of the session this hop started.
    pub issued_creation_date: Option<String>,
    pub confidence: Confidence,
    /// Why this record, in words.
    pub reason: String,
    /// Records that were considered and rejected, or that fit equally.
    pub candidates: Vec<Candidate>,
}

/// Who made a hop's call (the `userIdentity` of the issuing record).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Caller {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub arn: Option<String>,
    pub account: Option<String>,
    pub access_key_id: Option<String>,
    pub principal_id: Option<String>,
    pub user_name: Option<String>,
    pub invoked_by: Option<String>,
    /// creationDate of the caller's own session (how the walk finds its issuer).
    pub session_creation_date: Option<String>,
}

/// A record considered for a hop.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    pub event_id: String,
    pub method: String,
    pub issued_access_key_id: Option<String>,
    pub issued_arn: Option<String>,
    pub caller_arn: Option<String>,
    pub time: String,
    pub why_rejected_or_open: String,
}

/// Kinds of origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum OriginKind {
    /// An IAM user's password or long-term key (identifier: user ARN).
    IAMUser,
    /// The account's root user.
    Root,
    /// A SAML identity provider's user (identifier: SAML subject).
    SAMLUser,
    /// An OIDC identity (identifier: token subject, e.g. `repo:org/repo:ref:…`).
    WebIdentityUser,
    /// An IAM Identity Center user (identifier: onBehalfOf user id, else user name).
    IdentityCenterUser,
    /// A federated user whose GetFederationToken is not in the data.
    FederatedUser,
    /// An AWS service acting on its own (identifier: service name).
    AWSService,
    /// Instance-profile credentials (identifier: instance id).
    EC2Instance,
    /// A Lambda function's execution role (identifier: function name).
    LambdaFunction,
    /// A principal of another account whose own record is not in the data.
    AWSAccount,
    /// The walk could not go further (identifier: the last principal reached).
    Unknown,
}

/// Where a chain starts: a principal that no record in the data issued.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Origin {
    pub kind: OriginKind,
    /// User/root ARN, SAML or OIDC subject, Identity Center user id, instance id, function
    /// name, service name, foreign principal id; for Unknown the last principal reached.
    pub identifier: String,
    pub account: Option<String>,
    /// Identity provider (SAML issuer, OIDC provider, identity store) or the acting service.
    pub provider: Option<String>,
    /// Records that establish the origin.
    pub evidence_event_ids: Vec<String>,
}

/// The issuing record is not in the data: what to ingest to continue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContinueAt {
    /// Account whose trail holds the missing record.
    pub account: Option<String>,
    /// The principal to look for (caller principal id, role or session ARN).
    pub principal: String,
    pub window_start: Option<String>,
    pub window_end: Option<String>,
    /// Event names to look for.
    pub look_for: Vec<String>,
    pub why: String,
}
