//! GitHub Actions deployments through OIDC.

use super::*;

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

/// GitHub Actions deployments through OIDC: AssumeRoleWithWebIdentity per workflow run,
/// deploy calls, and CloudFormation acting with the run's session.
pub(super) struct GithubCi {
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
    pub(super) fn step(
        &mut self,
        c: &mut Ctx<'_>,
        out: &mut Output,
        t: i64,
    ) -> Result<u64, SynthError> {
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
                &Caller::program(
                    &self.cfn_ident,
                    &live.cred.arn,
                    "cloudformation.amazonaws.com",
                    "cloudformation.amazonaws.com",
                    false,
                    None,
                ),
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
            &Caller::program(
                &live.ident,
                &live.cred.arn,
                &self.ip,
                UA_GHA_CLI,
                true,
                Some(true),
            ),
            outcome,
        )
    }
}

/// The deploying repositories.
pub(super) fn add(world: &World, rng: &mut Rng, actors: &mut Vec<Actor>) {
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
        let role = role(world, rng, acct, "/", "github-actions-deploy");
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
}
