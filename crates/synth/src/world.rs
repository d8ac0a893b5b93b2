//! The fictional organization: accounts, regions, principals and the resources the
//! background and the incidents talk about. Names are fixed (readable ground truth);
//! ids and random suffixes come from the seed.

use crate::rng::Rng;

/// Regions that carry regional traffic. Global services (IAM, STS global endpoint,
/// sign-in, Organizations) are delivered in the first one, us-east-1, like AWS does.
pub(crate) const REGIONS: [&str; 3] = ["us-east-1", "eu-central-1", "us-west-2"];

/// Index of us-east-1 in [`REGIONS`].
pub(crate) const HOME: usize = 0;

/// Trail account indexes.
pub(crate) const MGMT: usize = 0;
pub(crate) const PROD: usize = 1;
pub(crate) const DEV: usize = 2;
pub(crate) const SEC: usize = 3;

/// Account that belongs to nobody in the organization: the attacker's own account
/// (source of the foreign VPC endpoint, target of the malicious bucket policy).
pub(crate) const ATTACKER_ACCOUNT: u64 = 489_210_675_533;

/// A monitoring SaaS account that assumes an integration role (only the role owner's
/// copy is in the trail).
pub(crate) const SAAS_ACCOUNT: u64 = 464_622_532_012;

/// Domain of the people in the directory (reserved example domain).
pub(crate) const EMAIL_DOMAIN: &str = "example.com";

/// An account of the organization and its resources.
#[derive(Debug)]
pub(crate) struct Account {
    pub id: String,
    pub num: u64,
    pub name: &'static str,
    pub buckets: Vec<String>,
    pub secrets: Vec<String>,
    pub kms_keys: Vec<String>,
    pub instances: Vec<String>,
    pub functions: Vec<String>,
    pub tables: Vec<String>,
    pub params: Vec<String>,
    pub roles: Vec<String>,
    pub users: Vec<String>,
    pub stacks: Vec<String>,
    pub log_groups: Vec<String>,
    pub repos: Vec<String>,
    pub sgs: Vec<String>,
    pub vpcs: Vec<String>,
    pub object_prefixes: Vec<&'static str>,
}

impl Account {
    /// ARN of a secret (`name` + the random 6-character suffix AWS appends).
    pub(crate) fn secret_arn(&self, region: &str, i: usize) -> String {
        format!(
            "arn:aws:secretsmanager:{region}:{}:secret:{}",
            self.id, self.secrets[i]
        )
    }
}

/// An IAM role.
#[derive(Clone, Debug)]
pub(crate) struct Role {
    pub account: String,
    pub name: String,
    /// `/` or e.g. `/aws-reserved/sso.amazonaws.com/`.
    pub path: String,
    /// `AROA...`
    pub id: String,
}

impl Role {
    pub(crate) fn new(rng: &mut Rng, account: &str, acct_num: u64, path: &str, name: &str) -> Self {
        Role {
            account: account.to_string(),
            name: name.to_string(),
            path: path.to_string(),
            id: rng.principal_id("AROA", acct_num),
        }
    }

    pub(crate) fn arn(&self) -> String {
        format!(
            "arn:aws:iam::{}:role{}{}",
            self.account, self.path, self.name
        )
    }

    pub(crate) fn session_arn(&self, session: &str) -> String {
        format!(
            "arn:aws:sts::{}:assumed-role/{}/{}",
            self.account, self.name, session
        )
    }
}

/// An IAM user.
#[derive(Clone, Debug)]
pub(crate) struct User {
    pub account: String,
    pub name: String,
    /// `AIDA...`
    pub id: String,
}

impl User {
    pub(crate) fn new(rng: &mut Rng, account: &str, acct_num: u64, name: &str) -> Self {
        User {
            account: account.to_string(),
            name: name.to_string(),
            id: rng.principal_id("AIDA", acct_num),
        }
    }

    pub(crate) fn arn(&self) -> String {
        format!("arn:aws:iam::{}:user/{}", self.account, self.name)
    }
}

/// A person in the Identity Center directory.
#[derive(Clone, Debug)]
pub(crate) struct Person {
    pub email: String,
    pub user_id: String,
}

/// Organization-wide settings.
#[derive(Debug)]
pub(crate) struct World {
    pub org_id: String,
    pub accounts: Vec<Account>,
    pub trail_name: &'static str,
    pub bucket: String,
    /// Identity Center identity store id (`d-...`), lives in the management account.
    pub identity_store: String,
    /// Identity Center SAML provider per account, `AWSSSO_<hex>_DO_NOT_DELETE`.
    pub sso_saml_provider: Vec<String>,
    /// Identity Center SAML issuer name qualifier (base64 of a SHA-1).
    pub sso_name_qualifier: String,
    /// Permission-set roles: (account index, permission set, role).
    pub sso_roles: Vec<(usize, &'static str, Role)>,
    /// `OrganizationAccountAccessRole` of every account.
    pub org_access_roles: Vec<Role>,
}

/// Permission sets provisioned into accounts.
const ASSIGNMENTS: [(usize, &str); 9] = [
    (MGMT, "AdministratorAccess"),
    (SEC, "AdministratorAccess"),
    (DEV, "DeveloperAccess"),
    (PROD, "ReadOnlyAccess"),
    (PROD, "DataEngineer"),
    (MGMT, "SecurityAudit"),
    (PROD, "SecurityAudit"),
    (DEV, "SecurityAudit"),
    (SEC, "SecurityAudit"),
];

fn make_account(rng: &mut Rng, id: u64, name: &'static str, flavor: usize) -> Account {
    let ids = id.to_string();
    let sfx = |rng: &mut Rng| rng.mixed_alnum(6);
    // buckets, secrets, functions, tables, parameters, stacks, repositories, prefixes
    type Names = (
        Vec<String>,
        Vec<String>,
        Vec<&'static str>,
        Vec<&'static str>,
        Vec<&'static str>,
        Vec<&'static str>,
        Vec<&'static str>,
        Vec<&'static str>,
    );
    let (buckets, secrets, functions, tables, params, stacks, repos, prefixes): Names = match flavor
    {
        MGMT => (
            vec![
                format!("acme-mgmt-billing-reports-{ids}"),
                format!("acme-terraform-state-{ids}"),
                format!("aws-sam-cli-managed-default-{}", rng.lower_alnum(12)),
            ],
            vec![format!("org/scim-token-{}", sfx(rng))],
            vec!["account-vending", "cost-report-mailer"],
            vec!["account-requests"],
            vec!["/org/ou-map", "/org/billing-contacts"],
            vec!["org-baseline", "StackSet-account-baseline"],
            vec![],
            vec!["cur/", "state/global/", "reports/"],
        ),
        PROD => (
            vec![
                format!("acme-prod-customer-exports-{ids}"),
                format!("acme-prod-app-assets-{ids}"),
                format!("acme-prod-reports-{ids}"),
                format!("acme-prod-backups-{ids}"),
            ],
            vec![
                format!("prod/orders-db/credentials-{}", sfx(rng)),
                format!("prod/payments/stripe-api-key-{}", sfx(rng)),
                format!("prod/reporting/warehouse-password-{}", sfx(rng)),
                format!("prod/sftp/partner-keys-{}", sfx(rng)),
            ],
            vec![
                "orders-processor",
                "image-resizer",
                "payments-reconciler",
                "metrics-collector",
            ],
            vec!["orders", "customers", "payments-ledger"],
            vec![
                "/prod/orders/db-host",
                "/prod/orders/feature-flags",
                "/prod/payments/api-endpoint",
                "/prod/reporting/schedule",
            ],
            vec!["orders-service-prod", "reporting-prod", "network-prod"],
            vec!["orders-service", "image-resizer"],
            vec![
                "exports/2026/",
                "invoices/",
                "assets/img/",
                "daily/",
                "db-dumps/",
            ],
        ),
        DEV => (
            vec![
                format!("acme-dev-artifacts-{ids}"),
                format!("acme-dev-docs-site-{ids}"),
                format!("acme-dev-scratch-{ids}"),
            ],
            vec![
                format!("dev/orders-db/credentials-{}", sfx(rng)),
                format!("dev/github/deploy-token-{}", sfx(rng)),
            ],
            vec!["orders-processor-dev", "docs-indexer"],
            vec!["orders-dev"],
            vec!["/dev/orders/db-host", "/dev/orders/feature-flags"],
            vec!["orders-service-dev", "docs-site"],
            vec!["orders-service", "docs-site"],
            vec!["builds/", "site/", "tmp/"],
        ),
        _ => (
            vec![
                format!("acme-org-cloudtrail-{ids}"),
                format!("acme-security-findings-{ids}"),
            ],
            vec![format!("security/siem-ingest-token-{}", sfx(rng))],
            vec!["asset-inventory", "guardduty-forwarder"],
            vec!["asset-inventory"],
            vec!["/security/siem/endpoint"],
            vec!["security-baseline"],
            vec![],
            vec!["AWSLogs/", "findings/"],
        ),
    };
    let n_inst = if flavor == PROD { 4 } else { 2 };
    Account {
        id: ids.clone(),
        num: id,
        name,
        buckets,
        secrets,
        kms_keys: (0..3).map(|_| rng.uuid()).collect(),
        instances: (0..n_inst).map(|_| rng.instance_id()).collect(),
        functions: functions.into_iter().map(String::from).collect(),
        tables: tables.into_iter().map(String::from).collect(),
        params: params.into_iter().map(String::from).collect(),
        roles: [
            "OrganizationAccountAccessRole",
            "OrganizationAuditRole",
            "AWSServiceRoleForConfig",
            "github-actions-deploy",
            "web-app-instance-role",
        ]
        .into_iter()
        .map(String::from)
        .collect(),
        users: ["ops-admin", "svc-backup", "legacy-reporting"]
            .into_iter()
            .map(String::from)
            .collect(),
        stacks: stacks.into_iter().map(String::from).collect(),
        log_groups: vec![
            "/aws/lambda/orders-processor".into(),
            "/ecs/orders-service".into(),
            "/aws/vpc/flow-logs".into(),
        ],
        repos: repos.into_iter().map(String::from).collect(),
        sgs: (0..3).map(|_| format!("sg-0{}", rng.hex(16))).collect(),
        vpcs: (0..2).map(|_| format!("vpc-0{}", rng.hex(16))).collect(),
        object_prefixes: prefixes,
    }
}

impl World {
    pub(crate) fn new(seed: u64) -> Self {
        let mut rng = Rng::stream(seed, 1);
        let org_id = format!("o-{}", rng.lower_alnum(10));
        let accounts = vec![
            make_account(&mut rng, 318_236_473_920, "acme-management", MGMT),
            make_account(&mut rng, 734_915_208_361, "acme-prod", PROD),
            make_account(&mut rng, 582_047_193_650, "acme-dev", DEV),
            make_account(&mut rng, 926_481_037_752, "acme-security", SEC),
        ];
        let bucket = accounts[SEC].buckets[0].clone();
        let identity_store = format!("d-90{}", rng.hex(8));
        let sso_saml_provider = accounts
            .iter()
            .map(|a| {
                format!(
                    "arn:aws:iam::{}:saml-provider/AWSSSO_{}_DO_NOT_DELETE",
                    a.id,
                    rng.hex(16)
                )
            })
            .collect();
        let mut q = rng.base64(27);
        q.push('=');
        let sso_roles = ASSIGNMENTS
            .iter()
            .map(|&(acct, ps)| {
                let a = &accounts[acct];
                let name = format!("AWSReservedSSO_{ps}_{}", rng.hex(16));
                let role = Role::new(
                    &mut rng,
                    &a.id,
                    a.num,
                    "/aws-reserved/sso.amazonaws.com/",
                    &name,
                );
                (acct, ps, role)
            })
            .collect();
        let org_access_roles = accounts
            .iter()
            .map(|a| Role::new(&mut rng, &a.id, a.num, "/", "OrganizationAccountAccessRole"))
            .collect();
        World {
            sso_roles,
            org_access_roles,
            org_id,
            accounts,
            trail_name: "acme-org-trail",
            bucket,
            identity_store,
            sso_saml_provider,
            sso_name_qualifier: q,
        }
    }

    /// Index of a trail account by its id.
    pub(crate) fn acct_index(&self, id: &str) -> Option<usize> {
        self.accounts.iter().position(|a| a.id == id)
    }

    pub(crate) fn identity_store_arn(&self) -> String {
        format!(
            "arn:aws:identitystore::{}:identitystore/{}",
            self.accounts[MGMT].id, self.identity_store
        )
    }

    /// The Identity Center access portal URL.
    pub(crate) fn portal_url(&self) -> String {
        format!("https://{}.awsapps.com/start/", self.identity_store)
    }

    /// The `AWSReservedSSO_<PermissionSet>_<16 hex>` role of `permission_set` in `acct`.
    pub(crate) fn sso(&self, acct: usize, permission_set: &str) -> &Role {
        self.sso_roles
            .iter()
            .find(|(a, ps, _)| *a == acct && *ps == permission_set)
            .map(|(_, _, r)| r)
            .unwrap_or_else(|| panic!("no {permission_set} in account {acct}"))
    }

    pub(crate) fn person(&self, rng: &mut Rng, local: &str) -> Person {
        Person {
            email: format!("{local}@{EMAIL_DOMAIN}"),
            user_id: format!("{}-{}", rng.hex(10), rng.uuid()),
        }
    }
}
