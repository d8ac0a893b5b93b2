//! The monitoring SaaS that assumes an integration role from outside the trail.

use super::*;

/// A monitoring SaaS assuming an integration role from its own account (outside the
/// trail: only the role owner's copy of the AssumeRole is delivered).
pub(super) struct Saas {
    target: usize,
    role: Role,
    principal_id: String,
    external_id: String,
    live: Option<Live>,
    ips: Vec<String>,
    mix: Mix,
}

impl Saas {
    pub(super) fn step(
        &mut self,
        c: &mut Ctx<'_>,
        out: &mut Output,
        t: i64,
    ) -> Result<u64, SynthError> {
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
            &Caller::program(
                &live.ident,
                &live.cred.arn,
                ip,
                UA_DATADOG,
                false,
                Some(true),
            ),
            Outcome::Normal,
        )
    }
}

/// The SaaS pollers of prod and dev.
pub(super) fn add(world: &World, rng: &mut Rng, actors: &mut Vec<Actor>) {
    // monitoring SaaS into prod and dev
    let saas_principal = format!(
        "{}:DatadogAWSIntegration",
        rng.principal_id("AROA", crate::world::SAAS_ACCOUNT)
    );
    let saas_ips: Vec<String> = (0..4)
        .map(|_| format!("3.233.{}.{}", 144 + rng.below(8), 1 + rng.below(254)))
        .collect();
    for target in [PROD, DEV] {
        let role = role(world, rng, target, "/", "DatadogIntegrationRole");
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
}
