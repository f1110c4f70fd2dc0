//! The idempotent answer to a ballot, sealed for the client that holds the Idempotency-Key.

use rand::RngCore;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::model::BallotReceipt;

/// The idempotent answer to a ballot is stored sealed under a key derived from the client's
/// Idempotency-Key, which only the client holds: the stored answer links voter and receipt
/// only for someone with the key. AES-256-GCM, the key HMAC-SHA256(Idempotency-Key, poll and
/// voter), a random nonce, poll and voter as associated data; stored as `v2:` + hex(nonce ‖
/// ciphertext).
const SEAL_V2: &str = "v2:";

fn answer_key(poll_id: Uuid, user: Uuid, key: &str) -> aes_gcm::Aes256Gcm {
    use aes_gcm::KeyInit;
    use hmac::{Hmac, Mac};
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key.as_bytes()).expect("any key length");
    mac.update(b"yishi-ballot-answer\0");
    mac.update(poll_id.as_bytes());
    mac.update(user.as_bytes());
    aes_gcm::Aes256Gcm::new_from_slice(&mac.finalize().into_bytes()).expect("a 32-byte key")
}

fn bound(poll_id: Uuid, user: Uuid) -> Vec<u8> {
    [poll_id.as_bytes().as_slice(), user.as_bytes().as_slice()].concat()
}

pub(super) fn seal(poll_id: Uuid, user: Uuid, key: &str, answer: &BallotReceipt) -> String {
    use aes_gcm::aead::{Aead, Payload};
    let plain = serde_json::to_vec(answer).unwrap_or_default();
    let mut nonce = [0u8; 12];
    rand::thread_rng().fill_bytes(&mut nonce);
    let aad = bound(poll_id, user);
    let sealed = answer_key(poll_id, user, key)
        .encrypt(
            aes_gcm::Nonce::from_slice(&nonce),
            Payload {
                msg: &plain,
                aad: &aad,
            },
        )
        .expect("encryption does not fail for in-memory buffers");
    format!("{SEAL_V2}{}{}", hex::encode(nonce), hex::encode(sealed))
}

pub(super) fn unseal(poll_id: Uuid, user: Uuid, key: &str, sealed: &str) -> Option<BallotReceipt> {
    use aes_gcm::aead::{Aead, Payload};
    let Some(rest) = sealed.strip_prefix(SEAL_V2) else {
        return unseal_v1(poll_id, user, key, sealed);
    };
    let bytes = hex::decode(rest).ok()?;
    let (nonce, body) = bytes.split_at_checked(12)?;
    let aad = bound(poll_id, user);
    let plain = answer_key(poll_id, user, key)
        .decrypt(
            aes_gcm::Nonce::from_slice(nonce),
            Payload {
                msg: body,
                aad: &aad,
            },
        )
        .ok()?;
    serde_json::from_slice(&plain).ok()
}

/// Answers stored before `v2` (a SHA-256 keystream XOR): read, never written, so that a client
/// retrying across the upgrade still gets its receipt.
fn unseal_v1(poll_id: Uuid, user: Uuid, key: &str, sealed: &str) -> Option<BallotReceipt> {
    serde_json::from_slice(&xor_v1(poll_id, user, key, &hex::decode(sealed).ok()?)).ok()
}

fn xor_v1(poll_id: Uuid, user: Uuid, key: &str, data: &[u8]) -> Vec<u8> {
    data.chunks(32)
        .enumerate()
        .flat_map(|(i, chunk)| {
            let mut h = Sha256::new();
            h.update(b"yishi-ballot-seal\0");
            h.update(poll_id.as_bytes());
            h.update(user.as_bytes());
            h.update(key.as_bytes());
            h.update((i as u64).to_be_bytes());
            let block = h.finalize();
            chunk
                .iter()
                .zip(block)
                .map(|(a, b)| a ^ b)
                .collect::<Vec<u8>>()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn receipt() -> BallotReceipt {
        BallotReceipt {
            poll_id: Uuid::nil(),
            voter_id: Uuid::nil(),
            receipt: "r-123".into(),
            via: "online".into(),
            choices: None,
        }
    }

    #[test]
    fn an_answer_opens_only_with_its_key_poll_and_voter() {
        let (poll, user, key) = (Uuid::new_v4(), Uuid::new_v4(), "0123456789abcdef-key");
        let sealed = seal(poll, user, key, &receipt());
        assert!(sealed.starts_with(SEAL_V2));
        let opened = unseal(poll, user, key, &sealed).expect("opens");
        assert_eq!(opened.receipt, receipt().receipt);
        // Two seals of one answer differ (a fresh nonce), and nothing else opens it.
        assert_ne!(sealed, seal(poll, user, key, &receipt()));
        assert!(unseal(poll, user, "another-key-0123456", &sealed).is_none());
        assert!(unseal(Uuid::new_v4(), user, key, &sealed).is_none());
        assert!(unseal(poll, Uuid::new_v4(), key, &sealed).is_none());
        // A flipped bit in the stored text does not open (the tag fails).
        let last = sealed.chars().last().unwrap();
        let flipped = if last == '0' { '1' } else { '0' };
        let altered = format!("{}{flipped}", &sealed[..sealed.len() - 1]);
        assert!(unseal(poll, user, key, &altered).is_none());
    }

    #[test]
    fn an_answer_stored_before_v2_still_opens() {
        let (poll, user, key) = (Uuid::new_v4(), Uuid::new_v4(), "0123456789abcdef-key");
        let plain = serde_json::to_vec(&receipt()).unwrap();
        let old = hex::encode(xor_v1(poll, user, key, &plain));
        assert_eq!(
            unseal(poll, user, key, &old).map(|r| r.receipt),
            Some(receipt().receipt)
        );
    }
}
