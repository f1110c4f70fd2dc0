//! Who may do what to a resolution.

use super::*;

/// What one actor is to one resolution.
#[derive(Default)]
pub(super) struct Standing {
    pub(super) committee: bool,
    pub(super) reviewer: bool,
    pub(super) evaluator: bool,
    pub(super) responsible: bool,
    pub(super) resident: bool,
    pub(super) member: bool,
}

impl Standing {
    pub(super) fn of(actor: Option<&Actor>, r: &resolution::Model, scope: &PlaceScope) -> Self {
        let Some(a) = actor else {
            return Self::default();
        };
        let community = r.community_id;
        Self {
            committee: allows(a, Action::Moderate, Some(scope)),
            reviewer: allows(a, Action::ReviewResolution, Some(scope)),
            evaluator: allows(a, Action::EvaluateResolution, Some(scope)),
            responsible: r
                .responsible_org_id
                .is_some_and(|org| a.affiliations.iter().any(|x| x.organisation_id == org)),
            resident: a.email_verified()
                && (a.holds_at(Role::Resident, community) || a.holds_at(Role::Owner, community)),
            member: a.is_member_of(scope) || allows(a, Action::ViewDashboard, Some(scope)),
        }
    }

    /// Sees the full resolution (names included), drafts too.
    pub(super) fn insider(&self) -> bool {
        self.committee || self.reviewer || self.responsible
    }

    /// Sees names and the objections' reasons once it is public.
    pub(super) fn full(&self) -> bool {
        self.insider() || self.member || self.evaluator
    }
}

/// Loads a resolution the actor may see, and what they are to it. Drafts are visible only to
/// insiders; from taking effect on, to everyone (members see more).
pub(super) async fn load_visible<C: ConnectionTrait>(
    db: &C,
    actor: Option<&Actor>,
    id: Uuid,
) -> Result<(resolution::Model, Standing)> {
    let r = load(db, id).await?;
    let scope = scope_of(db, r.community_id).await?;
    let standing = Standing::of(actor, &r, &scope);
    if !status_of(&r).is_public() && !standing.insider() {
        return Err(E::NotFound);
    }
    Ok((r, standing))
}

pub(super) async fn require_committee<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    r: &resolution::Model,
) -> Result<()> {
    let scope = scope_of(db, r.community_id).await?;
    if allows(actor, Action::Moderate, Some(&scope)) {
        Ok(())
    } else {
        Err(E::Forbidden(
            "Only the community's committee manages its resolutions.".into(),
        ))
    }
}

pub(super) fn require_responsible(actor: &Actor, r: &resolution::Model) -> Result<()> {
    let ok = r
        .responsible_org_id
        .is_some_and(|org| actor.affiliations.iter().any(|a| a.organisation_id == org));
    if ok || allows(actor, Action::OperatePlatform, None) {
        Ok(())
    } else {
        Err(E::Forbidden(
            "Only members of the responsible organisation report on this resolution.".into(),
        ))
    }
}

pub(super) fn require_resident(actor: &Actor, r: &resolution::Model) -> Result<()> {
    let c = r.community_id;
    if actor.email_verified()
        && (actor.holds_at(Role::Resident, c) || actor.holds_at(Role::Owner, c))
    {
        Ok(())
    } else {
        Err(E::Forbidden(
            "Only verified residents of this community may do this.".into(),
        ))
    }
}
