use crate::text::{Text, Words};
use chrono::{DateTime, NaiveDate, Utc};
use poem_openapi::types::multipart::Upload;
use poem_openapi::{Enum, Multipart, Object};
use uuid::Uuid;

macro_rules! string_enum {
    ($name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl $name {
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text),+
                }
            }
            pub fn parse(s: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.as_str() == s)
            }
        }
    };
}

/// Where a resolution is in its life.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum ResolutionStatus {
    /// Being written by the committee; not public.
    Draft,
    /// With the legal reviewer.
    InReview,
    /// Approved by the legal reviewer; the committee may let it take effect.
    Approved,
    /// In effect and on the public disclosure board; residents may object until the window ends.
    Disclosure,
    /// Being carried out by the responsible party.
    InProgress,
    /// Its deadline passed before it was completed.
    Overdue,
    Completed,
    Cancelled,
    /// Withdrawn after an upheld objection.
    Withdrawn,
}

string_enum!(ResolutionStatus {
    Draft => "draft",
    InReview => "in_review",
    Approved => "approved",
    Disclosure => "disclosure",
    InProgress => "in_progress",
    Overdue => "overdue",
    Completed => "completed",
    Cancelled => "cancelled",
    Withdrawn => "withdrawn",
});

impl ResolutionStatus {
    /// States the public may see: everything from taking effect on.
    pub fn is_public(self) -> bool {
        !matches!(self, Self::Draft | Self::InReview | Self::Approved)
    }
}

/// How the resolution was reached.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum ResolutionOrigin {
    /// A poll that passed.
    Poll,
    /// The session's consensus on an agenda item, without a poll.
    Consensus,
}

string_enum!(ResolutionOrigin { Poll => "poll", Consensus => "consensus" });

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum ReviewDecision {
    Approve,
    /// Back to the committee with written findings.
    Return,
}

string_enum!(ReviewDecision { Approve => "approve", Return => "return" });

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum ObjectionStatus {
    Pending,
    Upheld,
    Dismissed,
}

string_enum!(ObjectionStatus { Pending => "pending", Upheld => "upheld", Dismissed => "dismissed" });

/// What the committee does with an objection.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum ObjectionDecision {
    /// Upheld: the resolution returns to draft to be reworked.
    UpholdAndRevise,
    /// Upheld: the resolution is withdrawn.
    UpholdAndWithdraw,
    /// Dismissed: the resolution proceeds.
    Dismiss,
}

#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct MilestoneInput {
    #[oai(validator(min_length = 1, max_length = 200))]
    pub title: Words,
    /// The day it is due (Asia/Shanghai); overdue after that day ends.
    pub deadline: NaiveDate,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct CreateResolutionRequest {
    /// A closed poll that passed; or leave empty and name a session's agenda item for a
    /// consensus resolution.
    pub poll_id: Option<Uuid>,
    pub session_id: Option<Uuid>,
    pub agenda_item_id: Option<Uuid>,
    #[oai(validator(min_length = 1, max_length = 200))]
    pub title: Words,
    /// What will be done.
    #[oai(validator(min_length = 1, max_length = 20000))]
    pub body: Words,
    /// The organisation responsible for carrying it out.
    pub responsible_org_id: Option<Uuid>,
    pub deadline: Option<NaiveDate>,
    /// Budget in fen (1/100 CNY).
    #[oai(validator(minimum(value = "0"), maximum(value = "100000000000000")))]
    pub budget_fen: Option<i64>,
    /// A major matter: needs legal review before it takes effect.
    #[oai(default)]
    pub major: bool,
    #[oai(default, validator(max_items = 50))]
    pub milestones: Vec<MilestoneInput>,
}

/// Changes to a draft; absent fields stay as they are. `milestones`, when given, replaces them.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct UpdateResolutionRequest {
    #[oai(validator(min_length = 1, max_length = 200))]
    pub title: Option<Text>,
    #[oai(validator(min_length = 1, max_length = 20000))]
    pub body: Option<Text>,
    pub responsible_org_id: Option<Uuid>,
    pub deadline: Option<NaiveDate>,
    #[oai(validator(minimum(value = "0"), maximum(value = "100000000000000")))]
    pub budget_fen: Option<i64>,
    pub major: Option<bool>,
    #[oai(validator(max_items = 50))]
    pub milestones: Option<Vec<MilestoneInput>>,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct CancelResolutionRequest {
    #[oai(validator(min_length = 1, max_length = 4000))]
    pub reason: Words,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct ReviewRequest {
    pub decision: ReviewDecision,
    /// Written findings; required when returning.
    #[oai(default, validator(max_length = 20000))]
    pub findings: Text,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct ObjectionRequest {
    #[oai(validator(min_length = 1, max_length = 4000))]
    pub reasons: Words,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct AnswerObjectionRequest {
    pub decision: ObjectionDecision,
    /// The committee's written answer, sent to the objector and shown publicly.
    #[oai(validator(min_length = 1, max_length = 4000))]
    pub answer: Words,
}

/// A progress update with evidence files (PNG, JPEG, WebP or PDF).
#[derive(Multipart, Debug)]
pub struct ProgressUpdateForm {
    /// What was done.
    #[oai(validator(min_length = 1, max_length = 10000))]
    pub body: String,
    /// How far along it is, 0 to 100.
    #[oai(validator(minimum(value = "0"), maximum(value = "100")))]
    pub percent: i32,
    pub files: Vec<Upload>,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct RatingRequest {
    #[oai(validator(minimum(value = "1"), maximum(value = "5")))]
    pub score: i32,
    #[oai(validator(max_length = 2000))]
    pub comment: Option<Text>,
}

#[derive(Object, Debug, Clone, serde::Serialize, serde::Deserialize)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct CriterionScore {
    #[oai(validator(min_length = 1, max_length = 200))]
    pub name: Words,
    /// Weight of this criterion; all weights sum to 100.
    #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
    pub weight: i32,
    /// Score from 0 to 100.
    #[oai(validator(minimum(value = "0"), maximum(value = "100")))]
    pub score: i32,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct EvaluationRequest {
    #[oai(validator(min_items = 1, max_items = 20))]
    pub criteria: Vec<CriterionScore>,
    #[oai(validator(min_length = 1, max_length = 50000))]
    pub report: Words,
}

#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct ResolutionSettingsView {
    pub community_id: Uuid,
    /// Days a resolution stays on the disclosure board, open to objections (公示期).
    pub disclosure_days: i32,
    /// Resolutions with a budget at or above this many fen need legal review.
    pub review_budget_fen: i64,
    /// Days residents may rate a completed resolution.
    pub rating_days: i32,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct ResolutionSettingsRequest {
    #[oai(validator(minimum(value = "1"), maximum(value = "90")))]
    pub disclosure_days: i32,
    #[oai(validator(minimum(value = "0"), maximum(value = "100000000000000")))]
    pub review_budget_fen: i64,
    #[oai(validator(minimum(value = "1"), maximum(value = "365")))]
    pub rating_days: i32,
}

#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct MilestoneView {
    pub id: Uuid,
    pub title: String,
    pub deadline: NaiveDate,
    pub done_at: Option<DateTime<Utc>>,
    pub overdue: bool,
}

#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct ReviewView {
    pub decision: ReviewDecision,
    pub findings: String,
    /// The rule that required the review.
    pub rule: String,
    /// The reviewer; members only.
    pub reviewer_name: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct ObjectionView {
    pub id: Uuid,
    /// Lodged by a grid worker or committee member for a person of the register.
    pub assisted: bool,
    /// The reasons; shown to the objector and the committee.
    pub reasons: Option<String>,
    pub status: ObjectionStatus,
    /// The committee's written answer, public once given.
    pub answer: Option<String>,
    pub mine: bool,
    pub created_at: DateTime<Utc>,
    pub answered_at: Option<DateTime<Utc>>,
}

#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct EvidenceView {
    pub id: Uuid,
    pub file_name: String,
    pub content_type: String,
    pub size: i64,
    pub sha256: String,
}

#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct ProgressUpdateView {
    pub id: Uuid,
    pub organisation_name: String,
    /// The person who posted it; members only.
    pub author_name: Option<String>,
    pub body: String,
    pub percent: i32,
    pub evidence: Vec<EvidenceView>,
    pub created_at: DateTime<Utc>,
}

#[derive(Object, Debug, Clone, Default)]
#[oai(skip_serializing_if_is_none)]
pub struct RatingSummary {
    pub count: i64,
    /// Mean score, two decimals; absent before the first rating.
    pub mean: Option<f64>,
    /// How many gave 1, 2, 3, 4 and 5.
    pub distribution: Vec<i64>,
    /// Comments, without names.
    pub comments: Vec<String>,
    pub window_closes_at: Option<DateTime<Utc>>,
    /// The signed-in resident's own score.
    pub mine: Option<i32>,
}

#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct EvaluationView {
    pub criteria: Vec<CriterionScore>,
    /// Weighted total out of 100, two decimals.
    pub total: f64,
    pub report: String,
    /// The evaluator; members only.
    pub evaluator_name: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct TimelineEntry {
    pub at: DateTime<Utc>,
    /// What happened: proposal.submitted, session.held, poll.closed, resolution.created,
    /// resolution.reviewed, resolution.effective, objection.lodged, objection.answered,
    /// resolution.update, milestone.done, resolution.overdue, resolution.completed, ...
    pub event: String,
    pub detail: Option<String>,
}

/// What the signed-in person may do with this resolution now.
#[derive(Object, Debug, Clone, Default)]
#[oai(skip_serializing_if_is_none)]
pub struct ResolutionAbilities {
    /// Send to review, let take effect, cancel: the committee.
    pub manage: bool,
    pub edit: bool,
    pub review: bool,
    pub answer_objections: bool,
    pub object: bool,
    pub post_update: bool,
    pub complete: bool,
    pub rate: bool,
    pub evaluate: bool,
    pub follow: bool,
}

#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct ResolutionView {
    pub id: Uuid,
    pub community_id: Uuid,
    pub title: String,
    pub body: String,
    pub origin: ResolutionOrigin,
    pub status: ResolutionStatus,
    pub poll_id: Option<Uuid>,
    pub session_id: Option<Uuid>,
    pub agenda_item_id: Option<Uuid>,
    pub proposal_id: Option<Uuid>,
    pub responsible_org_id: Option<Uuid>,
    pub responsible_org_name: Option<String>,
    pub deadline: Option<NaiveDate>,
    pub budget_fen: Option<i64>,
    pub major: bool,
    /// Why a legal review is (or was) needed; absent when it is not.
    pub review_required: Option<String>,
    pub progress: i32,
    pub milestones: Vec<MilestoneView>,
    pub reviews: Vec<ReviewView>,
    pub objections: Vec<ObjectionView>,
    pub updates: Vec<ProgressUpdateView>,
    pub disclosure_ends_at: Option<DateTime<Utc>>,
    pub effective_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub completed_on_time: Option<bool>,
    /// Why it was cancelled or withdrawn.
    pub end_reason: Option<String>,
    pub ratings: RatingSummary,
    pub evaluations: Vec<EvaluationView>,
    pub timeline: Vec<TimelineEntry>,
    pub following: bool,
    pub can: ResolutionAbilities,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A line of a list or the disclosure board.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct ResolutionSummary {
    pub id: Uuid,
    pub community_id: Uuid,
    pub title: String,
    pub status: ResolutionStatus,
    pub origin: ResolutionOrigin,
    pub responsible_org_name: Option<String>,
    pub deadline: Option<NaiveDate>,
    pub progress: i32,
    pub disclosure_ends_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

/// One community's figures over the period.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct CommunityFigures {
    pub community_id: Uuid,
    pub community_name: String,
    pub proposals_raised: i64,
    pub proposals_accepted: i64,
    pub sessions_held: i64,
    /// People present, summed over the sessions held.
    pub attendance: i64,
    pub polls_closed: i64,
    /// Mean turnout of the polls closed, in percent with two decimals.
    pub mean_turnout_percent: Option<f64>,
    pub resolutions_adopted: i64,
    pub resolutions_completed: i64,
    pub completed_on_time: i64,
    pub overdue: i64,
    pub ratings: i64,
    pub mean_satisfaction: Option<f64>,
    pub evaluations: i64,
    pub mean_evaluation_score: Option<f64>,
}

#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct PollTurnout {
    pub poll_id: Uuid,
    pub community_id: Uuid,
    pub question: String,
    pub closed_at: DateTime<Utc>,
    pub participants: i64,
    pub electorate: i64,
    pub turnout_percent: f64,
    pub passed: bool,
}

#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct Dashboard {
    pub place_id: Uuid,
    pub from: NaiveDate,
    /// The last day included.
    pub to: NaiveDate,
    pub communities: Vec<CommunityFigures>,
    pub polls: Vec<PollTurnout>,
}

/// A grid worker rates a completed resolution for a person of the register.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct AssistedRatingRequest {
    pub person_id: Uuid,
    #[oai(validator(minimum(value = "1"), maximum(value = "5")))]
    pub score: i32,
    #[oai(validator(max_length = 2000))]
    pub comment: Option<Text>,
    /// The paper or consent the rating rests on.
    #[oai(validator(max_length = 120))]
    pub reference: Words,
}

/// A grid worker lodges an objection for a person of the register.
#[derive(Object, Debug)]
#[oai(deny_unknown_fields)]
pub struct AssistedObjectionRequest {
    pub person_id: Uuid,
    #[oai(validator(min_length = 1, max_length = 4000))]
    pub reasons: Words,
    /// The paper or consent the objection rests on.
    #[oai(validator(max_length = 120))]
    pub reference: Words,
}
