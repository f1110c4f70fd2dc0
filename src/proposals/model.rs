use crate::text::{Text, Words};
use chrono::{DateTime, Utc};
use poem_openapi::{Enum, Object};
use uuid::Uuid;

macro_rules! string_enum {
    ($name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        #[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
        #[oai(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
            pub fn parse(s: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.as_str() == s)
            }
        }
    };
}

string_enum!(Category {
    Environment => "environment",
    Safety => "safety",
    PropertyAndEstate => "property_and_estate",
    ElderlyCare => "elderly_care",
    Children => "children",
    Culture => "culture",
    ParkingAndTraffic => "parking_and_traffic",
    Other => "other",
});

string_enum!(ProposalStatus {
    Draft => "draft",
    Collecting => "collecting",
    InModeration => "in_moderation",
    ChangesRequested => "changes_requested",
    Accepted => "accepted",
    Rejected => "rejected",
    Merged => "merged",
    Expired => "expired",
    Withdrawn => "withdrawn",
});

string_enum!(SortOrder {
    Newest => "newest",
    MostCosigned => "most_cosigned",
    Deadline => "deadline",
});

string_enum!(ModerationAction {
    Accept => "accept",
    RequestChanges => "request_changes",
    Merge => "merge",
    Reject => "reject",
});

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct CreateProposalRequest {
    pub community_id: Uuid,
    #[oai(validator(max_length = 120))]
    pub title: Words,
    /// Plain text; blank lines separate paragraphs, lines starting with "- " are list items.
    #[oai(validator(max_length = 20000))]
    pub body: Words,
    pub category: Category,
    /// The grid the matter concerns, if one.
    pub grid_id: Option<Uuid>,
    /// The building the matter concerns, if one.
    pub building_id: Option<Uuid>,
    /// A property matter for owners only.
    #[oai(default)]
    pub owners_only: bool,
    /// Propose on behalf of an organisation you belong to.
    pub organisation_id: Option<Uuid>,
    /// Submit at once for co-signing instead of saving a draft.
    #[oai(default)]
    pub submit: bool,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct UpdateProposalRequest {
    #[oai(validator(max_length = 120))]
    pub title: Option<Text>,
    #[oai(validator(max_length = 20000))]
    pub body: Option<Text>,
    pub category: Option<Category>,
    pub grid_id: Option<Uuid>,
    pub building_id: Option<Uuid>,
    pub owners_only: Option<bool>,
}

#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct PersonRef {
    pub id: Uuid,
    pub display_name: String,
}

#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct OrganisationRef {
    pub id: Uuid,
    pub name: String,
    pub kind: String,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct ProposalView {
    pub id: Uuid,
    pub community_id: Uuid,
    pub community_name: String,
    pub title: String,
    pub body: String,
    pub category: Category,
    pub grid_id: Option<Uuid>,
    pub building_id: Option<Uuid>,
    pub owners_only: bool,
    pub status: ProposalStatus,
    /// The proposer; absent for visitors who are not members of the community.
    pub proposer: Option<PersonRef>,
    /// The organisation on whose behalf it was proposed.
    pub organisation: Option<OrganisationRef>,
    /// Active co-signatures, the proposer not included.
    pub cosign_count: i32,
    /// Supporters needed (the proposer counts as the first) to reach moderation.
    pub cosign_threshold: i32,
    pub cosign_deadline: Option<DateTime<Utc>>,
    pub merged_into: Option<Uuid>,
    /// The committee's written reason for its last decision; public.
    pub decision_reason: Option<String>,
    pub version: i32,
    pub hidden: bool,
    /// Why it was hidden; shown to the committee only.
    pub hidden_reason: Option<String>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub decided_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Whether the signed-in viewer has an active co-signature on it.
    pub cosigned_by_me: bool,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct ProposalPage {
    pub items: Vec<ProposalView>,
    /// Matching proposals over all pages.
    pub total: u64,
    pub page: u64,
    pub page_size: u64,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct VersionView {
    pub version: i32,
    pub title: String,
    pub body: String,
    pub category: Category,
    pub editor: PersonRef,
    pub created_at: DateTime<Utc>,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct ModerationRequest {
    pub action: ModerationAction,
    /// Required to ask for changes, merge or reject; public on the proposal.
    #[oai(validator(max_length = 2000))]
    pub reason: Option<Text>,
    /// The proposal to merge into (for `merge`).
    pub merge_into: Option<Uuid>,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct ReasonRequest {
    #[oai(validator(max_length = 2000))]
    pub reason: Words,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct ReportRequest {
    #[oai(validator(max_length = 1000))]
    pub reason: Words,
    /// Report a comment of the proposal rather than the proposal itself.
    pub comment_id: Option<Uuid>,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct ReportView {
    pub id: Uuid,
    pub proposal_id: Uuid,
    pub proposal_title: String,
    pub comment_id: Option<Uuid>,
    pub reason: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct CommentRequest {
    #[oai(validator(max_length = 4000))]
    pub body: Words,
    /// Reply to this comment.
    pub parent_id: Option<Uuid>,
    /// Answer in the official capacity of an organisation you belong to.
    pub organisation_id: Option<Uuid>,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct CommentEditRequest {
    #[oai(validator(max_length = 4000))]
    pub body: Words,
}

string_enum!(CommentState {
    Visible => "visible",
    Deleted => "deleted",
    Hidden => "hidden",
});

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct CommentView {
    pub id: Uuid,
    pub parent_id: Option<Uuid>,
    pub depth: i32,
    /// Absent once the comment is deleted or hidden.
    pub author: Option<PersonRef>,
    /// Set when written in an organisation's official capacity.
    pub organisation: Option<OrganisationRef>,
    /// Absent once the comment is deleted (a tombstone) or hidden (except for the committee).
    pub body: Option<String>,
    pub state: CommentState,
    /// Why it was hidden; committee only.
    pub hidden_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub edited_at: Option<DateTime<Utc>>,
}

#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct CommunitySettingsView {
    pub community_id: Uuid,
    /// Supporters needed (the proposer counts as the first) to reach the moderation queue.
    pub cosign_threshold: i32,
    /// Days a submitted proposal has to reach the threshold.
    pub cosign_period_days: i32,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct CommunitySettingsRequest {
    #[oai(validator(minimum(value = "1"), maximum(value = "10000")))]
    pub cosign_threshold: i32,
    #[oai(validator(minimum(value = "1"), maximum(value = "365")))]
    pub cosign_period_days: i32,
}
