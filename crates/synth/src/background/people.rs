//! People signing in through Identity Center, then using the console or the CLI.

use super::*;

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
pub(super) struct Person {
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

    pub(super) fn step(
        &mut self,
        c: &mut Ctx<'_>,
        out: &mut Output,
        t: i64,
    ) -> Result<u64, SynthError> {
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
                &Caller::program(
                    &s.cli_ident,
                    &s.cred.arn,
                    &s.ip,
                    self.cli_ua,
                    true,
                    Some(true),
                ),
                outcome,
            ),
        }
    }
}

pub(super) fn people_reads() -> Mix {
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

/// The people and their permission sets.
pub(super) fn add(world: &World, rng: &mut Rng, actors: &mut Vec<Actor>) {
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
        let person = world.person(rng, local);
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
}
