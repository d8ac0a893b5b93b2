//! Signed digest files, as CloudTrail writes them with log file validation on (CloudTrail
//! user guide, "CloudTrail digest file structure" and "Custom implementations of CloudTrail
//! log file integrity validation").
//!
//! Every account and region of the trail gets one digest an hour, also for hours without
//! log files, listing the files delivered in that hour with the hex SHA-256 of their
//! decompressed content, chained through `previousDigest*` from a starting digest whose
//! previous fields are null. Each digest is signed SHA256withRSA (PKCS#1 v1.5) over
//! `digestEndTime \n bucket/key \n hex SHA-256 of the decompressed digest \n previous
//! signature or "null"`, with a 2048-bit test key generated from the seed. S3 keeps a
//! digest's signature in the object's metadata; here it goes to
//! `ground-truth/digest-signatures.json` (key to hex signature), and the key to
//! `ground-truth/public-keys.json` in the form of `aws cloudtrail list-public-keys`.

use std::collections::HashMap;
use std::fs;

use base64::Engine as _;
use rand::SeedableRng;
use rsa::pkcs1::EncodeRsaPublicKey;
use rsa::pkcs1v15::SigningKey;
use rsa::sha2::{Digest as _, Sha256};
use rsa::signature::{SignatureEncoding, Signer};
use serde_json::json;

use super::{LogMeta, Output, io_err};
use crate::SynthError;
use crate::time::{day_path, digest_stamp, iso};
use crate::world::REGIONS;

/// A log file and the hex SHA-256 of its content.
type Hashed = (LogMeta, String);

/// The test key pair and what `list-public-keys` would say about it.
struct TestKey {
    signer: SigningKey<Sha256>,
    /// Base64 DER of the PKCS#1 RSAPublicKey.
    public: String,
    /// Hex, 32 digits like CloudTrail's (here: the first 16 bytes of the DER's SHA-256).
    fingerprint: String,
}

impl TestKey {
    fn generate(seed: u64) -> Result<TestKey, SynthError> {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed ^ 0x6469_6765_7374_6b65);
        let fail = |e: &dyn std::fmt::Display| SynthError::InvalidOptions(format!("test key: {e}"));
        let key = rsa::PrivateKey::new(&mut rng, 2048).map_err(|e| fail(&e))?;
        let der = key
            .to_public_key()
            .to_pkcs1_der()
            .map_err(|e| fail(&e))?
            .as_bytes()
            .to_vec();
        Ok(TestKey {
            signer: SigningKey::new(key),
            public: base64::engine::general_purpose::STANDARD.encode(&der),
            fingerprint: hex::encode(&Sha256::digest(&der)[..16]),
        })
    }

    fn sign(&self, message: &str) -> String {
        hex::encode(self.signer.sign(message.as_bytes()).to_vec())
    }
}

impl Output {
    /// Writes the signed digests of every account, region and hour, then the public key and
    /// the signatures.
    pub(super) fn write_signed_digests(
        &mut self,
        hashed: &[(LogMeta, String)],
        seed: u64,
    ) -> Result<(), SynthError> {
        let key = TestKey::generate(seed)?;
        let hours = (self.end - self.start).div_euclid(3600);
        let mut signatures = serde_json::Map::new();
        let mut by_hour: HashMap<(usize, usize, usize), Vec<&Hashed>> = HashMap::new();
        for h in hashed {
            by_hour
                .entry((h.0.acct, h.0.region, h.0.period))
                .or_default()
                .push(h);
        }
        for acct in 0..self.accounts.len() {
            for region in 0..REGIONS.len() {
                let mut previous: Option<(String, String, String)> = None;
                for period in 0..hours as usize {
                    let files = by_hour.remove(&(acct, region, period)).unwrap_or_default();
                    let start = self.start + 3600 * period as i64;
                    let (key_name, text) = self.digest_doc(
                        acct,
                        region,
                        (start, start + 3600),
                        &files,
                        previous.as_ref(),
                        &key.fingerprint,
                    );
                    let hash = hex::encode(Sha256::digest(text.as_bytes()));
                    let message = format!(
                        "{}\n{}/{}\n{hash}\n{}",
                        iso(start + 3600),
                        self.bucket,
                        key_name,
                        previous.as_ref().map_or("null", |p| p.2.as_str())
                    );
                    let signature = key.sign(&message);
                    let (dir, name) = key_name.rsplit_once('/').expect("a digest key has folders");
                    self.write_gz(dir, name, text.as_bytes())?;
                    signatures.insert(key_name.clone(), json!(signature));
                    previous = Some((key_name, hash, signature));
                }
            }
        }
        let gt = self.root.join("ground-truth");
        fs::create_dir_all(&gt).map_err(|e| io_err(&gt, e))?;
        let keys = json!({"PublicKeyList": [{
            "Value": key.public,
            "ValidityStartTime": iso(self.start - 86_400),
            "ValidityEndTime": iso(self.end + 86_400),
            "Fingerprint": key.fingerprint,
        }]});
        for (name, value) in [
            ("public-keys.json", keys),
            (
                "digest-signatures.json",
                serde_json::Value::Object(signatures),
            ),
        ] {
            let path = gt.join(name);
            let text = serde_json::to_string_pretty(&value).expect("JSON serializes");
            fs::write(&path, text + "\n").map_err(|e| io_err(&path, e))?;
        }
        Ok(())
    }

    /// The object key and content of the digest of `[start, end]`; `previous` is the
    /// previous digest's key, hash and signature.
    pub(super) fn digest_doc(
        &self,
        acct: usize,
        region: usize,
        (start, end): (i64, i64),
        files: &[&(LogMeta, String)],
        previous: Option<&(String, String, String)>,
        fingerprint: &str,
    ) -> (String, String) {
        let a = &self.accounts[acct];
        let r = REGIONS[region];
        let home = REGIONS[crate::world::HOME];
        let key = format!(
            "{}/{a}/CloudTrail-Digest/{r}/{}/{a}_CloudTrail-Digest_{r}_{}_{home}_{}.json.gz",
            self.prefix,
            day_path(end),
            self.trail,
            digest_stamp(end)
        );
        let log_files: Vec<_> = files
            .iter()
            .map(|(m, h)| {
                json!({
                    "s3Bucket": self.bucket,
                    "s3Object": m.key,
                    "hashValue": h,
                    "hashAlgorithm": "SHA-256",
                    "newestEventTime": iso(m.newest),
                    "oldestEventTime": iso(m.oldest),
                })
            })
            .collect();
        let prev = |i: usize| match previous {
            Some(p) => json!([&p.0, &p.1, &p.2][i]),
            None => json!(null),
        };
        let doc = json!({
            "awsAccountId": a,
            "digestStartTime": iso(start),
            "digestEndTime": iso(end),
            "digestS3Bucket": self.bucket,
            "digestS3Object": key,
            "digestPublicKeyFingerprint": fingerprint,
            "digestSignatureAlgorithm": "SHA256withRSA",
            "newestEventTime": files.iter().map(|(m, _)| m.newest).max().map(iso),
            "oldestEventTime": files.iter().map(|(m, _)| m.oldest).min().map(iso),
            "previousDigestS3Bucket": if previous.is_some() { json!(self.bucket) } else { json!(null) },
            "previousDigestS3Object": prev(0),
            "previousDigestHashValue": prev(1),
            "previousDigestHashAlgorithm": if previous.is_some() { json!("SHA-256") } else { json!(null) },
            "previousDigestSignature": prev(2),
            "logFiles": log_files,
        });
        (key, doc.to_string())
    }
}
