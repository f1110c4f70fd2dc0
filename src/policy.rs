//! Authorisation: one place that answers "may this actor do this action on this object".
//! Every operation asks it; the object's scope is always loaded by the server, never taken
//! from the client.

use uuid::Uuid;

use crate::entities::user;

/// Roles a person holds, each scoped to a place (or, for the administrator, the platform).
#[derive(Copy, Clone, Debug, PartialEq, Eq, poem_openapi::Enum, serde::Serialize)]
#[oai(rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Resident,
    Owner,
    CommitteeMember,
    PartySecretary,
    GridWorker,
    GovernmentOfficer,
    Evaluator,
    /// The legal adviser who reviews major resolutions before they take effect (法制审核).
    LegalReviewer,
    PlatformAdmin,
}

impl Role {
    pub const ALL: [Role; 9] = [
        Role::Resident,
        Role::Owner,
        Role::CommitteeMember,
        Role::PartySecretary,
        Role::GridWorker,
        Role::GovernmentOfficer,
        Role::Evaluator,
        Role::LegalReviewer,
        Role::PlatformAdmin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Resident => "resident",
            Role::Owner => "owner",
            Role::CommitteeMember => "committee_member",
            Role::PartySecretary => "party_secretary",
            Role::GridWorker => "grid_worker",
            Role::GovernmentOfficer => "government_officer",
            Role::Evaluator => "evaluator",
            Role::LegalReviewer => "legal_reviewer",
            Role::PlatformAdmin => "platform_admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// An organisation the actor belongs to, and the place it is based in.
#[derive(Clone, Debug)]
pub struct Affiliation {
    pub organisation_id: Uuid,
    pub place_id: Uuid,
    pub representative: bool,
}

/// The signed-in person making a request, with the roles they hold.
#[derive(Clone, Debug)]
pub struct Actor {
    pub user: user::Model,
    pub session_id: Uuid,
    pub grants: Vec<(Role, Option<Uuid>)>,
    pub affiliations: Vec<Affiliation>,
    /// The communities whose grids the actor works in as a grid worker.
    pub grid_communities: Vec<Uuid>,
}

impl Actor {
    pub fn id(&self) -> Uuid {
        self.user.id
    }

    pub fn is_admin(&self) -> bool {
        self.grants
            .iter()
            .any(|(r, p)| *r == Role::PlatformAdmin && p.is_none())
    }

    pub fn email_verified(&self) -> bool {
        self.user.email_verified_at.is_some()
    }

    /// True when the actor holds `role` at the place or at one of its ancestors.
    pub fn holds_over(&self, role: Role, scope: &PlaceScope) -> bool {
        self.grants
            .iter()
            .any(|(r, p)| *r == role && p.is_some_and(|p| scope.path.contains(&p)))
    }

    /// True when the actor holds `role` at exactly this place.
    pub fn holds_at(&self, role: Role, place_id: Uuid) -> bool {
        self.grants
            .iter()
            .any(|(r, p)| *r == role && *p == Some(place_id))
    }

    /// A member of the community the scope ends at: a verified resident or owner there, its
    /// committee, party secretary or grid workers (of it or of one of its grids), or someone in
    /// an organisation based there or above it.
    pub fn is_member_of(&self, community: &PlaceScope) -> bool {
        let Some(&here) = community.path.last() else {
            return false;
        };
        self.holds_at(Role::Resident, here)
            || self.holds_at(Role::Owner, here)
            || self.holds_over(Role::CommitteeMember, community)
            || self.holds_over(Role::PartySecretary, community)
            || self.holds_at(Role::GridWorker, here)
            || self.grid_communities.contains(&here)
            || self
                .affiliations
                .iter()
                .any(|a| community.path.contains(&a.place_id))
    }

    /// The organisation the actor may speak for in this community, if they belong to it.
    pub fn speaks_for(&self, organisation_id: Uuid, community: &PlaceScope) -> bool {
        self.affiliations
            .iter()
            .any(|a| a.organisation_id == organisation_id && community.path.contains(&a.place_id))
    }

    fn holds_anywhere(&self, role: Role) -> bool {
        self.grants.iter().any(|(r, _)| *r == role)
    }
}

/// A place and all its ancestors (the place itself last).
#[derive(Clone, Debug)]
pub struct PlaceScope {
    pub path: Vec<Uuid>,
}

/// What an actor wants to do.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Action {
    CreatePlace,
    GrantRole(Role),
    CreateOrganisation,
    ManageOrganisationMembers,
    EditRegister,
    ViewRegister,
    ReviewMemberships,
    ViewAudit,
    VerifyAudit,
    /// Propose, co-sign, comment and report in a community.
    Participate,
    /// Moderate proposals and threads, and set the community's rules.
    Moderate,
    /// Convene and run consultation sessions.
    Convene,
    /// Review resolutions for legality before they take effect.
    ReviewResolution,
    /// Evaluate completed resolutions as an appointed third party.
    EvaluateResolution,
    /// See a community's (or several communities') dashboard.
    ViewDashboard,
    /// Run the platform itself: the outbox, the suppression list, every community.
    OperatePlatform,
    /// Buy services for a place: tenders, evaluation, award and contracts (a government
    /// officer of the buying place or above it).
    Procure,
}

/// The whole rule table. `scope` is the place the object lives in.
pub fn allows(actor: &Actor, action: Action, scope: Option<&PlaceScope>) -> bool {
    if action == Action::GrantRole(Role::PlatformAdmin) {
        return false; // only `yishi admin create`, on the server itself
    }
    if actor.is_admin() {
        return true;
    }
    let over = |role: Role| scope.is_some_and(|s| actor.holds_over(role, s));
    let committee = || over(Role::CommitteeMember) || over(Role::PartySecretary);
    match action {
        Action::CreatePlace => over(Role::GovernmentOfficer),
        Action::GrantRole(role) => match role {
            Role::PlatformAdmin => false,
            Role::CommitteeMember | Role::GridWorker => {
                over(Role::GovernmentOfficer) || over(Role::PartySecretary)
            }
            _ => over(Role::GovernmentOfficer),
        },
        Action::CreateOrganisation => over(Role::GovernmentOfficer) || committee(),
        Action::ManageOrganisationMembers => over(Role::GovernmentOfficer) || committee(),
        Action::EditRegister | Action::ReviewMemberships => committee(),
        Action::ViewRegister => {
            committee() || over(Role::GridWorker) || over(Role::GovernmentOfficer)
        }
        Action::ViewAudit => committee() || over(Role::GovernmentOfficer) || over(Role::Evaluator),
        Action::Participate => {
            actor.email_verified() && scope.is_some_and(|s| actor.is_member_of(s))
        }
        Action::Moderate => committee(),
        Action::Convene => over(Role::PartySecretary) || over(Role::CommitteeMember),
        Action::VerifyAudit => {
            actor.holds_anywhere(Role::GovernmentOfficer) || actor.holds_anywhere(Role::Evaluator)
        }
        Action::ReviewResolution => over(Role::LegalReviewer),
        Action::EvaluateResolution => over(Role::Evaluator),
        Action::OperatePlatform => false, // administrators only, allowed above
        Action::Procure => over(Role::GovernmentOfficer),
        Action::ViewDashboard => {
            committee()
                || over(Role::GovernmentOfficer)
                || over(Role::Evaluator)
                || scope.is_some_and(|s| actor.is_member_of(s))
        }
    }
}

/// An action `allows` refused, with the words that say which one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("You may not {0} here.")]
pub struct Refused(pub &'static str);

/// `allows`, as an error when refused; each context maps it to its own `Forbidden`.
pub fn authorize(actor: &Actor, action: Action, scope: Option<&PlaceScope>) -> Result<(), Refused> {
    if allows(actor, action, scope) {
        Ok(())
    } else {
        Err(Refused(describe(action)))
    }
}

fn describe(action: Action) -> &'static str {
    match action {
        Action::CreatePlace => "create places",
        Action::GrantRole(_) => "grant this role",
        Action::CreateOrganisation => "register organisations",
        Action::ManageOrganisationMembers => "manage this organisation's members",
        Action::EditRegister => "edit the unit register",
        Action::ViewRegister => "view the unit register",
        Action::ReviewMemberships => "review membership requests",
        Action::ViewAudit => "view this record",
        Action::VerifyAudit => "verify the record",
        Action::Participate => {
            "take part in this community (be a verified member with a verified email)"
        }
        Action::Moderate => "moderate in this community",
        Action::Convene => "convene sessions in this community",
        Action::ReviewResolution => "review resolutions here (a legal reviewer's role)",
        Action::EvaluateResolution => "evaluate resolutions here (an evaluator's role)",
        Action::ViewDashboard => "see this dashboard",
        Action::OperatePlatform => "run the platform (an administrator's work)",
        Action::Procure => "buy services for this place (a government officer's work)",
    }
}
