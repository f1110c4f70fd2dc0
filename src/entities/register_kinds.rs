//! The register's states and kinds: stored as strings, typed in Rust and in the API.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// Where a person of the register stands.
#[derive(
    Clone,
    Default,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    EnumIter,
    DeriveActiveEnum,
    poem_openapi::Enum,
    Serialize,
    Deserialize,
)]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::None)",
    rename_all = "snake_case"
)]
#[oai(rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum PersonStatus {
    /// Lives in the community (常住).
    #[default]
    Living,
    /// Has moved away.
    MovedOut,
    Deceased,
    /// On the register without living here: an owner or relative who lives elsewhere.
    NonResident,
}

/// The identity document a person's keyed hash was made from.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    EnumIter,
    DeriveActiveEnum,
    poem_openapi::Enum,
    Serialize,
    Deserialize,
)]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::None)",
    rename_all = "snake_case"
)]
#[oai(rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    /// 居民身份证.
    ResidentId,
    Passport,
    /// 港澳居民来往内地通行证 or 居住证.
    HkMacaoPermit,
    /// 台湾居民来往大陆通行证 or 居住证.
    TaiwanPermit,
    /// 外国人永久居留身份证.
    ForeignPermanentId,
    Other,
    /// No document recorded yet.
    None,
}

/// A household's state.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    EnumIter,
    DeriveActiveEnum,
    poem_openapi::Enum,
    Serialize,
    Deserialize,
)]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::None)",
    rename_all = "snake_case"
)]
#[oai(rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum HouseholdStatus {
    Active,
    /// Moved away or merged: kept for the record, counted nowhere.
    Dissolved,
}

/// What kind of party an owner identity is.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    EnumIter,
    DeriveActiveEnum,
    poem_openapi::Enum,
    Serialize,
    Deserialize,
)]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::None)",
    rename_all = "snake_case"
)]
#[oai(rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum OwnerKind {
    /// One person, or co-owners (one head; their representative votes).
    Persons,
    /// The developer: its unsold or undelivered units together are one head.
    Developer,
    /// A company or other organisation.
    Organisation,
    /// Known only by the name on the old unit register, not yet confirmed by the committee.
    NameOnly,
}

/// What a grid worker asks the committee to record.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    EnumIter,
    DeriveActiveEnum,
    poem_openapi::Enum,
    Serialize,
    Deserialize,
)]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::None)",
    rename_all = "snake_case"
)]
#[oai(rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum RequestKind {
    /// Someone came to live at a unit.
    MovedIn,
    /// A person moved away.
    MovedOut,
    /// A person died.
    Died,
    /// A unit was sold to another owner of the register.
    Sold,
    /// The person asked to be erased (only they ask, from their account).
    Erasure,
}

/// Where a grid worker's request stands.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    EnumIter,
    DeriveActiveEnum,
    poem_openapi::Enum,
    Serialize,
    Deserialize,
)]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::None)",
    rename_all = "snake_case"
)]
#[oai(rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum RequestStatus {
    Pending,
    Confirmed,
    Rejected,
}

/// What a grid worker or committee member did for a person of the register.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    EnumIter,
    DeriveActiveEnum,
    poem_openapi::Enum,
    Serialize,
    Deserialize,
)]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::None)",
    rename_all = "snake_case"
)]
#[oai(rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum AssistedKind {
    /// Checked the person in at a session.
    CheckIn,
    /// Answered a session's invitation for them.
    Rsvp,
    /// Co-signed a proposal for them; counts once a second person confirms it.
    Cosign,
    /// Rated a completed resolution for them.
    Rating,
    /// Lodged an objection to a disclosed resolution for them.
    Objection,
}

/// Where an assisted act stands.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    EnumIter,
    DeriveActiveEnum,
    poem_openapi::Enum,
    Serialize,
    Deserialize,
)]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::None)",
    rename_all = "snake_case"
)]
#[oai(rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum AssistedStatus {
    /// Waits for a second person's confirmation.
    Pending,
    /// Counts.
    Counted,
    /// The second person found it did not match the paper; it does not count.
    Rejected,
    /// A later answer for the same person replaced it (an RSVP changed).
    Replaced,
}
