//! Events AWS records on its own.

use super::*;

/// Events AWS records on its own: KMS key rotation, Secrets Manager rotation and
/// CloudTrail checking its bucket. Always exactly one record.
pub(super) struct ServiceEvents;

impl ServiceEvents {
    pub(super) fn step(
        &mut self,
        c: &mut Ctx<'_>,
        out: &mut Output,
        t: i64,
    ) -> Result<u64, SynthError> {
        let kind = c.rng.below(3);
        let acct = c.rng.below(c.world.accounts.len() as u64) as usize;
        let a = &c.world.accounts[acct];
        let region = c.rng.below(REGIONS.len() as u64) as usize;
        let r = REGIONS[region];
        let eid = c.rng.uuid();
        match kind {
            0 => {
                let key = c.rng.pick(&a.kms_keys).clone();
                let identity = cred::service_event(&a.id, "AWS Internal");
                let resources = format!(
                    "[{{\"accountId\":\"{}\",\"type\":\"AWS::KMS::Key\",\"ARN\":\"arn:aws:kms:{r}:{}:key/{key}\"}}]",
                    a.id, a.id
                );
                let details = format!("{{\"keyId\":\"{key}\"}}");
                let rid = c.rng.uuid();
                let mut rec = Rec::call(
                    &identity,
                    t,
                    "kms.amazonaws.com",
                    "RotateKey",
                    r,
                    "AWS Internal",
                    "AWS Internal",
                    &eid,
                    &a.id,
                );
                rec.read_only = false;
                rec.event_type = "AwsServiceEvent";
                rec.request_id = Some(&rid);
                rec.resources = Some(&resources);
                rec.service_details = Some(&details);
                rec.write(out.slot(acct, region, t)?);
            }
            1 => {
                let i = c.rng.below(a.secrets.len() as u64) as usize;
                let arn = a.secret_arn(r, i);
                let identity = cred::service_event(&a.id, "secretsmanager.amazonaws.com");
                let additional = format!("{{\"SecretId\":\"{arn}\"}}");
                let rid = c.rng.uuid();
                let mut rec = Rec::call(
                    &identity,
                    t,
                    "secretsmanager.amazonaws.com",
                    "RotationSucceeded",
                    r,
                    "secretsmanager.amazonaws.com",
                    "secretsmanager.amazonaws.com",
                    &eid,
                    &a.id,
                );
                rec.read_only = false;
                rec.event_type = "AwsServiceEvent";
                rec.additional = Some(&additional);
                rec.request_id = Some(&rid);
                rec.write(out.slot(acct, region, t)?);
            }
            _ => {
                let sec = &c.world.accounts[SEC];
                let bucket = &c.world.bucket;
                let identity = cred::aws_service("cloudtrail.amazonaws.com");
                let request = format!(
                    "{{\"bucketName\":\"{bucket}\",\"Host\":\"{bucket}.s3.us-east-1.amazonaws.com\",\"acl\":\"\"}}"
                );
                let additional = format!(
                    "{{\"SignatureVersion\":\"SigV4\",\"CipherSuite\":\"TLS_AES_128_GCM_SHA256\",\"bytesTransferredIn\":0,\"AuthenticationMethod\":\"AuthHeader\",\"x-amz-id-2\":\"{}=\",\"bytesTransferredOut\":552}}",
                    c.rng.base64(75)
                );
                let resources = format!(
                    "[{{\"accountId\":\"{}\",\"type\":\"AWS::S3::Bucket\",\"ARN\":\"arn:aws:s3:::{bucket}\"}}]",
                    sec.id
                );
                let rid = c.rng.upper_alnum(16);
                let shared = c.rng.uuid();
                let mut rec = Rec::call(
                    &identity,
                    t,
                    "s3.amazonaws.com",
                    "GetBucketAcl",
                    REGIONS[HOME],
                    "cloudtrail.amazonaws.com",
                    "cloudtrail.amazonaws.com",
                    &eid,
                    &sec.id,
                );
                rec.request = Some(&request);
                rec.additional = Some(&additional);
                rec.request_id = Some(&rid);
                rec.resources = Some(&resources);
                rec.shared_event_id = Some(&shared);
                rec.tls = Some(Tls {
                    v13: false,
                    host: "s3.us-east-1.amazonaws.com",
                });
                rec.write(out.slot(SEC, HOME, t)?);
            }
        }
        Ok(1)
    }
}
