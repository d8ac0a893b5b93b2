//! The security account's inventory Lambda, polling every account through an audit role.

use super::*;

/// Security-account Lambda that assumes an audit role into an account every hour and
/// polls inventory APIs (cross-account copies for member accounts).
pub(super) struct Inventory {
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
    pub(super) fn step(
        &mut self,
        c: &mut Ctx<'_>,
        out: &mut Output,
        t: i64,
    ) -> Result<u64, SynthError> {
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
            &Caller::program(
                &live.ident,
                &live.cred.arn,
                ip,
                UA_LAMBDA_PY,
                false,
                Some(true),
            ),
            outcome,
        )
    }
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

/// The inventory pollers, one per account.
pub(super) fn add(world: &World, rng: &mut Rng, actors: &mut Vec<Actor>) {
    // automation: inventory from the security account into every account
    let caller_role = role(world, rng, SEC, "/", "asset-inventory-lambda");
    let function_arn = format!(
        "arn:aws:lambda:us-east-1:{}:function:asset-inventory",
        world.accounts[SEC].id
    );
    let inventory_ips: Vec<String> = (0..6).map(|_| aws_ip(rng, HOME)).collect();
    for target in [MGMT, PROD, DEV, SEC] {
        let role = role(world, rng, target, "/", "OrganizationAuditRole");
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
}
