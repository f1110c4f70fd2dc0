//! Identity documents and names as the register keeps them: a document number is checked,
//! normalised and kept only as a keyed hash plus its last four characters; names are compared
//! in a folded form only to list possible duplicates, never to decide who is who.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use uuid::Uuid;

use crate::entities::register_kinds::DocumentKind;

/// Full-width ASCII (ＡＢＣ１２３) to half-width, the ideographic space to a space.
fn half_width(c: char) -> char {
    match c {
        '\u{3000}' => ' ',
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        c => c,
    }
}

/// A document number as written on the card: half-width, upper-case, without spaces or dashes.
pub fn normalise_document(raw: &str) -> String {
    raw.chars()
        .map(half_width)
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_uppercase)
        .collect()
}

/// The check character of an 18-digit resident identity card number (GB 11643-1999).
fn resident_id_check(first17: &[u8]) -> u8 {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = first17
        .iter()
        .zip(WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    b"10X98765432"[(sum % 11) as usize]
}

/// Checks a document number of the given kind; the normalised number, or why it is refused.
pub fn check_document(kind: DocumentKind, raw: &str) -> Result<String, &'static str> {
    let n = normalise_document(raw);
    match kind {
        DocumentKind::None => Err("A document number needs a document kind."),
        DocumentKind::ResidentId => {
            let b = n.as_bytes();
            let shape = b.len() == 18
                && b[..17].iter().all(u8::is_ascii_digit)
                && (b[17].is_ascii_digit() || b[17] == b'X');
            if !shape {
                return Err(
                    "A resident identity card number has 18 characters: 17 digits and a digit or X.",
                );
            }
            if resident_id_check(&b[..17]) != b[17] {
                return Err(
                    "The resident identity card number's check character does not match; look at the card again.",
                );
            }
            Ok(n)
        }
        _ => {
            if (5..=32).contains(&n.chars().count()) && n.chars().all(|c| c.is_ascii_alphanumeric())
            {
                Ok(n)
            } else {
                Err("A document number has 5 to 32 letters and digits.")
            }
        }
    }
}

/// The last four characters, shown so that a person can be told apart without the number.
pub fn last_four(normalised: &str) -> String {
    let chars: Vec<char> = normalised.chars().collect();
    chars[chars.len().saturating_sub(4)..].iter().collect()
}

/// The key for document hashes, derived from the key the server keeps outside the database.
#[derive(Clone)]
pub struct DocumentKey([u8; 32]);

impl std::fmt::Debug for DocumentKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DocumentKey(…)")
    }
}

impl DocumentKey {
    pub fn new(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The keyed hash of a normalised number, per community: a database copy alone can neither
    /// recover a number nor match one person across communities.
    pub fn hash(&self, community_id: Uuid, kind: DocumentKind, normalised: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("any key length");
        mac.update(community_id.as_bytes());
        mac.update(format!("{kind:?}:{normalised}").as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

/// A name folded for comparison: half-width, no spaces, lower-case. Two different people may
/// fold to the same name (namesakes); one person may be written two ways that fold alike.
pub fn fold_name(name: &str) -> String {
    name.chars()
        .map(half_width)
        .filter(|c| !c.is_whitespace() && *c != '·' && *c != '.')
        .flat_map(char::to_lowercase)
        .collect()
}

/// A name as stored: trimmed, inner runs of spaces kept as written (the committee decides).
pub fn clean_name(raw: &str) -> Option<String> {
    let name = raw.trim();
    let n = name.chars().count();
    (n > 0 && n <= 64 && !name.chars().any(char::is_control)).then(|| name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resident_id_numbers_are_checked_and_normalised() {
        // A well-formed number (GB 11643 check character X).
        assert_eq!(
            check_document(DocumentKind::ResidentId, "11010519491231002x"),
            Ok("11010519491231002X".into())
        );
        assert_eq!(
            check_document(
                DocumentKind::ResidentId,
                "１１０１０５ １９４９１２３１ ００２Ｘ"
            ),
            Ok("11010519491231002X".into())
        );
        assert!(check_document(DocumentKind::ResidentId, "110105194912310021").is_err());
        assert!(check_document(DocumentKind::ResidentId, "1101051949123100").is_err());
        assert!(check_document(DocumentKind::Passport, "E1234").is_ok());
        assert!(check_document(DocumentKind::Passport, "E12").is_err());
        assert!(check_document(DocumentKind::None, "E12345").is_err());
        assert_eq!(last_four("11010519491231002X"), "002X");
        assert_eq!(last_four("AB"), "AB");
    }

    #[test]
    fn hashes_depend_on_key_community_and_number() {
        let key = DocumentKey::new([1; 32]);
        let c = Uuid::new_v4();
        let h = key.hash(c, DocumentKind::ResidentId, "11010519491231002X");
        assert_eq!(
            h,
            key.hash(c, DocumentKind::ResidentId, "11010519491231002X")
        );
        assert_ne!(
            h,
            key.hash(
                Uuid::new_v4(),
                DocumentKind::ResidentId,
                "11010519491231002X"
            )
        );
        assert_ne!(
            h,
            DocumentKey::new([2; 32]).hash(c, DocumentKind::ResidentId, "11010519491231002X")
        );
        assert!(!h.contains("002X"));
    }

    #[test]
    fn names_fold_spaces_width_and_case() {
        assert_eq!(fold_name("张 三"), fold_name("张三"));
        assert_eq!(fold_name("张　三"), fold_name("张三"));
        assert_eq!(fold_name("Ｗang Wei"), fold_name("wangwei"));
        assert_ne!(fold_name("张三"), fold_name("张山"));
    }
}
