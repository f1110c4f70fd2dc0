//! The published head of the record (issue 32). Whoever can write the database can rewrite a
//! chain and recompute every hash after the change, and `verify` would find it intact. A head
//! copied out of the database in time (the public board, the officers' mailboxes, a printout)
//! catches that: it names, for every chain, the position and hash of its last entry, under one
//! digest; a record that still holds those entries at those positions matches it, a rewritten
//! one does not.
//!
//! The text: `yishi-audit-head/1 <day> <position of each chain, dot-separated> <digest>`, where
//! the digest is SHA-256 over `yishi-audit-head/1\n` and one line `<chain>:<position>:<hash>\n`
//! per chain (position 0 and the genesis hash for an empty chain).

use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};
use sha2::{Digest, Sha256};

use super::service::AUDIT_SHARDS;
use crate::entities::{audit_entry, audit_head};

const PREFIX: &str = "yishi-audit-head/1";
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// A head: where each chain ended, and the digest over those ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub day: String,
    pub positions: Vec<i64>,
    pub digest: String,
}

impl Head {
    pub fn text(&self) -> String {
        let positions: Vec<String> = self.positions.iter().map(i64::to_string).collect();
        format!(
            "{PREFIX} {} {} {}",
            self.day,
            positions.join("."),
            self.digest
        )
    }

    /// How many entries the record held when the head was taken.
    pub fn entries(&self) -> i64 {
        self.positions.iter().sum()
    }

    /// Reads a head as published; `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        let mut parts = text.split_whitespace();
        if parts.next()? != PREFIX {
            return None;
        }
        let day = parts.next()?;
        chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d").ok()?;
        let positions: Vec<i64> = parts
            .next()?
            .split('.')
            .map(|p| p.parse().ok().filter(|n: &i64| *n >= 0))
            .collect::<Option<_>>()?;
        let digest = parts.next()?.to_ascii_lowercase();
        let well_formed = positions.len() == AUDIT_SHARDS as usize
            && digest.len() == 64
            && digest.bytes().all(|b| b.is_ascii_hexdigit())
            && parts.next().is_none();
        well_formed.then(|| Self {
            day: day.to_string(),
            positions,
            digest,
        })
    }
}

fn digest(ends: &[(i64, String)]) -> String {
    let mut h = Sha256::new();
    h.update(format!("{PREFIX}\n").as_bytes());
    for (chain, (position, hash)) in ends.iter().enumerate() {
        h.update(format!("{chain}:{position}:{hash}\n").as_bytes());
    }
    hex::encode(h.finalize())
}

/// The head of the record now, for `day`.
pub async fn current<C: ConnectionTrait>(db: &C, day: &str) -> Result<Head, DbErr> {
    let heads = audit_head::Entity::find().all(db).await?;
    let ends: Vec<(i64, String)> = (0..AUDIT_SHARDS)
        .map(|shard| {
            heads
                .iter()
                .find(|h| h.shard == shard)
                .filter(|h| h.seq > 0)
                .map_or((0, GENESIS.to_string()), |h| (h.seq, h.hash.clone()))
        })
        .collect();
    Ok(Head {
        day: day.to_string(),
        positions: ends.iter().map(|(p, _)| *p).collect(),
        digest: digest(&ends),
    })
}

/// Whether the record still holds, at the positions `earlier` names, the entries it was
/// published over. (Run `verify` too: this checks the ends, `verify` the links between.)
pub async fn matches<C: ConnectionTrait>(db: &C, earlier: &Head) -> Result<bool, DbErr> {
    let mut ends = Vec::with_capacity(earlier.positions.len());
    for (shard, position) in earlier.positions.iter().enumerate() {
        if *position == 0 {
            ends.push((0, GENESIS.to_string()));
            continue;
        }
        let entry = audit_entry::Entity::find()
            .filter(audit_entry::Column::Shard.eq(shard as i32))
            .filter(audit_entry::Column::Seq.eq(*position))
            .one(db)
            .await?;
        match entry {
            Some(e) => ends.push((*position, e.hash)),
            None => return Ok(false),
        }
    }
    Ok(digest(&ends) == earlier.digest)
}

/// The heads published, newest first.
pub async fn published<C: ConnectionTrait>(
    db: &C,
    limit: u64,
) -> Result<Vec<crate::entities::audit_publication::Model>, DbErr> {
    use crate::entities::audit_publication;
    use sea_orm::{QueryOrder, QuerySelect};
    audit_publication::Entity::find()
        .order_by_desc(audit_publication::Column::Day)
        .limit(limit)
        .all(db)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_head_reads_back_and_malformed_ones_are_refused() {
        let ends: Vec<(i64, String)> = (0..AUDIT_SHARDS as i64)
            .map(|i| (i, format!("{i:064x}")))
            .collect();
        let head = Head {
            day: "2026-12-07".into(),
            positions: ends.iter().map(|e| e.0).collect(),
            digest: digest(&ends),
        };
        assert_eq!(Head::parse(&head.text()), Some(head.clone()));
        assert_eq!(head.entries(), (0..16).sum::<i64>());
        let text = head.text();
        for bad in [
            "",
            "nonsense",
            &text.replace(PREFIX, "yishi-audit-head/9"),
            &text.replace("2026-12-07", "2026-13-07"),
            &text.replace(" 0.1.", " 0.-1."),
            &text.replace(" 0.1.", " 1."),
            &format!("{text} extra"),
            &text[..text.len() - 1],
        ] {
            assert_eq!(Head::parse(bad), None, "{bad}");
        }
        // The digest covers every end: another hash at one position gives another digest.
        let mut changed = ends.clone();
        changed[3].1 = format!("{:064x}", 99);
        assert_ne!(digest(&changed), head.digest);
    }
}
