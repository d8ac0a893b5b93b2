//! The AWS APIs the generator knows: event source, name, read-only flag and a generator
//! for plausible `requestParameters` / `responseElements` / `resources`, plus the service
//! specifics (endpoint host, eventVersion, how AccessDenied looks).

use std::fmt::Write as _;

use crate::rng::Rng;
use crate::time::{iam_date, iso};
use crate::world::Account;

/// AWS service (event source).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Src {
    Ec2,
    Iam,
    Sts,
    S3,
    Kms,
    Secrets,
    Lambda,
    Ssm,
    Org,
    Cfn,
    Ddb,
    Rds,
    Logs,
    Trail,
    Ecr,
    GuardDuty,
    Config,
    Tagging,
    Monitoring,
    Elb,
    Ecs,
    Health,
    Ce,
    Sns,
    Sqs,
    Route53,
}

impl Src {
    pub(crate) fn source(self) -> &'static str {
        match self {
            Src::Ec2 => "ec2.amazonaws.com",
            Src::Iam => "iam.amazonaws.com",
            Src::Sts => "sts.amazonaws.com",
            Src::S3 => "s3.amazonaws.com",
            Src::Kms => "kms.amazonaws.com",
            Src::Secrets => "secretsmanager.amazonaws.com",
            Src::Lambda => "lambda.amazonaws.com",
            Src::Ssm => "ssm.amazonaws.com",
            Src::Org => "organizations.amazonaws.com",
            Src::Cfn => "cloudformation.amazonaws.com",
            Src::Ddb => "dynamodb.amazonaws.com",
            Src::Rds => "rds.amazonaws.com",
            Src::Logs => "logs.amazonaws.com",
            Src::Trail => "cloudtrail.amazonaws.com",
            Src::Ecr => "ecr.amazonaws.com",
            Src::GuardDuty => "guardduty.amazonaws.com",
            Src::Config => "config.amazonaws.com",
            Src::Tagging => "tagging.amazonaws.com",
            Src::Monitoring => "monitoring.amazonaws.com",
            Src::Elb => "elasticloadbalancing.amazonaws.com",
            Src::Ecs => "ecs.amazonaws.com",
            Src::Health => "health.amazonaws.com",
            Src::Ce => "ce.amazonaws.com",
            Src::Sns => "sns.amazonaws.com",
            Src::Sqs => "sqs.amazonaws.com",
            Src::Route53 => "route53.amazonaws.com",
        }
    }

    /// IAM action prefix (`iam:ListRoles`).
    pub(crate) fn prefix(self) -> &'static str {
        match self {
            Src::Ec2 => "ec2",
            Src::Iam => "iam",
            Src::Sts => "sts",
            Src::S3 => "s3",
            Src::Kms => "kms",
            Src::Secrets => "secretsmanager",
            Src::Lambda => "lambda",
            Src::Ssm => "ssm",
            Src::Org => "organizations",
            Src::Cfn => "cloudformation",
            Src::Ddb => "dynamodb",
            Src::Rds => "rds",
            Src::Logs => "logs",
            Src::Trail => "cloudtrail",
            Src::Ecr => "ecr",
            Src::GuardDuty => "guardduty",
            Src::Config => "config",
            Src::Tagging => "tag",
            Src::Monitoring => "cloudwatch",
            Src::Elb => "elasticloadbalancing",
            Src::Ecs => "ecs",
            Src::Health => "health",
            Src::Ce => "ce",
            Src::Sns => "sns",
            Src::Sqs => "sqs",
            Src::Route53 => "route53",
        }
    }

    /// Service name as the AWS CLI spells it (user agent `md/command#...`).
    fn cli(self) -> &'static str {
        match self {
            Src::S3 => "s3api",
            Src::Monitoring => "cloudwatch",
            Src::Elb => "elbv2",
            Src::Tagging => "resourcegroupstaggingapi",
            other => other.prefix(),
        }
    }

    /// Global services: their events are delivered in us-east-1.
    pub(crate) fn global(self) -> bool {
        matches!(
            self,
            Src::Iam | Src::Org | Src::Route53 | Src::Ce | Src::Health
        )
    }

    /// `clientProvidedHostHeader` for a call in `region` (S3 sets its own).
    pub(crate) fn push_host(self, region: &str, out: &mut String) {
        match self {
            Src::Iam => out.push_str("iam.amazonaws.com"),
            Src::Route53 => out.push_str("route53.amazonaws.com"),
            Src::Org => out.push_str("organizations.us-east-1.amazonaws.com"),
            Src::Ce => out.push_str("ce.us-east-1.amazonaws.com"),
            Src::Health => out.push_str("health.us-east-1.amazonaws.com"),
            Src::S3 => {
                let _ = write!(out, "s3.{region}.amazonaws.com");
            }
            other => {
                let s = other.source();
                let _ = write!(out, "{}.{region}.amazonaws.com", &s[..s.len() - 14]);
            }
        }
    }
}

/// eventVersion by event source (newer services log newer versions).
pub(crate) fn event_version(source: &str) -> &'static str {
    match source {
        "ec2.amazonaws.com"
        | "s3.amazonaws.com"
        | "kms.amazonaws.com"
        | "secretsmanager.amazonaws.com" => "1.10",
        "sts.amazonaws.com" | "signin.amazonaws.com" => "1.08",
        "ce.amazonaws.com" => "1.11",
        _ => "1.09",
    }
}

/// Scratch buffers one generated call fills; reused to keep the hot path allocation-free.
#[derive(Default, Debug)]
pub(crate) struct Scratch {
    pub req: String,
    pub resp: String,
    pub res: String,
    pub add: String,
    /// Resource named by an AccessDenied message ("" = the message names none).
    pub target: String,
    pub host: String,
    pub ua: String,
    pub eid: String,
    pub rid: String,
    pub err_code: String,
    pub err_msg: String,
    /// Error the call hits by itself (e.g. NoSuchBucketPolicy), set by the generator.
    pub natural_error: Option<(&'static str, &'static str)>,
}

impl Scratch {
    pub(crate) fn clear(&mut self) {
        self.req.clear();
        self.resp.clear();
        self.res.clear();
        self.add.clear();
        self.target.clear();
        self.host.clear();
        self.ua.clear();
        self.eid.clear();
        self.rid.clear();
        self.err_code.clear();
        self.err_msg.clear();
        self.natural_error = None;
    }
}

/// Generator input.
pub(crate) struct Fill<'a> {
    pub rng: &'a mut Rng,
    pub acct: &'a Account,
    pub region: &'a str,
    pub time: i64,
    pub s: &'a mut Scratch,
}

impl<'a> Fill<'a> {
    fn lit(&mut self, json: &str) {
        self.s.req.push_str(json);
    }

    fn pick(&mut self, sel: fn(&Account) -> &[String]) -> &'a str {
        let xs = sel(self.acct);
        xs[self.rng.below(xs.len() as u64) as usize].as_str()
    }

    fn iam_res(&mut self, kind: &str, name: &str) {
        let _ = write!(self.s.target, "arn:aws:iam::{}:{kind}/{name}", self.acct.id);
    }

    fn region_target(&mut self, svc: &str, rest: &str) {
        let _ = write!(
            self.s.target,
            "arn:aws:{svc}:{}:{}:{rest}",
            self.region, self.acct.id
        );
    }

    /// Bucket-level S3 call on `bucket` with the sub-resource `sub` (e.g. `acl`).
    pub(crate) fn s3_bucket(&mut self, bucket: &str, sub: &str) {
        let _ = write!(
            self.s.req,
            "{{\"bucketName\":\"{bucket}\",\"Host\":\"{bucket}.s3.{}.amazonaws.com\"",
            self.region
        );
        if !sub.is_empty() {
            let _ = write!(self.s.req, ",\"{sub}\":\"\"");
        }
        self.s.req.push('}');
        let _ = write!(
            self.s.res,
            "[{{\"accountId\":\"{}\",\"type\":\"AWS::S3::Bucket\",\"ARN\":\"arn:aws:s3:::{bucket}\"}}]",
            self.acct.id
        );
        let _ = write!(self.s.host, "{bucket}.s3.{}.amazonaws.com", self.region);
    }

    /// Object-level S3 data event on `bucket/key`.
    pub(crate) fn s3_object(&mut self, bucket: &str, key: &str) {
        let _ = write!(
            self.s.req,
            "{{\"bucketName\":\"{bucket}\",\"Host\":\"{bucket}.s3.{}.amazonaws.com\",\"key\":\"{key}\"}}",
            self.region
        );
        let _ = write!(
            self.s.res,
            "[{{\"type\":\"AWS::S3::Object\",\"ARN\":\"arn:aws:s3:::{bucket}/{key}\"}},{{\"accountId\":\"{}\",\"type\":\"AWS::S3::Bucket\",\"ARN\":\"arn:aws:s3:::{bucket}\"}}]",
            self.acct.id
        );
        let _ = write!(self.s.host, "{bucket}.s3.{}.amazonaws.com", self.region);
        let _ = write!(self.s.target, "arn:aws:s3:::{bucket}/{key}");
    }

    fn random_object_key(&mut self) -> String {
        let p = *self.rng.pick(&self.acct.object_prefixes);
        let n = self.rng.below(100_000);
        let ext = *self
            .rng
            .pick(&["csv.gz", "json", "parquet", "pdf", "png", "tar.gz"]);
        format!("{p}{n:05}.{ext}")
    }

    fn kms_key(&mut self) {
        let k = self.pick(|a| &a.kms_keys).to_string();
        let _ = write!(
            self.s.res,
            "[{{\"accountId\":\"{}\",\"type\":\"AWS::KMS::Key\",\"ARN\":\"arn:aws:kms:{}:{}:key/{k}\"}}]",
            self.acct.id, self.region, self.acct.id
        );
        let _ = write!(
            self.s.target,
            "arn:aws:kms:{}:{}:key/{k}",
            self.region, self.acct.id
        );
    }

    fn secret(&mut self) -> String {
        let i = self.rng.below(self.acct.secrets.len() as u64) as usize;
        let arn = self.acct.secret_arn(self.region, i);
        self.s.target.push_str(&arn);
        arn
    }
}

/// Generates the call-specific parts.
pub(crate) type Gen = fn(&mut Fill<'_>);

/// One API.
#[derive(Debug)]
pub(crate) struct Api {
    pub src: Src,
    pub name: &'static str,
    pub ro: bool,
    /// S3 object-level data event.
    pub data: bool,
    pub fill: Gen,
}

const fn a(src: Src, name: &'static str, ro: bool, fill: Gen) -> Api {
    Api {
        src,
        name,
        ro,
        data: false,
        fill,
    }
}

const fn d(name: &'static str, ro: bool, fill: Gen) -> Api {
    Api {
        src: Src::S3,
        name,
        ro,
        data: true,
        fill,
    }
}

fn none(_: &mut Fill<'_>) {}

fn star(f: &mut Fill<'_>) {
    f.s.target.push('*');
}

fn ec2_describe(f: &mut Fill<'_>, set: &str) {
    let _ = write!(f.s.req, "{{\"{set}\":{{}},\"filterSet\":{{}}}}");
}

fn ec2_instance_items(f: &mut Fill<'_>) -> String {
    let i = f.pick(|a| &a.instances).to_string();
    format!("{{\"items\":[{{\"instanceId\":\"{i}\"}}]}}")
}

fn secret_id(f: &mut Fill<'_>) {
    let arn = f.secret();
    let _ = write!(f.s.req, "{{\"secretId\":\"{arn}\"}}");
}

fn fn_name(f: &mut Fill<'_>) {
    let n = f.pick(|a| &a.functions).to_string();
    let _ = write!(f.s.req, "{{\"functionName\":\"{n}\"}}");
    f.region_target("lambda", &format!("function:{n}"));
}

fn stack_name(f: &mut Fill<'_>) {
    let n = f.pick(|a| &a.stacks).to_string();
    let _ = write!(f.s.req, "{{\"stackName\":\"{n}\"}}");
    let id = f.rng.uuid();
    f.region_target("cloudformation", &format!("stack/{n}/{id}"));
}

fn table_name(f: &mut Fill<'_>) {
    let n = f.pick(|a| &a.tables).to_string();
    let _ = write!(f.s.req, "{{\"tableName\":\"{n}\"}}");
    let _ = write!(
        f.s.res,
        "[{{\"accountId\":\"{}\",\"type\":\"AWS::DynamoDB::Table\",\"ARN\":\"arn:aws:dynamodb:{}:{}:table/{n}\"}}]",
        f.acct.id, f.region, f.acct.id
    );
    f.region_target("dynamodb", &format!("table/{n}"));
}

fn role_name(f: &mut Fill<'_>) {
    let n = f.pick(|a| &a.roles).to_string();
    let _ = write!(f.s.req, "{{\"roleName\":\"{n}\"}}");
    f.iam_res("role", &n);
}

fn user_name(f: &mut Fill<'_>) {
    let n = f.pick(|a| &a.users).to_string();
    let _ = write!(f.s.req, "{{\"userName\":\"{n}\"}}");
    f.iam_res("user", &n);
}

fn log_group(f: &mut Fill<'_>) -> String {
    f.pick(|a| &a.log_groups).to_string()
}

fn param_name(f: &mut Fill<'_>) -> String {
    if f.acct.params.is_empty() {
        return "/shared/config".to_string();
    }
    f.pick(|a| &a.params).to_string()
}

fn bucket(f: &mut Fill<'_>) -> String {
    f.pick(|a| &a.buckets).to_string()
}

fn trail_arn(f: &Fill<'_>) -> String {
    format!(
        "arn:aws:cloudtrail:us-east-1:{}:trail/acme-org-trail",
        f.acct.id
    )
}

fn private_ip(rng: &mut Rng) -> String {
    format!(
        "10.{}.{}.{}",
        rng.below(4),
        rng.below(256),
        4 + rng.below(250)
    )
}

/// Every API the generator can emit.
pub(crate) static CATALOG: &[Api] = &[
    // ---- EC2
    a(Src::Ec2, "DescribeInstances", true, |f| {
        if f.rng.chance(0.3) {
            let items = ec2_instance_items(f);
            let _ = write!(f.s.req, "{{\"instancesSet\":{items},\"filterSet\":{{}}}}");
        } else if f.rng.chance(0.5) {
            f.lit("{\"maxResults\":1000,\"instancesSet\":{},\"filterSet\":{\"items\":[{\"name\":\"instance-state-name\",\"valueSet\":{\"items\":[{\"value\":\"running\"}]}}]}}");
        } else {
            f.lit("{\"instancesSet\":{},\"filterSet\":{}}");
        }
    }),
    a(Src::Ec2, "DescribeInstanceStatus", true, |f| {
        f.lit("{\"instancesSet\":{},\"filterSet\":{},\"includeAllInstances\":true}")
    }),
    a(Src::Ec2, "DescribeVolumes", true, |f| {
        ec2_describe(f, "volumeSet")
    }),
    a(Src::Ec2, "DescribeSecurityGroups", true, |f| {
        f.lit("{\"securityGroupSet\":{},\"securityGroupIdSet\":{},\"filterSet\":{}}")
    }),
    a(Src::Ec2, "DescribeVpcs", true, |f| {
        ec2_describe(f, "vpcSet")
    }),
    a(Src::Ec2, "DescribeSubnets", true, |f| {
        let v = f.pick(|a| &a.vpcs);
        let _ = write!(
            f.s.req,
            "{{\"subnetSet\":{{}},\"filterSet\":{{\"items\":[{{\"name\":\"vpc-id\",\"valueSet\":{{\"items\":[{{\"value\":\"{v}\"}}]}}}}]}}}}"
        );
    }),
    a(Src::Ec2, "DescribeNetworkInterfaces", true, |f| {
        ec2_describe(f, "networkInterfaceIdSet")
    }),
    a(Src::Ec2, "DescribeSnapshots", true, |f| {
        f.lit("{\"snapshotSet\":{},\"ownersSet\":{\"items\":[{\"owner\":\"self\"}]},\"sharedUsersSet\":{},\"filterSet\":{}}")
    }),
    a(Src::Ec2, "DescribeImages", true, |f| {
        f.lit("{\"executableBySet\":{},\"imagesSet\":{},\"ownersSet\":{\"items\":[{\"owner\":\"self\"}]},\"filterSet\":{}}")
    }),
    a(Src::Ec2, "DescribeRegions", true, |f| {
        f.lit("{\"regionSet\":{},\"allRegions\":false}")
    }),
    a(Src::Ec2, "DescribeAddresses", true, |f| {
        f.lit("{\"publicIpsSet\":{},\"allocationIdsSet\":{},\"filterSet\":{}}")
    }),
    a(Src::Ec2, "DescribeRouteTables", true, |f| {
        ec2_describe(f, "routeTableIdSet")
    }),
    a(Src::Ec2, "DescribeLaunchTemplates", true, |f| {
        f.lit("{\"DescribeLaunchTemplatesRequest\":\"\"}")
    }),
    a(Src::Ec2, "DescribeAccountAttributes", true, |f| {
        f.lit("{\"accountAttributeNameSet\":{\"items\":[{\"attributeName\":\"supported-platforms\"}]},\"filterSet\":{}}")
    }),
    a(Src::Ec2, "DescribeTags", true, |f| {
        let i = f.pick(|a| &a.instances).to_string();
        let _ = write!(
            f.s.req,
            "{{\"filterSet\":{{\"items\":[{{\"name\":\"resource-id\",\"valueSet\":{{\"items\":[{{\"value\":\"{i}\"}}]}}}}]}}}}"
        );
    }),
    a(Src::Ec2, "CreateTags", false, |f| {
        let i = f.pick(|a| &a.instances).to_string();
        let team = *f.rng.pick(&["orders", "platform", "data", "payments"]);
        let _ = write!(
            f.s.req,
            "{{\"resourcesSet\":{{\"items\":[{{\"resourceId\":\"{i}\"}}]}},\"tagSet\":{{\"items\":[{{\"key\":\"Team\",\"value\":\"{team}\"}}]}}}}"
        );
        let id = f.rng.uuid();
        let _ = write!(f.s.resp, "{{\"requestId\":\"{id}\",\"_return\":true}}");
    }),
    a(Src::Ec2, "AuthorizeSecurityGroupIngress", false, |f| {
        let sg = f.pick(|a| &a.sgs).to_string();
        let port = *f.rng.pick(&[443u32, 5432, 8080, 6379]);
        let _ = write!(
            f.s.req,
            "{{\"groupId\":\"{sg}\",\"ipPermissions\":{{\"items\":[{{\"ipProtocol\":\"tcp\",\"fromPort\":{port},\"toPort\":{port},\"groups\":{{}},\"ipRanges\":{{\"items\":[{{\"cidrIp\":\"10.0.0.0/16\"}}]}},\"ipv6Ranges\":{{}},\"prefixListIds\":{{}}}}]}}}}"
        );
        let id = f.rng.uuid();
        let rule = f.rng.hex(17);
        let _ = write!(
            f.s.resp,
            "{{\"requestId\":\"{id}\",\"_return\":true,\"securityGroupRuleSet\":{{\"items\":[{{\"groupId\":\"{sg}\",\"securityGroupRuleId\":\"sgr-0{rule}\",\"isEgress\":false,\"ipProtocol\":\"tcp\",\"fromPort\":{port},\"toPort\":{port},\"cidrIpv4\":\"10.0.0.0/16\"}}]}}}}"
        );
    }),
    a(Src::Ec2, "StopInstances", false, |f| {
        let items = ec2_instance_items(f);
        let _ = write!(f.s.req, "{{\"instancesSet\":{items},\"force\":false}}");
    }),
    a(Src::Ec2, "StartInstances", false, |f| {
        let items = ec2_instance_items(f);
        let _ = write!(f.s.req, "{{\"instancesSet\":{items}}}");
    }),
    // ---- IAM
    a(Src::Iam, "ListUsers", true, |f| f.iam_res("user", "")),
    a(Src::Iam, "ListRoles", true, |f| f.iam_res("role", "")),
    a(Src::Iam, "ListGroups", true, |f| f.iam_res("group", "")),
    a(Src::Iam, "ListPolicies", true, |f| {
        f.lit("{\"scope\":\"Local\",\"onlyAttached\":false,\"policyUsageFilter\":\"PermissionsPolicy\"}");
        f.iam_res("policy", "");
    }),
    a(Src::Iam, "GetRole", true, role_name),
    a(Src::Iam, "GetUser", true, user_name),
    a(Src::Iam, "ListAttachedRolePolicies", true, role_name),
    a(Src::Iam, "ListRolePolicies", true, role_name),
    a(Src::Iam, "ListAttachedUserPolicies", true, user_name),
    a(Src::Iam, "ListUserPolicies", true, user_name),
    a(Src::Iam, "ListGroupsForUser", true, user_name),
    a(Src::Iam, "ListAccessKeys", true, user_name),
    a(Src::Iam, "ListMFADevices", true, user_name),
    a(Src::Iam, "ListInstanceProfiles", true, |f| {
        f.iam_res("instance-profile", "")
    }),
    a(Src::Iam, "GetAccountSummary", true, star),
    a(Src::Iam, "GetAccountAuthorizationDetails", true, star),
    a(Src::Iam, "GetAccountPasswordPolicy", true, star),
    a(Src::Iam, "ListOpenIDConnectProviders", true, star),
    a(Src::Iam, "ListSAMLProviders", true, star),
    a(Src::Iam, "GenerateCredentialReport", false, star),
    a(Src::Iam, "GetCredentialReport", true, star),
    a(Src::Iam, "GetPolicy", true, |f| {
        let p = *f
            .rng
            .pick(&["deploy-boundary", "s3-artifacts-rw", "read-secrets-orders"]);
        let _ = write!(
            f.s.req,
            "{{\"policyArn\":\"arn:aws:iam::{}:policy/{p}\"}}",
            f.acct.id
        );
        f.iam_res("policy", p);
    }),
    a(Src::Iam, "CreateUser", false, user_name),
    a(Src::Iam, "CreateAccessKey", false, user_name),
    a(Src::Iam, "CreateLoginProfile", false, user_name),
    a(Src::Iam, "AttachUserPolicy", false, user_name),
    a(Src::Iam, "TagRole", false, |f| {
        let n = f.pick(|a| &a.roles).to_string();
        let _ = write!(
            f.s.req,
            "{{\"roleName\":\"{n}\",\"tags\":[{{\"key\":\"CostCenter\",\"value\":\"cc-{}\"}}]}}",
            100 + f.rng.below(900)
        );
        f.iam_res("role", &n);
    }),
    // ---- STS
    a(Src::Sts, "GetCallerIdentity", true, none),
    // ---- S3 (bucket level, management events)
    a(Src::S3, "ListBuckets", true, |f| {
        f.lit("{\"Host\":\"s3.amazonaws.com\"}");
        f.s.host.push_str("s3.amazonaws.com");
    }),
    a(Src::S3, "GetBucketAcl", true, |f| {
        let b = bucket(f);
        f.s3_bucket(&b, "acl");
    }),
    a(Src::S3, "GetBucketPolicy", true, |f| {
        let b = bucket(f);
        f.s3_bucket(&b, "policy");
        if f.rng.chance(0.4) {
            f.s.natural_error = Some(("NoSuchBucketPolicy", "The bucket policy does not exist"));
        }
    }),
    a(Src::S3, "GetBucketLocation", true, |f| {
        let b = bucket(f);
        f.s3_bucket(&b, "location");
    }),
    a(Src::S3, "GetBucketVersioning", true, |f| {
        let b = bucket(f);
        f.s3_bucket(&b, "versioning");
    }),
    a(Src::S3, "GetBucketEncryption", true, |f| {
        let b = bucket(f);
        f.s3_bucket(&b, "encryption");
    }),
    a(Src::S3, "GetBucketPublicAccessBlock", true, |f| {
        let b = bucket(f);
        f.s3_bucket(&b, "publicAccessBlock");
    }),
    a(Src::S3, "GetBucketTagging", true, |f| {
        let b = bucket(f);
        f.s3_bucket(&b, "tagging");
        if f.rng.chance(0.3) {
            f.s.natural_error = Some(("NoSuchTagSet", "The TagSet does not exist"));
        }
    }),
    a(Src::S3, "GetBucketLogging", true, |f| {
        let b = bucket(f);
        f.s3_bucket(&b, "logging");
    }),
    a(Src::S3, "PutBucketPolicy", false, |f| {
        let b = bucket(f);
        f.s3_bucket(&b, "policy");
    }),
    // ---- S3 data events
    d("GetObject", true, |f| {
        let b = bucket(f);
        let k = f.random_object_key();
        f.s3_object(&b, &k);
    }),
    d("HeadObject", true, |f| {
        let b = bucket(f);
        let k = f.random_object_key();
        f.s3_object(&b, &k);
    }),
    d("PutObject", false, |f| {
        let b = bucket(f);
        let k = f.random_object_key();
        f.s3_object(&b, &k);
    }),
    d("ListObjects", true, |f| {
        let b = bucket(f);
        let p = *f.rng.pick(&f.acct.object_prefixes);
        let _ = write!(
            f.s.req,
            "{{\"list-type\":\"2\",\"bucketName\":\"{b}\",\"encoding-type\":\"url\",\"prefix\":\"{p}\",\"delimiter\":\"/\",\"Host\":\"{b}.s3.{}.amazonaws.com\"}}",
            f.region
        );
        let _ = write!(
            f.s.res,
            "[{{\"accountId\":\"{}\",\"type\":\"AWS::S3::Bucket\",\"ARN\":\"arn:aws:s3:::{b}\"}}]",
            f.acct.id
        );
        let _ = write!(f.s.host, "{b}.s3.{}.amazonaws.com", f.region);
        let _ = write!(f.s.target, "arn:aws:s3:::{b}");
    }),
    // ---- KMS
    a(Src::Kms, "Decrypt", true, |f| {
        f.lit("{\"encryptionAlgorithm\":\"SYMMETRIC_DEFAULT\"}");
        f.kms_key();
    }),
    a(Src::Kms, "Encrypt", true, |f| {
        f.kms_key();
        let _ = write!(
            f.s.req,
            "{{\"keyId\":\"{}\",\"encryptionAlgorithm\":\"SYMMETRIC_DEFAULT\"}}",
            f.s.target
        );
    }),
    a(Src::Kms, "GenerateDataKey", true, |f| {
        f.kms_key();
        let _ = write!(
            f.s.req,
            "{{\"keyId\":\"{}\",\"keySpec\":\"AES_256\"}}",
            f.s.target
        );
    }),
    a(Src::Kms, "DescribeKey", true, |f| {
        f.kms_key();
        let _ = write!(f.s.req, "{{\"keyId\":\"{}\"}}", f.s.target);
    }),
    a(Src::Kms, "GetKeyRotationStatus", true, |f| {
        f.kms_key();
        let _ = write!(f.s.req, "{{\"keyId\":\"{}\"}}", f.s.target);
    }),
    a(Src::Kms, "ListKeys", true, star),
    a(Src::Kms, "ListAliases", true, star),
    // ---- Secrets Manager
    a(Src::Secrets, "ListSecrets", true, none),
    a(Src::Secrets, "DescribeSecret", true, secret_id),
    a(Src::Secrets, "GetSecretValue", true, secret_id),
    a(Src::Secrets, "GetResourcePolicy", true, secret_id),
    a(Src::Secrets, "PutSecretValue", false, |f| {
        let arn = f.secret();
        let tok = f.rng.uuid();
        let _ = write!(
            f.s.req,
            "{{\"secretId\":\"{arn}\",\"clientRequestToken\":\"{tok}\"}}"
        );
        let _ = write!(
            f.s.resp,
            "{{\"arn\":\"{arn}\",\"versionId\":\"{tok}\",\"versionStages\":[\"AWSCURRENT\"]}}"
        );
    }),
    // ---- Lambda
    a(Src::Lambda, "ListFunctions20150331", true, star),
    a(Src::Lambda, "GetFunction20150331v2", true, fn_name),
    a(
        Src::Lambda,
        "GetFunctionConfiguration20150331v2",
        true,
        fn_name,
    ),
    a(Src::Lambda, "GetPolicy20150331v2", true, fn_name),
    a(Src::Lambda, "ListEventSourceMappings20150331", true, star),
    a(
        Src::Lambda,
        "UpdateFunctionConfiguration20150331v2",
        false,
        |f| {
            let n = f.pick(|a| &a.functions).to_string();
            let mem = *f.rng.pick(&[256u32, 512, 1024]);
            let _ = write!(
                f.s.req,
                "{{\"functionName\":\"{n}\",\"memorySize\":{mem},\"timeout\":30}}"
            );
            let _ = write!(
                f.s.resp,
                "{{\"functionName\":\"{n}\",\"functionArn\":\"arn:aws:lambda:{}:{}:function:{n}\",\"runtime\":\"python3.12\",\"memorySize\":{mem},\"timeout\":30,\"state\":\"Active\",\"lastUpdateStatus\":\"InProgress\"}}",
                f.region, f.acct.id
            );
            f.region_target("lambda", &format!("function:{n}"));
        },
    ),
    a(Src::Lambda, "UpdateFunctionCode20150331v2", false, |f| {
        let n = f.pick(|a| &a.functions).to_string();
        let b = f.acct.buckets[0].clone();
        let sha = f.rng.hex(40);
        let _ = write!(
            f.s.req,
            "{{\"functionName\":\"{n}\",\"s3Bucket\":\"{b}\",\"s3Key\":\"builds/{n}/{sha}.zip\",\"publish\":true,\"dryRun\":false}}"
        );
        let _ = write!(
            f.s.resp,
            "{{\"functionName\":\"{n}\",\"functionArn\":\"arn:aws:lambda:{}:{}:function:{n}\",\"runtime\":\"python3.12\",\"state\":\"Active\",\"lastUpdateStatus\":\"InProgress\"}}",
            f.region, f.acct.id
        );
        f.region_target("lambda", &format!("function:{n}"));
    }),
    // ---- SSM
    a(Src::Ssm, "UpdateInstanceInformation", false, |f| {
        let i = f.pick(|a| &a.instances).to_string();
        let ip = private_ip(f.rng);
        let _ = write!(
            f.s.req,
            "{{\"instanceId\":\"{i}\",\"agentVersion\":\"3.3.1142.0\",\"agentStatus\":\"Active\",\"platformType\":\"Linux\",\"platformName\":\"Amazon Linux\",\"platformVersion\":\"2023\",\"iPAddress\":\"{ip}\",\"computerName\":\"ip-{}.ec2.internal\",\"agentName\":\"amazon-ssm-agent\",\"availabilityZone\":\"{}a\",\"sSMConnectionChannel\":\"ssmmessages\"}}",
            ip.replace('.', "-"),
            f.region
        );
    }),
    a(Src::Ssm, "ListInstanceAssociations", true, |f| {
        let i = f.pick(|a| &a.instances).to_string();
        let _ = write!(f.s.req, "{{\"instanceId\":\"{i}\",\"maxResults\":20}}");
    }),
    a(Src::Ssm, "DescribeInstanceInformation", true, |f| {
        f.lit("{\"maxResults\":50}");
        f.region_target("ssm", "*");
    }),
    a(Src::Ssm, "DescribeParameters", true, |f| {
        f.lit("{\"maxResults\":50}");
        f.region_target("ssm", "*");
    }),
    a(Src::Ssm, "GetParameter", true, |f| {
        let p = param_name(f);
        let _ = write!(f.s.req, "{{\"name\":\"{p}\",\"withDecryption\":true}}");
        f.region_target("ssm", &format!("parameter{p}"));
    }),
    a(Src::Ssm, "GetParametersByPath", true, |f| {
        let p = param_name(f);
        let dir = &p[..p.rfind('/').unwrap_or(0).max(1)];
        let _ = write!(
            f.s.req,
            "{{\"path\":\"{dir}\",\"recursive\":true,\"withDecryption\":true}}"
        );
        f.region_target("ssm", &format!("parameter{dir}"));
    }),
    a(Src::Ssm, "PutParameter", false, |f| {
        let p = param_name(f);
        let _ = write!(
            f.s.req,
            "{{\"name\":\"{p}\",\"type\":\"String\",\"overwrite\":true,\"value\":\"HIDDEN_DUE_TO_SECURITY_REASONS\"}}"
        );
        let _ = write!(
            f.s.resp,
            "{{\"version\":{},\"tier\":\"Standard\"}}",
            2 + f.rng.below(40)
        );
    }),
    // ---- Organizations
    a(Src::Org, "DescribeOrganization", true, star),
    a(Src::Org, "ListAccounts", true, star),
    a(Src::Org, "ListRoots", true, star),
    a(Src::Org, "ListPolicies", true, |f| {
        f.lit("{\"filter\":\"SERVICE_CONTROL_POLICY\"}");
        f.s.target.push('*');
    }),
    a(Src::Org, "ListOrganizationalUnitsForParent", true, |f| {
        let r = f.rng.lower_alnum(4);
        let _ = write!(f.s.req, "{{\"parentId\":\"r-{r}\"}}");
        f.s.target.push('*');
    }),
    a(Src::Org, "ListDelegatedAdministrators", true, star),
    a(Src::Org, "ListAWSServiceAccessForOrganization", true, star),
    // ---- CloudFormation
    a(Src::Cfn, "DescribeStacks", true, stack_name),
    a(Src::Cfn, "ListStacks", true, |f| {
        f.lit("{\"stackStatusFilter\":[\"CREATE_COMPLETE\",\"UPDATE_COMPLETE\",\"UPDATE_ROLLBACK_COMPLETE\"]}");
        f.s.target.push('*');
    }),
    a(Src::Cfn, "DescribeStackEvents", true, stack_name),
    a(Src::Cfn, "DescribeStackResources", true, stack_name),
    a(Src::Cfn, "GetTemplate", true, stack_name),
    a(Src::Cfn, "CreateChangeSet", false, |f| {
        let n = f.pick(|a| &a.stacks).to_string();
        let cs = f.rng.hex(12);
        let b = f.acct.buckets[0].clone();
        let _ = write!(
            f.s.req,
            "{{\"stackName\":\"{n}\",\"templateURL\":\"https://s3.{}.amazonaws.com/{b}/templates/{n}-{cs}.yaml\",\"capabilities\":[\"CAPABILITY_IAM\",\"CAPABILITY_AUTO_EXPAND\"],\"changeSetName\":\"gha-{cs}\",\"changeSetType\":\"UPDATE\"}}",
            f.region
        );
        let (u1, u2) = (f.rng.uuid(), f.rng.uuid());
        let _ = write!(
            f.s.resp,
            "{{\"id\":\"arn:aws:cloudformation:{r}:{a}:changeSet/gha-{cs}/{u1}\",\"stackId\":\"arn:aws:cloudformation:{r}:{a}:stack/{n}/{u2}\"}}",
            r = f.region,
            a = f.acct.id
        );
    }),
    a(Src::Cfn, "DescribeChangeSet", true, |f| {
        let n = f.pick(|a| &a.stacks).to_string();
        let cs = f.rng.hex(12);
        let _ = write!(
            f.s.req,
            "{{\"changeSetName\":\"gha-{cs}\",\"stackName\":\"{n}\"}}"
        );
    }),
    a(Src::Cfn, "ExecuteChangeSet", false, |f| {
        let n = f.pick(|a| &a.stacks).to_string();
        let cs = f.rng.hex(12);
        let _ = write!(
            f.s.req,
            "{{\"changeSetName\":\"gha-{cs}\",\"stackName\":\"{n}\"}}"
        );
    }),
    // ---- DynamoDB
    a(Src::Ddb, "ListTables", true, |f| {
        f.region_target("dynamodb", "table/*")
    }),
    a(Src::Ddb, "DescribeTable", true, table_name),
    a(Src::Ddb, "DescribeContinuousBackups", true, table_name),
    a(Src::Ddb, "DescribeTimeToLive", true, table_name),
    // ---- RDS
    a(Src::Rds, "DescribeDBInstances", true, |f| {
        f.region_target("rds", "db:*")
    }),
    a(Src::Rds, "DescribeDBClusters", true, |f| {
        f.lit("{\"includeShared\":false}");
        f.region_target("rds", "cluster:*");
    }),
    a(Src::Rds, "DescribeDBSnapshots", true, |f| {
        f.lit("{\"snapshotType\":\"manual\",\"includeShared\":false,\"includePublic\":false}");
        f.region_target("rds", "snapshot:*");
    }),
    // ---- CloudWatch Logs
    a(Src::Logs, "DescribeLogGroups", true, |f| {
        f.lit("{\"limit\":50}");
        f.region_target("logs", "log-group::log-stream:");
    }),
    a(Src::Logs, "DescribeLogStreams", true, |f| {
        let g = log_group(f);
        let _ = write!(
            f.s.req,
            "{{\"logGroupName\":\"{g}\",\"orderBy\":\"LastEventTime\",\"descending\":true}}"
        );
        f.region_target("logs", &format!("log-group:{g}:log-stream:"));
    }),
    a(Src::Logs, "FilterLogEvents", true, |f| {
        let g = log_group(f);
        let start = (f.time - 3600) * 1000;
        let _ = write!(
            f.s.req,
            "{{\"logGroupName\":\"{g}\",\"startTime\":{start},\"filterPattern\":\"ERROR\",\"interleaved\":true}}"
        );
        f.region_target("logs", &format!("log-group:{g}:log-stream:"));
    }),
    a(Src::Logs, "StartQuery", true, |f| {
        let g = log_group(f);
        let _ = write!(
            f.s.req,
            "{{\"logGroupNames\":[\"{g}\"],\"startTime\":{},\"endTime\":{},\"queryString\":\"fields @timestamp, @message | sort @timestamp desc | limit 200\"}}",
            f.time - 86_400,
            f.time
        );
        let q = f.rng.uuid();
        let _ = write!(f.s.resp, "{{\"queryId\":\"{q}\"}}");
    }),
    a(Src::Logs, "GetQueryResults", true, |f| {
        let q = f.rng.uuid();
        let _ = write!(f.s.req, "{{\"queryId\":\"{q}\"}}");
    }),
    // ---- CloudTrail
    a(Src::Trail, "DescribeTrails", true, |f| {
        f.lit("{\"trailNameList\":[],\"includeShadowTrails\":true}");
        f.s.target.push('*');
    }),
    a(Src::Trail, "GetTrailStatus", true, |f| {
        let t = trail_arn(f);
        let _ = write!(f.s.req, "{{\"name\":\"{t}\"}}");
        f.s.target.push_str(&t);
    }),
    a(Src::Trail, "GetEventSelectors", true, |f| {
        let t = trail_arn(f);
        let _ = write!(f.s.req, "{{\"trailName\":\"{t}\"}}");
        f.s.target.push_str(&t);
    }),
    a(Src::Trail, "LookupEvents", true, |f| {
        let _ = write!(
            f.s.req,
            "{{\"startTime\":\"{}\",\"endTime\":\"{}\",\"maxResults\":50}}",
            iso(f.time - 86_400),
            iso(f.time)
        );
        f.s.target.push('*');
    }),
    // ---- ECR
    a(Src::Ecr, "GetAuthorizationToken", true, star),
    a(Src::Ecr, "DescribeRepositories", true, |f| {
        f.region_target("ecr", "repository/*")
    }),
    a(Src::Ecr, "BatchCheckLayerAvailability", true, |f| {
        let r = if f.acct.repos.is_empty() {
            "base-images".to_string()
        } else {
            f.pick(|a| &a.repos).to_string()
        };
        let dg = f.rng.hex(64);
        let _ = write!(
            f.s.req,
            "{{\"repositoryName\":\"{r}\",\"registryId\":\"{}\",\"layerDigests\":[\"sha256:{dg}\"]}}",
            f.acct.id
        );
    }),
    a(Src::Ecr, "PutImage", false, |f| {
        let r = if f.acct.repos.is_empty() {
            "base-images".to_string()
        } else {
            f.pick(|a| &a.repos).to_string()
        };
        let tag = f.rng.hex(7);
        let _ = write!(
            f.s.req,
            "{{\"repositoryName\":\"{r}\",\"imageTag\":\"{tag}\",\"registryId\":\"{}\",\"imageManifestMediaType\":\"application/vnd.oci.image.manifest.v1+json\"}}",
            f.acct.id
        );
    }),
    // ---- GuardDuty, Config, tagging, CloudWatch, ELB, ECS, SNS, SQS
    a(Src::GuardDuty, "ListDetectors", true, star),
    a(Src::GuardDuty, "ListFindings", true, |f| {
        let det = f.rng.hex(32);
        let _ = write!(
            f.s.req,
            "{{\"detectorId\":\"{det}\",\"findingCriteria\":{{\"criterion\":{{\"service.archived\":{{\"eq\":[\"false\"]}}}}}},\"maxResults\":50}}"
        );
    }),
    a(Src::Config, "DescribeConfigRules", true, star),
    a(Src::Config, "DescribeComplianceByConfigRule", true, star),
    a(
        Src::Config,
        "DescribeConfigurationRecorderStatus",
        true,
        star,
    ),
    a(Src::Tagging, "GetResources", true, |f| {
        f.lit("{\"resourcesPerPage\":100,\"includeComplianceDetails\":false,\"excludeCompliantResources\":false}");
    }),
    a(Src::Monitoring, "DescribeAlarms", true, |f| {
        f.lit("{\"maxRecords\":100}");
    }),
    a(Src::Monitoring, "GetMetricData", true, |f| {
        let ns = *f
            .rng
            .pick(&["AWS/EC2", "AWS/Lambda", "AWS/RDS", "AWS/ApplicationELB"]);
        let _ = write!(
            f.s.req,
            "{{\"metricDataQueries\":[{{\"id\":\"m1\",\"metricStat\":{{\"metric\":{{\"namespace\":\"{ns}\",\"metricName\":\"CPUUtilization\"}},\"period\":300,\"stat\":\"Average\"}}}}],\"startTime\":\"{}\",\"endTime\":\"{}\"}}",
            iso(f.time - 3600),
            iso(f.time)
        );
    }),
    a(Src::Monitoring, "ListMetrics", true, |f| {
        let ns = *f.rng.pick(&["AWS/EC2", "AWS/Lambda", "AWS/DynamoDB"]);
        let _ = write!(f.s.req, "{{\"namespace\":\"{ns}\"}}");
    }),
    a(Src::Elb, "DescribeLoadBalancers", true, star),
    a(Src::Elb, "DescribeTargetGroups", true, star),
    a(Src::Ecs, "ListClusters", true, star),
    a(Src::Ecs, "DescribeServices", true, |f| {
        f.lit("{\"cluster\":\"orders\",\"services\":[\"orders-api\"],\"include\":[\"TAGS\"]}");
    }),
    a(Src::Sns, "ListTopics", true, star),
    a(Src::Sqs, "ListQueues", true, star),
    a(Src::Sqs, "GetQueueAttributes", true, |f| {
        let _ = write!(
            f.s.req,
            "{{\"queueUrl\":\"https://sqs.{}.amazonaws.com/{}/orders-events\",\"attributeNames\":[\"All\"]}}",
            f.region, f.acct.id
        );
    }),
    // ---- global odds and ends
    a(Src::Health, "DescribeEventAggregates", true, |f| {
        f.lit("{\"aggregateField\":\"eventTypeCategory\",\"filter\":{\"eventStatusCodes\":[\"open\",\"upcoming\"]}}");
    }),
    a(Src::Ce, "GetCostAndUsage", true, |f| {
        f.lit("{\"timePeriod\":{\"start\":\"2026-09-01\",\"end\":\"2026-10-01\"},\"granularity\":\"MONTHLY\",\"metrics\":[\"UnblendedCost\"],\"groupBy\":[{\"type\":\"DIMENSION\",\"key\":\"SERVICE\"}]}");
    }),
    a(Src::Route53, "ListHostedZones", true, star),
];

/// Index of an API in [`CATALOG`]. Panics on a typo, which the unit tests catch.
pub(crate) fn find(src: Src, name: &str) -> usize {
    CATALOG
        .iter()
        .position(|a| a.src == src && a.name == name)
        .unwrap_or_else(|| panic!("API {src:?} {name} not in catalog"))
}

/// The IAM action an event name stands for (`ListFunctions20150331` -> `ListFunctions`).
pub(crate) fn iam_action(src: Src, name: &str) -> &str {
    match (src, name) {
        (Src::S3, "ListBuckets") => "ListAllMyBuckets",
        (Src::S3, "ListObjects") => "ListBucket",
        (Src::S3, "HeadObject") => "GetObject",
        _ => {
            let end = name
                .find(|c: char| c.is_ascii_digit())
                .unwrap_or(name.len());
            &name[..end]
        }
    }
}

/// `describe-instances` from `DescribeInstances` (for CLI user agents).
pub(crate) fn push_cli_command(src: Src, name: &str, out: &mut String) {
    out.push_str(src.cli());
    out.push('.');
    let action = iam_action(src, name);
    for (i, c) in action.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('-');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
}

/// How a generated call ends.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Outcome {
    /// Success (or the natural error the generator picked).
    Normal,
    /// Denied by IAM.
    Denied,
}

/// Fills `s.err_code`/`s.err_msg` for an IAM denial of `api` by `arn`. Returns whether
/// the service keeps `requestParameters` on denied calls (EC2 and S3 do).
pub(crate) fn deny(api: &Api, arn: &str, rng: &mut Rng, s: &mut Scratch) -> bool {
    match api.src {
        Src::Ec2 => {
            s.err_code.push_str("Client.UnauthorizedOperation");
            s.err_msg.push_str(
                "You are not authorized to perform this operation. Encoded authorization failure message: ",
            );
            let n = 380 + rng.below(200) as usize;
            const URLB64: &[u8] =
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
            for _ in 0..n {
                s.err_msg
                    .push(URLB64[rng.below(URLB64.len() as u64) as usize] as char);
            }
            true
        }
        Src::S3 => {
            s.err_code.push_str("AccessDenied");
            s.err_msg.push_str("Access Denied");
            true
        }
        _ => {
            s.err_code.push_str("AccessDenied");
            let action = iam_action(api.src, api.name);
            let p = api.src.prefix();
            let _ = write!(
                s.err_msg,
                "User: {arn} is not authorized to perform: {p}:{action}"
            );
            if !s.target.is_empty() {
                let _ = write!(s.err_msg, " on resource: {}", s.target);
            }
            let _ = write!(
                s.err_msg,
                " because no identity-based policy allows the {p}:{action} action"
            );
            false
        }
    }
}

/// `responseElements` of IAM CreateUser.
pub(crate) fn create_user_response(account: &str, name: &str, id: &str, t: i64) -> String {
    format!(
        "{{\"user\":{{\"path\":\"/\",\"userName\":\"{name}\",\"userId\":\"{id}\",\"arn\":\"arn:aws:iam::{account}:user/{name}\",\"createDate\":\"{}\"}}}}",
        iam_date(t)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_and_commands() {
        assert_eq!(
            iam_action(Src::Lambda, "ListFunctions20150331"),
            "ListFunctions"
        );
        assert_eq!(
            iam_action(Src::Lambda, "GetFunctionConfiguration20150331v2"),
            "GetFunctionConfiguration"
        );
        assert_eq!(iam_action(Src::S3, "ListBuckets"), "ListAllMyBuckets");
        let mut s = String::new();
        push_cli_command(Src::Ec2, "DescribeInstances", &mut s);
        assert_eq!(s, "ec2.describe-instances");
        let mut h = String::new();
        Src::Secrets.push_host("eu-central-1", &mut h);
        assert_eq!(h, "secretsmanager.eu-central-1.amazonaws.com");
    }

    #[test]
    fn every_generator_produces_valid_json() {
        let w = crate::world::World::new(3);
        let mut rng = Rng::stream(3, 9);
        let mut s = Scratch::default();
        for (i, api) in CATALOG.iter().enumerate() {
            for acct in &w.accounts {
                s.clear();
                let mut f = Fill {
                    rng: &mut rng,
                    acct,
                    region: "us-west-2",
                    time: 1_790_812_800,
                    s: &mut s,
                };
                (api.fill)(&mut f);
                for part in [&s.req, &s.resp, &s.res] {
                    if !part.is_empty() {
                        serde_json::from_str::<serde_json::Value>(part)
                            .unwrap_or_else(|e| panic!("{i} {} {part}: {e}", api.name));
                    }
                }
                assert_eq!(find(api.src, api.name), i);
            }
        }
    }
}
