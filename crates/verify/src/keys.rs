//! CloudTrail's public keys, from the JSON of `aws cloudtrail list-public-keys`, and the
//! SHA256withRSA (PKCS#1 v1.5) check of a digest signature against them.
//!
//! `list-public-keys` prints `{"PublicKeyList": [{"Value": <base64 DER PKCS#1
//! RSAPublicKey>, "ValidityStartTime", "ValidityEndTime", "Fingerprint": <hex>}]}`. CloudTrail
//! uses one key pair per region at a time, so a trail spanning regions needs the keys of
//! every region: give one file per region (or one merged list).

use std::collections::BTreeMap;

use base64::Engine as _;
use rsa::pkcs1::DecodeRsaPublicKey;
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::sha2::Sha256;
use rsa::signature::Verifier;
use serde::Deserialize;

/// Why a public-keys file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Not the JSON of `list-public-keys`.
    #[error("not the JSON of `aws cloudtrail list-public-keys`: {0}")]
    Json(#[from] serde_json::Error),
    /// A key whose `Value` is not base64 DER of a PKCS#1 RSA public key.
    #[error("public key {fingerprint}: {message}")]
    Key {
        /// The key's fingerprint as listed.
        fingerprint: String,
        /// What was wrong.
        message: String,
    },
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct KeyList {
    public_key_list: Vec<ListedKey>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListedKey {
    value: String,
    fingerprint: String,
}

/// The outcome of checking one signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureCheck {
    /// The signature verifies with the named key.
    Valid,
    /// It does not (the digest, its recorded location or the previous signature changed,
    /// or the signature is not CloudTrail's).
    Invalid,
    /// No key with the fingerprint the digest names was given.
    NoKey,
    /// The signature is not hex.
    Malformed,
}

/// Public keys by fingerprint.
#[derive(Default)]
pub struct PublicKeys {
    keys: BTreeMap<String, VerifyingKey<Sha256>>,
}

impl PublicKeys {
    /// Adds the keys of one `list-public-keys` JSON document.
    pub fn add_json(&mut self, text: &str) -> Result<usize, KeyError> {
        let list: KeyList = serde_json::from_str(text)?;
        let n = list.public_key_list.len();
        for k in list.public_key_list {
            let bad = |message: String| KeyError::Key {
                fingerprint: k.fingerprint.clone(),
                message,
            };
            let der = base64::engine::general_purpose::STANDARD
                .decode(k.value.trim())
                .map_err(|e| bad(format!("Value is not base64: {e}")))?;
            let key = rsa::PublicKey::from_pkcs1_der(&der)
                .map_err(|e| bad(format!("Value is not a PKCS#1 RSA public key: {e}")))?;
            self.keys
                .insert(k.fingerprint.to_ascii_lowercase(), VerifyingKey::new(key));
        }
        Ok(n)
    }

    /// Number of keys known.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// True when no key was given: signatures cannot be checked.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Checks the hex `signature` of `message` with the key of `fingerprint`.
    pub fn check(&self, fingerprint: &str, message: &[u8], signature: &str) -> SignatureCheck {
        let Some(key) = self.keys.get(&fingerprint.to_ascii_lowercase()) else {
            return SignatureCheck::NoKey;
        };
        let Ok(bytes) = hex::decode(signature.trim()) else {
            return SignatureCheck::Malformed;
        };
        let Ok(sig) = Signature::try_from(bytes.as_slice()) else {
            return SignatureCheck::Malformed;
        };
        match key.verify(message, &sig) {
            Ok(()) => SignatureCheck::Valid,
            Err(_) => SignatureCheck::Invalid,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A key pair and signature made with OpenSSL 3.0 (`openssl genrsa 2048`; `openssl
    /// dgst -sha256 -sign` over [`MESSAGE`]; `openssl rsa -RSAPublicKey_out -outform DER`,
    /// base64): a known answer from an implementation other than the one under test.
    const OPENSSL_KEY: &str = "MIIBCgKCAQEAtOEarXAzrd/RxOnFJudMvGMfuXPCcaSUDwtojB7J7NNurkzOQQCN578HIEzo9ZbVtPrgH4pSeuf19hkbhQws/DlqnDa3N3DN8zk3oL1Riz4nf0Qb9Td58dPmrJAqYha3I7/zc5I/0dBown2UYAwFUHEnZTNKQeqjIneUoenKud7ZNPky2baCo0egzemT5AJooAx3G9uoxE+v9fLONTZ2i/AsJyKA39Jb8VWj8IeaVJ74V9/Vqe/Cy7wJvs39Bovxn68v/j+wP0VhVuDtGhhVNwKxEqCjTiCAlMgtQIcRibh9dC1Cn4mgsa7Zs7xEfndQqygLYKAoWwq2uxxj8VEg8QIDAQAB";
    const OPENSSL_SIGNATURE: &str = "9a8fbdb3d060136f0d523acd819e29225e9fba07bccbb0b79054a9af5e8857eedd52edd27086ec7b5f588df740440a94f9add9d1d12123d2204a6974f460bd6010dab20e94fbb11bca4029c3976c96d57d4b171871199e83d2bb6e8cebf4e75a7d5568498079fb337cbf3f3792dca97cb0d3413cd25eaadcb66ab6baacb10b48d5d12c8d28562e0ad563217a6fe6db5a449a565144ad8df4667963787b0cfc4adfd9be2345b9dda7c76222f4415285917cdf5a62ebc8402f44ca86244249f69f42a5fc6dac5cc73c9d398ca1a5e8b62c5f01a27f7eebb73d6fafdc7be3e39372381bd9d22d30f31cb37e9890e4ce8d211fc05a777e9af1d789189e4745ab9e5e";
    /// The string to sign of the user guide's sample digest if it started a chain.
    const MESSAGE: &str = "2015-08-17T15:01:31Z\nS3-bucket-name/AWSLogs/111122223333/CloudTrail-Digest/us-east-2/2015/08/17/111122223333_CloudTrail-Digest_us-east-2_your-trail-name_us-east-2_20150817T150131Z.json.gz\naf90c765b03779562fcc7a88d9c5b05ab5e479856a7c8d655ab67e339e0593ee\nnull";

    fn keys() -> PublicKeys {
        let json = format!(
            r#"{{"PublicKeyList": [{{"Value": "{OPENSSL_KEY}", "ValidityStartTime": "2015-01-01T00:00:00+00:00", "ValidityEndTime": "2016-01-01T00:00:00+00:00", "Fingerprint": "31E8B5433410DFB61A9DC45CC65B22FF"}}]}}"#
        );
        let mut k = PublicKeys::default();
        assert_eq!(k.add_json(&json).unwrap(), 1);
        k
    }

    #[test]
    fn an_openssl_signature_verifies() {
        let k = keys();
        let fp = "31e8b5433410dfb61a9dc45cc65b22ff";
        assert_eq!(
            k.check(fp, MESSAGE.as_bytes(), OPENSSL_SIGNATURE),
            SignatureCheck::Valid
        );
        // One character of the signed string changed: the signature fails.
        let changed = MESSAGE.replace("15:01:31Z\n", "15:01:32Z\n");
        assert_eq!(
            k.check(fp, changed.as_bytes(), OPENSSL_SIGNATURE),
            SignatureCheck::Invalid
        );
        // A trailing newline is not part of the signed string.
        let newline = format!("{MESSAGE}\n");
        assert_eq!(
            k.check(fp, newline.as_bytes(), OPENSSL_SIGNATURE),
            SignatureCheck::Invalid
        );
        assert_eq!(
            k.check("00", MESSAGE.as_bytes(), OPENSSL_SIGNATURE),
            SignatureCheck::NoKey
        );
        assert_eq!(
            k.check(fp, MESSAGE.as_bytes(), "not hex"),
            SignatureCheck::Malformed
        );
    }

    #[test]
    fn bad_key_files_say_why() {
        let mut k = PublicKeys::default();
        assert!(matches!(k.add_json("{}"), Err(KeyError::Json(_))));
        let e = k
            .add_json(r#"{"PublicKeyList":[{"Value":"AAAA","Fingerprint":"ab"}]}"#)
            .unwrap_err();
        assert!(e.to_string().contains("ab"), "{e}");
    }
}
