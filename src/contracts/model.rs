use crate::text::{Text, Words};
use chrono::{DateTime, NaiveDate, Utc};
use poem_openapi::{Enum, Object};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! string_enum {
    ($name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            pub fn parse(s: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.as_str() == s)
            }
        }
    };
}

/// The community services the government buys (政府购买服务的服务类别).
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[oai(rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum ServiceCategory {
    ElderlyCare,
    ChildCare,
    Mediation,
    Cleaning,
    Culture,
    Disability,
    Volunteering,
    Other,
}

string_enum!(ServiceCategory {
    ElderlyCare => "elderly_care",
    ChildCare => "child_care",
    Mediation => "mediation",
    Cleaning => "cleaning",
    Culture => "culture",
    Disability => "disability",
    Volunteering => "volunteering",
    Other => "other",
});

/// Where a procurement stands: planned → active → evaluation → awarded | unsuccessful |
/// cancelled.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum TenderStatus {
    /// Being prepared by the officer; not public.
    Planned,
    /// Published: enquiries and bids accepted until the deadline.
    Active,
    /// Bids opened; the panel scores them; a proposed award may be in its publicity period.
    Evaluation,
    Awarded,
    /// Closed without an award (no bids, or none acceptable).
    Unsuccessful,
    Cancelled,
}

string_enum!(TenderStatus {
    Planned => "planned",
    Active => "active",
    Evaluation => "evaluation",
    Awarded => "awarded",
    Unsuccessful => "unsuccessful",
    Cancelled => "cancelled",
});

/// A social organisation's registration and what it offers.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct BidderProfileView {
    pub organisation_id: Uuid,
    pub name: String,
    /// The unified social credit code (统一社会信用代码), checked by its check character.
    pub credit_code: Option<String>,
    pub service_areas: Vec<ServiceCategory>,
    pub description: String,
    pub qualifications: Vec<QualificationView>,
    /// Contracts the organisation has held here, newest first.
    pub past_contracts: Vec<PastContract>,
    /// The mean of the performance scores of its evaluated contracts, rounded to two places;
    /// computed, never typed.
    pub average_performance: Option<String>,
    /// Whether the signed-in person may edit this profile.
    pub editable: bool,
}

#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct QualificationView {
    pub id: Uuid,
    pub name: String,
    pub issuer: String,
    pub number: String,
    pub valid_until: NaiveDate,
    pub expired: bool,
}

#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct PastContract {
    pub contract_id: Uuid,
    pub tender_id: Uuid,
    pub title: String,
    pub value_fen: i64,
    pub status: String,
    pub performance_score: Option<i32>,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct UpdateBidderProfileRequest {
    /// The unified social credit code: 18 characters with a valid check character.
    pub credit_code: Words,
    pub service_areas: Vec<ServiceCategory>,
    #[oai(default)]
    pub description: Text,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct AddQualificationRequest {
    pub name: Words,
    pub issuer: Words,
    pub number: Words,
    pub valid_until: NaiveDate,
}

/// An award criterion. Exactly one is the price; the weights sum to 100.
#[derive(Object, Debug, Clone, Serialize, Deserialize)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct CriterionInput {
    pub name: Words,
    pub weight: i32,
    #[oai(default)]
    pub price: bool,
}

#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct CriterionView {
    pub id: Uuid,
    pub name: String,
    pub weight: i32,
    pub price: bool,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct CreateTenderRequest {
    /// The subdistrict or district buying the service.
    pub place_id: Uuid,
    pub title: Words,
    pub description: Words,
    pub category: ServiceCategory,
    /// Resolutions of communities under the place that this procurement carries out.
    #[oai(default)]
    pub resolution_ids: Vec<Uuid>,
    /// The most the buyer will pay, in fen (CNY).
    pub budget_fen: i64,
    pub eligibility: Words,
    /// A qualification bidders must hold, valid at the deadline (matched by name).
    pub required_qualification: Option<Text>,
    pub criteria: Vec<CriterionInput>,
    pub enquiry_ends_at: DateTime<Utc>,
    pub tender_ends_at: DateTime<Utc>,
    /// Days the proposed award is published for complaints (公示期), 1 to 30.
    #[oai(default = "default_publicity_days")]
    pub publicity_days: i32,
}

fn default_publicity_days() -> i32 {
    5
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct UpdateTenderRequest {
    pub title: Option<Text>,
    pub description: Option<Text>,
    pub budget_fen: Option<i64>,
    pub eligibility: Option<Text>,
    pub required_qualification: Option<Text>,
    pub criteria: Option<Vec<CriterionInput>>,
    pub resolution_ids: Option<Vec<Uuid>>,
    pub enquiry_ends_at: Option<DateTime<Utc>>,
    pub tender_ends_at: Option<DateTime<Utc>>,
    pub publicity_days: Option<i32>,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
#[oai(rename = "ProcurementReasonRequest")]
pub struct ReasonRequest {
    pub reason: Words,
}

/// A file sent inline: its name and its bytes in base64. PNG, JPEG, WebP and PDF, up to
/// 5 MiB each, recognised by content.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct FileUpload {
    pub name: Words,
    pub content_base64: Words,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct AddDocumentsRequest {
    pub files: Vec<FileUpload>,
}

#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct DocumentView {
    pub id: Uuid,
    pub name: String,
    pub content_type: String,
    pub size: i64,
    pub sha256: String,
    /// Where to download it.
    pub url: String,
}

#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct EnquiryView {
    pub id: Uuid,
    /// The question; who asked is never shown.
    pub question: String,
    pub answer: Option<String>,
    pub asked_at: DateTime<Utc>,
    pub answered_at: Option<DateTime<Utc>>,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct AskRequest {
    /// The organisation asking (its members may ask; the answer is public and anonymous).
    pub organisation_id: Uuid,
    pub question: Words,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct AnswerRequest {
    pub answer: Words,
}

/// The opening record: how many bids there were and the SHA-256 of each.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct OpeningView {
    pub opened_at: DateTime<Utc>,
    pub bid_count: i32,
    pub digests: Vec<String>,
}

#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct AwardView {
    pub bid_id: Uuid,
    pub organisation_id: Uuid,
    pub organisation_name: String,
    pub price_fen: i64,
    /// The winning total, out of 100, to two places.
    pub total: String,
    pub proposed_at: DateTime<Utc>,
    pub publicity_ends_at: DateTime<Utc>,
    /// Made when the publicity period ended with every complaint answered.
    pub awarded_at: Option<DateTime<Utc>>,
}

#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct ComplaintView {
    pub id: Uuid,
    /// Shown to the officer and to the complaining organisation only.
    pub organisation_name: Option<String>,
    pub body: String,
    pub status: String,
    pub answer: Option<String>,
    pub created_at: DateTime<Utc>,
    pub answered_at: Option<DateTime<Utc>>,
}

/// What the signed-in person may do with this tender now.
#[derive(Object, Debug, Clone, Default)]
#[oai(skip_serializing_if_is_none)]
pub struct TenderAbilities {
    /// Edit, publish, cancel, answer enquiries, appoint the panel, award: the officer.
    pub manage: bool,
    /// Organisations the person may bid or ask for.
    pub bid_as: Vec<Uuid>,
    /// The person sits on the panel.
    pub evaluate: bool,
}

#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct TenderView {
    pub id: Uuid,
    /// The OCDS identifier.
    pub ocid: String,
    pub place_id: Uuid,
    pub place_name: String,
    pub title: String,
    pub description: String,
    pub category: ServiceCategory,
    pub resolution_ids: Vec<Uuid>,
    pub budget_fen: i64,
    pub currency: String,
    pub eligibility: String,
    pub required_qualification: Option<String>,
    pub criteria: Vec<CriterionView>,
    pub documents: Vec<DocumentView>,
    pub enquiries: Vec<EnquiryView>,
    pub status: TenderStatus,
    pub enquiry_ends_at: DateTime<Utc>,
    pub tender_ends_at: DateTime<Utc>,
    pub publicity_days: i32,
    pub published_at: Option<DateTime<Utc>>,
    pub opening: Option<OpeningView>,
    pub award: Option<AwardView>,
    pub complaints: Vec<ComplaintView>,
    pub contract_id: Option<Uuid>,
    pub end_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub abilities: TenderAbilities,
}

#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct TenderSummary {
    pub id: Uuid,
    pub ocid: String,
    pub place_name: String,
    pub title: String,
    pub category: ServiceCategory,
    pub budget_fen: i64,
    pub status: TenderStatus,
    pub tender_ends_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Object, Debug, Clone, Serialize, Deserialize)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct TeamMember {
    pub name: Words,
    pub role: Words,
    #[oai(default)]
    #[serde(default)]
    pub qualification: Text,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct SubmitBidRequest {
    pub organisation_id: Uuid,
    /// The price asked, in fen; no more than the budget ceiling.
    pub price_fen: i64,
    pub technical_proposal: Words,
    #[oai(default)]
    pub team: Vec<TeamMember>,
    #[oai(default)]
    pub documents: Vec<FileUpload>,
}

/// What a bidder gets back: the bid is sealed; its digest lets them check the opening record.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct BidReceipt {
    pub bid_id: Uuid,
    pub version: i32,
    /// SHA-256 of the sealed contents.
    pub digest: String,
    pub submitted_at: DateTime<Utc>,
}

#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct BidDocumentView {
    pub name: String,
    pub content_type: String,
    pub size: i64,
    pub sha256: String,
}

/// A bid's contents: for its own organisation at any time, for the officer and the cleared
/// panel after the opening.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct BidView {
    pub id: Uuid,
    pub organisation_id: Uuid,
    pub organisation_name: String,
    pub status: String,
    pub version: i32,
    pub digest: String,
    pub price_fen: i64,
    pub technical_proposal: String,
    pub team: Vec<TeamMember>,
    pub documents: Vec<BidDocumentView>,
    pub submitted_at: DateTime<Utc>,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct AppointEvaluatorRequest {
    pub email: Words,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct DeclarationRequest {
    /// True when the evaluator has a conflict of interest with any bidder: they step aside.
    pub conflict: bool,
    pub statement: Words,
}

#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct PanelMemberView {
    pub id: Uuid,
    pub user_id: Uuid,
    pub name: String,
    /// appointed, cleared (declared no conflict), recused.
    pub status: String,
    pub declaration: Option<String>,
    pub submitted: bool,
}

#[derive(Object, Debug, Clone, Serialize, Deserialize)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct ScoreInput {
    pub bid_id: Uuid,
    pub criterion_id: Uuid,
    /// 0 to 100: the share of the criterion's marks the bid earns.
    pub score: i32,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct SubmitScoresRequest {
    pub scores: Vec<ScoreInput>,
}

#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct PanelScore {
    pub evaluator_name: String,
    pub bid_id: Uuid,
    pub criterion_id: Uuid,
    pub score: i32,
}

/// A bid's place in the ranking.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct RankedBid {
    pub rank: i32,
    pub bid_id: Uuid,
    pub organisation_id: Uuid,
    pub organisation_name: String,
    pub price_fen: i64,
    /// Price points, out of the price criterion's weight, to two places.
    pub price_points: String,
    /// Quality points, to two places.
    pub quality_points: String,
    /// The weighted total out of 100, to two places.
    pub total: String,
    /// The exact total as a reduced fraction.
    pub total_exact: String,
    pub disqualified: bool,
}

/// The panel's work: the sheet for an evaluator, the summary for the officer.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
#[oai(rename = "TenderEvaluationView")]
pub struct EvaluationView {
    pub tender_id: Uuid,
    pub criteria: Vec<CriterionView>,
    pub panel: Vec<PanelMemberView>,
    /// The bidders' names, for declaring conflicts before any bid is shown.
    pub bidders: Vec<String>,
    /// The bids, once the person may see them (officer; evaluator after declaring).
    pub bids: Vec<BidView>,
    /// The signed-in evaluator's own scores.
    pub my_scores: Vec<ScoreInput>,
    /// Everyone's scores, once every cleared evaluator has submitted.
    pub all_scores: Vec<PanelScore>,
    /// The ranking, once every cleared evaluator (at least three) has submitted.
    pub ranking: Vec<RankedBid>,
    pub complete: bool,
    /// How the totals and ties are decided, in words.
    pub rule: String,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct LodgeComplaintRequest {
    pub organisation_id: Uuid,
    pub body: Words,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum ComplaintDecision {
    /// The award stands.
    Dismiss,
    /// The complaint is right about the proposed winner: the proposal is withdrawn and that
    /// bid disqualified; the officer proposes again.
    Uphold,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct AnswerComplaintRequest {
    pub decision: ComplaintDecision,
    pub answer: Words,
}

#[derive(Object, Debug, Clone, Serialize, Deserialize)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
#[oai(rename = "ContractMilestoneInput")]
pub struct MilestoneInput {
    pub title: Words,
    pub deliverable: Words,
    pub due_date: NaiveDate,
    pub amount_fen: i64,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct CreateContractRequest {
    pub value_fen: i64,
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
    pub signed_on: NaiveDate,
    pub milestones: Vec<MilestoneInput>,
}

#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct ContractMilestoneView {
    pub id: Uuid,
    pub position: i32,
    pub title: String,
    pub deliverable: String,
    pub due_date: String,
    pub amount_fen: i64,
    /// pending, reported, accepted, returned.
    pub status: String,
    pub report: Option<String>,
    pub evidence: Vec<DocumentView>,
    pub reported_at: Option<DateTime<Utc>>,
    pub decision_reason: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub paid_fen: Option<i64>,
    pub paid_at: Option<DateTime<Utc>>,
}

#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct AmendmentView {
    pub version: i32,
    pub reason: String,
    pub changes: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Object, Debug, Clone, Default)]
#[oai(skip_serializing_if_is_none)]
pub struct ContractAbilities {
    /// Decide on reports, amend, terminate: the officer.
    pub manage: bool,
    /// Report on milestones: the provider's members.
    pub report: bool,
    /// Score the performance: an evaluator of the place, once the contract has ended.
    pub evaluate: bool,
}

#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct ContractView {
    pub id: Uuid,
    pub tender_id: Uuid,
    pub tender_title: String,
    pub organisation_id: Uuid,
    pub organisation_name: String,
    pub title: String,
    pub value_fen: i64,
    pub period_start: String,
    pub period_end: String,
    pub signed_on: String,
    /// active, completed, terminated.
    pub status: String,
    pub version: i32,
    pub end_reason: Option<String>,
    pub milestones: Vec<ContractMilestoneView>,
    pub amendments: Vec<AmendmentView>,
    /// The sum of recorded payments.
    pub paid_fen: i64,
    pub performance_score: Option<i32>,
    pub performance_comment: Option<String>,
    pub resolution_ids: Vec<Uuid>,
    pub abilities: ContractAbilities,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct ReportMilestoneRequest {
    pub report: Words,
    #[oai(default)]
    pub files: Vec<FileUpload>,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct MilestoneDecisionRequest {
    pub accept: bool,
    pub reason: Words,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct AmendContractRequest {
    pub reason: Words,
    pub value_fen: Option<i64>,
    pub period_end: Option<NaiveDate>,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct EvaluateContractRequest {
    /// 0 to 100.
    pub score: i32,
    pub comment: Words,
}
