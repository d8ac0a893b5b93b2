//! EC2 instances and Lambda functions with the role credentials their service delivers.

use super::*;

/// Role credentials delivered to an EC2 instance or a Lambda function by the service.
pub(super) struct Workload {
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
    pub(super) fn step(
        &mut self,
        c: &mut Ctx<'_>,
        out: &mut Output,
        t: i64,
    ) -> Result<u64, SynthError> {
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
            &Caller::program(&live.ident, &live.cred.arn, ip, ua, false, Some(true)),
            outcome,
        )
    }
}

/// The EC2 instances.
pub(super) fn add_instances(world: &World, rng: &mut Rng, actors: &mut Vec<Actor>) {
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
        let role = role(world, rng, acct, "/", role_name);
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
                ips: vec![aws_ip(rng, region)],
                ua: UA_EC2_APP,
                mix: ec2_mix(),
            })),
        });
    }
}

/// The Lambda functions.
pub(super) fn add_functions(world: &World, rng: &mut Rng, actors: &mut Vec<Actor>) {
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
        let role = role(world, rng, acct, "/service-role/", &format!("{func}-role"));
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
                ips: (0..5).map(|_| aws_ip(rng, HOME)).collect(),
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
}
