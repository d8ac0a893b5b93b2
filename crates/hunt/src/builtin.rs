//! The project's own rules (`rules/` at the repository root), built into the binary so that
//! `hunt` and `sessions` need no rule files.

use crate::rule::RuleSet;

macro_rules! rules {
    ($($f:literal),* $(,)?) => {
        &[$(($f, include_str!(concat!("../../../rules/", $f)))),*]
    };
}

/// File name and text of every shipped rule.
pub const FILES: &[(&str, &str)] = rules![
    "credential-access-ec2-password-data.yml",
    "credential-access-secret-denied.yml",
    "credential-access-secret-read.yml",
    "credential-access-secrets-harvest.yml",
    "credential-pivot-federation-token.yml",
    "defense-evasion-leave-organization.yml",
    "defense-evasion-logging-tampering.yml",
    "discovery-burst.yml",
    "discovery-call.yml",
    "discovery-denied-burst.yml",
    "discovery-denied-call.yml",
    "exfiltration-bucket-policy-changed.yml",
    "exfiltration-snapshot-shared.yml",
    "initial-access-attack-tool.yml",
    "initial-access-console-login-no-mfa.yml",
    "initial-access-foreign-vpc-endpoint.yml",
    "persistence-backdoor-user.yml",
    "persistence-iam-access-key-other-user.yml",
    "persistence-iam-access-key-self.yml",
    "persistence-iam-admin-policy-attached.yml",
    "persistence-iam-login-profile.yml",
    "persistence-iam-policy-full-admin.yml",
    "persistence-iam-user-created.yml",
    "persistence-lambda-public-permission.yml",
    "persistence-role-trust-changed.yml",
];

/// The shipped rules, parsed.
pub fn rules() -> RuleSet {
    let texts: Vec<(String, String)> = FILES
        .iter()
        .map(|(n, t)| (format!("builtin:{n}"), t.to_string()))
        .collect();
    RuleSet::from_texts(&texts)
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_shipped_rule_runs() {
        let set = super::rules();
        assert!(set.skipped.is_empty(), "{:?}", set.skipped);
        assert_eq!(set.rules.len() + set.correlations.len(), super::FILES.len());
        let dir = std::path::PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap())
            .join("../../rules");
        let on_disk = std::fs::read_dir(dir)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|x| x == "yml")
            })
            .count();
        assert_eq!(
            on_disk,
            super::FILES.len(),
            "every file in rules/ is built in"
        );
        for r in &set.rules {
            assert!(
                r.meta.id.is_some() && !r.meta.attack().is_empty(),
                "{}",
                r.meta.title
            );
        }
    }
}
