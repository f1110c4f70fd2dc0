//! Sealed bids: contents encrypted with AES-256-GCM under a key the application holds outside
//! the database (a file, `YISHI_SEALING_KEY_FILE`), so that a copy of the database alone does
//! not reveal a bid. Each ciphertext is bound to its tender and organisation, so a sealed bid
//! cannot be moved onto another row.

use std::io;
use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use rand::RngCore;
use uuid::Uuid;

const VERSION: &[u8] = b"y1";

#[derive(Clone)]
pub struct SealingKey(Box<[u8; 32]>);

impl std::fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealingKey(…)")
    }
}

impl SealingKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(Box::new(bytes))
    }

    /// Reads the key file, or creates it (readable by its owner only) on first start.
    /// Several processes share a database only if they share this file.
    pub fn load_or_create(path: &Path) -> io::Result<Self> {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let bytes = hex::decode(text.trim())
                    .ok()
                    .and_then(|b| <[u8; 32]>::try_from(b).ok())
                    .ok_or_else(|| {
                        io::Error::new(
                            io::ErrorKind::InvalidData,
                            format!("{} does not hold a 64-digit hex key", path.display()),
                        )
                    })?;
                Ok(Self::from_bytes(bytes))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let mut bytes = [0u8; 32];
                rand::thread_rng().fill_bytes(&mut bytes);
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir)?;
                }
                // Written whole under a name of its own, then linked into place: a process
                // starting at the same moment sees no file or the whole key, never a part.
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
                    f.write_all(hex::encode(bytes).as_bytes())?;
                    f.sync_all()
                });
                let linked = written.and_then(|()| std::fs::hard_link(&tmp, path));
                let _ = std::fs::remove_file(&tmp);
                match linked {
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

    /// A key for another purpose, derived from this one (HMAC-SHA256 over the purpose's name),
    /// so that one file outside the database holds every key that must stay out of it.
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        use hmac::{Hmac, Mac};
        let mut mac =
            <Hmac<sha2::Sha256> as Mac>::new_from_slice(&self.0[..]).expect("any key length");
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().into()
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new_from_slice(&self.0[..]).expect("a 32-byte key")
    }

    pub fn seal(&self, tender: Uuid, organisation: Uuid, plain: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; 12];
        rand::thread_rng().fill_bytes(&mut nonce);
        let aad = associated(tender, organisation);
        let sealed = self
            .cipher()
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plain,
                    aad: &aad,
                },
            )
            .expect("encryption does not fail for in-memory buffers");
        let mut out = Vec::with_capacity(VERSION.len() + nonce.len() + sealed.len());
        out.extend_from_slice(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    /// The plaintext, or `None` when the bytes were altered, moved or sealed with another key.
    pub fn open(&self, tender: Uuid, organisation: Uuid, sealed: &[u8]) -> Option<Vec<u8>> {
        let rest = sealed.strip_prefix(VERSION)?;
        if rest.len() < 12 {
            return None;
        }
        let (nonce, body) = rest.split_at(12);
        let aad = associated(tender, organisation);
        self.cipher()
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: body,
                    aad: &aad,
                },
            )
            .ok()
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
}
