use crate::text::{Text, Words};
use chrono::{DateTime, Utc};
use poem_openapi::{Enum, Object};
use uuid::Uuid;

use crate::policy::Role;

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum PlaceKind {
    District,
    Subdistrict,
    Community,
    Grid,
}

impl PlaceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PlaceKind::District => "district",
            PlaceKind::Subdistrict => "subdistrict",
            PlaceKind::Community => "community",
            PlaceKind::Grid => "grid",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::District,
            Self::Subdistrict,
            Self::Community,
            Self::Grid,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
    /// The kind a place of this kind must sit under.
    pub fn parent_kind(self) -> Option<Self> {
        match self {
            PlaceKind::District => None,
            PlaceKind::Subdistrict => Some(PlaceKind::District),
            PlaceKind::Community => Some(PlaceKind::Subdistrict),
            PlaceKind::Grid => Some(PlaceKind::Community),
        }
    }
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct CreatePlaceRequest {
    pub kind: PlaceKind,
    #[oai(validator(max_length = 100))]
    pub name: Words,
    /// Required for every kind but district.
    pub parent_id: Option<Uuid>,
}

#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct PlaceView {
    pub id: Uuid,
    pub kind: PlaceKind,
    pub name: String,
    pub parent_id: Option<Uuid>,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum OrganisationKind {
    PartyOrganisation,
    ResidentsCommittee,
    OwnersCommittee,
    PropertyManagementFirm,
    SocialOrganisation,
    Enterprise,
    GovernmentDepartment,
    Evaluator,
}

impl OrganisationKind {
    pub const ALL: [Self; 8] = [
        Self::PartyOrganisation,
        Self::ResidentsCommittee,
        Self::OwnersCommittee,
        Self::PropertyManagementFirm,
        Self::SocialOrganisation,
        Self::Enterprise,
        Self::GovernmentDepartment,
        Self::Evaluator,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PartyOrganisation => "party_organisation",
            Self::ResidentsCommittee => "residents_committee",
            Self::OwnersCommittee => "owners_committee",
            Self::PropertyManagementFirm => "property_management_firm",
            Self::SocialOrganisation => "social_organisation",
            Self::Enterprise => "enterprise",
            Self::GovernmentDepartment => "government_department",
            Self::Evaluator => "evaluator",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct CreateOrganisationRequest {
    pub kind: OrganisationKind,
    #[oai(validator(max_length = 100))]
    pub name: Words,
    /// The place the organisation is based in or serves.
    pub place_id: Uuid,
    /// Unified social credit code (18 characters), checked when given.
    #[oai(validator(max_length = 18))]
    pub credit_code: Option<Text>,
}

#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct OrganisationView {
    pub id: Uuid,
    pub kind: OrganisationKind,
    pub name: String,
    pub place_id: Uuid,
    pub credit_code: Option<String>,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum MemberRole {
    /// Acts and answers for the organisation.
    Representative,
    Member,
}

impl MemberRole {
    pub fn as_str(self) -> &'static str {
        match self {
            MemberRole::Representative => "representative",
            MemberRole::Member => "member",
        }
    }
    pub fn parse(s: &str) -> Self {
        if s == "representative" {
            Self::Representative
        } else {
            Self::Member
        }
    }
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct AddMemberRequest {
    /// Email of the person's account.
    #[oai(validator(max_length = 254))]
    pub email: Words,
    pub role: MemberRole,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct MemberView {
    pub user_id: Uuid,
    pub display_name: String,
    pub role: MemberRole,
    pub since: DateTime<Utc>,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct GrantRoleRequest {
    /// Email of the person's account.
    #[oai(validator(max_length = 254))]
    pub email: Words,
    pub role: Role,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct GrantView {
    pub id: Uuid,
    pub user_id: Uuid,
    pub display_name: String,
    pub role: Role,
    pub place_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct CreateBuildingRequest {
    #[oai(validator(max_length = 64))]
    pub name: Words,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct BuildingView {
    pub id: Uuid,
    pub name: String,
    /// The grid the building belongs to, when assigned.
    pub grid_id: Option<Uuid>,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct AssignGridRequest {
    /// A grid of the building's community, or null to clear.
    pub grid_id: Option<Uuid>,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct CreateUnitRequest {
    pub building_id: Uuid,
    #[oai(validator(max_length = 32))]
    pub number: Words,
    /// Exclusive floor area in hundredths of a square metre (8550 = 85.50 m²).
    #[oai(validator(minimum(value = "1"), maximum(value = "100000000")))]
    pub area_centi: i64,
    /// The owner's name as written on the property register: a note for people to read. Who
    /// owns the unit, and so who votes for it, is the community register's owner of the unit
    /// (`PUT /units/{id}/owner`), never this name.
    #[oai(validator(max_length = 128))]
    pub registered_owner: Option<Text>,
    /// Unsold or undelivered unit still held by the developer.
    #[oai(default)]
    pub developer_held: bool,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct UpdateUnitRequest {
    #[oai(validator(minimum(value = "1"), maximum(value = "100000000")))]
    pub area_centi: Option<i64>,
    /// A note of the owner's name as written; see `CreateUnitRequest.registered_owner`.
    #[oai(validator(max_length = 128))]
    pub registered_owner: Option<Text>,
    pub developer_held: Option<bool>,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct UnitView {
    pub id: Uuid,
    pub building_id: Uuid,
    pub building: String,
    pub number: String,
    pub area_centi: i64,
    /// The owner's name as written (a note; the community register says who owns the unit).
    pub registered_owner: Option<String>,
    pub developer_held: bool,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct ImportRowError {
    /// Line number in the CSV (the header is line 1).
    pub line: u64,
    pub message: String,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct ImportReport {
    pub created: u64,
    pub updated: u64,
    pub errors: Vec<ImportRowError>,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct JoinRequest {
    /// Building name as in the community's register.
    #[oai(validator(max_length = 64))]
    pub building: Words,
    #[oai(validator(max_length = 32))]
    pub unit_number: Words,
    /// I live in this unit (a household member).
    #[oai(default)]
    pub household: bool,
    /// I own this unit.
    #[oai(default)]
    pub owner: bool,
    /// Anything that helps the committee verify the request.
    #[oai(validator(max_length = 500))]
    pub note: Option<Text>,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum MembershipStatus {
    Pending,
    Verified,
    Rejected,
}

impl MembershipStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Verified => "verified",
            Self::Rejected => "rejected",
        }
    }
    pub fn parse(s: &str) -> Self {
        match s {
            "verified" => Self::Verified,
            "rejected" => Self::Rejected,
            _ => Self::Pending,
        }
    }
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct MembershipView {
    pub id: Uuid,
    pub community_id: Uuid,
    pub community_name: String,
    pub user_id: Uuid,
    pub display_name: String,
    pub unit_id: Option<Uuid>,
    pub unit_label: Option<String>,
    pub household: bool,
    pub owner: bool,
    pub status: MembershipStatus,
    pub note: Option<String>,
    pub decision_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum Verdict {
    Verify,
    Reject,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct DecisionRequest {
    pub verdict: Verdict,
    /// Verified as a household member of the unit.
    #[oai(default)]
    pub household: bool,
    /// Verified as an owner of the unit.
    #[oai(default)]
    pub owner: bool,
    /// Required when rejecting; shown to the person.
    #[oai(validator(max_length = 500))]
    pub reason: Option<Text>,
    /// The person of the register this account is. When none is named, the account's person
    /// (or a new one, in the account's name, with no document yet) is used.
    pub person_id: Option<Uuid>,
    /// The last four characters of the person's identity document, as the committee read them
    /// off the document shown; compared with the register's.
    #[oai(validator(max_length = 8))]
    pub document_last4: Option<Text>,
    /// The unit's property certificate number, as shown (for an owner).
    #[oai(validator(max_length = 64))]
    pub certificate: Option<Text>,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct ImportUnitsRequest {
    /// CSV text with the header `building,number,area_m2,registered_owner,developer_held`
    /// (the last two optional); area in square metres with at most two decimals.
    #[oai(validator(max_length = 1000000))]
    pub csv: Text,
}
