//! A small, fast, seedable PRNG (xoshiro256**, seeded through SplitMix64) and the
//! AWS-shaped identifiers drawn from it.
//!
//! Hand-written so the output depends on nothing but the seed: no crate upgrade can
//! change a byte of a generated trail.

use std::fmt::Write as _;

/// xoshiro256** state.
#[derive(Clone, Debug)]
pub(crate) struct Rng {
    s: [u64; 4],
}

fn splitmix64(x: &mut u64) -> u64 {
    *x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *x;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const UPPER_ALNUM: &[u8; 36] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const MIXED_ALNUM: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const LOWER_ALNUM: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";
const HEX: &[u8; 16] = b"0123456789abcdef";
const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

impl Rng {
    /// One independent stream per (seed, stream) pair, so that e.g. the incidents do not
    /// change when the number of background events changes.
    pub(crate) fn stream(seed: u64, stream: u64) -> Self {
        let mut x = seed ^ stream.wrapping_mul(0xA076_1D64_78BD_642F);
        let s = [
            splitmix64(&mut x),
            splitmix64(&mut x),
            splitmix64(&mut x),
            splitmix64(&mut x),
        ];
        Rng { s }
    }

    #[inline]
    pub(crate) fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// Uniform in `0..n` (Lemire's multiply-shift; the tiny bias is irrelevant here).
    #[inline]
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        debug_assert!(n > 0);
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    /// Uniform in `lo..hi` (`hi` exclusive, `hi > lo`).
    #[inline]
    pub(crate) fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo) as u64) as i64
    }

    #[inline]
    pub(crate) fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    #[inline]
    pub(crate) fn chance(&mut self, p: f64) -> bool {
        self.f64() < p
    }

    #[inline]
    pub(crate) fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }

    fn push_chars(&mut self, out: &mut String, alphabet: &[u8], n: usize) {
        for _ in 0..n {
            out.push(alphabet[self.below(alphabet.len() as u64) as usize] as char);
        }
    }

    pub(crate) fn hex(&mut self, n: usize) -> String {
        let mut s = String::with_capacity(n);
        self.push_chars(&mut s, HEX, n);
        s
    }

    pub(crate) fn upper_alnum(&mut self, n: usize) -> String {
        let mut s = String::with_capacity(n);
        self.push_chars(&mut s, UPPER_ALNUM, n);
        s
    }

    pub(crate) fn mixed_alnum(&mut self, n: usize) -> String {
        let mut s = String::with_capacity(n);
        self.push_chars(&mut s, MIXED_ALNUM, n);
        s
    }

    pub(crate) fn lower_alnum(&mut self, n: usize) -> String {
        let mut s = String::with_capacity(n);
        self.push_chars(&mut s, LOWER_ALNUM, n);
        s
    }

    pub(crate) fn base64(&mut self, n: usize) -> String {
        let mut s = String::with_capacity(n);
        self.push_chars(&mut s, B64, n);
        s
    }

    /// Random (version 4) UUID, lowercase, as CloudTrail writes eventID/requestID.
    pub(crate) fn uuid(&mut self) -> String {
        let mut s = String::with_capacity(36);
        self.push_uuid(&mut s);
        s
    }

    pub(crate) fn push_uuid(&mut self, s: &mut String) {
        let a = self.next_u64();
        let b = self.next_u64();
        let hi = (a & 0xFFFF_FFFF_FFFF_0FFF) | 0x0000_0000_0000_4000;
        let lo = (b & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000;
        let _ = write!(
            s,
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            hi >> 32,
            (hi >> 16) & 0xFFFF,
            hi & 0xFFFF,
            lo >> 48,
            lo & 0xFFFF_FFFF_FFFF
        );
    }

    /// An AWS unique id of `prefix` + `len` base32 characters whose leading bits encode
    /// `account`, exactly like real access key ids and principal ids do (the account can
    /// be decoded from any AKIA/ASIA/AIDA/AROA id).
    pub(crate) fn aws_id(&mut self, prefix: &str, account: u64, len: usize) -> String {
        // 6 bytes: 1 bit set, 40 bits of account, 7 random bits; then random bytes.
        let head = (1u64 << 47) | ((account & 0xFF_FFFF_FFFF) << 7) | (self.next_u64() & 0x7F);
        let mut bytes = [0u8; 15];
        bytes[..6].copy_from_slice(&head.to_be_bytes()[2..]);
        let tail = self.next_u64().to_be_bytes();
        let tail2 = self.next_u64().to_be_bytes();
        bytes[6..14].copy_from_slice(&tail);
        bytes[14] = tail2[0];
        let mut out = String::with_capacity(prefix.len() + len);
        out.push_str(prefix);
        let mut acc: u32 = 0;
        let mut bits = 0;
        for &b in &bytes {
            acc = (acc << 8) | b as u32;
            bits += 8;
            while bits >= 5 {
                bits -= 5;
                out.push(BASE32[((acc >> bits) & 31) as usize] as char);
                if out.len() == prefix.len() + len {
                    return out;
                }
            }
        }
        out
    }

    /// Access key id: `AKIA`/`ASIA` + 16 characters.
    pub(crate) fn access_key(&mut self, prefix: &str, account: u64) -> String {
        self.aws_id(prefix, account, 16)
    }

    /// Principal id of a user (`AIDA`) or role (`AROA`): prefix + 17 characters.
    pub(crate) fn principal_id(&mut self, prefix: &str, account: u64) -> String {
        self.aws_id(prefix, account, 17)
    }

    /// Looks like an STS session token (opaque base64 that starts the way AWS's do).
    pub(crate) fn session_token(&mut self) -> String {
        let mut s = String::from("IQoJb3JpZ2luX2VjE");
        let n = 560 + self.below(200) as usize;
        self.push_chars(&mut s, B64, n);
        let pad = (4 - s.len() % 4) % 4;
        for _ in 0..pad {
            s.push('=');
        }
        s
    }

    /// `i-0` + 16 hex digits.
    pub(crate) fn instance_id(&mut self) -> String {
        format!("i-0{}", self.hex(16))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_account(key: &str) -> u64 {
        let mut acc: u128 = 0;
        let body = &key[4..20];
        for c in body.bytes() {
            let v = BASE32.iter().position(|&b| b == c).unwrap() as u128;
            acc = (acc << 5) | v;
        }
        // 80 bits; the first 48 hold the header
        let head = (acc >> 32) as u64;
        (head & 0x7FFF_FFFF_FF80) >> 7
    }

    #[test]
    fn key_ids_encode_the_account() {
        let mut r = Rng::stream(7, 1);
        for acct in [218_007_301_253u64, 111_122_223_333, 999_999_999_999] {
            let k = r.access_key("ASIA", acct);
            assert_eq!(k.len(), 20);
            assert_eq!(decode_account(&k), acct, "{k}");
            let p = r.principal_id("AROA", acct);
            assert_eq!(p.len(), 21);
            assert_eq!(decode_account(&p), acct, "{p}");
        }
        // the real key from the invictus-ir dataset decodes the same way
        assert_eq!(decode_account("AKIATFQR7NSCUXC3DDDP"), 218_007_301_253);
    }

    #[test]
    fn uuid_is_v4() {
        let mut r = Rng::stream(1, 2);
        let u = r.uuid();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert!(matches!(&u[19..20], "8" | "9" | "a" | "b"));
    }
}
