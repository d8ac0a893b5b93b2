//! Long-term access keys used by scripts and on-premises jobs.

use super::*;

/// A long-term access key used by a script or an on-premises job.
pub(super) struct IamKey {
    acct: usize,
    ident: String,
    arn: String,
    ip: String,
    ua: &'static str,
    region: usize,
    mix: Mix,
}

impl IamKey {
    pub(super) fn step(
        &mut self,
        c: &mut Ctx<'_>,
        out: &mut Output,
        t: i64,
    ) -> Result<u64, SynthError> {
        let api = self.mix.pick(&mut c.rng);
        let outcome = c.rare_denial(0.003);
        c.call(
            out,
            self.acct,
            self.region,
            t,
            api,
            &Caller::program(
                &self.ident,
                &self.arn,
                &self.ip,
                self.ua,
                false,
                Some(false),
            ),
            outcome,
        )
    }
}

/// The long-term keys.
pub(super) fn add(world: &World, rng: &mut Rng, actors: &mut Vec<Actor>) {
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
        let user = User::new(rng, &a.id, a.num, name);
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
}
