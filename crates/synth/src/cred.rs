//! `userIdentity` blocks. A [`Cred`] is the identity behind a key (an IAM user, or a role
//! session with its creation date); rendering it with a key gives the JSON object that
//! CloudTrail writes on every call signed with that key.

use std::fmt::Write as _;

use crate::record::push_json_str;
use crate::time::push_iso;
use crate::world::{Role, User};

/// Where the session's credentials were delivered to (the newer `inScopeOf` block).
#[derive(Clone, Debug)]
pub(crate) enum Scope {
    None,
    /// EC2 instance profile credentials: instance ARN and `ec2RoleDelivery` ("2.0" = IMDSv2).
    Ec2 {
        instance_arn: String,
        delivery: &'static str,
    },
    /// Lambda execution role credentials: function ARN.
    Lambda {
        function_arn: String,
    },
}

/// The principal a key belongs to.
#[derive(Clone, Debug)]
pub(crate) enum Who {
    User(User),
    Role { role: Role },
}

/// Identity behind one or more access keys.
#[derive(Clone, Debug)]
pub(crate) struct Cred {
    pub who: Who,
    /// `sessionContext.attributes.creationDate`; `None` for long-term keys.
    pub creation: Option<i64>,
    pub mfa: bool,
    pub scope: Scope,
    /// OIDC provider ARN for web-identity sessions (`webIdFederationData`).
    pub web_provider: Option<String>,
    pub arn: String,
    pub principal_id: String,
}

impl Cred {
    /// Long-term (AKIA) key of an IAM user.
    pub(crate) fn user(user: &User) -> Self {
        Cred {
            arn: user.arn(),
            principal_id: user.id.clone(),
            who: Who::User(user.clone()),
            creation: None,
            mfa: false,
            scope: Scope::None,
            web_provider: None,
        }
    }

    /// Console session of an IAM user (keys minted by the console).
    pub(crate) fn user_console(user: &User, creation: i64, mfa: bool) -> Self {
        let mut c = Cred::user(user);
        c.creation = Some(creation);
        c.mfa = mfa;
        c
    }

    /// Role session `session` created at `creation`.
    pub(crate) fn role(role: &Role, session: &str, creation: i64) -> Self {
        Cred {
            arn: role.session_arn(session),
            principal_id: format!("{}:{session}", role.id),
            who: Who::Role { role: role.clone() },
            creation: Some(creation),
            mfa: false,
            scope: Scope::None,
            web_provider: None,
        }
    }

    pub(crate) fn with_scope(mut self, scope: Scope) -> Self {
        self.scope = scope;
        self
    }

    pub(crate) fn with_mfa(mut self, mfa: bool) -> Self {
        self.mfa = mfa;
        self
    }

    pub(crate) fn with_web_provider(mut self, provider: String) -> Self {
        self.web_provider = Some(provider);
        self
    }

    /// Name GuardDuty reports as `userName` (the user, or the role name).
    pub(crate) fn user_name(&self) -> &str {
        match &self.who {
            Who::User(u) => &u.name,
            Who::Role { role } => &role.name,
        }
    }

    /// `userIdentity` JSON for a call signed with `key` (none for sign-in events).
    pub(crate) fn render(&self, key: Option<&str>, invoked_by: Option<&str>) -> String {
        let mut o = String::with_capacity(512);
        match &self.who {
            Who::User(u) => {
                o.push_str("{\"type\":\"IAMUser\"");
                let _ = write!(
                    o,
                    ",\"principalId\":\"{}\",\"arn\":\"{}\",\"accountId\":\"{}\"",
                    u.id, self.arn, u.account
                );
                if let Some(k) = key {
                    let _ = write!(o, ",\"accessKeyId\":\"{k}\"");
                }
                let _ = write!(o, ",\"userName\":\"{}\"", u.name);
                if let Some(c) = self.creation {
                    o.push_str(",\"sessionContext\":{\"sessionIssuer\":{},\"webIdFederationData\":{},\"attributes\":{\"creationDate\":\"");
                    push_iso(&mut o, c);
                    let _ = write!(
                        o,
                        "\",\"mfaAuthenticated\":\"{}\"}}}}",
                        if self.mfa { "true" } else { "false" }
                    );
                }
            }
            Who::Role { role } => {
                let _ = write!(
                    o,
                    "{{\"type\":\"AssumedRole\",\"principalId\":\"{}\",\"arn\":\"{}\",\"accountId\":\"{}\"",
                    self.principal_id, self.arn, role.account
                );
                if let Some(k) = key {
                    let _ = write!(o, ",\"accessKeyId\":\"{k}\"");
                }
                let _ = write!(
                    o,
                    ",\"sessionContext\":{{\"sessionIssuer\":{{\"type\":\"Role\",\"principalId\":\"{}\",\"arn\":\"{}\",\"accountId\":\"{}\",\"userName\":\"{}\"}}",
                    role.id,
                    role.arn(),
                    role.account,
                    role.name
                );
                match &self.web_provider {
                    Some(p) => {
                        let _ = write!(
                            o,
                            ",\"webIdFederationData\":{{\"federatedProvider\":\"{p}\",\"attributes\":{{}}}}"
                        );
                    }
                    None => o.push_str(",\"webIdFederationData\":{}"),
                }
                o.push_str(",\"attributes\":{\"creationDate\":\"");
                push_iso(&mut o, self.creation.unwrap_or(0));
                let _ = write!(
                    o,
                    "\",\"mfaAuthenticated\":\"{}\"}}",
                    if self.mfa { "true" } else { "false" }
                );
                if let Scope::Ec2 { delivery, .. } = &self.scope {
                    let _ = write!(o, ",\"ec2RoleDelivery\":\"{delivery}\"");
                }
                o.push('}');
                match &self.scope {
                    Scope::Ec2 { instance_arn, .. } => {
                        let _ = write!(
                            o,
                            ",\"inScopeOf\":{{\"issuerType\":\"AWS::EC2::Instance\",\"credentialsIssuedTo\":\"{instance_arn}\"}}"
                        );
                    }
                    Scope::Lambda { function_arn } => {
                        let _ = write!(
                            o,
                            ",\"inScopeOf\":{{\"issuerType\":\"AWS::Lambda::Function\",\"credentialsIssuedTo\":\"{function_arn}\"}}"
                        );
                    }
                    Scope::None => {}
                }
            }
        }
        if let Some(by) = invoked_by {
            o.push_str(",\"invokedBy\":");
            push_json_str(&mut o, by);
        }
        o.push('}');
        o
    }
}

/// `{"type":"AWSService","invokedBy":svc}`
pub(crate) fn aws_service(svc: &str) -> String {
    format!("{{\"type\":\"AWSService\",\"invokedBy\":\"{svc}\"}}")
}

/// Identity of the role owner's copy of a cross-account call.
pub(crate) fn aws_account(principal_id: &str, account: &str) -> String {
    format!(
        "{{\"type\":\"AWSAccount\",\"principalId\":\"{principal_id}\",\"accountId\":\"{account}\"}}"
    )
}

/// Identity of AWS-internal service events (`AwsServiceEvent`).
pub(crate) fn service_event(account: &str, invoked_by: &str) -> String {
    format!("{{\"accountId\":\"{account}\",\"invokedBy\":\"{invoked_by}\"}}")
}

/// Identity Center user (type used since 2025) for portal and sign-in events.
pub(crate) fn identity_center_user(
    account: &str,
    user_id: &str,
    store_arn: &str,
    credential_id: &str,
) -> String {
    format!(
        "{{\"type\":\"IdentityCenterUser\",\"arn\":\"\",\"accountId\":\"{account}\",\"accessKeyId\":\"\",\"onBehalfOf\":{{\"userId\":\"{user_id}\",\"identityStoreArn\":\"{store_arn}\"}},\"credentialId\":\"{credential_id}\"}}"
    )
}

/// SAML federated user calling AssumeRoleWithSAML.
pub(crate) fn saml_user(name_qualifier: &str, user: &str) -> String {
    format!(
        "{{\"type\":\"SAMLUser\",\"principalId\":\"{name_qualifier}:{user}\",\"userName\":\"{user}\",\"identityProvider\":\"{name_qualifier}\"}}"
    )
}

/// Web identity user calling AssumeRoleWithWebIdentity (GitHub Actions OIDC).
pub(crate) fn web_identity_user(provider_arn: &str, subject: &str) -> String {
    format!(
        "{{\"type\":\"WebIdentityUser\",\"principalId\":\"{provider_arn}:sts.amazonaws.com:{subject}\",\"userName\":\"{subject}\",\"identityProvider\":\"token.actions.githubusercontent.com\"}}"
    )
}
