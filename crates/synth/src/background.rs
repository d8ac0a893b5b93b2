//! Benign background activity: automation pollers, AWS service roles, EC2 and Lambda
//! workloads, GitHub Actions deployments, people through Identity Center and the
//! console, legacy IAM users and AWS service events.
//!
//! Background records are laid on a grid of times: every hour of the period gets its
//! share of the `n` records (weekday business hours get more, nights and weekends less)
//! spread evenly over the hour, so exactly `n` records are written and they cover the
//! whole period. At each grid point one actor (weighted by time of day, with bursts for
//! people) takes one step: a call with its current session, or, when its session is
//! missing or expired, the records that establish a new one (all at or slightly before
//! the grid time, so that a session's calls never precede its creation).

use crate::SynthError;
use crate::catalog::{CATALOG, Outcome, Scratch, Src, find};
use crate::cred::{self, Cred, Scope};
use crate::emit::{self, Assume, AssumeCaller, Caller, Produced, SignIn, api_region, render_call};
use crate::output::Output;
use crate::record::{Rec, Tls};
use crate::rng::Rng;
use crate::time::hour_and_weekday;
use crate::world::{DEV, HOME, MGMT, PROD, REGIONS, Role, SAAS_ACCOUNT, SEC, User, World};

/// Most records one step can write (portal sign-in + federation + console login).
const MAX_STEP: u64 = 6;
/// Steps never backdate records by more than this (the output keeps windows open 60 s).
const BACKDATE: i64 = 40;

// ---- user agents -------------------------------------------------------------------

pub(crate) const UA_LAMBDA_PY: &str = "Boto3/1.34.145 md/Botocore#1.34.145 ua/2.0 os/linux#5.10.224-233.885.amzn2.x86_64 md/arch#x86_64 lang/python#3.12.5 md/pyimpl#CPython exec-env/AWS_Lambda_python3.12 cfg/retry-mode#legacy Botocore/1.34.145";
pub(crate) const UA_SSM_AGENT: &str =
    "aws-sdk-go/1.44.327 (go1.22.5; linux; amd64) amazon-ssm-agent/3.3.1142.0";
pub(crate) const UA_EC2_APP: &str = "Boto3/1.35.36 md/Botocore#1.35.36 ua/2.0 os/linux#6.1.109-118.189.amzn2023.x86_64 md/arch#x86_64 lang/python#3.11.9 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.35.36";
const UA_DATADOG: &str = "aws-sdk-go-v2/1.30.3 os/linux lang/go#1.22.5 md/GOOS#linux md/GOARCH#amd64 api/cloudwatch#1.40.3 datadog-aws-crawler";
pub(crate) const UA_GHA_STS: &str = "configure-aws-credentials-for-github-actions";
pub(crate) const UA_GHA_CLI: &str = "aws-cli/2.22.6 md/awscrt#0.22.0 ua/2.0 os/linux#6.5.0-1025-azure md/arch#x86_64 lang/python#3.12.6 md/pyimpl#CPython exec-env/GitHubActions cfg/retry-mode#standard md/installer#exe md/distrib#ubuntu.22 md/prompt#off";
pub(crate) const UA_CLI_MAC: &str = "aws-cli/2.17.48 md/awscrt#0.21.2 ua/2.0 os/macos#23.6.0 md/arch#arm64 lang/python#3.12.6 md/pyimpl#CPython cfg/retry-mode#standard md/installer#source md/prompt#off";
const UA_CLI_WIN: &str = "aws-cli/2.18.2 md/awscrt#0.21.5 ua/2.0 os/windows#10 md/arch#amd64 lang/python#3.12.6 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/prompt#off";
const UA_CLI_LINUX: &str = "aws-cli/2.15.57 md/awscrt#0.19.19 ua/2.0 os/linux#6.8.0-45-generic md/arch#x86_64 lang/python#3.11.8 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/distrib#ubuntu.24 md/prompt#off";
const UA_TERRAFORM: &str = "APN/1.0 HashiCorp/1.0 Terraform/1.9.5 (+https://www.terraform.io) terraform-provider-aws/5.68.0 (+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.31.0 os/linux lang/go#1.22.7 md/GOOS#linux md/GOARCH#amd64";
const UA_BACKUP: &str = "aws-sdk-java/2.25.60 Linux/5.14.0-427.13.1.el9_4.x86_64 OpenJDK_64-Bit_Server_VM/17.0.11+9-LTS Java/17.0.11 vendor/Red_Hat__Inc. io/sync http/Apache cfg/retry-mode/legacy";
/// Browser user agents.
pub(crate) const BROWSERS: [&str; 4] = [
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/129.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 Edg/130.0.0.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.6; rv:131.0) Gecko/20100101 Firefox/131.0",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/129.0.0.0 Safari/537.36",
];
/// User agent of S3 calls the S3 console makes.
pub(crate) const UA_S3_CONSOLE: &str = "[S3Console/0.4, aws-internal/3 aws-sdk-java/1.12.750 Linux/5.10.226-192.879.amzn2int.x86_64 OpenJDK_64-Bit_Server_VM/25.422-b05 java/1.8.0_422 vendor/Oracle_Corporation cfg/retry-mode/standard]";

// ---- address pools -----------------------------------------------------------------

/// Public AWS addresses (EC2, Lambda, NAT gateways) of a region.
pub(crate) fn aws_ip(rng: &mut Rng, region: usize) -> String {
    let prefixes: &[(u32, u32)] = match region {
        HOME => &[(3, 238), (44, 201), (54, 164), (18, 208), (52, 23)],
        1 => &[(3, 120), (18, 196), (52, 57), (3, 66)],
        _ => &[(34, 216), (44, 242), (52, 38), (35, 86)],
    };
    let (a, b) = *rng.pick(prefixes);
    format!("{a}.{b}.{}.{}", rng.below(256), 1 + rng.below(254))
}

/// Office egress addresses of the company.
pub(crate) const OFFICE_IPS: [&str; 4] = [
    "62.214.77.18",
    "62.214.77.19",
    "62.214.77.21",
    "62.214.77.26",
];

fn github_ip(rng: &mut Rng) -> String {
    let (a, b) = *rng.pick(&[
        (20, 55),
        (20, 84),
        (4, 175),
        (20, 169),
        (172, 183),
        (52, 176),
    ]);
    format!("{a}.{b}.{}.{}", rng.below(256), 1 + rng.below(254))
}

// ---- shared helpers ----------------------------------------------------------------

/// Weighted choice of catalog APIs.
struct Mix {
    apis: Vec<usize>,
    cum: Vec<u32>,
}

impl Mix {
    fn new(items: &[(Src, &str, u32)]) -> Self {
        let mut apis = Vec::with_capacity(items.len());
        let mut cum = Vec::with_capacity(items.len());
        let mut total = 0;
        for &(src, name, w) in items {
            apis.push(find(src, name));
            total += w;
            cum.push(total);
        }
        Mix { apis, cum }
    }

    fn pick(&self, rng: &mut Rng) -> usize {
        let x = rng.below(*self.cum.last().expect("non-empty mix") as u64) as u32;
        let i = self.cum.partition_point(|&c| c <= x);
        self.apis[i]
    }
}

/// A session signing with one key.
struct Live {
    cred: Cred,
    ident: String,
    until: i64,
}

impl Live {
    fn new(cred: Cred, key: String, until: i64) -> Self {
        let ident = cred.render(Some(&key), None);
        Live { cred, ident, until }
    }
}

/// Keys the console mints for one console session: one per region, replaced every
/// 15-45 minutes, none of them with an issuing event.
struct ConsoleKeys {
    keys: Vec<Option<(String, String, i64)>>,
}

impl ConsoleKeys {
    fn new() -> Self {
        ConsoleKeys {
            keys: vec![None; REGIONS.len()],
        }
    }

    fn get(
        &mut self,
        rng: &mut Rng,
        cred: &Cred,
        acct_num: u64,
        region: usize,
        t: i64,
    ) -> (&str, &str) {
        let slot = &mut self.keys[region];
        if slot.as_ref().is_none_or(|(_, _, rotate)| t >= *rotate) {
            let key = rng.access_key("ASIA", acct_num);
            let ident = cred.render(Some(&key), None);
            *slot = Some((key, ident, t + rng.range(900, 2700)));
        }
        let (k, i, _) = slot.as_ref().expect("just set");
        (k, i)
    }
}

/// Working state shared by all actors.
struct Ctx<'w> {
    world: &'w World,
    rng: Rng,
    s: Scratch,
}

impl Ctx<'_> {
    #[allow(clippy::too_many_arguments)]
    fn call(
        &mut self,
        out: &mut Output,
        acct: usize,
        region: usize,
        t: i64,
        api: usize,
        caller: &Caller<'_>,
        outcome: Outcome,
    ) -> Result<u64, SynthError> {
        let api = &CATALOG[api];
        let region = api_region(api, region);
        let buf = out.slot(acct, region, t)?;
        render_call(
            &mut self.rng,
            self.world,
            acct,
            region,
            t,
            api,
            caller,
            outcome,
            None,
            &mut self.s,
            buf,
        );
        Ok(1)
    }

    fn put(&mut self, out: &mut Output, records: Vec<Produced>) -> Result<u64, SynthError> {
        let n = records.len() as u64;
        for p in records {
            out.push_raw(p.acct, p.region, p.time, &p.json)?;
        }
        Ok(n)
    }

    fn acct_num(&self, acct: usize) -> u64 {
        self.world.accounts[acct].num
    }

    fn rare_denial(&mut self, p: f64) -> Outcome {
        if self.rng.chance(p) {
            Outcome::Denied
        } else {
            Outcome::Normal
        }
    }
}

// ---- actors ------------------------------------------------------------------------

/// Security-account Lambda that assumes an audit role into an account every hour and
/// polls inventory APIs (cross-account copies for member accounts).
struct Inventory {
    target: usize,
    role: Role,
    caller_role: Role,
    function_arn: String,
    caller: Option<Live>,
    live: Option<Live>,
    ips: Vec<String>,
    mix: Mix,
    regions: Vec<usize>,
}

impl Inventory {
    fn step(&mut self, c: &mut Ctx<'_>, out: &mut Output, t: i64) -> Result<u64, SynthError> {
        if self.live.as_ref().is_none_or(|l| t >= l.until) {
            let mut n = 0;
            let at = t - 1;
            if self.caller.as_ref().is_none_or(|l| at >= l.until) {
                let key = c.rng.access_key("ASIA", c.acct_num(SEC));
                let recs = emit::assume_role(
                    &mut c.rng,
                    c.world,
                    &Assume {
                        t: at,
                        region: HOME,
                        caller: AssumeCaller::Service {
                            service: "lambda.amazonaws.com",
                        },
                        role: &self.caller_role,
                        session: "asset-inventory",
                        duration: 43_200,
                        key: &key,
                        assumed_user: true,
                        external_id: None,
                        invoked_internally: false,
                    },
                );
                n += c.put(out, recs)?;
                let cred = Cred::role(&self.caller_role, "asset-inventory", at).with_scope(
                    Scope::Lambda {
                        function_arn: self.function_arn.clone(),
                    },
                );
                self.caller = Some(Live::new(cred, key, at + 7_200));
            }
            let caller = self.caller.as_ref().expect("caller session");
            let key = c.rng.access_key("ASIA", c.acct_num(self.target));
            let ip = c.rng.pick(&self.ips).clone();
            let recs = emit::assume_role(
                &mut c.rng,
                c.world,
                &Assume {
                    t,
                    region: HOME,
                    caller: AssumeCaller::Principal {
                        identity: &caller.ident,
                        acct: SEC,
                        principal_id: &caller.cred.principal_id,
                        ip: &ip,
                        ua: UA_LAMBDA_PY,
                        tls: Some(true),
                    },
                    role: &self.role,
                    session: "asset-inventory",
                    duration: 3600,
                    key: &key,
                    assumed_user: true,
                    external_id: None,
                    invoked_internally: false,
                },
            );
            n += c.put(out, recs)?;
            let cred = Cred::role(&self.role, "asset-inventory", t);
            self.live = Some(Live::new(cred, key, t + 3_540));
            return Ok(n);
        }
        let live = self.live.as_ref().expect("live");
        let api = self.mix.pick(&mut c.rng);
        let region = *c.rng.pick(&self.regions);
        let ip = c.rng.pick(&self.ips);
        let outcome = c.rare_denial(0.002);
        c.call(
            out,
            self.target,
            region,
            t,
            api,
            &Caller {
                identity: &live.ident,
                arn: &live.cred.arn,
                ip,
                ua: UA_LAMBDA_PY,
                cli: false,
                tls: Some(true),
                console: false,
                vpce: None,
            },
            outcome,
        )
    }
}

/// A monitoring SaaS assuming an integration role from its own account (outside the
/// trail: only the role owner's copy of the AssumeRole is delivered).
struct Saas {
    target: usize,
    role: Role,
    principal_id: String,
    external_id: String,
    live: Option<Live>,
    ips: Vec<String>,
    mix: Mix,
}

impl Saas {
    fn step(&mut self, c: &mut Ctx<'_>, out: &mut Output, t: i64) -> Result<u64, SynthError> {
        if self.live.as_ref().is_none_or(|l| t >= l.until) {
            let key = c.rng.access_key("ASIA", c.acct_num(self.target));
            let ip = c.rng.pick(&self.ips).clone();
            let recs = emit::assume_role(
                &mut c.rng,
                c.world,
                &Assume {
                    t,
                    region: HOME,
                    caller: AssumeCaller::External {
                        principal_id: &self.principal_id,
                        account_id: &SAAS_ACCOUNT.to_string(),
                        ip: &ip,
                        ua: UA_DATADOG,
                    },
                    role: &self.role,
                    session: "DatadogAWSIntegration",
                    duration: 3600,
                    key: &key,
                    assumed_user: true,
                    external_id: Some(&self.external_id),
                    invoked_internally: false,
                },
            );
            let cred = Cred::role(&self.role, "DatadogAWSIntegration", t);
            self.live = Some(Live::new(cred, key, t + 3_500));
            return c.put(out, recs);
        }
        let live = self.live.as_ref().expect("live");
        let api = self.mix.pick(&mut c.rng);
        let region = c.rng.below(REGIONS.len() as u64) as usize;
        let ip = c.rng.pick(&self.ips);
        c.call(
            out,
            self.target,
            region,
            t,
            api,
            &Caller {
                identity: &live.ident,
                arn: &live.cred.arn,
                ip,
                ua: UA_DATADOG,
                cli: false,
                tls: Some(true),
                console: false,
                vpce: None,
            },
            Outcome::Normal,
        )
    }
}

/// AWS Config's service-linked role: AssumeRole by config.amazonaws.com, then calls
/// `invokedBy` the service.
struct ConfigRecorder {
    acct: usize,
    role: Role,
    live: Option<Live>,
    ident_invoked: String,
    mix: Mix,
}

impl ConfigRecorder {
    fn step(&mut self, c: &mut Ctx<'_>, out: &mut Output, t: i64) -> Result<u64, SynthError> {
        if self.live.as_ref().is_none_or(|l| t >= l.until) {
            let key = c.rng.access_key("ASIA", c.acct_num(self.acct));
            let region = c.rng.below(REGIONS.len() as u64) as usize;
            let recs = emit::assume_role(
                &mut c.rng,
                c.world,
                &Assume {
                    t,
                    region,
                    caller: AssumeCaller::Service {
                        service: "config.amazonaws.com",
                    },
                    role: &self.role,
                    session: "AWSConfig-Describe",
                    duration: 3600,
                    key: &key,
                    assumed_user: true,
                    external_id: None,
                    invoked_internally: false,
                },
            );
            let cred = Cred::role(&self.role, "AWSConfig-Describe", t);
            self.ident_invoked = cred.render(Some(&key), Some("config.amazonaws.com"));
            self.live = Some(Live::new(cred, key, t + 3_500));
            return c.put(out, recs);
        }
        let live = self.live.as_ref().expect("live");
        let api = self.mix.pick(&mut c.rng);
        let region = c.rng.below(REGIONS.len() as u64) as usize;
        c.call(
            out,
            self.acct,
            region,
            t,
            api,
            &Caller {
                identity: &self.ident_invoked,
                arn: &live.cred.arn,
                ip: "config.amazonaws.com",
                ua: "config.amazonaws.com",
                cli: false,
                tls: None,
                console: false,
                vpce: None,
            },
            Outcome::Normal,
        )
    }
}

/// Role credentials delivered to an EC2 instance or a Lambda function by the service.
struct Workload {
    acct: usize,
    region: usize,
    role: Role,
    /// Session name: instance id or function name.
    session: String,
    service: &'static str,
    scope: Scope,
    rotate: i64,
    duration: i64,
    live: Option<Live>,
    ips: Vec<String>,
    ua: &'static str,
    mix: Mix,
}

impl Workload {
    fn step(&mut self, c: &mut Ctx<'_>, out: &mut Output, t: i64) -> Result<u64, SynthError> {
        if self.live.as_ref().is_none_or(|l| t >= l.until) {
            let key = c.rng.access_key("ASIA", c.acct_num(self.acct));
            let ec2 = self.service == "ec2.amazonaws.com";
            let recs = emit::assume_role(
                &mut c.rng,
                c.world,
                &Assume {
                    t,
                    region: self.region,
                    caller: AssumeCaller::Service {
                        service: self.service,
                    },
                    role: &self.role,
                    session: &self.session,
                    duration: self.duration,
                    key: &key,
                    assumed_user: !ec2,
                    external_id: None,
                    invoked_internally: false,
                },
            );
            let cred = Cred::role(&self.role, &self.session, t).with_scope(self.scope.clone());
            self.live = Some(Live::new(cred, key, t + self.rotate));
            return c.put(out, recs);
        }
        let live = self.live.as_ref().expect("live");
        let api = self.mix.pick(&mut c.rng);
        let ua = if CATALOG[api].src == Src::Ssm && self.service == "ec2.amazonaws.com" {
            UA_SSM_AGENT
        } else {
            self.ua
        };
        let ip = c.rng.pick(&self.ips);
        let outcome = c.rare_denial(0.001);
        c.call(
            out,
            self.acct,
            self.region,
            t,
            api,
            &Caller {
                identity: &live.ident,
                arn: &live.cred.arn,
                ip,
                ua,
                cli: false,
                tls: Some(true),
                console: false,
                vpce: None,
            },
            outcome,
        )
    }
}

/// GitHub Actions deployments through OIDC: AssumeRoleWithWebIdentity per workflow run,
/// deploy calls, and CloudFormation acting with the run's session.
struct GithubCi {
    acct: usize,
    region: usize,
    role: Role,
    subject: String,
    live: Option<Live>,
    calls_left: u32,
    cfn_ident: String,
    ip: String,
    mix: Mix,
    cfn_mix: Mix,
}

impl GithubCi {
    fn step(&mut self, c: &mut Ctx<'_>, out: &mut Output, t: i64) -> Result<u64, SynthError> {
        if self.calls_left == 0 || self.live.as_ref().is_none_or(|l| t >= l.until) {
            let key = c.rng.access_key("ASIA", c.acct_num(self.acct));
            self.ip = github_ip(&mut c.rng);
            let rec = emit::assume_role_with_web_identity(
                &mut c.rng,
                c.world,
                t,
                self.region,
                &self.role,
                "GitHubActions",
                &self.subject,
                &key,
                &self.ip,
                UA_GHA_STS,
            );
            let cred = Cred::role(&self.role, "GitHubActions", t)
                .with_web_provider(emit::github_provider_arn(&self.role.account));
            let fas = c.rng.access_key("ASIA", c.acct_num(self.acct));
            self.cfn_ident = cred.render(Some(&fas), Some("cloudformation.amazonaws.com"));
            self.live = Some(Live::new(cred, key, t + 3_500));
            self.calls_left = 15 + c.rng.below(60) as u32;
            return c.put(out, vec![rec]);
        }
        self.calls_left -= 1;
        let live = self.live.as_ref().expect("live");
        if c.rng.chance(0.2) {
            let api = self.cfn_mix.pick(&mut c.rng);
            return c.call(
                out,
                self.acct,
                self.region,
                t,
                api,
                &Caller {
                    identity: &self.cfn_ident,
                    arn: &live.cred.arn,
                    ip: "cloudformation.amazonaws.com",
                    ua: "cloudformation.amazonaws.com",
                    cli: false,
                    tls: None,
                    console: false,
                    vpce: None,
                },
                Outcome::Normal,
            );
        }
        let api = self.mix.pick(&mut c.rng);
        let outcome = c.rare_denial(0.005);
        c.call(
            out,
            self.acct,
            self.region,
            t,
            api,
            &Caller {
                identity: &live.ident,
                arn: &live.cred.arn,
                ip: &self.ip,
                ua: UA_GHA_CLI,
                cli: true,
                tls: Some(true),
                console: false,
                vpce: None,
            },
            outcome,
        )
    }
}

/// One permission set a person can use.
struct Assignment {
    acct: usize,
    ps: &'static str,
    role: Role,
    can_write: bool,
}

/// Current work session of a person.
struct WorkSession {
    acct: usize,
    cred: Cred,
    can_write: bool,
    console: Option<ConsoleKeys>,
    cli_ident: String,
    ip: String,
    region: usize,
    until: i64,
}

/// A person signing in through Identity Center, then using the console (federated
/// session, console keys) or the CLI (GetRoleCredentials, key without issuing event).
struct Person {
    email: String,
    user_id: String,
    home_ip: String,
    browser: &'static str,
    cli_ua: &'static str,
    console_share: f64,
    assignments: Vec<Assignment>,
    session: Option<WorkSession>,
    reads: Mix,
    writes: Mix,
}

impl Person {
    fn start(&mut self, c: &mut Ctx<'_>, out: &mut Output, t: i64) -> Result<u64, SynthError> {
        let i = c.rng.below(self.assignments.len() as u64) as usize;
        let asg = &self.assignments[i];
        let ip = if c.rng.chance(0.4) {
            c.rng.pick(&OFFICE_IPS).to_string()
        } else {
            self.home_ip.clone()
        };
        let credential_id = c.rng.mixed_alnum(32);
        let idc = cred::identity_center_user(
            &c.world.accounts[MGMT].id,
            &self.user_id,
            &c.world.identity_store_arn(),
            &credential_id,
        );
        let console = c.rng.chance(self.console_share);
        let mut recs = emit::portal_sign_in(
            &mut c.rng,
            c.world,
            t - 30,
            &idc,
            &self.email,
            &ip,
            self.browser,
        );
        let request = format!(
            "{{\"roleName\":\"{}\",\"accountId\":\"{}\"}}",
            asg.ps, c.world.accounts[asg.acct].id
        );
        let cred = Cred::role(&asg.role, &self.email, t);
        let mut cli_ident = String::new();
        if console {
            recs.push(emit::portal_call(
                &mut c.rng,
                c.world,
                t - 1,
                &idc,
                "Federate",
                Some(&request),
                &ip,
                self.browser,
            ));
            let key = c.rng.access_key("ASIA", c.acct_num(asg.acct));
            recs.push(emit::assume_role_with_saml(
                &mut c.rng,
                c.world,
                t,
                &asg.role,
                &self.email,
                &key,
                &ip,
                self.browser,
            ));
            let ident = cred.render(Some(&key), None);
            recs.push(emit::console_login(
                &mut c.rng,
                c.world,
                t,
                asg.acct,
                &ident,
                &ip,
                self.browser,
                None,
            ));
        } else {
            recs.push(emit::portal_call(
                &mut c.rng,
                c.world,
                t,
                &idc,
                "GetRoleCredentials",
                Some(&request),
                &ip,
                self.cli_ua,
            ));
            let key = c.rng.access_key("ASIA", c.acct_num(asg.acct));
            cli_ident = cred.render(Some(&key), None);
        }
        let region = if c.rng.chance(0.75) {
            HOME
        } else {
            c.rng.below(REGIONS.len() as u64) as usize
        };
        self.session = Some(WorkSession {
            acct: asg.acct,
            cred,
            can_write: asg.can_write,
            console: console.then(ConsoleKeys::new),
            cli_ident,
            ip,
            region,
            until: t + c.rng.range(1_800, 10_800),
        });
        c.put(out, recs)
    }

    fn step(&mut self, c: &mut Ctx<'_>, out: &mut Output, t: i64) -> Result<u64, SynthError> {
        if self.session.as_ref().is_none_or(|s| t >= s.until) {
            return self.start(c, out, t);
        }
        let write = c.rng.chance(0.06);
        let api = if write {
            self.writes.pick(&mut c.rng)
        } else {
            self.reads.pick(&mut c.rng)
        };
        let s = self.session.as_mut().expect("session");
        let outcome = if write && !s.can_write {
            Outcome::Denied
        } else {
            c.rare_denial(0.01)
        };
        if c.rng.chance(0.03) {
            s.region = c.rng.below(REGIONS.len() as u64) as usize;
        }
        let region = api_region(&CATALOG[api], s.region);
        let acct_num = c.acct_num(s.acct);
        match &mut s.console {
            Some(keys) => {
                let (_, ident) = keys.get(&mut c.rng, &s.cred, acct_num, region, t);
                let ident = ident.to_string();
                let ua = if CATALOG[api].src == Src::S3 {
                    UA_S3_CONSOLE
                } else if c.rng.chance(0.7) {
                    "AWS Internal"
                } else {
                    self.browser
                };
                let tls = (ua != "AWS Internal").then_some(true);
                c.call(
                    out,
                    s.acct,
                    region,
                    t,
                    api,
                    &Caller {
                        identity: &ident,
                        arn: &s.cred.arn,
                        ip: &s.ip,
                        ua,
                        cli: false,
                        tls,
                        console: true,
                        vpce: None,
                    },
                    outcome,
                )
            }
            None => c.call(
                out,
                s.acct,
                region,
                t,
                api,
                &Caller {
                    identity: &s.cli_ident,
                    arn: &s.cred.arn,
                    ip: &s.ip,
                    ua: self.cli_ua,
                    cli: true,
                    tls: Some(true),
                    console: false,
                    vpce: None,
                },
                outcome,
            ),
        }
    }
}

/// A role the IAM console user switched into.
struct Switched {
    acct: usize,
    cred: Cred,
    keys: ConsoleKeys,
    renew_at: i64,
}

/// Console session of a legacy IAM user (MFA) in the management account.
struct ConsoleState {
    cred: Cred,
    keys: ConsoleKeys,
    switched: Option<Switched>,
    until: i64,
}

/// A legacy IAM user who signs in to the console with MFA and switches roles into
/// member accounts (SwitchRole + AssumeRole on the user's behalf, RenewRole hourly).
struct IamConsole {
    user: User,
    mfa_device: String,
    browser: &'static str,
    ip: String,
    state: Option<ConsoleState>,
    mix: Mix,
}

impl IamConsole {
    fn switch(
        &mut self,
        c: &mut Ctx<'_>,
        out: &mut Output,
        t: i64,
        target: usize,
        renew: bool,
    ) -> Result<u64, SynthError> {
        let state = self.state.as_mut().expect("signed in");
        let role = c.world.org_access_roles[target].clone();
        let (_, ident) =
            state
                .keys
                .get(&mut c.rng, &state.cred, c.world.accounts[MGMT].num, HOME, t);
        let ident = ident.to_string();
        let issued = c.rng.access_key("ASIA", c.acct_num(target));
        let mut recs = emit::assume_role(
            &mut c.rng,
            c.world,
            &Assume {
                t,
                region: HOME,
                caller: AssumeCaller::Principal {
                    identity: &ident,
                    acct: MGMT,
                    principal_id: &self.user.id,
                    ip: &self.ip,
                    ua: self.browser,
                    tls: None,
                },
                role: &role,
                session: &self.user.name,
                duration: 3600,
                key: &issued,
                assumed_user: true,
                external_id: None,
                invoked_internally: true,
            },
        );
        let cred = Cred::role(&role, &self.user.name, t).with_mfa(true);
        let who = cred.render(None, None);
        let additional = if renew {
            "{\"RedirectTo\":\"https://us-east-1.console.aws.amazon.com/console/home?region=us-east-1#\"}".to_string()
        } else {
            format!(
                "{{\"SwitchFrom\":\"{}\",\"RedirectTo\":\"https://us-east-1.console.aws.amazon.com/console/home?region=us-east-1#\"}}",
                self.user.arn()
            )
        };
        let name = if renew { "RenewRole" } else { "SwitchRole" };
        let response = format!("{{\"{name}\":\"Success\"}}");
        recs.push(emit::signin_event(
            &mut c.rng,
            c.world,
            &SignIn {
                t,
                acct: target,
                identity: &who,
                name,
                ip: &self.ip,
                ua: self.browser,
                response: Some(&response),
                additional: Some(&additional),
                error: None,
            },
        ));
        state.switched = Some(Switched {
            acct: target,
            cred,
            keys: ConsoleKeys::new(),
            renew_at: t + 3_600,
        });
        c.put(out, recs)
    }

    fn step(&mut self, c: &mut Ctx<'_>, out: &mut Output, t: i64) -> Result<u64, SynthError> {
        if self.state.as_ref().is_none_or(|s| t >= s.until) {
            let who = Cred::user(&self.user).render(None, None);
            if c.rng.chance(0.05) {
                // mistyped password
                let rec = emit::signin_event(
                    &mut c.rng,
                    c.world,
                    &SignIn {
                        t,
                        acct: MGMT,
                        identity: &who,
                        name: "ConsoleLogin",
                        ip: &self.ip,
                        ua: self.browser,
                        response: Some("{\"ConsoleLogin\":\"Failure\"}"),
                        additional: Some(
                            "{\"LoginTo\":\"https://console.aws.amazon.com/console/home?region=us-east-1\",\"MobileVersion\":\"No\",\"MFAUsed\":\"No\"}",
                        ),
                        error: Some(("", "Failed authentication")),
                    },
                );
                return c.put(out, vec![rec]);
            }
            let rec = emit::console_login(
                &mut c.rng,
                c.world,
                t,
                MGMT,
                &who,
                &self.ip,
                self.browser,
                Some(&self.mfa_device),
            );
            self.state = Some(ConsoleState {
                cred: Cred::user_console(&self.user, t, true),
                keys: ConsoleKeys::new(),
                switched: None,
                until: t + c.rng.range(3_600, 14_400),
            });
            return c.put(out, vec![rec]);
        }
        let (renew_target, switch_back) = {
            let st = self.state.as_ref().expect("state");
            match &st.switched {
                Some(sw) if t >= sw.renew_at => (Some(sw.acct), false),
                Some(_) => (None, c.rng.chance(0.004)),
                None => (None, false),
            }
        };
        if let Some(target) = renew_target {
            return self.switch(c, out, t, target, true);
        }
        if switch_back {
            self.state.as_mut().expect("state").switched = None;
        }
        if self.state.as_ref().expect("state").switched.is_none() && c.rng.chance(0.02) {
            let target = *c.rng.pick(&[PROD, DEV, SEC]);
            return self.switch(c, out, t, target, false);
        }
        let api = self.mix.pick(&mut c.rng);
        let region = api_region(&CATALOG[api], if c.rng.chance(0.8) { HOME } else { 1 });
        let st = self.state.as_mut().expect("state");
        let (acct, cred, keys) = match &mut st.switched {
            Some(sw) => (sw.acct, &sw.cred, &mut sw.keys),
            None => (MGMT, &st.cred, &mut st.keys),
        };
        let acct_num = c.world.accounts[acct].num;
        let (_, ident) = keys.get(&mut c.rng, cred, acct_num, region, t);
        let ident = ident.to_string();
        let arn = cred.arn.clone();
        let ua = if CATALOG[api].src == Src::S3 {
            UA_S3_CONSOLE
        } else if c.rng.chance(0.7) {
            "AWS Internal"
        } else {
            self.browser
        };
        let tls = (ua != "AWS Internal").then_some(true);
        c.call(
            out,
            acct,
            region,
            t,
            api,
            &Caller {
                identity: &ident,
                arn: &arn,
                ip: &self.ip,
                ua,
                cli: false,
                tls,
                console: true,
                vpce: None,
            },
            Outcome::Normal,
        )
    }
}

/// A long-term access key used by a script or an on-premises job.
struct IamKey {
    acct: usize,
    ident: String,
    arn: String,
    ip: String,
    ua: &'static str,
    region: usize,
    mix: Mix,
}

impl IamKey {
    fn step(&mut self, c: &mut Ctx<'_>, out: &mut Output, t: i64) -> Result<u64, SynthError> {
        let api = self.mix.pick(&mut c.rng);
        let outcome = c.rare_denial(0.003);
        c.call(
            out,
            self.acct,
            self.region,
            t,
            api,
            &Caller {
                identity: &self.ident,
                arn: &self.arn,
                ip: &self.ip,
                ua: self.ua,
                cli: false,
                tls: Some(false),
                console: false,
                vpce: None,
            },
            outcome,
        )
    }
}

/// Events AWS records on its own: KMS key rotation, Secrets Manager rotation and
/// CloudTrail checking its bucket. Always exactly one record.
struct ServiceEvents;

impl ServiceEvents {
    fn step(&mut self, c: &mut Ctx<'_>, out: &mut Output, t: i64) -> Result<u64, SynthError> {
        let kind = c.rng.below(3);
        let acct = c.rng.below(c.world.accounts.len() as u64) as usize;
        let a = &c.world.accounts[acct];
        let region = c.rng.below(REGIONS.len() as u64) as usize;
        let r = REGIONS[region];
        let eid = c.rng.uuid();
        match kind {
            0 => {
                let key = c.rng.pick(&a.kms_keys).clone();
                let identity = cred::service_event(&a.id, "AWS Internal");
                let resources = format!(
                    "[{{\"accountId\":\"{}\",\"type\":\"AWS::KMS::Key\",\"ARN\":\"arn:aws:kms:{r}:{}:key/{key}\"}}]",
                    a.id, a.id
                );
                let details = format!("{{\"keyId\":\"{key}\"}}");
                let rid = c.rng.uuid();
                let mut rec = Rec::call(
                    &identity,
                    t,
                    "kms.amazonaws.com",
                    "RotateKey",
                    r,
                    "AWS Internal",
                    "AWS Internal",
                    &eid,
                    &a.id,
                );
                rec.read_only = false;
                rec.event_type = "AwsServiceEvent";
                rec.request_id = Some(&rid);
                rec.resources = Some(&resources);
                rec.service_details = Some(&details);
                rec.write(out.slot(acct, region, t)?);
            }
            1 => {
                let i = c.rng.below(a.secrets.len() as u64) as usize;
                let arn = a.secret_arn(r, i);
                let identity = cred::service_event(&a.id, "secretsmanager.amazonaws.com");
                let additional = format!("{{\"SecretId\":\"{arn}\"}}");
                let rid = c.rng.uuid();
                let mut rec = Rec::call(
                    &identity,
                    t,
                    "secretsmanager.amazonaws.com",
                    "RotationSucceeded",
                    r,
                    "secretsmanager.amazonaws.com",
                    "secretsmanager.amazonaws.com",
                    &eid,
                    &a.id,
                );
                rec.read_only = false;
                rec.event_type = "AwsServiceEvent";
                rec.additional = Some(&additional);
                rec.request_id = Some(&rid);
                rec.write(out.slot(acct, region, t)?);
            }
            _ => {
                let sec = &c.world.accounts[SEC];
                let bucket = &c.world.bucket;
                let identity = cred::aws_service("cloudtrail.amazonaws.com");
                let request = format!(
                    "{{\"bucketName\":\"{bucket}\",\"Host\":\"{bucket}.s3.us-east-1.amazonaws.com\",\"acl\":\"\"}}"
                );
                let additional = format!(
                    "{{\"SignatureVersion\":\"SigV4\",\"CipherSuite\":\"TLS_AES_128_GCM_SHA256\",\"bytesTransferredIn\":0,\"AuthenticationMethod\":\"AuthHeader\",\"x-amz-id-2\":\"{}=\",\"bytesTransferredOut\":552}}",
                    c.rng.base64(75)
                );
                let resources = format!(
                    "[{{\"accountId\":\"{}\",\"type\":\"AWS::S3::Bucket\",\"ARN\":\"arn:aws:s3:::{bucket}\"}}]",
                    sec.id
                );
                let rid = c.rng.upper_alnum(16);
                let shared = c.rng.uuid();
                let mut rec = Rec::call(
                    &identity,
                    t,
                    "s3.amazonaws.com",
                    "GetBucketAcl",
                    REGIONS[HOME],
                    "cloudtrail.amazonaws.com",
                    "cloudtrail.amazonaws.com",
                    &eid,
                    &sec.id,
                );
                rec.request = Some(&request);
                rec.additional = Some(&additional);
                rec.request_id = Some(&rid);
                rec.resources = Some(&resources);
                rec.shared_event_id = Some(&shared);
                rec.tls = Some(Tls {
                    v13: false,
                    host: "s3.us-east-1.amazonaws.com",
                });
                rec.write(out.slot(SEC, HOME, t)?);
            }
        }
        Ok(1)
    }
}

enum Kind {
    Inventory(Box<Inventory>),
    Saas(Box<Saas>),
    Config(Box<ConfigRecorder>),
    Workload(Box<Workload>),
    Ci(Box<GithubCi>),
    Person(Box<Person>),
    IamConsole(Box<IamConsole>),
    IamKey(IamKey),
    Events(ServiceEvents),
}

struct Actor {
    /// Weight during business hours (weekdays 07-19 UTC) and outside them.
    on: u64,
    off: u64,
    /// Probability that the next record comes from the same actor (bursts).
    sticky: f64,
    kind: Kind,
}

impl Actor {
    fn step(&mut self, c: &mut Ctx<'_>, out: &mut Output, t: i64) -> Result<u64, SynthError> {
        match &mut self.kind {
            Kind::Inventory(a) => a.step(c, out, t),
            Kind::Saas(a) => a.step(c, out, t),
            Kind::Config(a) => a.step(c, out, t),
            Kind::Workload(a) => a.step(c, out, t),
            Kind::Ci(a) => a.step(c, out, t),
            Kind::Person(a) => a.step(c, out, t),
            Kind::IamConsole(a) => a.step(c, out, t),
            Kind::IamKey(a) => a.step(c, out, t),
            Kind::Events(a) => a.step(c, out, t),
        }
    }
}

/// How many of `n` records each hour of `start..end` gets: weekday business hours
/// (07-19 UTC) weigh 18, other weekday hours 7, weekend days 8 and nights 6. Rounding of
/// the cumulative share makes the counts add up to exactly `n`.
fn hourly_counts(n: u64, start: i64, end: i64) -> Vec<u64> {
    let hours = ((end - start) / 3600) as usize;
    let weights: Vec<u128> = (0..hours)
        .map(|h| {
            let (hour, weekday) = hour_and_weekday(start + h as i64 * 3600);
            match (weekday, (7..19).contains(&hour)) {
                (true, true) => 18,
                (true, false) => 7,
                (false, true) => 8,
                (false, false) => 6,
            }
        })
        .collect();
    let total: u128 = weights.iter().sum();
    let mut cum = 0u128;
    let mut prev = 0u64;
    weights
        .iter()
        .map(|w| {
            cum += w;
            let upto = ((n as u128 * cum + total / 2) / total) as u64;
            let c = upto - prev;
            prev = upto;
            c
        })
        .collect()
}

/// The background generator.
pub(crate) struct Background<'w> {
    ctx: Ctx<'w>,
    actors: Vec<Actor>,
    cum_on: Vec<u64>,
    cum_off: Vec<u64>,
    events: usize,
    last: Option<usize>,
}

fn inventory_mix() -> Mix {
    Mix::new(&[
        (Src::Ec2, "DescribeInstances", 30),
        (Src::Ec2, "DescribeVolumes", 12),
        (Src::Ec2, "DescribeSecurityGroups", 14),
        (Src::Ec2, "DescribeVpcs", 6),
        (Src::Ec2, "DescribeSubnets", 6),
        (Src::Ec2, "DescribeNetworkInterfaces", 8),
        (Src::Ec2, "DescribeSnapshots", 6),
        (Src::Ec2, "DescribeImages", 4),
        (Src::Ec2, "DescribeAddresses", 3),
        (Src::Ec2, "DescribeRouteTables", 4),
        (Src::Iam, "ListRoles", 6),
        (Src::Iam, "ListUsers", 3),
        (Src::Iam, "GetRole", 6),
        (Src::Iam, "ListAttachedRolePolicies", 6),
        (Src::Iam, "ListRolePolicies", 3),
        (Src::Iam, "ListAccessKeys", 3),
        (Src::Iam, "ListPolicies", 2),
        (Src::Iam, "GetAccountSummary", 1),
        (Src::S3, "ListBuckets", 4),
        (Src::S3, "GetBucketAcl", 5),
        (Src::S3, "GetBucketPolicy", 5),
        (Src::S3, "GetBucketEncryption", 3),
        (Src::S3, "GetBucketPublicAccessBlock", 3),
        (Src::S3, "GetBucketVersioning", 3),
        (Src::S3, "GetBucketLogging", 2),
        (Src::S3, "GetBucketTagging", 2),
        (Src::Kms, "ListKeys", 2),
        (Src::Kms, "DescribeKey", 3),
        (Src::Kms, "GetKeyRotationStatus", 3),
        (Src::Secrets, "ListSecrets", 3),
        (Src::Secrets, "DescribeSecret", 3),
        (Src::Secrets, "GetResourcePolicy", 2),
        (Src::Lambda, "ListFunctions20150331", 4),
        (Src::Lambda, "GetPolicy20150331v2", 2),
        (Src::Rds, "DescribeDBInstances", 3),
        (Src::Rds, "DescribeDBSnapshots", 2),
        (Src::Ddb, "ListTables", 2),
        (Src::Ddb, "DescribeTable", 3),
        (Src::Ddb, "DescribeContinuousBackups", 2),
        (Src::Logs, "DescribeLogGroups", 2),
        (Src::Trail, "DescribeTrails", 1),
        (Src::Trail, "GetTrailStatus", 1),
        (Src::GuardDuty, "ListDetectors", 1),
        (Src::Config, "DescribeConfigRules", 1),
        (Src::Elb, "DescribeLoadBalancers", 2),
        (Src::Ecs, "ListClusters", 1),
        (Src::Sns, "ListTopics", 1),
        (Src::Sqs, "ListQueues", 1),
        (Src::Route53, "ListHostedZones", 1),
        (Src::Ssm, "DescribeInstanceInformation", 2),
    ])
}

fn people_reads() -> Mix {
    Mix::new(&[
        (Src::Ec2, "DescribeInstances", 14),
        (Src::Ec2, "DescribeInstanceStatus", 4),
        (Src::Ec2, "DescribeSecurityGroups", 4),
        (Src::Ec2, "DescribeVpcs", 2),
        (Src::Ec2, "DescribeSubnets", 2),
        (Src::Ec2, "DescribeVolumes", 2),
        (Src::Ec2, "DescribeTags", 2),
        (Src::Ec2, "DescribeLaunchTemplates", 1),
        (Src::Ec2, "DescribeAccountAttributes", 2),
        (Src::Iam, "GetRole", 3),
        (Src::Iam, "ListRoles", 3),
        (Src::Iam, "ListAttachedRolePolicies", 2),
        (Src::Iam, "GetPolicy", 1),
        (Src::Sts, "GetCallerIdentity", 3),
        (Src::S3, "ListBuckets", 5),
        (Src::S3, "GetBucketLocation", 3),
        (Src::S3, "GetBucketPolicy", 2),
        (Src::S3, "GetBucketVersioning", 2),
        (Src::S3, "ListObjects", 6),
        (Src::S3, "GetObject", 5),
        (Src::S3, "HeadObject", 2),
        (Src::Lambda, "ListFunctions20150331", 4),
        (Src::Lambda, "GetFunction20150331v2", 3),
        (Src::Lambda, "GetFunctionConfiguration20150331v2", 2),
        (Src::Logs, "DescribeLogGroups", 4),
        (Src::Logs, "DescribeLogStreams", 4),
        (Src::Logs, "FilterLogEvents", 5),
        (Src::Logs, "StartQuery", 2),
        (Src::Logs, "GetQueryResults", 4),
        (Src::Cfn, "DescribeStacks", 4),
        (Src::Cfn, "ListStacks", 2),
        (Src::Cfn, "DescribeStackEvents", 3),
        (Src::Cfn, "GetTemplate", 1),
        (Src::Ddb, "ListTables", 2),
        (Src::Ddb, "DescribeTable", 2),
        (Src::Rds, "DescribeDBInstances", 2),
        (Src::Rds, "DescribeDBClusters", 1),
        (Src::Monitoring, "DescribeAlarms", 3),
        (Src::Monitoring, "GetMetricData", 5),
        (Src::Secrets, "ListSecrets", 2),
        (Src::Secrets, "DescribeSecret", 2),
        (Src::Secrets, "GetSecretValue", 1),
        (Src::Ssm, "DescribeParameters", 1),
        (Src::Ssm, "GetParameter", 1),
        (Src::Ecs, "ListClusters", 1),
        (Src::Ecs, "DescribeServices", 2),
        (Src::Health, "DescribeEventAggregates", 2),
        (Src::Kms, "ListAliases", 1),
        (Src::Trail, "LookupEvents", 1),
        (Src::Ce, "GetCostAndUsage", 1),
    ])
}

fn people_writes() -> Mix {
    Mix::new(&[
        (Src::Ec2, "CreateTags", 4),
        (Src::Ec2, "AuthorizeSecurityGroupIngress", 1),
        (Src::Ec2, "StopInstances", 1),
        (Src::Ec2, "StartInstances", 1),
        (Src::Ssm, "PutParameter", 2),
        (Src::Lambda, "UpdateFunctionConfiguration20150331v2", 2),
        (Src::Secrets, "PutSecretValue", 1),
        (Src::S3, "PutObject", 3),
        (Src::Iam, "TagRole", 1),
    ])
}

impl<'w> Background<'w> {
    pub(crate) fn new(world: &'w World, seed: u64) -> Self {
        let mut rng = Rng::stream(seed, 4);
        let mut actors = Vec::new();
        let mk_role = |rng: &mut Rng, acct: usize, path: &str, name: &str| {
            let a = &world.accounts[acct];
            Role::new(rng, &a.id, a.num, path, name)
        };

        // automation: inventory from the security account into every account
        let caller_role = mk_role(&mut rng, SEC, "/", "asset-inventory-lambda");
        let function_arn = format!(
            "arn:aws:lambda:us-east-1:{}:function:asset-inventory",
            world.accounts[SEC].id
        );
        let inventory_ips: Vec<String> = (0..6).map(|_| aws_ip(&mut rng, HOME)).collect();
        for target in [MGMT, PROD, DEV, SEC] {
            let role = mk_role(&mut rng, target, "/", "OrganizationAuditRole");
            actors.push(Actor {
                on: 1200,
                off: 1200,
                sticky: 0.0,
                kind: Kind::Inventory(Box::new(Inventory {
                    target,
                    role,
                    caller_role: caller_role.clone(),
                    function_arn: function_arn.clone(),
                    caller: None,
                    live: None,
                    ips: inventory_ips.clone(),
                    mix: inventory_mix(),
                    regions: vec![HOME, HOME, HOME, 1, 2],
                })),
            });
        }
        // monitoring SaaS into prod and dev
        let saas_principal = format!(
            "{}:DatadogAWSIntegration",
            rng.principal_id("AROA", crate::world::SAAS_ACCOUNT)
        );
        let saas_ips: Vec<String> = (0..4)
            .map(|_| format!("3.233.{}.{}", 144 + rng.below(8), 1 + rng.below(254)))
            .collect();
        for target in [PROD, DEV] {
            let role = mk_role(&mut rng, target, "/", "DatadogIntegrationRole");
            actors.push(Actor {
                on: 600,
                off: 600,
                sticky: 0.0,
                kind: Kind::Saas(Box::new(Saas {
                    target,
                    role,
                    principal_id: saas_principal.clone(),
                    external_id: rng.hex(32),
                    live: None,
                    ips: saas_ips.clone(),
                    mix: Mix::new(&[
                        (Src::Monitoring, "GetMetricData", 40),
                        (Src::Monitoring, "ListMetrics", 8),
                        (Src::Tagging, "GetResources", 10),
                        (Src::Ec2, "DescribeInstances", 8),
                        (Src::Ec2, "DescribeVolumes", 3),
                        (Src::Rds, "DescribeDBInstances", 3),
                        (Src::Elb, "DescribeLoadBalancers", 3),
                        (Src::Elb, "DescribeTargetGroups", 2),
                        (Src::Lambda, "ListFunctions20150331", 3),
                        (Src::Sqs, "ListQueues", 2),
                        (Src::Ecs, "ListClusters", 2),
                        (Src::Ddb, "ListTables", 2),
                        (Src::Health, "DescribeEventAggregates", 1),
                    ]),
                })),
            });
        }
        // AWS Config in every account
        for acct in [MGMT, PROD, DEV, SEC] {
            let role = mk_role(
                &mut rng,
                acct,
                "/aws-service-role/config.amazonaws.com/",
                "AWSServiceRoleForConfig",
            );
            actors.push(Actor {
                on: 250,
                off: 250,
                sticky: 0.0,
                kind: Kind::Config(Box::new(ConfigRecorder {
                    acct,
                    role,
                    live: None,
                    ident_invoked: String::new(),
                    mix: Mix::new(&[
                        (Src::Ec2, "DescribeInstances", 6),
                        (Src::Ec2, "DescribeSecurityGroups", 6),
                        (Src::Ec2, "DescribeVolumes", 4),
                        (Src::Ec2, "DescribeNetworkInterfaces", 4),
                        (Src::Ec2, "DescribeVpcs", 2),
                        (Src::Ec2, "DescribeSubnets", 2),
                        (Src::Ec2, "DescribeRouteTables", 2),
                        (Src::Iam, "GetRole", 4),
                        (Src::Iam, "ListAttachedRolePolicies", 3),
                        (Src::Iam, "ListRolePolicies", 2),
                        (Src::S3, "GetBucketAcl", 3),
                        (Src::S3, "GetBucketPolicy", 2),
                        (Src::S3, "GetBucketVersioning", 2),
                        (Src::Kms, "DescribeKey", 2),
                        (Src::Lambda, "GetFunction20150331v2", 2),
                        (Src::Rds, "DescribeDBInstances", 1),
                    ]),
                })),
            });
        }
        // EC2 instances
        let ec2_mix = || {
            Mix::new(&[
                (Src::Ssm, "UpdateInstanceInformation", 30),
                (Src::Ssm, "ListInstanceAssociations", 10),
                (Src::S3, "GetObject", 14),
                (Src::S3, "PutObject", 8),
                (Src::S3, "HeadObject", 4),
                (Src::Kms, "Decrypt", 8),
                (Src::Kms, "GenerateDataKey", 3),
                (Src::Secrets, "GetSecretValue", 4),
                (Src::Ssm, "GetParameter", 4),
                (Src::Sts, "GetCallerIdentity", 2),
                (Src::Ec2, "DescribeTags", 3),
                (Src::Monitoring, "ListMetrics", 1),
            ])
        };
        for (acct, inst, role_name, region) in [
            (PROD, 0, "web-app-instance-role", HOME),
            (PROD, 1, "web-app-instance-role", HOME),
            (PROD, 2, "batch-worker-role", 1),
            (DEV, 0, "dev-bastion-role", HOME),
        ] {
            let a = &world.accounts[acct];
            let role = mk_role(&mut rng, acct, "/", role_name);
            let instance = a.instances[inst].clone();
            let instance_arn = format!(
                "arn:aws:ec2:{}:{}:instance/{instance}",
                REGIONS[region], a.id
            );
            actors.push(Actor {
                on: 450,
                off: 400,
                sticky: 0.3,
                kind: Kind::Workload(Box::new(Workload {
                    acct,
                    region,
                    role,
                    session: instance,
                    service: "ec2.amazonaws.com",
                    scope: Scope::Ec2 {
                        instance_arn,
                        delivery: "2.0",
                    },
                    rotate: 3_500,
                    duration: 21_600,
                    live: None,
                    ips: vec![aws_ip(&mut rng, region)],
                    ua: UA_EC2_APP,
                    mix: ec2_mix(),
                })),
            });
        }
        // Lambda functions
        for (acct, f) in [
            (PROD, 0),
            (PROD, 1),
            (PROD, 3),
            (DEV, 0),
            (MGMT, 0),
            (SEC, 1),
        ] {
            let a = &world.accounts[acct];
            let func = a.functions[f].clone();
            let role = mk_role(&mut rng, acct, "/service-role/", &format!("{func}-role"));
            let function_arn = format!("arn:aws:lambda:us-east-1:{}:function:{func}", a.id);
            actors.push(Actor {
                on: 300,
                off: 200,
                sticky: 0.4,
                kind: Kind::Workload(Box::new(Workload {
                    acct,
                    region: HOME,
                    role,
                    session: func,
                    service: "lambda.amazonaws.com",
                    scope: Scope::Lambda { function_arn },
                    rotate: 7_200,
                    duration: 43_200,
                    live: None,
                    ips: (0..5).map(|_| aws_ip(&mut rng, HOME)).collect(),
                    ua: UA_LAMBDA_PY,
                    mix: Mix::new(&[
                        (Src::S3, "GetObject", 20),
                        (Src::S3, "PutObject", 12),
                        (Src::Kms, "Decrypt", 10),
                        (Src::Kms, "GenerateDataKey", 5),
                        (Src::Secrets, "GetSecretValue", 6),
                        (Src::Ssm, "GetParameter", 6),
                        (Src::Ddb, "DescribeTable", 4),
                        (Src::Sts, "GetCallerIdentity", 1),
                        (Src::Sqs, "GetQueueAttributes", 3),
                    ]),
                })),
            });
        }
        // GitHub Actions
        let ci_mix = || {
            Mix::new(&[
                (Src::Sts, "GetCallerIdentity", 6),
                (Src::Ecr, "GetAuthorizationToken", 4),
                (Src::Ecr, "BatchCheckLayerAvailability", 8),
                (Src::Ecr, "PutImage", 3),
                (Src::S3, "PutObject", 10),
                (Src::S3, "ListObjects", 3),
                (Src::Cfn, "DescribeStacks", 10),
                (Src::Cfn, "CreateChangeSet", 3),
                (Src::Cfn, "DescribeChangeSet", 6),
                (Src::Cfn, "ExecuteChangeSet", 3),
                (Src::Cfn, "DescribeStackEvents", 10),
                (Src::Lambda, "UpdateFunctionCode20150331v2", 3),
                (Src::Lambda, "GetFunction20150331v2", 3),
            ])
        };
        let cfn_mix = || {
            Mix::new(&[
                (Src::Lambda, "UpdateFunctionConfiguration20150331v2", 3),
                (Src::Lambda, "GetFunction20150331v2", 4),
                (Src::Iam, "GetRole", 4),
                (Src::Ssm, "GetParameter", 3),
                (Src::Ec2, "DescribeSecurityGroups", 2),
                (Src::S3, "GetObject", 2),
            ])
        };
        for (acct, subject) in [
            (PROD, "repo:acme-corp/orders-service:ref:refs/heads/main"),
            (DEV, "repo:acme-corp/orders-service:ref:refs/heads/develop"),
            (DEV, "repo:acme-corp/infrastructure:environment:dev"),
        ] {
            let role = mk_role(&mut rng, acct, "/", "github-actions-deploy");
            actors.push(Actor {
                on: 120,
                off: 8,
                sticky: 0.8,
                kind: Kind::Ci(Box::new(GithubCi {
                    acct,
                    region: HOME,
                    role,
                    subject: subject.to_string(),
                    live: None,
                    calls_left: 0,
                    cfn_ident: String::new(),
                    ip: String::new(),
                    mix: ci_mix(),
                    cfn_mix: cfn_mix(),
                })),
            });
        }
        // people through Identity Center
        type Plan = (
            &'static str,
            &'static [(usize, &'static str, bool)],
            f64,
            &'static str,
        );
        let people: [Plan; 6] = [
            (
                "alice.nguyen",
                &[
                    (MGMT, "AdministratorAccess", true),
                    (SEC, "AdministratorAccess", true),
                ],
                0.7,
                "73.189.42.17",
            ),
            (
                "ben.okafor",
                &[
                    (DEV, "DeveloperAccess", true),
                    (PROD, "ReadOnlyAccess", false),
                ],
                0.6,
                "98.207.115.40",
            ),
            (
                "chloe.martin",
                &[
                    (DEV, "DeveloperAccess", true),
                    (PROD, "ReadOnlyAccess", false),
                ],
                0.8,
                "86.12.201.77",
            ),
            (
                "diego.ramos",
                &[
                    (MGMT, "SecurityAudit", false),
                    (PROD, "SecurityAudit", false),
                    (DEV, "SecurityAudit", false),
                    (SEC, "SecurityAudit", false),
                ],
                0.5,
                "24.6.133.9",
            ),
            (
                "emma.schulz",
                &[
                    (PROD, "DataEngineer", true),
                    (PROD, "ReadOnlyAccess", false),
                ],
                0.6,
                "91.64.18.202",
            ),
            (
                "farid.haddad",
                &[(DEV, "DeveloperAccess", true)],
                0.2,
                "109.41.3.88",
            ),
        ];
        for (i, (local, asg, console_share, home_ip)) in people.iter().enumerate() {
            let person = world.person(&mut rng, local);
            let assignments = asg
                .iter()
                .map(|&(acct, ps, can_write)| Assignment {
                    acct,
                    ps,
                    role: world.sso(acct, ps).clone(),
                    can_write,
                })
                .collect();
            actors.push(Actor {
                on: 140,
                off: 4,
                sticky: 0.85,
                kind: Kind::Person(Box::new(Person {
                    email: person.email,
                    user_id: person.user_id,
                    home_ip: home_ip.to_string(),
                    browser: BROWSERS[i % BROWSERS.len()],
                    cli_ua: [UA_CLI_MAC, UA_CLI_WIN, UA_CLI_LINUX][i % 3],
                    console_share: *console_share,
                    assignments,
                    session: None,
                    reads: people_reads(),
                    writes: people_writes(),
                })),
            });
        }
        // legacy IAM console user with MFA and role switching
        let ops = User::new(
            &mut rng,
            &world.accounts[MGMT].id,
            world.accounts[MGMT].num,
            "ops-admin",
        );
        actors.push(Actor {
            on: 60,
            off: 2,
            sticky: 0.85,
            kind: Kind::IamConsole(Box::new(IamConsole {
                mfa_device: format!(
                    "arn:aws:iam::{}:mfa/ops-admin-yubikey",
                    world.accounts[MGMT].id
                ),
                user: ops,
                browser: BROWSERS[0],
                ip: OFFICE_IPS[0].to_string(),
                state: None,
                mix: people_reads(),
            })),
        });
        // long-term keys
        for (acct, name, ip, ua, region, items) in [
            (
                PROD,
                "svc-backup",
                "193.29.104.37",
                UA_BACKUP,
                1usize,
                &[
                    (Src::S3, "PutObject", 20u32),
                    (Src::S3, "ListObjects", 5),
                    (Src::S3, "HeadObject", 5),
                    (Src::S3, "GetBucketLocation", 2),
                ][..],
            ),
            (
                MGMT,
                "legacy-reporting",
                "193.29.104.41",
                UA_TERRAFORM,
                HOME,
                &[
                    (Src::Ce, "GetCostAndUsage", 6u32),
                    (Src::Org, "ListAccounts", 4),
                    (Src::Org, "DescribeOrganization", 2),
                    (Src::S3, "GetObject", 6),
                    (Src::S3, "ListObjects", 3),
                ][..],
            ),
        ] {
            let a = &world.accounts[acct];
            let user = User::new(&mut rng, &a.id, a.num, name);
            let key = rng.access_key("AKIA", a.num);
            let cred = Cred::user(&user);
            actors.push(Actor {
                on: 80,
                off: 80,
                sticky: 0.5,
                kind: Kind::IamKey(IamKey {
                    acct,
                    ident: cred.render(Some(&key), None),
                    arn: cred.arn.clone(),
                    ip: ip.to_string(),
                    ua,
                    region,
                    mix: Mix::new(items),
                }),
            });
        }
        let events = actors.len();
        actors.push(Actor {
            on: 60,
            off: 60,
            sticky: 0.0,
            kind: Kind::Events(ServiceEvents),
        });
        let cum = |f: &dyn Fn(&Actor) -> u64| {
            let mut total = 0;
            actors
                .iter()
                .map(|a| {
                    total += f(a);
                    total
                })
                .collect::<Vec<u64>>()
        };
        let cum_on = cum(&|a| a.on);
        let cum_off = cum(&|a| a.off);
        Background {
            ctx: Ctx {
                world,
                rng,
                s: Scratch::default(),
            },
            actors,
            cum_on,
            cum_off,
            events,
            last: None,
        }
    }

    fn choose(&mut self, t: i64) -> usize {
        let (hour, weekday) = hour_and_weekday(t);
        let business = weekday && (7..19).contains(&hour);
        let rng = &mut self.ctx.rng;
        if let Some(last) = self.last {
            let a = &self.actors[last];
            let w = if business { a.on } else { a.off };
            if a.sticky > 0.0 && w > 0 && rng.chance(a.sticky) {
                return last;
            }
        }
        let cum = if business {
            &self.cum_on
        } else {
            &self.cum_off
        };
        let x = rng.below(*cum.last().expect("actors"));
        cum.partition_point(|&c| c <= x)
    }

    /// Writes exactly `n` background records spread over `start..end`, merging the
    /// planted incident records (sorted by time) in time order.
    pub(crate) fn run(
        &mut self,
        out: &mut Output,
        n: u64,
        start: i64,
        end: i64,
        planted: &[Produced],
    ) -> Result<(), SynthError> {
        let counts = hourly_counts(n, start, end);
        let mut next = 0;
        let mut k = 0u64;
        let (mut hour, mut j) = (0usize, 0u64);
        while k < n {
            while j >= counts[hour] {
                hour += 1;
                j = 0;
            }
            let t = start + hour as i64 * 3600 + (j * 3600 / counts[hour]) as i64;
            while next < planted.len() && planted[next].time <= t {
                let p = &planted[next];
                out.push_raw(p.acct, p.region, p.time, &p.json)?;
                next += 1;
            }
            let budget = n - k;
            let idx = if budget < MAX_STEP || t < start + BACKDATE + 5 {
                self.events
            } else {
                self.choose(t)
            };
            let written = self.actors[idx].step(&mut self.ctx, out, t)?;
            debug_assert!((1..=budget).contains(&written), "{written} > {budget}");
            self.last = Some(idx);
            k += written;
            j += written;
        }
        for p in &planted[next..] {
            out.push_raw(p.acct, p.region, p.time, &p.json)?;
        }
        Ok(())
    }
}
