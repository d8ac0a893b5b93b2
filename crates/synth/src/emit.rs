//! Records that mint or hand over credentials (STS, console sign-in, Identity Center
//! portal) and generic API calls from the catalog. Shared by the background and the
//! planted incidents, so both follow the same identity mechanics.

use std::fmt::Write as _;

use crate::catalog::{self, Api, Fill, Outcome, Scratch, Src};
use crate::cred;
use crate::record::{Rec, Tls};
use crate::rng::Rng;
use crate::time::{iam_date, sts_expiration};
use crate::world::{HOME, REGIONS, Role, World};

/// A rendered record and where it is delivered.
#[derive(Clone, Debug)]
pub(crate) struct Produced {
    pub acct: usize,
    pub region: usize,
    pub time: i64,
    pub event_id: String,
    pub json: String,
}

/// Who signs a catalog call.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Caller<'a> {
    /// Rendered `userIdentity`.
    pub identity: &'a str,
    /// ARN used in AccessDenied messages.
    pub arn: &'a str,
    pub ip: &'a str,
    pub ua: &'a str,
    /// Append the AWS CLI `md/command#svc.op` suffix to the user agent.
    pub cli: bool,
    /// `tlsDetails` with TLS 1.3 (`Some(true)`), 1.2 (`Some(false)`) or absent (`None`,
    /// e.g. console and AWS-service calls).
    pub tls: Option<bool>,
    pub console: bool,
    /// `vpcEndpointId` and `vpcEndpointAccountId`.
    pub vpce: Option<(&'a str, &'a str)>,
}

impl<'a> Caller<'a> {
    /// A program calling through an SDK or the CLI (`cli`): no console, no VPC endpoint.
    pub(crate) fn program(
        identity: &'a str,
        arn: &'a str,
        ip: &'a str,
        ua: &'a str,
        cli: bool,
        tls: Option<bool>,
    ) -> Self {
        Caller {
            identity,
            arn,
            ip,
            ua,
            cli,
            tls,
            console: false,
            vpce: None,
        }
    }
}

/// Region a call of `api` is delivered in (global services go to us-east-1).
pub(crate) fn api_region(api: &Api, region: usize) -> usize {
    if api.src.global() { HOME } else { region }
}

/// Renders one catalog call into `out`. The event id, and any error code/message, are
/// left in `s` for callers that keep ground truth.
#[allow(clippy::too_many_arguments)]
pub(crate) fn render_call(
    rng: &mut Rng,
    world: &World,
    acct: usize,
    region: usize,
    t: i64,
    api: &Api,
    caller: &Caller<'_>,
    outcome: Outcome,
    custom: Option<&dyn Fn(&mut Fill<'_>)>,
    s: &mut Scratch,
    out: &mut String,
) {
    s.clear();
    let account = &world.accounts[acct];
    let region_name = REGIONS[region];
    {
        let mut f = Fill {
            rng,
            acct: account,
            region: region_name,
            time: t,
            s,
        };
        match custom {
            Some(g) => g(&mut f),
            None => (api.fill)(&mut f),
        }
    }
    rng.push_uuid(&mut s.eid);
    if api.src == Src::S3 {
        for _ in 0..16 {
            const U: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
            s.rid.push(U[rng.below(36) as usize] as char);
        }
    } else {
        rng.push_uuid(&mut s.rid);
    }
    // user agent
    let bracket = api.src == Src::S3
        && !caller.ua.starts_with('[')
        && caller.ua != "AWS Internal"
        && !caller.ua.ends_with(".amazonaws.com");
    if bracket {
        s.ua.push('[');
    }
    s.ua.push_str(caller.ua);
    if caller.cli {
        s.ua.push_str(" md/command#");
        catalog::push_cli_command(api.src, api.name, &mut s.ua);
    }
    if bracket {
        s.ua.push(']');
    }
    let mut keep_request = true;
    match outcome {
        Outcome::Denied => keep_request = catalog::deny(api, caller.arn, rng, s),
        Outcome::Normal => {
            if let Some((c, m)) = s.natural_error {
                s.err_code.push_str(c);
                s.err_msg.push_str(m);
            }
        }
    }
    if api.src == Src::S3 {
        let out_bytes = if api.name == "PutObject" || !s.err_code.is_empty() {
            0
        } else if api.data && api.name != "ListObjects" {
            200 + rng.below(3_000_000)
        } else {
            150 + rng.below(4_000)
        };
        let in_bytes = if api.name == "PutObject" {
            1_000 + rng.below(5_000_000)
        } else {
            0
        };
        let _ = write!(
            s.add,
            "{{\"SignatureVersion\":\"SigV4\",\"CipherSuite\":\"TLS_AES_128_GCM_SHA256\",\"bytesTransferredIn\":{in_bytes},\"AuthenticationMethod\":\"AuthHeader\",\"x-amz-id-2\":\""
        );
        for _ in 0..76 {
            const B: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
            s.add.push(B[rng.below(64) as usize] as char);
        }
        let _ = write!(s.add, "=\",\"bytesTransferredOut\":{out_bytes}}}");
    }
    if s.host.is_empty() {
        api.src.push_host(region_name, &mut s.host);
    }
    let failed = !s.err_code.is_empty();
    let mut rec = Rec::call(
        caller.identity,
        t,
        api.src.source(),
        api.name,
        region_name,
        caller.ip,
        &s.ua,
        &s.eid,
        &account.id,
    );
    rec.read_only = api.ro;
    if failed {
        rec.error = Some((&s.err_code, &s.err_msg));
    }
    rec.request = if keep_request && !s.req.is_empty() {
        Some(&s.req)
    } else {
        None
    };
    rec.response = if !failed && !s.resp.is_empty() {
        Some(&s.resp)
    } else {
        None
    };
    rec.additional = (!s.add.is_empty()).then_some(s.add.as_str());
    rec.request_id = Some(&s.rid);
    rec.resources = (!s.res.is_empty()).then_some(s.res.as_str());
    if api.data {
        rec.management = false;
        rec.category = "Data";
    }
    if caller.vpce.is_some() && rec.version < "1.09" {
        rec.version = "1.09";
    }
    rec.vpce = caller.vpce;
    rec.tls = caller.tls.map(|v13| Tls { v13, host: &s.host });
    rec.console = caller.console;
    rec.write(out);
}

/// The side that calls AssumeRole.
#[derive(Clone, Copy, Debug)]
pub(crate) enum AssumeCaller<'a> {
    /// A principal of a trail account (its account receives the caller's copy).
    Principal {
        identity: &'a str,
        acct: usize,
        principal_id: &'a str,
        ip: &'a str,
        ua: &'a str,
        tls: Option<bool>,
    },
    /// A principal of an account outside the trail: only the role owner's copy exists.
    External {
        principal_id: &'a str,
        account_id: &'a str,
        ip: &'a str,
        ua: &'a str,
    },
    /// An AWS service (ec2/lambda/config.amazonaws.com) assuming a role for a resource.
    Service { service: &'a str },
}

/// One sts:AssumeRole.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Assume<'a> {
    pub t: i64,
    pub region: usize,
    pub caller: AssumeCaller<'a>,
    pub role: &'a Role,
    pub session: &'a str,
    pub duration: i64,
    pub key: &'a str,
    /// EC2 instance profiles often return no `assumedRoleUser`.
    pub assumed_user: bool,
    pub external_id: Option<&'a str>,
    /// Console role switch: the AssumeRole is made on the user's behalf.
    pub invoked_internally: bool,
}

/// Records of one AssumeRole: the caller's copy first (when the caller's account is in
/// the trail), then the role owner's copy for cross-account calls. Copies share
/// `requestID` and `sharedEventID` and differ in `eventID` and `recipientAccountId`.
pub(crate) fn assume_role(rng: &mut Rng, world: &World, a: &Assume<'_>) -> Vec<Produced> {
    let role_acct = world
        .acct_index(&a.role.account)
        .expect("roles live in trail accounts");
    let region_name = REGIONS[a.region];
    let mut req = format!(
        "{{\"roleArn\":\"{}\",\"roleSessionName\":\"{}\"",
        a.role.arn(),
        a.session
    );
    if !matches!(a.caller, AssumeCaller::Service { .. }) {
        let _ = write!(req, ",\"durationSeconds\":{}", a.duration);
    }
    if let Some(x) = a.external_id {
        let _ = write!(req, ",\"externalId\":\"{x}\"");
    }
    req.push('}');
    let token = rng.session_token();
    let mut resp = format!(
        "{{\"credentials\":{{\"accessKeyId\":\"{}\",\"sessionToken\":\"{token}\",\"expiration\":\"{}\"}}",
        a.key,
        sts_expiration(a.t + a.duration)
    );
    if a.assumed_user {
        let _ = write!(
            resp,
            ",\"assumedRoleUser\":{{\"assumedRoleId\":\"{}:{}\",\"arn\":\"{}\"}}",
            a.role.id,
            a.session,
            a.role.session_arn(a.session)
        );
    }
    resp.push('}');
    let resources = format!(
        "[{{\"accountId\":\"{}\",\"type\":\"AWS::IAM::Role\",\"ARN\":\"{}\"}}]",
        a.role.account,
        a.role.arn()
    );
    let rid = rng.uuid();
    let host = format!("sts.{region_name}.amazonaws.com");
    let owner_id = &world.accounts[role_acct].id;

    // (caller's copy, owner's copy identity, ip, user agent, tls, shared event id)
    type Sides<'s> = (
        Option<(String, usize)>,
        Option<String>,
        &'s str,
        &'s str,
        Option<bool>,
        bool,
    );
    let (caller_copy, owner_identity, ip, ua, tls, shared): Sides<'_> = match a.caller {
        AssumeCaller::Principal {
            identity,
            acct,
            principal_id,
            ip,
            ua,
            tls,
        } => {
            let cross = acct != role_acct;
            let caller_account = &world.accounts[acct].id;
            (
                Some((identity.to_string(), acct)),
                cross.then(|| cred::aws_account(principal_id, caller_account)),
                ip,
                ua,
                tls,
                cross,
            )
        }
        AssumeCaller::External {
            principal_id,
            account_id,
            ip,
            ua,
        } => (
            None,
            Some(cred::aws_account(principal_id, account_id)),
            ip,
            ua,
            Some(true),
            true,
        ),
        AssumeCaller::Service { service } => (
            Some((cred::aws_service(service), role_acct)),
            None,
            service,
            service,
            None,
            true,
        ),
    };
    let (ip, ua, tls) = if a.invoked_internally {
        ("AWS Internal", "AWS Internal", None)
    } else {
        (ip, ua, tls)
    };
    let shared_id = shared.then(|| rng.uuid());
    let mut out = Vec::with_capacity(2);
    let mut push = |rng: &mut Rng, identity: &str, acct: usize| {
        let eid = rng.uuid();
        let mut rec = Rec::call(
            identity,
            a.t,
            "sts.amazonaws.com",
            "AssumeRole",
            region_name,
            ip,
            ua,
            &eid,
            &world.accounts[acct].id,
        );
        rec.request = Some(&req);
        rec.response = Some(&resp);
        rec.request_id = Some(&rid);
        rec.resources = Some(&resources);
        rec.shared_event_id = shared_id.as_deref();
        rec.tls = tls.map(|v13| Tls { v13, host: &host });
        let mut json = String::with_capacity(2048);
        rec.write(&mut json);
        out.push(Produced {
            acct,
            region: a.region,
            time: a.t,
            event_id: eid,
            json,
        });
    };
    if let Some((identity, acct)) = &caller_copy {
        let identity = if a.invoked_internally {
            // the identity keeps the caller, marked as invoked by AWS Internal
            let mut s = identity.clone();
            s.pop();
            s.push_str(",\"invokedBy\":\"AWS Internal\"}");
            s
        } else {
            identity.clone()
        };
        push(rng, &identity, *acct);
    }
    if let Some(identity) = &owner_identity {
        debug_assert_ne!(owner_id, "");
        push(rng, identity, role_acct);
    }
    out
}

/// AssumeRoleWithSAML by Identity Center into an `AWSReservedSSO_*` role.
#[allow(clippy::too_many_arguments)]
pub(crate) fn assume_role_with_saml(
    rng: &mut Rng,
    world: &World,
    t: i64,
    role: &Role,
    email: &str,
    key: &str,
    ip: &str,
    ua: &str,
) -> Produced {
    let acct = world.acct_index(&role.account).expect("trail account");
    let provider = &world.sso_saml_provider[acct];
    let q = &world.sso_name_qualifier;
    let req = format!(
        "{{\"sAMLAssertionID\":\"_{}\",\"roleSessionName\":\"{email}\",\"durationSeconds\":43200,\"roleArn\":\"{}\",\"principalArn\":\"{provider}\"}}",
        rng.uuid(),
        role.arn()
    );
    let token = rng.session_token();
    let issuer = rng.base64(22);
    let resp = format!(
        "{{\"subjectType\":\"persistent\",\"issuer\":\"https://portal.sso.us-east-1.amazonaws.com/saml/assertion/{issuer}\",\"credentials\":{{\"accessKeyId\":\"{key}\",\"sessionToken\":\"{token}\",\"expiration\":\"{}\"}},\"nameQualifier\":\"{q}\",\"assumedRoleUser\":{{\"assumedRoleId\":\"{}:{email}\",\"arn\":\"{}\"}},\"subject\":\"{email}\",\"audience\":\"https://signin.aws.amazon.com/saml\"}}",
        sts_expiration(t + 43_200),
        role.id,
        role.session_arn(email)
    );
    let resources = format!(
        "[{{\"accountId\":\"{a}\",\"type\":\"AWS::IAM::Role\",\"ARN\":\"{}\"}},{{\"accountId\":\"{a}\",\"type\":\"AWS::IAM::SAMLProvider\",\"ARN\":\"{provider}\"}}]",
        role.arn(),
        a = role.account
    );
    let identity = cred::saml_user(q, email);
    let eid = rng.uuid();
    let rid = rng.uuid();
    let mut rec = Rec::call(
        &identity,
        t,
        "sts.amazonaws.com",
        "AssumeRoleWithSAML",
        REGIONS[HOME],
        ip,
        ua,
        &eid,
        &role.account,
    );
    rec.request = Some(&req);
    rec.response = Some(&resp);
    rec.request_id = Some(&rid);
    rec.resources = Some(&resources);
    rec.tls = Some(Tls {
        v13: true,
        host: "sts.us-east-1.amazonaws.com",
    });
    let mut json = String::with_capacity(2048);
    rec.write(&mut json);
    Produced {
        acct,
        region: HOME,
        time: t,
        event_id: eid,
        json,
    }
}

/// ARN of the account's GitHub Actions OIDC provider.
pub(crate) fn github_provider_arn(account: &str) -> String {
    format!("arn:aws:iam::{account}:oidc-provider/token.actions.githubusercontent.com")
}

/// AssumeRoleWithWebIdentity from a GitHub Actions OIDC token.
#[allow(clippy::too_many_arguments)]
pub(crate) fn assume_role_with_web_identity(
    rng: &mut Rng,
    world: &World,
    t: i64,
    region: usize,
    role: &Role,
    session: &str,
    subject: &str,
    key: &str,
    ip: &str,
    ua: &str,
) -> Produced {
    let acct = world.acct_index(&role.account).expect("trail account");
    let provider = github_provider_arn(&role.account);
    let req = format!(
        "{{\"roleArn\":\"{}\",\"roleSessionName\":\"{session}\",\"durationSeconds\":3600}}",
        role.arn()
    );
    let token = rng.session_token();
    let resp = format!(
        "{{\"subjectFromWebIdentityToken\":\"{subject}\",\"assumedRoleUser\":{{\"assumedRoleId\":\"{}:{session}\",\"arn\":\"{}\"}},\"provider\":\"{provider}\",\"credentials\":{{\"accessKeyId\":\"{key}\",\"sessionToken\":\"{token}\",\"expiration\":\"{}\"}},\"audience\":\"sts.amazonaws.com\"}}",
        role.id,
        role.session_arn(session),
        sts_expiration(t + 3600)
    );
    let resources = format!(
        "[{{\"accountId\":\"{}\",\"type\":\"AWS::IAM::Role\",\"ARN\":\"{}\"}}]",
        role.account,
        role.arn()
    );
    let identity = cred::web_identity_user(&provider, subject);
    let eid = rng.uuid();
    let rid = rng.uuid();
    let host = format!("sts.{}.amazonaws.com", REGIONS[region]);
    let mut rec = Rec::call(
        &identity,
        t,
        "sts.amazonaws.com",
        "AssumeRoleWithWebIdentity",
        REGIONS[region],
        ip,
        ua,
        &eid,
        &role.account,
    );
    rec.request = Some(&req);
    rec.response = Some(&resp);
    rec.request_id = Some(&rid);
    rec.resources = Some(&resources);
    rec.tls = Some(Tls {
        v13: true,
        host: &host,
    });
    let mut json = String::with_capacity(2048);
    rec.write(&mut json);
    Produced {
        acct,
        region,
        time: t,
        event_id: eid,
        json,
    }
}

/// A sign-in (`signin.amazonaws.com`) event delivered in us-east-1.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SignIn<'a> {
    pub t: i64,
    pub acct: usize,
    pub identity: &'a str,
    pub name: &'a str,
    pub ip: &'a str,
    pub ua: &'a str,
    pub response: Option<&'a str>,
    pub additional: Option<&'a str>,
    pub error: Option<(&'a str, &'a str)>,
}

/// Console sign-in style event (ConsoleLogin, SwitchRole, RenewRole).
pub(crate) fn signin_event(rng: &mut Rng, world: &World, e: &SignIn<'_>) -> Produced {
    let eid = rng.uuid();
    let mut rec = Rec::call(
        e.identity,
        e.t,
        "signin.amazonaws.com",
        e.name,
        REGIONS[HOME],
        e.ip,
        e.ua,
        &eid,
        &world.accounts[e.acct].id,
    );
    rec.read_only = false;
    rec.event_type = "AwsConsoleSignIn";
    rec.response = e.response;
    rec.additional = e.additional;
    rec.error = e.error;
    rec.tls = Some(Tls {
        v13: true,
        host: "signin.aws.amazon.com",
    });
    let mut json = String::with_capacity(1024);
    rec.write(&mut json);
    Produced {
        acct: e.acct,
        region: HOME,
        time: e.t,
        event_id: eid,
        json,
    }
}

/// `ConsoleLogin` success by `identity`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn console_login(
    rng: &mut Rng,
    world: &World,
    t: i64,
    acct: usize,
    identity: &str,
    ip: &str,
    ua: &str,
    mfa: Option<&str>,
) -> Produced {
    let additional = match mfa {
        Some(device) => format!(
            "{{\"LoginTo\":\"https://console.aws.amazon.com/console/home?hashArgs=%23&isauthcode=true&state=hashArgsFromTB_us-east-1_{}\",\"MobileVersion\":\"No\",\"MFAIdentifier\":\"{device}\",\"MFAUsed\":\"Yes\"}}",
            rng.hex(16)
        ),
        None => "{\"LoginTo\":\"https://console.aws.amazon.com/console/home?region=us-east-1\",\"MobileVersion\":\"No\",\"MFAUsed\":\"No\"}".to_string(),
    };
    signin_event(
        rng,
        world,
        &SignIn {
            t,
            acct,
            identity,
            name: "ConsoleLogin",
            ip,
            ua,
            response: Some("{\"ConsoleLogin\":\"Success\"}"),
            additional: Some(&additional),
            error: None,
        },
    )
}

/// Identity Center portal sign-in: CredentialChallenge, CredentialVerification and
/// UserAuthentication (AwsServiceEvent, one AuthWorkflowID) in the management account.
pub(crate) fn portal_sign_in(
    rng: &mut Rng,
    world: &World,
    t: i64,
    identity: &str,
    email: &str,
    ip: &str,
    ua: &str,
) -> Vec<Produced> {
    let wf = rng.uuid();
    let mgmt = crate::world::MGMT;
    let portal = world.portal_url();
    let steps = [
        ("CredentialChallenge", 0),
        ("CredentialVerification", 6 + rng.range(0, 9)),
        ("UserAuthentication", 0),
    ];
    let mut at = t;
    let mut out = Vec::with_capacity(3);
    for (name, delay) in steps {
        at += delay;
        let additional = if name == "UserAuthentication" {
            format!(
                "{{\"AuthWorkflowID\":\"{wf}\",\"UserName\":\"{email}\",\"LoginTo\":\"{portal}\",\"CredentialType\":\"PASSWORD\"}}"
            )
        } else {
            format!("{{\"AuthWorkflowID\":\"{wf}\",\"CredentialType\":\"PASSWORD\"}}")
        };
        let details = format!("{{\"{name}\":\"Success\"}}");
        let eid = rng.uuid();
        let rid = rng.uuid();
        let mut rec = Rec::call(
            identity,
            at,
            "signin.amazonaws.com",
            name,
            REGIONS[HOME],
            ip,
            ua,
            &eid,
            &world.accounts[mgmt].id,
        );
        rec.read_only = false;
        rec.event_type = "AwsServiceEvent";
        rec.additional = Some(&additional);
        rec.request_id = Some(&rid);
        rec.service_details = Some(&details);
        let mut json = String::with_capacity(1024);
        rec.write(&mut json);
        out.push(Produced {
            acct: mgmt,
            region: HOME,
            time: at,
            event_id: eid,
            json,
        });
    }
    out
}

/// Identity Center portal API call (`sso.amazonaws.com`: ListAccounts, Federate,
/// GetRoleCredentials...) by the signed-in user.
#[allow(clippy::too_many_arguments)]
pub(crate) fn portal_call(
    rng: &mut Rng,
    world: &World,
    t: i64,
    identity: &str,
    name: &str,
    request: Option<&str>,
    ip: &str,
    ua: &str,
) -> Produced {
    let mgmt = crate::world::MGMT;
    let eid = rng.uuid();
    let rid = rng.uuid();
    let mut rec = Rec::call(
        identity,
        t,
        "sso.amazonaws.com",
        name,
        REGIONS[HOME],
        ip,
        ua,
        &eid,
        &world.accounts[mgmt].id,
    );
    rec.request = request;
    rec.request_id = Some(&rid);
    rec.tls = Some(Tls {
        v13: true,
        host: "portal.sso.us-east-1.amazonaws.com",
    });
    let mut json = String::with_capacity(1024);
    rec.write(&mut json);
    Produced {
        acct: mgmt,
        region: HOME,
        time: t,
        event_id: eid,
        json,
    }
}

/// `responseElements` of CreateAccessKey.
pub(crate) fn create_access_key_response(user: &str, key: &str, t: i64) -> String {
    format!(
        "{{\"accessKey\":{{\"accessKeyId\":\"{key}\",\"status\":\"Active\",\"userName\":\"{user}\",\"createDate\":\"{}\"}}}}",
        iam_date(t)
    )
}
