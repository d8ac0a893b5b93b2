//! A legacy IAM user on the console with MFA, switching roles into member accounts.

use super::*;
use crate::background::people::people_reads;

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
pub(super) struct IamConsole {
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

    pub(super) fn step(
        &mut self,
        c: &mut Ctx<'_>,
        out: &mut Output,
        t: i64,
    ) -> Result<u64, SynthError> {
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

/// The legacy console user.
pub(super) fn add(world: &World, rng: &mut Rng, actors: &mut Vec<Actor>) {
    // legacy IAM console user with MFA and role switching
    let ops = User::new(
        rng,
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
}
