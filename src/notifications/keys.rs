//! Signed unsubscribe links, under a key of `crate::keys`.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use uuid::Uuid;

/// The pseudo-category of a digest's link: turns off every category delivered by digest.
pub const DIGESTS: &str = "digests";

fn signature(key: &[u8], user: Uuid, category: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(format!("unsubscribe:v1:{user}:{category}").as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// A token that turns off `category` for `user`, and nothing else.
pub fn sign(key: &[u8], user: Uuid, category: &str) -> String {
    format!(
        "{}.{category}.{}",
        user.simple(),
        signature(key, user, category)
    )
}

/// The person and category a token was made for, if it is genuine.
pub fn verify(key: &[u8], token: &str) -> Option<(Uuid, String)> {
    let mut parts = token.trim().splitn(3, '.');
    let user = Uuid::parse_str(parts.next()?).ok()?;
    let category = parts.next()?.to_string();
    let given = hex::decode(parts.next()?).ok()?;
    let mut mac = Hmac::<Sha256>::new_from_slice(key).ok()?;
    mac.update(format!("unsubscribe:v1:{user}:{category}").as_bytes());
    mac.verify_slice(&given).ok()?;
    Some((user, category))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_and_alterations_fail() {
        let key = b"0123456789abcdef0123456789abcdef";
        let user = Uuid::new_v4();
        let token = sign(key, user, "votes");
        assert_eq!(verify(key, &token), Some((user, "votes".to_string())));
        // Another category, another person, another key, a flipped character: all refused.
        let other = token.replace(".votes.", ".proposals.");
        assert_eq!(verify(key, &other), None);
        let someone = format!("{}{}", Uuid::new_v4().simple(), &token[32..]);
        assert_eq!(verify(key, &someone), None);
        assert_eq!(verify(b"another key", &token), None);
        let mut flipped = token.clone().into_bytes();
        let last = flipped.len() - 1;
        flipped[last] = if flipped[last] == b'0' { b'1' } else { b'0' };
        assert_eq!(verify(key, &String::from_utf8(flipped).unwrap()), None);
        assert_eq!(verify(key, "garbage"), None);
    }
}
