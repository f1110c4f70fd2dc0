//! The register's records (the shape each version is kept in) and the API's objects.

use chrono::{DateTime, NaiveDate, Utc};
use poem_openapi::types::MaybeUndefined;
use poem_openapi::{Enum, Object};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use crate::entities::register_kinds::{DocumentKind, HouseholdStatus, OwnerKind, PersonStatus};
use crate::text::{Text, Words};

// ---------------------------------------------------------------- records

/// A person as one version of the register holds them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PersonRecord {
    #[serde(default)]
    pub id: Uuid,
    pub name: String,
    pub document_kind: DocumentKind,
    #[serde(default)]
    pub document_hash: Option<String>,
    #[serde(default)]
    pub document_last4: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub birth_date: Option<NaiveDate>,
    pub adult: bool,
    pub status: PersonStatus,
    #[serde(default)]
    pub household_id: Option<Uuid>,
    #[serde(default)]
    pub user_id: Option<Uuid>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HouseholdRecord {
    #[serde(default)]
    pub id: Uuid,
    pub unit_id: Uuid,
    pub label: String,
    pub status: HouseholdStatus,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OwnerRecord {
    #[serde(default)]
    pub id: Uuid,
    pub kind: OwnerKind,
    pub name: String,
    #[serde(default)]
    pub representative_id: Option<Uuid>,
    #[serde(default)]
    pub person_ids: Vec<Uuid>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UnitOwnerRecord {
    #[serde(default)]
    pub unit_id: Uuid,
    pub owner_id: Uuid,
    #[serde(default)]
    pub certificate: Option<String>,
}

// ---------------------------------------------------------------- requests

#[derive(Object, Debug)]
#[oai(deny_unknown_fields)]
pub struct CreatePersonRequest {
    #[oai(validator(max_length = 64))]
    pub name: Words,
    /// The kind of identity document; with `document_number`.
    pub document_kind: Option<DocumentKind>,
    /// Kept only as a keyed hash and its last four characters; never stored or shown whole.
    #[oai(validator(max_length = 40))]
    pub document_number: Option<Text>,
    #[oai(validator(max_length = 32))]
    pub phone: Option<Text>,
    pub birth_date: Option<NaiveDate>,
    /// Whether the person is 18 or over; taken from `birth_date` when that is given.
    pub adult: Option<bool>,
    /// `living` unless said otherwise.
    pub status: Option<PersonStatus>,
    pub household_id: Option<Uuid>,
    /// Why the person is added (kept with the version).
    #[oai(validator(max_length = 500))]
    pub reason: Option<Text>,
}

#[derive(Object, Debug)]
#[oai(deny_unknown_fields)]
pub struct UpdatePersonRequest {
    #[oai(validator(max_length = 64))]
    pub name: Option<Text>,
    pub document_kind: Option<DocumentKind>,
    #[oai(validator(max_length = 40))]
    pub document_number: Option<Text>,
    /// A new phone number, or `null` to forget it.
    pub phone: MaybeUndefined<Text>,
    pub birth_date: Option<NaiveDate>,
    pub adult: Option<bool>,
    pub status: Option<PersonStatus>,
    /// The household the person now belongs to, or `null` for none.
    pub household_id: MaybeUndefined<Uuid>,
    /// Why (moved in, moved out, died, corrected): kept with the version.
    #[oai(validator(max_length = 500))]
    pub reason: Words,
}

#[derive(Object, Debug)]
#[oai(deny_unknown_fields)]
pub struct CreateHouseholdRequest {
    pub unit_id: Uuid,
    /// How the household is called (often the householder's name); the unit's label if empty.
    #[oai(validator(max_length = 64))]
    pub label: Option<Text>,
    #[oai(validator(max_length = 500))]
    pub reason: Option<Text>,
}

#[derive(Object, Debug)]
#[oai(deny_unknown_fields)]
pub struct UpdateHouseholdRequest {
    #[oai(validator(max_length = 64))]
    pub label: Option<Text>,
    pub status: Option<HouseholdStatus>,
    #[oai(validator(max_length = 500))]
    pub reason: Words,
}

#[derive(Object, Debug)]
#[oai(deny_unknown_fields)]
pub struct CreateOwnerRequest {
    /// `persons` (one person, or co-owners) unless said otherwise.
    pub kind: Option<OwnerKind>,
    /// The owner's name as on the certificate; for persons, their names if empty.
    #[oai(validator(max_length = 128))]
    pub name: Option<Text>,
    /// The persons of the register who own together (one for a sole owner).
    #[oai(validator(max_items = 20))]
    pub person_ids: Option<Vec<Uuid>>,
    /// Which co-owner votes for all of them; one of `person_ids`.
    pub representative_id: Option<Uuid>,
    #[oai(validator(max_length = 500))]
    pub reason: Option<Text>,
}

#[derive(Object, Debug)]
#[oai(deny_unknown_fields)]
pub struct UpdateOwnerRequest {
    #[oai(validator(max_length = 128))]
    pub name: Option<Text>,
    pub kind: Option<OwnerKind>,
    #[oai(validator(max_items = 20))]
    pub person_ids: Option<Vec<Uuid>>,
    /// The co-owner who votes, or `null` for none named (then any of them may, once).
    pub representative_id: MaybeUndefined<Uuid>,
    #[oai(validator(max_length = 500))]
    pub reason: Words,
}

#[derive(Object, Debug)]
#[oai(deny_unknown_fields)]
pub struct SetUnitOwnerRequest {
    pub owner_id: Uuid,
    /// The property certificate number (不动产权证号); one certificate names one unit here.
    #[oai(validator(max_length = 64))]
    pub certificate: Option<Text>,
    #[oai(validator(max_length = 500))]
    pub reason: Words,
}

// ---------------------------------------------------------------- views

/// A person of the register, as those who keep it see them.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct PersonView {
    pub id: Uuid,
    pub name: String,
    pub document_kind: DocumentKind,
    /// The last four characters of the document number, to tell namesakes apart.
    pub document_last4: Option<String>,
    pub phone: Option<String>,
    pub birth_date: Option<NaiveDate>,
    pub adult: bool,
    pub status: PersonStatus,
    pub household_id: Option<Uuid>,
    /// The unit the person's household lives in, e.g. "1号楼-101".
    pub unit_label: Option<String>,
    /// Whether an account is linked to this person.
    pub has_account: bool,
}

#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct MemberRef {
    pub person_id: Uuid,
    pub name: String,
    pub document_last4: Option<String>,
    pub status: PersonStatus,
    pub adult: bool,
    pub has_account: bool,
}

#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct HouseholdView {
    pub id: Uuid,
    pub unit_id: Uuid,
    pub unit_label: String,
    pub label: String,
    pub status: HouseholdStatus,
    pub members: Vec<MemberRef>,
}

#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct OwnedUnit {
    pub unit_id: Uuid,
    pub unit_label: String,
    pub area_centi: i64,
    pub certificate: Option<String>,
}

#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct OwnerView {
    pub id: Uuid,
    pub kind: OwnerKind,
    pub name: String,
    pub persons: Vec<MemberRef>,
    pub representative_id: Option<Uuid>,
    pub units: Vec<OwnedUnit>,
    /// The exclusive floor area of all the owner's units, in hundredths of a square metre.
    pub area_centi: i64,
}

/// Everything on the register at one version.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct RegisterSnapshot {
    /// The register version (its change number) this snapshot is.
    pub seq: i64,
    pub persons: Vec<PersonView>,
    pub households: Vec<HouseholdView>,
    pub owners: Vec<OwnerView>,
}

/// One change of the register, with the object as it was after it.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct RegisterChangeView {
    pub seq: i64,
    /// `person`, `household`, `owner` or `unit_owner`.
    pub entity: String,
    pub entity_id: Uuid,
    pub changed_by: Option<Uuid>,
    pub reason: String,
    pub changed_at: DateTime<Utc>,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[oai(rename_all = "snake_case")]
pub enum AnomalyKind {
    /// A unit no owner is recorded for: it counts as a head of its own until one is.
    UnitWithoutOwner,
    /// An owner known only by a name from the old unit register, not yet confirmed.
    UnconfirmedOwner,
    /// Owners whose names differ only by spaces, width or case: one person twice, or two
    /// people the committee should tell apart.
    SimilarOwnerNames,
    /// Persons with the same name: namesakes, or one person entered twice.
    SamePersonName,
    /// A person living here in no household: counted as a resident, in no household vote.
    PersonWithoutHousehold,
    /// An active household with no one living in it.
    EmptyHousehold,
    /// Co-owners with no representative named: any of them may vote, once for all.
    NoRepresentative,
}

#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct Anomaly {
    pub kind: AnomalyKind,
    /// What the committee sees, e.g. the names or units concerned.
    pub subject: String,
    pub person_ids: Vec<Uuid>,
    pub owner_ids: Vec<Uuid>,
    pub unit_ids: Vec<Uuid>,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum RegisterElectorate {
    /// Adult persons living in the community (or the chosen grids).
    Residents,
    /// Households with someone living in them: one head each.
    Households,
    /// Owners: one head per owner, area summed over their units; the developer's unsold units
    /// one head; a unit with no owner recorded a head of its own.
    Owners,
}

/// What an electorate drawn from the register now would be.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct ElectoratePreview {
    pub electorate: RegisterElectorate,
    pub register_seq: i64,
    pub headcount: u64,
    pub area_centi: u64,
    /// Heads at least one of whose people has an account (the rest take part assisted).
    pub heads_with_account: u64,
    pub anomalies: Vec<Anomaly>,
}

/// A register file: CSV in UTF-8 with the header
/// `name,document_kind,document_number,birth_date,adult,phone,status,building,number,owner,certificate`
/// (only `name` required). Rows are matched to the register by document, else by name and unit.
#[derive(poem_openapi::Multipart, Debug)]
pub struct RegisterImportForm {
    pub file: poem_openapi::types::multipart::Upload,
}

#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct RegisterImportError {
    pub line: u64,
    pub message: String,
}

#[derive(Object, Debug, Clone, Default)]
#[oai(skip_serializing_if_is_none)]
pub struct RegisterImportReport {
    pub persons_created: u64,
    pub persons_updated: u64,
    pub persons_unchanged: u64,
    pub households_created: u64,
    pub owners_created: u64,
    /// Units whose owner (or certificate) this import recorded.
    pub units_owned: u64,
    /// The register version after the import.
    pub register_seq: i64,
    /// One for each row not taken, by line (the header is line 1).
    pub errors: Vec<RegisterImportError>,
}

pub use crate::entities::register_kinds::{RequestKind, RequestStatus};

/// A change a grid worker asks the committee to record. `moved_out` and `died` name the person;
/// `moved_in` the unit, the name and (if shown) the document; `sold` the unit and its new owner.
#[derive(Object, Debug)]
#[oai(deny_unknown_fields)]
pub struct CreateRegisterRequest {
    pub kind: RequestKind,
    pub person_id: Option<Uuid>,
    pub unit_id: Option<Uuid>,
    #[oai(validator(max_length = 64))]
    pub name: Option<Text>,
    pub document_kind: Option<DocumentKind>,
    #[oai(validator(max_length = 40))]
    pub document_number: Option<Text>,
    /// The unit's new owner, already on the register (for `sold`).
    pub owner_id: Option<Uuid>,
    /// The paper the request rests on: a household register page, a death certificate, a
    /// property certificate, the person's signed consent.
    #[oai(validator(max_length = 120))]
    pub reference: Words,
    #[oai(validator(max_length = 500))]
    pub note: Option<Text>,
}

#[derive(Object, Debug)]
#[oai(deny_unknown_fields)]
pub struct DecideRegisterRequest {
    /// Confirm (the change is made) or refuse.
    pub confirm: bool,
    /// Required when refusing; the grid worker sees it.
    #[oai(validator(max_length = 500))]
    pub reason: Option<Text>,
}

#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct RegisterRequestView {
    pub id: Uuid,
    pub kind: RequestKind,
    pub person_id: Option<Uuid>,
    pub unit_id: Option<Uuid>,
    /// Who or what the change is about, e.g. "王伟 · 1号楼-101".
    pub subject: String,
    pub reference: String,
    pub note: Option<String>,
    pub status: RequestStatus,
    pub requested_by: Uuid,
    pub decided_by: Option<Uuid>,
    pub decided_at: Option<DateTime<Utc>>,
    pub decision_reason: Option<String>,
    pub created_at: DateTime<Utc>,
}

// ---------------------------------------------------------------- acting for a person

pub use crate::entities::register_kinds::{AssistedKind, AssistedStatus};

/// What an assisted act answered, kept with it as JSON.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AssistedDetail {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objection_id: Option<Uuid>,
}

/// Acting for a person of the register: who, and the paper or consent it rests on.
#[derive(Object, Debug)]
#[oai(deny_unknown_fields)]
pub struct AssistRequest {
    pub person_id: Uuid,
    /// The signature sheet, paper form or recorded consent, e.g. "签到表 3 页 12 行".
    #[oai(validator(max_length = 120))]
    pub reference: Words,
}

#[derive(Object, Debug)]
#[oai(deny_unknown_fields)]
pub struct RejectAssistedActRequest {
    /// Why the act does not match the paper; the one who recorded it sees it.
    #[oai(validator(max_length = 500))]
    pub reason: Words,
}

/// Something a grid worker or committee member did for a person of the register.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct AssistedActView {
    pub id: Uuid,
    pub community_id: Uuid,
    pub person_id: Uuid,
    pub person_name: String,
    pub kind: AssistedKind,
    /// The session, proposal or resolution acted on.
    pub object_id: Uuid,
    /// An RSVP's answer: `confirmed` or `declined`.
    pub response: Option<String>,
    /// A rating's score, 1 to 5, and its comment.
    pub score: Option<i32>,
    pub comment: Option<String>,
    /// The objection lodged.
    pub objection_id: Option<Uuid>,
    pub reference: String,
    pub status: AssistedStatus,
    pub acted_by: Uuid,
    pub acted_by_name: String,
    pub decided_by: Option<Uuid>,
    pub decided_at: Option<DateTime<Utc>>,
    pub decision_reason: Option<String>,
    pub created_at: DateTime<Utc>,
}

// ---------------------------------------------------------------- a person's own entry

#[derive(Object, Debug)]
#[oai(deny_unknown_fields)]
pub struct AskErasureRequest {
    pub community_id: Uuid,
    /// Why, for the committee (optional).
    #[oai(validator(max_length = 500))]
    pub reason: Option<Text>,
}

/// What a community's register holds about the signed-in person.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct MyRegisterEntry {
    pub community_id: Uuid,
    pub person_id: Uuid,
    pub name: String,
    pub document_kind: DocumentKind,
    pub document_last4: Option<String>,
    pub phone: Option<String>,
    pub birth_date: Option<NaiveDate>,
    pub status: PersonStatus,
    pub unit_label: Option<String>,
    /// A request to be erased waits for the committee.
    pub erasure_pending: bool,
}

/// A unit as the register sees it: where it is, its owner and who lives there.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct RegisterUnitView {
    pub unit_id: Uuid,
    pub building: String,
    pub number: String,
    /// e.g. "1号楼-101".
    pub label: String,
    pub grid_id: Option<Uuid>,
    pub grid_name: Option<String>,
    /// Exclusive floor area in hundredths of a square metre.
    pub area_centi: i64,
    /// Still the developer's (unsold).
    pub developer_held: bool,
    pub owner_id: Option<Uuid>,
    pub owner_name: Option<String>,
    pub certificate: Option<String>,
    /// Active households' labels.
    pub households: Vec<String>,
    /// Persons living in those households.
    pub residents: u32,
}
