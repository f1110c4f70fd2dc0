//! A sample of every catalogue entry, rendered with made-up details: what the tests send
//! through a real SMTP server in both languages, and what an operator can preview.

use chrono::TimeZone;
use uuid::Uuid;

use crate::entities::session;
use crate::notifications::catalogue::Kind;
use crate::notifications::templates::{self, Mail};
use crate::state::AppState;

pub fn sample(state: &AppState, kind: Kind, language: &str) -> Mail {
    let url = state.link("/#/");
    let name = if language == "en" { "Li Hua" } else { "李华" };
    let when = chrono::Utc
        .with_ymd_and_hms(2026, 12, 20, 6, 0, 0)
        .single()
        .unwrap_or_default();
    let s = session::Model {
        id: Uuid::nil(),
        community_id: Uuid::nil(),
        title: "十二月协商议事会".into(),
        purpose: "讨论东门路灯".into(),
        starts_at: when,
        ends_at: when + chrono::Duration::hours(2),
        address: Some("社区活动中心".into()),
        online: true,
        status: "scheduled".into(),
        chair_id: Uuid::nil(),
        created_by: Uuid::nil(),
        invited: "{}".into(),
        cancel_reason: Some("场地维修".into()),
        current_item_id: None,
        event_seq: 0,
        revision: 1,
        reminded_at: None,
        opened_at: None,
        closed_at: None,
        created_at: when,
        updated_at: when,
    };
    let session_mail = |what| {
        crate::sessions::service::session_mail(
            state,
            &s,
            language,
            (name, "resident@example.org"),
            what,
        )
    };
    match kind {
        Kind::AuditHead => templates::audit_head(
            language,
            name,
            "2026-12-20",
            1234,
            "yishi-audit-head/1 2026-12-20 …",
            &url,
        ),
        Kind::VerifyEmail => templates::verify_email(language, name, &url),
        Kind::AlreadyRegistered => templates::already_registered(language, name, &url),
        Kind::PasswordReset => templates::password_reset(language, name, &url),
        Kind::SignInFailures => templates::sign_in_failures(language, name, 5, &url),
        Kind::MembershipDecided => {
            templates::membership_decided(language, name, "桂花社区", true, None)
        }
        Kind::SessionInvitation => session_mail("invite"),
        Kind::SessionUpdate => session_mail("update"),
        Kind::SessionReminder => session_mail("reminder"),
        Kind::SessionMinutes => templates::session_minutes(language, &s.title, "# 会议纪要", &url),
        Kind::PollOpened => templates::poll_opened(
            language,
            name,
            "是否同意更换路灯？",
            Some("2026-12-21 18:00"),
            &url,
        ),
        Kind::PollResult => templates::poll_result(
            language,
            name,
            "是否同意更换路灯？",
            true,
            "赞成: 12\n12 / 20",
            &url,
        ),
        Kind::ProxyUsed => {
            templates::proxy_used(language, name, "王芳", "是否同意更换路灯？", &url)
        }
        Kind::AssistedCounted => templates::assisted_counted(
            language,
            name,
            "是否同意更换路灯？",
            "纸质票 2026-001",
            &url,
        ),
        Kind::ProposalThreshold => {
            templates::proposal_threshold_reached(language, name, "东门加装路灯", &url)
        }
        Kind::ModerationDecision => templates::proposal_decision(
            language,
            name,
            "东门加装路灯",
            "accepted",
            Some("列入下次议事会"),
            &url,
        ),
        Kind::CosignerAccepted => {
            templates::proposal_accepted_cosigner(language, name, "东门加装路灯", &url)
        }
        Kind::ResolutionUpdate => templates::resolution_update(
            language,
            name,
            "更换东门路灯",
            "锦绣物业",
            60,
            "路灯已安装 8 盏。",
            &url,
        ),
        Kind::ResolutionOverdue => templates::resolution_overdue(
            language,
            name,
            "更换东门路灯",
            Some("采购路灯"),
            "2026-12-10",
            &url,
        ),
        Kind::ObjectionAnswered => {
            templates::objection_answered(language, name, "快递柜选址", false, "加装静音门。", &url)
        }
        Kind::BidConfirmation => templates::bid_confirmation(
            language,
            name,
            "社区居家养老服务",
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            &url,
        ),
        Kind::AwardOutcome => templates::award_outcome(
            language,
            name,
            "社区居家养老服务",
            false,
            "乐龄为老服务中心",
            "2/3 · 81.25 = 26.25 + 55.00",
            &url,
        ),
        Kind::TenderCancelled => templates::tender_cancelled(
            language,
            name,
            "社区居家养老服务",
            "预算调整，项目取消。",
            &url,
        ),
        Kind::ComplaintAnswered => templates::complaint_answered(
            language,
            name,
            "社区居家养老服务",
            false,
            "经核查，中标方团队人数符合要求。",
            &url,
        ),
        Kind::MilestoneDecision => templates::milestone_decision(
            language,
            name,
            "社区居家养老服务合同",
            "第一季度服务",
            true,
            "服务记录齐全。",
            &url,
        ),
    }
}
