//! Devices a person has signed in on (issue 32, after OWASP's "device cookies"): a successful
//! sign-in hands the browser a token signed for that account's email, and a sign-in that shows
//! it is not paced with the account's other attempts. So whoever types wrong passwords for
//! someone else slows that account down only on devices it has never been used on; the owner's
//! own phone or computer signs in at once. A device token is not a credential: the password is
//! still needed, and each token has a hard limit of its own.
//!
//! Signed, not stored: the HMAC key is derived from the master key (`crate::keys`), so every
//! process checks it alike and a copy of the database forges none.

use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

const VERSION: u8 = 1;
const NONCE: usize = 16;
const MAC: usize = 16;

fn mac(key: &[u8], nonce: &[u8], email: &str) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(b"yishi:device:");
    mac.update(nonce);
    mac.update(email.as_bytes());
    mac
}

/// A new device token for the account with this (normalised) email.
pub fn issue(key: &[u8], email: &str) -> String {
    let mut bytes = Vec::with_capacity(1 + NONCE + MAC);
    bytes.push(VERSION);
    let mut nonce = [0u8; NONCE];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    bytes.extend_from_slice(&nonce);
    bytes.extend_from_slice(&mac(key, &nonce, email).finalize().into_bytes()[..MAC]);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The device's id when `token` was issued for `email` under one of `keys`; none otherwise.
pub fn recognise(keys: &[[u8; 32]], email: &str, token: &str) -> Option<String> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token.trim())
        .ok()?;
    if bytes.len() != 1 + NONCE + MAC || bytes[0] != VERSION {
        return None;
    }
    let (nonce, tag) = bytes[1..].split_at(NONCE);
    keys.iter()
        .any(|key| mac(key, nonce, email).verify_truncated_left(tag).is_ok())
        .then(|| hex::encode(nonce))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_device_token_is_recognised_only_for_its_account_and_key() {
        let (key, other) = ([7u8; 32], [8u8; 32]);
        let token = issue(&key, "a@example.org");
        let id = recognise(&[other, key], "a@example.org", &token).expect("recognised");
        assert_eq!(id.len(), 2 * NONCE);
        assert_eq!(recognise(&[key], "b@example.org", &token), None);
        assert_eq!(recognise(&[other], "a@example.org", &token), None);
        let mut altered = token.clone().into_bytes();
        altered[5] = if altered[5] == b'A' { b'B' } else { b'A' };
        let altered = String::from_utf8(altered).unwrap();
        assert_eq!(recognise(&[key], "a@example.org", &altered), None);
        assert_eq!(recognise(&[key], "a@example.org", "not a token"), None);
        assert_ne!(issue(&key, "a@example.org"), token, "each device its own");
    }
}
