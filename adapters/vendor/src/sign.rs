//! The signing primitives the vendors' schemes are built from (reference README §7.6):
//! HMAC-SHA256 (Tencent UserSig), SHA-256 / SHA-1 / MD5 in lower-case hex (Tencent
//! callbacks, NetEase and RongCloud checksums, JMessage), and a constant-time compare for
//! checking a signature a request carries.

use hmac::{Hmac, Mac};
use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256};

/// HMAC-SHA256 of `message` under `key`.
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(message);
    mac.finalize().into_bytes().into()
}

/// Lower-case hex SHA-256 of the concatenated `parts`.
pub fn sha256_hex(parts: &[&[u8]]) -> String {
    digest_hex::<Sha256>(parts)
}

/// Lower-case hex SHA-1 of the concatenated `parts`.
pub fn sha1_hex(parts: &[&[u8]]) -> String {
    digest_hex::<Sha1>(parts)
}

/// Lower-case hex MD5 of the concatenated `parts`.
pub fn md5_hex(parts: &[&[u8]]) -> String {
    digest_hex::<Md5>(parts)
}

fn digest_hex<D: Digest>(parts: &[&[u8]]) -> String {
    let mut d = D::new();
    for p in parts {
        d.update(p);
    }
    hex::encode(d.finalize())
}

/// Whether a received signature equals the expected one, in time independent of where they
/// differ. Hex is compared case-insensitively (some vendors send upper case).
pub fn hex_eq(expected: &str, received: &str) -> bool {
    use subtle::ConstantTimeEq;
    let received = received.to_ascii_lowercase();
    let expected = expected.to_ascii_lowercase();
    expected.len() == received.len() && bool::from(expected.as_bytes().ct_eq(received.as_bytes()))
}

/// Whether two secrets or tokens are equal, in constant time for equal lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digests() {
        // RFC 4231 test case 2.
        assert_eq!(
            hex::encode(hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            sha256_hex(&[b"ab", b"c"]),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            sha1_hex(&[b"abc"]),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        assert_eq!(md5_hex(&[b"abc"]), "900150983cd24fb0d6963f7d28e17f72");
    }

    #[test]
    fn compares() {
        assert!(hex_eq("ab12", "AB12"));
        assert!(!hex_eq("ab12", "ab13"));
        assert!(!hex_eq("ab12", "ab1"));
        assert!(constant_time_eq(b"x", b"x"));
        assert!(!constant_time_eq(b"x", b"xy"));
    }
}
