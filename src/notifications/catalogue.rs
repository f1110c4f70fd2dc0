//! The one catalogue of everything the platform tells people: each kind of notification with
//! its category (what a person's preference is set for), who receives it, and whether it may
//! be muted. Security messages may not.

use poem_openapi::Enum;

/// What a person sets a preference for.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[oai(rename = "NotificationCategory", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// Sign-in, verification and password messages: always sent at once, never muted.
    Security,
    /// Decisions on joining a community.
    Membership,
    /// Invitations, changes, reminders and minutes of consultation sessions.
    Sessions,
    /// Votes opening, results, proxies and paper ballots.
    Votes,
    /// Proposals reaching their threshold, moderation decisions.
    Proposals,
    /// Progress, deadlines and objections of resolutions.
    Resolutions,
    /// Bids, awards and contract milestones.
    Contracts,
}

impl Category {
    pub const ALL: [Self; 7] = [
        Self::Security,
        Self::Membership,
        Self::Sessions,
        Self::Votes,
        Self::Proposals,
        Self::Resolutions,
        Self::Contracts,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Security => "security",
            Self::Membership => "membership",
            Self::Sessions => "sessions",
            Self::Votes => "votes",
            Self::Proposals => "proposals",
            Self::Resolutions => "resolutions",
            Self::Contracts => "contracts",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }

    pub fn mutable(self) -> bool {
        self != Self::Security
    }
}

/// How a person wants one category.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[oai(rename = "NotificationMode", rename_all = "snake_case")]
pub enum Mode {
    /// An email at once.
    Immediate,
    /// Gathered into one email a day, at the person's digest time.
    Digest,
    /// No email (the in-app feed still shows it).
    Off,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Immediate => "immediate",
            Self::Digest => "digest",
            Self::Off => "off",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Immediate, Self::Digest, Self::Off]
            .into_iter()
            .find(|m| m.as_str() == s)
    }
}

/// Every kind of notification the platform sends.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    AuditHead,
    VerifyEmail,
    AlreadyRegistered,
    PasswordReset,
    SignInFailures,
    MembershipDecided,
    SessionInvitation,
    SessionUpdate,
    SessionReminder,
    SessionMinutes,
    PollOpened,
    PollResult,
    ProxyUsed,
    AssistedCounted,
    ProposalThreshold,
    ModerationDecision,
    CosignerAccepted,
    ResolutionUpdate,
    ResolutionOverdue,
    ObjectionAnswered,
    BidConfirmation,
    AwardOutcome,
    TenderCancelled,
    ComplaintAnswered,
    MilestoneDecision,
}

/// One catalogue entry.
pub struct Entry {
    pub kind: Kind,
    pub key: &'static str,
    pub category: Category,
    /// Who receives it, in words (documented in the API).
    pub audience: &'static str,
    /// Messages about the same object within a few minutes are merged into one.
    pub mergeable: bool,
}

pub const CATALOGUE: [Entry; 25] = [
    Entry {
        kind: Kind::AuditHead,
        key: "audit_head",
        category: Category::Security,
        audience: "government officers: the day's head of the tamper-evident record, to keep",
        mergeable: false,
    },
    Entry {
        kind: Kind::VerifyEmail,
        key: "verify_email",
        category: Category::Security,
        audience: "a person who registered or asked for a new link",
        mergeable: false,
    },
    Entry {
        kind: Kind::AlreadyRegistered,
        key: "already_registered",
        category: Category::Security,
        audience: "the owner of an address someone tried to register again",
        mergeable: false,
    },
    Entry {
        kind: Kind::PasswordReset,
        key: "password_reset",
        category: Category::Security,
        audience: "a person who asked to reset their password",
        mergeable: false,
    },
    Entry {
        kind: Kind::SignInFailures,
        key: "sign_in_failures",
        category: Category::Security,
        audience: "a person whose password someone got wrong several times in a row",
        mergeable: false,
    },
    Entry {
        kind: Kind::MembershipDecided,
        key: "membership_decided",
        category: Category::Membership,
        audience: "a person whose request to join a community was decided",
        mergeable: false,
    },
    Entry {
        kind: Kind::SessionInvitation,
        key: "session_invitation",
        category: Category::Sessions,
        audience: "everyone invited to a session",
        mergeable: false,
    },
    Entry {
        kind: Kind::SessionUpdate,
        key: "session_update",
        category: Category::Sessions,
        audience: "the invited, when a session is rescheduled or cancelled",
        mergeable: true,
    },
    Entry {
        kind: Kind::SessionReminder,
        key: "session_reminder",
        category: Category::Sessions,
        audience: "the invited who have not declined, the day before",
        mergeable: false,
    },
    Entry {
        kind: Kind::SessionMinutes,
        key: "session_minutes",
        category: Category::Sessions,
        audience: "the attendees, when the session closes",
        mergeable: false,
    },
    Entry {
        kind: Kind::PollOpened,
        key: "poll_opened",
        category: Category::Votes,
        audience: "the electorate, when a vote opens",
        mergeable: false,
    },
    Entry {
        kind: Kind::PollResult,
        key: "poll_result",
        category: Category::Votes,
        audience: "the electorate, when a vote closes",
        mergeable: false,
    },
    Entry {
        kind: Kind::ProxyUsed,
        key: "proxy_used",
        category: Category::Votes,
        audience: "an owner whose proxy voted for them",
        mergeable: false,
    },
    Entry {
        kind: Kind::AssistedCounted,
        key: "assisted_counted",
        category: Category::Votes,
        audience: "a voter whose paper ballot was counted",
        mergeable: false,
    },
    Entry {
        kind: Kind::ProposalThreshold,
        key: "proposal_threshold",
        category: Category::Proposals,
        audience: "the proposer, when enough people co-signed",
        mergeable: false,
    },
    Entry {
        kind: Kind::ModerationDecision,
        key: "moderation_decision",
        category: Category::Proposals,
        audience: "the proposer, when the committee decides",
        mergeable: false,
    },
    Entry {
        kind: Kind::CosignerAccepted,
        key: "cosigner_accepted",
        category: Category::Proposals,
        audience: "co-signers, when the proposal is accepted",
        mergeable: false,
    },
    Entry {
        kind: Kind::ResolutionUpdate,
        key: "resolution_update",
        category: Category::Resolutions,
        audience: "followers of a resolution, on each update",
        mergeable: true,
    },
    Entry {
        kind: Kind::ResolutionOverdue,
        key: "resolution_overdue",
        category: Category::Resolutions,
        audience: "the responsible organisation and the committee",
        mergeable: false,
    },
    Entry {
        kind: Kind::ObjectionAnswered,
        key: "objection_answered",
        category: Category::Resolutions,
        audience: "a resident whose objection was answered",
        mergeable: false,
    },
    Entry {
        kind: Kind::BidConfirmation,
        key: "bid_confirmation",
        category: Category::Contracts,
        audience: "the bidding organisation's members, on each submission",
        mergeable: false,
    },
    Entry {
        kind: Kind::AwardOutcome,
        key: "award_outcome",
        category: Category::Contracts,
        audience: "every bidder, when a tender is decided",
        mergeable: false,
    },
    Entry {
        kind: Kind::TenderCancelled,
        key: "tender_cancelled",
        category: Category::Contracts,
        audience: "the members of every organisation that bid, when a tender is cancelled",
        mergeable: false,
    },
    Entry {
        kind: Kind::ComplaintAnswered,
        key: "complaint_answered",
        category: Category::Contracts,
        audience: "a bidding organisation's members, when its complaint about an award is answered",
        mergeable: false,
    },
    Entry {
        kind: Kind::MilestoneDecision,
        key: "milestone_decision",
        category: Category::Contracts,
        audience: "the contractor, when a milestone is accepted or rejected",
        mergeable: false,
    },
];

impl Kind {
    /// Whether its mail carries a link that works once (and so is sealed until sent).
    pub fn carries_one_time_link(self) -> bool {
        matches!(self, Kind::VerifyEmail | Kind::PasswordReset)
    }

    pub fn entry(self) -> &'static Entry {
        CATALOGUE
            .iter()
            .find(|e| e.kind == self)
            .expect("every kind is in the catalogue")
    }

    pub fn key(self) -> &'static str {
        self.entry().key
    }

    pub fn category(self) -> Category {
        self.entry().category
    }

    pub fn parse(key: &str) -> Option<Self> {
        CATALOGUE.iter().find(|e| e.key == key).map(|e| e.kind)
    }
}

/// What someone gets unless they choose otherwise. Everything in the catalogue concerns the
/// person directly (their own proposal, a vote they are in, a resolution they follow), so it
/// comes at once; procurement news goes to organisations and officers, and is off for others.
pub fn default_mode(category: Category, committee: bool, in_organisation: bool) -> Mode {
    match category {
        Category::Contracts if !(committee || in_organisation) => Mode::Off,
        _ => Mode::Immediate,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_one_entry_with_a_unique_key() {
        let mut keys: Vec<&str> = CATALOGUE.iter().map(|e| e.key).collect();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), CATALOGUE.len());
        for e in &CATALOGUE {
            assert_eq!(Kind::parse(e.key), Some(e.kind));
            assert_eq!(e.kind.entry().key, e.key);
        }
    }

    #[test]
    fn security_is_never_muted_and_always_immediate() {
        assert!(!Category::Security.mutable());
        for (c, o) in [(false, false), (true, false), (false, true), (true, true)] {
            assert_eq!(default_mode(Category::Security, c, o), Mode::Immediate);
        }
        assert_eq!(
            default_mode(Category::Resolutions, false, false),
            Mode::Immediate
        );
        assert_eq!(default_mode(Category::Contracts, false, false), Mode::Off);
        assert_eq!(
            default_mode(Category::Contracts, false, true),
            Mode::Immediate
        );
        assert_eq!(
            default_mode(Category::Contracts, true, false),
            Mode::Immediate
        );
    }
}
