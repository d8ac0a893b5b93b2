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

mod ci;
mod config;
mod iam_console;
mod iam_key;
mod inventory;
mod people;
mod saas;
mod service_events;
mod workload;

use ci::GithubCi;
use config::ConfigRecorder;
use iam_console::IamConsole;
use iam_key::IamKey;
use inventory::Inventory;
use people::Person;
use saas::Saas;
use service_events::ServiceEvents;
use workload::Workload;

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

/// A role of one of the trail's accounts.
fn role(world: &World, rng: &mut Rng, acct: usize, path: &str, name: &str) -> Role {
    let a = &world.accounts[acct];
    Role::new(rng, &a.id, a.num, path, name)
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

impl<'w> Background<'w> {
    pub(crate) fn new(world: &'w World, seed: u64) -> Self {
        let mut rng = Rng::stream(seed, 4);
        let mut actors = Vec::new();
        inventory::add(world, &mut rng, &mut actors);
        saas::add(world, &mut rng, &mut actors);
        config::add(world, &mut rng, &mut actors);
        workload::add_instances(world, &mut rng, &mut actors);
        workload::add_functions(world, &mut rng, &mut actors);
        ci::add(world, &mut rng, &mut actors);
        people::add(world, &mut rng, &mut actors);
        iam_console::add(world, &mut rng, &mut actors);
        iam_key::add(world, &mut rng, &mut actors);
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
