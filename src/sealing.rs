//! The master key: AES-256-GCM keys the application holds outside the database (a file,
//! `YISHI_SEALING_KEY_FILE`), so that a copy of the database alone reveals no sealed bid, no
//! queued one-time link, and lets no one forge a ticket or an unsubscribe link. It seals bids
//! (each ciphertext bound to its tender and organisation, so it cannot be moved onto another
//! row) and, through `derive`, gives every other key that must stay out of the database.
//!
//! The file holds one key per line (64 hex digits; `#` comments and blank lines ignored), the
//! current one first. `yishi keys rotate` puts a new key on top and seals again under it what
//! was sealed; older lines stay so that links signed under them still verify, and the last
//! line, the register's document key, stays for as long as the register does.

use std::io;
use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use rand::RngCore;
use sha2::Digest;
use uuid::Uuid;

/// Sealed before keys rotated: no key id, so every key of the ring is tried.
const LEGACY: &[u8] = b"y1";
/// Followed by the id of the key that sealed (4 bytes), the nonce and the ciphertext.
const VERSION: &[u8] = b"y2";

/// The keys of the file, the current one first.
#[derive(Clone)]
pub struct SealingKey(Vec<[u8; 32]>);

impl std::fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SealingKey({} keys, …)", self.0.len())
    }
}

fn key_id(key: &[u8; 32]) -> [u8; 4] {
    let digest = sha2::Sha256::digest(key);
    [digest[0], digest[1], digest[2], digest[3]]
}

fn fresh() -> [u8; 32] {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    bytes
}

fn parse(path: &Path, text: &str) -> io::Result<Vec<[u8; 32]>> {
    let bad = |line: usize| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "{} line {line} does not hold a 64-digit hex key",
                path.display()
            ),
        )
    };
    let mut keys = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bytes = hex::decode(line)
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or_else(|| bad(n + 1))?;
        keys.push(bytes);
    }
    if keys.is_empty() {
        return Err(bad(1));
    }
    Ok(keys)
}

/// Writes `text` whole under a name of its own, readable by its owner only, then puts it in
/// place: a process starting at the same moment sees the old file or the new, never a part.
/// With `replace` false an existing file wins (`AlreadyExists`).
fn write_whole(path: &Path, text: &str, replace: bool) -> io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension(format!("tmp-{}", rand::random::<u64>()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let written = options.open(&tmp).and_then(|mut f| {
        use std::io::Write;
        f.write_all(text.as_bytes())?;
        f.sync_all()
    });
    let placed = written.and_then(|()| {
        if replace {
            std::fs::rename(&tmp, path)
        } else {
            std::fs::hard_link(&tmp, path)
        }
    });
    let _ = std::fs::remove_file(&tmp);
    placed
}

impl SealingKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(vec![bytes])
    }

    /// Reads the key file, or creates it (readable by its owner only) on first start.
    /// Several processes share a database only if they share this file.
    pub fn load_or_create(path: &Path) -> io::Result<Self> {
        match std::fs::read_to_string(path) {
            Ok(text) => Ok(Self(parse(path, &text)?)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let bytes = fresh();
                match write_whole(path, &format!("{}\n", hex::encode(bytes)), false) {
                    Ok(()) => Ok(Self::from_bytes(bytes)),
                    // Another process created it first: use theirs.
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                        Self::load_or_create(path)
                    }
                    Err(e) => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// Puts a new key on top of the file and returns the ring it now holds. What was sealed
    /// must then be sealed again (`reseal`); the servers read the file when they start.
    pub fn rotate(path: &Path) -> io::Result<Self> {
        let old = Self::load_or_create(path)?;
        let mut keys = vec![fresh()];
        keys.extend(old.0);
        let text: String = keys.iter().map(|k| hex::encode(&k[..]) + "\n").collect();
        write_whole(path, &text, true)?;
        Ok(Self(keys))
    }

    /// How many keys the ring holds.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn mac(key: &[u8; 32], purpose: &str) -> [u8; 32] {
        use hmac::{Hmac, Mac};
        let mut mac =
            <Hmac<sha2::Sha256> as Mac>::new_from_slice(&key[..]).expect("any key length");
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// A key for another purpose, derived from the current key (HMAC-SHA256 over the purpose's
    /// name), so that one file outside the database holds every key that must stay out of it.
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        Self::mac(&self.0[0], purpose)
    }

    /// The purpose's key under every key of the ring, the current one first: what was signed
    /// before a rotation still verifies.
    pub fn derive_all(&self, purpose: &str) -> Vec<[u8; 32]> {
        self.0.iter().map(|k| Self::mac(k, purpose)).collect()
    }

    /// The purpose's key under the first key the file ever held (its last line), for what must
    /// not change when keys rotate: the register's document hashes are compared, not opened.
    pub fn derive_original(&self, purpose: &str) -> [u8; 32] {
        Self::mac(self.0.last().expect("a ring holds a key"), purpose)
    }

    fn cipher(key: &[u8; 32]) -> Aes256Gcm {
        Aes256Gcm::new_from_slice(&key[..]).expect("a 32-byte key")
    }

    /// `plain` sealed under the current key, bound to `aad` (it opens only with the same).
    pub fn seal_bound(&self, aad: &[u8], plain: &[u8]) -> Vec<u8> {
        let key = &self.0[0];
        let mut nonce = [0u8; 12];
        rand::thread_rng().fill_bytes(&mut nonce);
        let sealed = Self::cipher(key)
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: plain, aad })
            .expect("encryption does not fail for in-memory buffers");
        let mut out = Vec::with_capacity(VERSION.len() + 4 + nonce.len() + sealed.len());
        out.extend_from_slice(VERSION);
        out.extend_from_slice(&key_id(key));
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    /// The plaintext, or `None` when the bytes were altered, moved (another `aad`) or sealed
    /// with a key this ring does not hold.
    pub fn open_bound(&self, aad: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
        let try_open = |key: &[u8; 32], rest: &[u8]| {
            if rest.len() < 12 {
                return None;
            }
            let (nonce, body) = rest.split_at(12);
            Self::cipher(key)
                .decrypt(Nonce::from_slice(nonce), Payload { msg: body, aad })
                .ok()
        };
        if let Some(rest) = sealed.strip_prefix(VERSION) {
            let (id, rest) = rest.split_at_checked(4)?;
            let key = self.0.iter().find(|k| key_id(k) == id)?;
            return try_open(key, rest);
        }
        let rest = sealed.strip_prefix(LEGACY)?;
        self.0.iter().find_map(|k| try_open(k, rest))
    }

    /// Whether `sealed` is under the current key (else `reseal` has work to do).
    pub fn is_current(&self, sealed: &[u8]) -> bool {
        sealed
            .strip_prefix(VERSION)
            .is_some_and(|rest| rest.starts_with(&key_id(&self.0[0])))
    }

    pub fn seal(&self, tender: Uuid, organisation: Uuid, plain: &[u8]) -> Vec<u8> {
        self.seal_bound(&associated(tender, organisation), plain)
    }

    /// The plaintext, or `None` when the bytes were altered, moved or sealed with another key.
    pub fn open(&self, tender: Uuid, organisation: Uuid, sealed: &[u8]) -> Option<Vec<u8>> {
        self.open_bound(&associated(tender, organisation), sealed)
    }
}

/// The key, read (or created) when first needed: the server loads it at start so that a
/// missing or unreadable file stops it at once; commands that never seal do not touch it.
pub struct Sealing {
    path: std::path::PathBuf,
    key: std::sync::OnceLock<SealingKey>,
}

impl Sealing {
    pub fn new(path: std::path::PathBuf) -> Self {
        Self {
            path,
            key: std::sync::OnceLock::new(),
        }
    }

    /// The key, with an unreadable file reported as storage being unavailable (for the
    /// services that seal and open as they read and write the database).
    pub fn stored_key(&self) -> Result<&SealingKey, sea_orm::DbErr> {
        self.key()
            .map_err(|e| sea_orm::DbErr::Custom(format!("the master key file: {e}")))
    }

    pub fn key(&self) -> io::Result<&SealingKey> {
        if let Some(k) = self.key.get() {
            return Ok(k);
        }
        let loaded = SealingKey::load_or_create(&self.path)?;
        Ok(self.key.get_or_init(|| loaded))
    }
}

fn associated(tender: Uuid, organisation: Uuid) -> Vec<u8> {
    let mut aad = Vec::with_capacity(32);
    aad.extend_from_slice(tender.as_bytes());
    aad.extend_from_slice(organisation.as_bytes());
    aad
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_bids_open_only_where_they_were_sealed() {
        let key = SealingKey::from_bytes([7; 32]);
        let (t, o) = (Uuid::new_v4(), Uuid::new_v4());
        let plain = "报价 123456 分".as_bytes();
        let sealed = key.seal(t, o, plain);
        assert!(!sealed.windows(plain.len()).any(|w| w == plain));
        assert_eq!(key.open(t, o, &sealed).as_deref(), Some(plain));
        // Another row, another key, a flipped byte: nothing.
        assert_eq!(key.open(t, Uuid::new_v4(), &sealed), None);
        assert_eq!(SealingKey::from_bytes([8; 32]).open(t, o, &sealed), None);
        let mut altered = sealed.clone();
        let last = altered.len() - 1;
        altered[last] ^= 1;
        assert_eq!(key.open(t, o, &altered), None);
    }

    #[test]
    fn the_key_file_is_created_once_and_read_back() {
        let dir = std::env::temp_dir().join(format!("yishi-key-{}", Uuid::new_v4().simple()));
        let path = dir.join("sealing.key");
        let first = SealingKey::load_or_create(&path).unwrap();
        let again = SealingKey::load_or_create(&path).unwrap();
        assert_eq!(first.0, again.0);
        std::fs::write(&path, "not a key").unwrap();
        assert!(SealingKey::load_or_create(&path).is_err());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn after_a_rotation_old_seals_open_and_new_ones_use_the_new_key() {
        let dir = std::env::temp_dir().join(format!("yishi-key-{}", Uuid::new_v4().simple()));
        let path = dir.join("sealing.key");
        let before = SealingKey::load_or_create(&path).unwrap();
        let (t, o) = (Uuid::new_v4(), Uuid::new_v4());
        let old = before.seal(t, o, b"old");
        let after = SealingKey::rotate(&path).unwrap();
        assert_eq!(after.len(), 2);
        assert_eq!(SealingKey::load_or_create(&path).unwrap().0, after.0);
        // The old ciphertext opens under the ring but is not current; a new one is.
        assert_eq!(after.open(t, o, &old).as_deref(), Some(&b"old"[..]));
        assert!(before.is_current(&old) && !after.is_current(&old));
        let new = after.seal(t, o, b"new");
        assert!(after.is_current(&new));
        assert_eq!(before.open(t, o, &new), None);
        // A ciphertext of the first format (no key id) still opens.
        let mut legacy = b"y1".to_vec();
        legacy.extend_from_slice(&old[6..]);
        assert_eq!(after.open(t, o, &legacy).as_deref(), Some(&b"old"[..]));
        // Derived keys: the current one changes, the original one does not, all verify.
        assert_ne!(before.derive("p"), after.derive("p"));
        assert_eq!(before.derive_original("p"), after.derive_original("p"));
        assert_eq!(
            after.derive_all("p"),
            vec![after.derive("p"), before.derive("p")]
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
