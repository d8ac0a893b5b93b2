//! AWS Config's service-linked role in every account.

use super::*;

/// AWS Config's service-linked role: AssumeRole by config.amazonaws.com, then calls
/// `invokedBy` the service.
pub(super) struct ConfigRecorder {
    acct: usize,
    role: Role,
    live: Option<Live>,
    ident_invoked: String,
    mix: Mix,
}

impl ConfigRecorder {
    pub(super) fn step(
        &mut self,
        c: &mut Ctx<'_>,
        out: &mut Output,
        t: i64,
    ) -> Result<u64, SynthError> {
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
            &Caller::program(
                &self.ident_invoked,
                &live.cred.arn,
                "config.amazonaws.com",
                "config.amazonaws.com",
                false,
                None,
            ),
            Outcome::Normal,
        )
    }
}

/// The Config recorders, one per account.
pub(super) fn add(world: &World, rng: &mut Rng, actors: &mut Vec<Actor>) {
    // AWS Config in every account
    for acct in [MGMT, PROD, DEV, SEC] {
        let role = role(
            world,
            rng,
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
}
