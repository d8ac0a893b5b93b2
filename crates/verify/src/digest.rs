//! The digest file as CloudTrail writes it, and the string its signature covers.
//!
//! Field names and meanings: CloudTrail user guide, "CloudTrail digest file structure". The
//! signed string: "Custom implementations of CloudTrail log file integrity validation", and
//! the AWS CLI's `validate-logs` (`Sha256RSADigestValidator._create_string_to_sign`).

use rsa::sha2::{Digest as _, Sha256};
use serde::Deserialize;

/// One digest file. Fields that a starting digest (or an hour without events) leaves `null`
/// are options; unknown fields are ignored.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DigestFile {
    /// The account the digest was delivered for.
    pub aws_account_id: String,
    /// Start of the delivery period it covers, as written (`2015-08-17T14:01:31Z`).
    pub digest_start_time: String,
    /// End of that period, as written; signed verbatim.
    pub digest_end_time: String,
    /// The bucket CloudTrail delivered this digest to.
    pub digest_s3_bucket: String,
    /// The object key CloudTrail delivered this digest to.
    pub digest_s3_object: String,
    /// Hex fingerprint of the public key whose private key signed this digest.
    pub digest_public_key_fingerprint: String,
    /// `SHA256withRSA`.
    pub digest_signature_algorithm: String,
    /// Newest event in the listed log files (`null` when none).
    pub newest_event_time: Option<String>,
    /// Oldest event in the listed log files (`null` when none).
    pub oldest_event_time: Option<String>,
    /// Bucket of the previous digest (`null` in a starting digest).
    pub previous_digest_s3_bucket: Option<String>,
    /// Key of the previous digest.
    pub previous_digest_s3_object: Option<String>,
    /// Hex SHA-256 of the previous digest's decompressed content.
    pub previous_digest_hash_value: Option<String>,
    /// `SHA-256`.
    pub previous_digest_hash_algorithm: Option<String>,
    /// Hex signature of the previous digest (what its S3 metadata held).
    pub previous_digest_signature: Option<String>,
    /// The log files delivered in the period.
    #[serde(default)]
    pub log_files: Vec<LogFileEntry>,
}

/// One log file listed in a digest.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogFileEntry {
    /// Bucket of the log file.
    pub s3_bucket: String,
    /// Key of the log file.
    pub s3_object: String,
    /// Hex SHA-256 of the decompressed log file.
    pub hash_value: String,
    /// `SHA-256`.
    pub hash_algorithm: String,
    /// Newest event in the file.
    pub newest_event_time: Option<String>,
    /// Oldest event in the file.
    pub oldest_event_time: Option<String>,
}

impl DigestFile {
    /// Parses the decompressed content of a digest file.
    pub fn parse(decompressed: &[u8]) -> Result<DigestFile, serde_json::Error> {
        serde_json::from_slice(decompressed)
    }

    /// The string CloudTrail signs, newline-separated and without a trailing newline: the
    /// digest end time as written, `bucket/key` as recorded in the digest, the hex SHA-256 of
    /// the decompressed digest, and the previous digest's hex signature or `null`.
    pub fn string_to_sign(&self, decompressed: &[u8]) -> String {
        format!(
            "{}\n{}/{}\n{}\n{}",
            self.digest_end_time,
            self.digest_s3_bucket,
            self.digest_s3_object,
            sha256_hex(decompressed),
            self.previous_digest_signature.as_deref().unwrap_or("null")
        )
    }
}

/// Lower-case hex SHA-256, the form digests give hashes in.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sample digest of the CloudTrail user guide ("CloudTrail digest file structure"),
    /// with its exact bytes as printed there.
    const GUIDE_SAMPLE: &str = r#"{
  "awsAccountId": "111122223333",
  "digestStartTime": "2015-08-17T14:01:31Z",
  "digestEndTime": "2015-08-17T15:01:31Z",
  "digestS3Bucket": "S3-bucket-name",
  "digestS3Object": "AWSLogs/111122223333/CloudTrail-Digest/us-east-2/2015/08/17/111122223333_CloudTrail-Digest_us-east-2_your-trail-name_us-east-2_20150817T150131Z.json.gz",
  "digestPublicKeyFingerprint": "31e8b5433410dfb61a9dc45cc65b22ff",
  "digestSignatureAlgorithm": "SHA256withRSA",
  "newestEventTime": "2015-08-17T14:52:27Z",
  "oldestEventTime": "2015-08-17T14:42:27Z",
  "previousDigestS3Bucket": "S3-bucket-name",
  "previousDigestS3Object": "AWSLogs/111122223333/CloudTrail-Digest/us-east-2/2015/08/17/111122223333_CloudTrail-Digest_us-east-2_your-trail-name_us-east-2_20150817T140131Z.json.gz",
  "previousDigestHashValue": "97fb791cf91ffc440d274f8190dbdd9aa09c34432aba82739df18b6d3c13df2d",
  "previousDigestHashAlgorithm": "SHA-256",
  "previousDigestSignature": "50887ccffad4c002b97caa37cc9dc626e3c680207d41d27fa5835458e066e0d3652fc4dfc30937e4d5f4cc7f796e7a258fb50a43ac427f2237f6e505d4efaf373d156e15e3b68dea9f58111d395b62628d6bd367a9024d2183b5c5f6e19466d3a996b92df705bc997b8a0e13430f241d733cf95df4e41bb6c304c3f58363043572ea57a27085639ce187e679c0d81c7519b1184fa77fb7ab0b0e40a32dace6e1eefc3995c5ae182da49b62b26398cebb52a2201a6387b75b89c83e5570bcb9bba6c34a80f2f00a1c6ebe07d1ff149eccd812dc805bb3eeff6657db32a6cb48d2d096404eb76181877bc6ebb8cd0b23f823200155b2fd8848d428e46e8456328a",
  "logFiles": [
    {
      "s3Bucket": "S3-bucket-name",
      "s3Object": "AWSLogs/111122223333/CloudTrail/us-east-2/2015/08/17/111122223333_CloudTrail_us-east-2_20150817T1445Z_9nYN7gp2eWAJHIfT.json.gz",
      "hashValue": "9bb6196fc6b84d6f075a56548feca262bd99ba3c2de41b618e5b6e22c1fc71f6",
      "hashAlgorithm": "SHA-256",
      "newestEventTime": "2015-08-17T14:52:27Z",
      "oldestEventTime": "2015-08-17T14:42:27Z"
    }
  ]
}"#;

    /// The guide's "empty" digest (an hour without log files), with `previousDigestSignature`
    /// set to `null` as in a starting digest.
    const GUIDE_EMPTY: &str = r#"{
  "awsAccountId": "111122223333",
  "digestStartTime": "2015-08-20T17:01:31Z",
  "digestEndTime": "2015-08-20T18:01:31Z",
  "digestS3Bucket": "example-bucket-name",
  "digestS3Object": "AWSLogs/111122223333/CloudTrail-Digest/us-east-2/2015/08/20/111122223333_CloudTrail-Digest_us-east-2_example-trail-name_us-east-2_20150820T180131Z.json.gz",
  "digestPublicKeyFingerprint": "31e8b5433410dfb61a9dc45cc65b22ff",
  "digestSignatureAlgorithm": "SHA256withRSA",
  "newestEventTime": null,
  "oldestEventTime": null,
  "previousDigestS3Bucket": "example-bucket-name",
  "previousDigestS3Object": "AWSLogs/111122223333/CloudTrail-Digest/us-east-2/2015/08/20/111122223333_CloudTrail-Digest_us-east-2_example-trail-name_us-east-2_20150820T170131Z.json.gz",
  "previousDigestHashValue": "ed96c4bac9eaa8fe9716ca0e515da51938be651b1db31d781956416a9d05cdfa",
  "previousDigestHashAlgorithm": "SHA-256",
  "previousDigestSignature": null,
  "logFiles": []
}"#;

    #[test]
    fn the_guide_sample_parses_field_for_field() {
        let d = DigestFile::parse(GUIDE_SAMPLE.as_bytes()).unwrap();
        assert_eq!(d.aws_account_id, "111122223333");
        assert_eq!(d.digest_start_time, "2015-08-17T14:01:31Z");
        assert_eq!(d.digest_end_time, "2015-08-17T15:01:31Z");
        assert_eq!(d.digest_s3_bucket, "S3-bucket-name");
        assert!(
            d.digest_s3_object
                .ends_with("_us-east-2_20150817T150131Z.json.gz")
        );
        assert_eq!(
            d.digest_public_key_fingerprint,
            "31e8b5433410dfb61a9dc45cc65b22ff"
        );
        assert_eq!(d.digest_signature_algorithm, "SHA256withRSA");
        assert_eq!(d.newest_event_time.as_deref(), Some("2015-08-17T14:52:27Z"));
        assert_eq!(d.oldest_event_time.as_deref(), Some("2015-08-17T14:42:27Z"));
        assert_eq!(
            d.previous_digest_s3_bucket.as_deref(),
            Some("S3-bucket-name")
        );
        assert!(
            d.previous_digest_s3_object
                .as_deref()
                .unwrap()
                .ends_with("_20150817T140131Z.json.gz")
        );
        assert_eq!(
            d.previous_digest_hash_value.as_deref(),
            Some("97fb791cf91ffc440d274f8190dbdd9aa09c34432aba82739df18b6d3c13df2d")
        );
        assert_eq!(d.previous_digest_hash_algorithm.as_deref(), Some("SHA-256"));
        assert_eq!(d.previous_digest_signature.as_deref().unwrap().len(), 512);
        assert_eq!(d.log_files.len(), 1);
        let f = &d.log_files[0];
        assert_eq!(f.s3_bucket, "S3-bucket-name");
        assert!(
            f.s3_object
                .ends_with("_20150817T1445Z_9nYN7gp2eWAJHIfT.json.gz")
        );
        assert_eq!(
            f.hash_value,
            "9bb6196fc6b84d6f075a56548feca262bd99ba3c2de41b618e5b6e22c1fc71f6"
        );
        assert_eq!(f.hash_algorithm, "SHA-256");
        assert_eq!(f.newest_event_time.as_deref(), Some("2015-08-17T14:52:27Z"));
        assert_eq!(f.oldest_event_time.as_deref(), Some("2015-08-17T14:42:27Z"));
    }

    /// The signed string of the guide sample. The SHA-256 of the sample's bytes was computed
    /// with coreutils `sha256sum`, independently of this crate.
    #[test]
    fn string_to_sign_of_the_guide_sample() {
        let d = DigestFile::parse(GUIDE_SAMPLE.as_bytes()).unwrap();
        let s = d.string_to_sign(GUIDE_SAMPLE.as_bytes());
        let lines: Vec<&str> = s.split('\n').collect();
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[0], "2015-08-17T15:01:31Z");
        assert_eq!(
            lines[1],
            "S3-bucket-name/AWSLogs/111122223333/CloudTrail-Digest/us-east-2/2015/08/17/111122223333_CloudTrail-Digest_us-east-2_your-trail-name_us-east-2_20150817T150131Z.json.gz"
        );
        assert_eq!(lines[2], GUIDE_SAMPLE_SHA256);
        assert_eq!(lines[3], d.previous_digest_signature.as_deref().unwrap());
        assert!(!s.ends_with('\n'));
    }

    /// `sha256sum` of [`GUIDE_SAMPLE`]'s bytes.
    const GUIDE_SAMPLE_SHA256: &str =
        "af90c765b03779562fcc7a88d9c5b05ab5e479856a7c8d655ab67e339e0593ee";

    #[test]
    fn a_starting_digest_signs_the_literal_null() {
        let d = DigestFile::parse(GUIDE_EMPTY.as_bytes()).unwrap();
        assert!(d.log_files.is_empty());
        assert_eq!(d.newest_event_time, None);
        let s = d.string_to_sign(GUIDE_EMPTY.as_bytes());
        assert!(s.ends_with("\nnull"), "{s}");
        assert!(s.starts_with("2015-08-20T18:01:31Z\nexample-bucket-name/AWSLogs/"));
    }
}
