//! Tickets that open a websocket (a live room, or the personal feed): signed, not stored, so
//! that issuing one costs no write. Each says whose sign-in asked for it, for which room, and
//! until when, under an HMAC with a key derived from the master key outside the database
//! (`crate::keys`; every process checks with the same key). It is recorded, hashed, only when used, and a second use finds it recorded.

use base64::Engine;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use uuid::Uuid;

const VERSION: u8 = 1;
/// Version, scope, person, sign-in, expiry (seconds), nonce.
const CLAIMS: usize = 1 + 16 + 16 + 16 + 8 + 16;
const MAC: usize = 32;

/// What a genuine, unexpired ticket vouches for.
#[derive(Debug, PartialEq, Eq)]
pub struct Claims {
    pub user: Uuid,
    pub sign_in: Uuid,
    pub expires_at: DateTime<Utc>,
}

fn mac(key: &[u8], claims: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(b"yishi:ticket:");
    mac.update(claims);
    mac
}

/// A ticket for `scope` (a session's id, or the feed's) valid until `expires_at`.
pub fn sign(
    key: &[u8],
    scope: Uuid,
    user: Uuid,
    sign_in: Uuid,
    expires_at: DateTime<Utc>,
) -> String {
    let mut bytes = Vec::with_capacity(CLAIMS + MAC);
    bytes.push(VERSION);
    bytes.extend_from_slice(scope.as_bytes());
    bytes.extend_from_slice(user.as_bytes());
    bytes.extend_from_slice(sign_in.as_bytes());
    bytes.extend_from_slice(&expires_at.timestamp().to_be_bytes());
    let mut nonce = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    bytes.extend_from_slice(&nonce);
    let tag = mac(key, &bytes).finalize().into_bytes();
    bytes.extend_from_slice(&tag);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The claims of a ticket signed with `key` for `scope` and not expired at `now`; none for
/// anything else (forged, altered, another room's, expired, or not a ticket at all).
pub fn verify(key: &[u8], ticket: &str, scope: Uuid, now: DateTime<Utc>) -> Option<Claims> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(ticket.trim())
        .ok()?;
    if bytes.len() != CLAIMS + MAC || bytes[0] != VERSION {
        return None;
    }
    let (claims, tag) = bytes.split_at(CLAIMS);
    mac(key, claims).verify_slice(tag).ok()?;
    let uuid = |at: usize| Uuid::from_slice(&claims[at..at + 16]).ok();
    if uuid(1)? != scope {
        return None;
    }
    let expires = i64::from_be_bytes(claims[49..57].try_into().ok()?);
    let expires_at = DateTime::from_timestamp(expires, 0)?;
    (now < expires_at).then_some(Claims {
        user: uuid(17)?,
        sign_in: uuid(33)?,
        expires_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tickets_verify_only_for_their_room_key_and_time() {
        let key = b"0123456789abcdef0123456789abcdef";
        let (room, user, sign_in) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let until = now + chrono::Duration::seconds(60);
        let ticket = sign(key, room, user, sign_in, until);
        let claims = Claims {
            user,
            sign_in,
            expires_at: until,
        };
        assert_eq!(verify(key, &ticket, room, now), Some(claims));
        // Two tickets for the same thing differ (each is used once).
        assert_ne!(ticket, sign(key, room, user, sign_in, until));
        // Another room, another key, expired, altered anywhere, cut short, or garbage: refused.
        assert_eq!(verify(key, &ticket, Uuid::new_v4(), now), None);
        assert_eq!(verify(b"another key", &ticket, room, now), None);
        assert_eq!(verify(key, &ticket, room, until), None);
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&ticket)
            .unwrap();
        for i in 0..raw.len() {
            let mut altered = raw.clone();
            altered[i] ^= 1;
            let altered = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(altered);
            assert_eq!(verify(key, &altered, room, now), None, "byte {i} altered");
        }
        assert_eq!(verify(key, &ticket[..ticket.len() - 4], room, now), None);
        assert_eq!(verify(key, "garbage", room, now), None);
        assert_eq!(verify(key, "", room, now), None);
    }
}
