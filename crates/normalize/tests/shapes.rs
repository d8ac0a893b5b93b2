//! Record shapes from other tools than S3 delivery: SQL exports with lower-cased column
//! names (Athena), EventBridge envelopes, JSON Lines.

use backtrail_model::json::json_text;
use backtrail_normalize::{FileOutcome, Format, issuance_of, parse_file, to_json};

const ATHENA_ROW: &str = r#"{"eventversion":"1.08","useridentity":{"type":"AssumedRole","principalid":"AROAEXAMPLE:x","arn":"arn:aws:sts::111122223333:assumed-role/r/x","accountid":"111122223333","accesskeyid":"ASIAEXAMPLE1","sessioncontext":{"attributes":{"mfaauthenticated":"false","creationdate":"2024-01-01T00:00:00Z"},"sessionissuer":{"type":"Role","principalid":"AROAEXAMPLE","arn":"arn:aws:iam::111122223333:role/r","accountid":"111122223333","username":"r"}}},"eventtime":"2024-01-01T00:00:05Z","eventsource":"s3.amazonaws.com","eventname":"GetObject","awsregion":"us-east-1","sourceipaddress":"198.51.100.4","useragent":"aws-cli/2.15","errorcode":null,"requestparameters":"{\"bucketName\":\"b\",\"key\":\"k\"}","responseelements":null,"eventid":"athena-1","readonly":"true","recipientaccountid":"111122223333"}"#;

#[test]
fn athena_rows_with_lower_cased_names_are_events() {
    let text = format!(
        "{ATHENA_ROW}\n{}\n",
        ATHENA_ROW.replace("athena-1", "athena-2")
    );
    let pf = parse_file(text.as_bytes());
    assert_eq!(pf.outcome, FileOutcome::Read(Format::JsonLines));
    assert_eq!(pf.events.len(), 2, "{:?}", pf.rejects);
    let e = &pf.events[0];
    assert_eq!(e.event_name, "GetObject");
    assert_eq!(e.read_only, Some(true));
    assert_eq!(e.identity.access_key_id.as_deref(), Some("ASIAEXAMPLE1"));
    assert_eq!(
        e.identity.issuer_arn.as_deref(),
        Some("arn:aws:iam::111122223333:role/r")
    );
    assert_eq!(e.identity.session_creation_date, Some(1_704_067_200_000));
    // Read in any case, as creationDate is (exact names only, it was lost for such rows).
    assert_eq!(e.identity.mfa_authenticated, Some(false));
    // requestParameters is a JSON string holding the object; the analyses read through it.
    assert!(
        json_text(e.request_parameters.as_deref().unwrap())
            .unwrap()
            .contains("bucketName")
    );
    // Printed back with the export's own names and values.
    let back: serde_json::Value = serde_json::from_str(&to_json(e)).unwrap();
    let want: serde_json::Value = serde_json::from_str(ATHENA_ROW).unwrap();
    assert_eq!(back, want);
}

#[test]
fn eventbridge_envelopes_yield_the_cloudtrail_event() {
    let inner = r#"{"eventVersion":"1.09","userIdentity":{"type":"IAMUser","principalId":"AIDAEXAMPLE","arn":"arn:aws:iam::111122223333:user/alice","accountId":"111122223333","accessKeyId":"AKIAEXAMPLE","userName":"alice"},"eventTime":"2024-02-01T10:00:00Z","eventSource":"sts.amazonaws.com","eventName":"AssumeRole","awsRegion":"us-east-1","sourceIPAddress":"198.51.100.9","userAgent":"x","requestParameters":{"roleArn":"arn:aws:iam::111122223333:role/admin","roleSessionName":"s"},"responseElements":{"credentials":{"accessKeyId":"ASIAEXAMPLE2","expiration":"Feb 1, 2024, 11:00:00 AM","sessionToken":"t"},"assumedRoleUser":{"assumedRoleId":"AROAEXAMPLE:s","arn":"arn:aws:sts::111122223333:assumed-role/admin/s"}},"requestID":"r","eventID":"eb-1","readOnly":true,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"111122223333","eventCategory":"Management"}"#;
    let envelope = format!(
        r#"{{"version":"0","id":"x","detail-type":"AWS API Call via CloudTrail","source":"aws.sts","account":"111122223333","time":"2024-02-01T10:00:00Z","region":"us-east-1","resources":[],"detail":{inner}}}"#
    );
    let pf = parse_file(envelope.as_bytes());
    assert_eq!(pf.events.len(), 1, "{:?}", pf.rejects);
    let e = &pf.events[0];
    assert_eq!(e.event_id, "eb-1");
    let i = issuance_of(e).unwrap();
    assert_eq!(i.issued_access_key_id.as_deref(), Some("ASIAEXAMPLE2"));
    assert_eq!(
        i.issued_arn.as_deref(),
        Some("arn:aws:sts::111122223333:assumed-role/admin/s")
    );
    let back: serde_json::Value = serde_json::from_str(&to_json(e)).unwrap();
    assert_eq!(
        back,
        serde_json::from_str::<serde_json::Value>(inner).unwrap()
    );
}
