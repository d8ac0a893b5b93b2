//! Sigma field names (dot paths into the CloudTrail record) as SQL over the `events` table:
//! a column where the store has one, a `json_as_text` path into the JSON text column
//! otherwise.

use crate::sql::lit;

/// How a field's values compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `eventName`, `eventSource`, `errorCode`: AWS writes them in one canonical case, so they compare
    /// exactly, and the Parquet scan can prune on them.
    Canonical,
    /// Any other text: Sigma compares case-insensitively.
    Text,
    /// A Boolean column, compared as `true`/`false` text.
    Bool,
}

/// A field resolved to a SQL expression that yields text (or NULL when absent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub sql: String,
    pub kind: Kind,
}

const TOP: &[(&str, &str, Kind)] = &[
    ("eventName", "event_name", Kind::Canonical),
    ("eventSource", "event_source", Kind::Canonical),
    ("eventID", "event_id", Kind::Text),
    ("eventType", "event_type", Kind::Text),
    ("eventCategory", "event_category", Kind::Text),
    ("eventVersion", "event_version", Kind::Text),
    ("awsRegion", "aws_region", Kind::Text),
    ("recipientAccountId", "recipient_account_id", Kind::Text),
    ("sourceIPAddress", "source_ip", Kind::Text),
    ("userAgent", "user_agent", Kind::Text),
    ("errorCode", "error_code", Kind::Canonical),
    ("errorMessage", "error_message", Kind::Text),
    ("readOnly", "read_only", Kind::Bool),
    ("managementEvent", "management_event", Kind::Bool),
    ("requestID", "request_id", Kind::Text),
    ("sharedEventID", "shared_event_id", Kind::Text),
    ("vpcEndpointId", "vpc_endpoint_id", Kind::Text),
    (
        "vpcEndpointAccountId",
        "vpc_endpoint_account_id",
        Kind::Text,
    ),
    (
        "sessionCredentialFromConsole",
        "session_credential_from_console",
        Kind::Bool,
    ),
    ("userIdentity.type", "user_type", Kind::Text),
    ("userIdentity.principalId", "principal_id", Kind::Text),
    ("userIdentity.arn", "arn", Kind::Text),
    ("userIdentity.accountId", "account_id", Kind::Text),
    ("userIdentity.accessKeyId", "access_key_id", Kind::Text),
    ("userIdentity.userName", "user_name", Kind::Text),
    ("userIdentity.invokedBy", "invoked_by", Kind::Text),
    (
        "userIdentity.sessionContext.sessionIssuer.type",
        "issuer_type",
        Kind::Text,
    ),
    (
        "userIdentity.sessionContext.sessionIssuer.principalId",
        "issuer_principal_id",
        Kind::Text,
    ),
    (
        "userIdentity.sessionContext.sessionIssuer.arn",
        "issuer_arn",
        Kind::Text,
    ),
    (
        "userIdentity.sessionContext.sessionIssuer.accountId",
        "issuer_account_id",
        Kind::Text,
    ),
    (
        "userIdentity.sessionContext.sessionIssuer.userName",
        "issuer_user_name",
        Kind::Text,
    ),
    (
        "userIdentity.sessionContext.attributes.mfaAuthenticated",
        "mfa_authenticated",
        Kind::Bool,
    ),
    (
        "userIdentity.sessionContext.sourceIdentity",
        "source_identity",
        Kind::Text,
    ),
];

/// Top-level fields kept as JSON text, and their column.
const JSON: &[(&str, &str)] = &[
    ("requestParameters", "request_parameters"),
    ("responseElements", "response_elements"),
    ("additionalEventData", "additional_event_data"),
    ("serviceEventDetails", "service_event_details"),
    ("tlsDetails", "tls_details"),
    ("userIdentity", "user_identity"),
    ("resources", "resources"),
];

/// Resolves a Sigma field name. Fields with no column and no JSON column of their own are
/// looked up in `extra` (every other top-level field the record had).
pub fn resolve(name: &str) -> Result<Field, String> {
    if name.is_empty() {
        return Err("empty field name".into());
    }
    if let Some((_, col, kind)) = TOP.iter().find(|(n, _, _)| *n == name) {
        let sql = match kind {
            Kind::Bool => format!("CAST({col} AS VARCHAR)"),
            _ => (*col).to_string(),
        };
        return Ok(Field { sql, kind: *kind });
    }
    if name == "eventTime"
        || name.starts_with("userIdentity.sessionContext.attributes.creationDate")
    {
        return Err(format!(
            "field {name}: times are not matched by rules; use --since/--until"
        ));
    }
    let mut parts = name.split('.');
    let head = parts.next().unwrap_or_default();
    let path: Vec<&str> = parts.collect();
    if path.iter().any(|p| p.is_empty()) {
        return Err(format!("field {name:?}: empty path segment"));
    }
    let (col, path) = match JSON.iter().find(|(n, _)| *n == head) {
        Some((_, col)) => (*col, path),
        None => {
            let mut all = vec![head];
            all.extend(path);
            ("extra", all)
        }
    };
    if path.is_empty() {
        return Ok(Field {
            sql: col.to_string(),
            kind: Kind::Text,
        });
    }
    let args: Vec<String> = path.iter().map(|p| lit(p)).collect();
    Ok(Field {
        sql: format!("json_as_text({col}, {})", args.join(", ")),
        kind: Kind::Text,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_json_paths_and_extra() {
        assert_eq!(resolve("eventName").unwrap().sql, "event_name");
        assert_eq!(resolve("userIdentity.type").unwrap().sql, "user_type");
        assert_eq!(
            resolve("readOnly").unwrap().sql,
            "CAST(read_only AS VARCHAR)"
        );
        assert_eq!(
            resolve("requestParameters.policy.document").unwrap().sql,
            "json_as_text(request_parameters, 'policy', 'document')"
        );
        assert_eq!(
            resolve("additionalEventData.MFAUsed").unwrap().sql,
            "json_as_text(additional_event_data, 'MFAUsed')"
        );
        assert_eq!(
            resolve("userIdentity.sessionContext.webIdFederationData.federatedProvider")
                .unwrap()
                .sql,
            "json_as_text(user_identity, 'sessionContext', 'webIdFederationData', 'federatedProvider')"
        );
        assert_eq!(
            resolve("insightDetails.state").unwrap().sql,
            "json_as_text(extra, 'insightDetails', 'state')"
        );
        assert!(resolve("eventTime").is_err());
        assert!(resolve("requestParameters..x").is_err());
    }
}
