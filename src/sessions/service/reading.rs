//! Reading sessions: one, or a community's list, as the reader may see them.

use super::*;

pub async fn view<C: ConnectionTrait>(
    db: &C,
    actor: Option<&Actor>,
    s: session::Model,
) -> Result<SessionView> {
    let agenda = agenda_item::Entity::find()
        .filter(agenda_item::Column::SessionId.eq(s.id))
        .order_by_asc(agenda_item::Column::Position)
        .all(db)
        .await?
        .into_iter()
        .map(|a| AgendaItemView {
            id: a.id,
            position: a.position,
            proposal_id: a.proposal_id,
            title: a.title,
            description: a.description,
        })
        .collect();
    let chair = user::Entity::find_by_id(s.chair_id).one(db).await?;
    let invitations = session_invitation::Entity::find()
        .filter(session_invitation::Column::SessionId.eq(s.id))
        .all(db)
        .await?;
    let present = session_attendance::Entity::find()
        .filter(session_attendance::Column::SessionId.eq(s.id))
        .all(db)
        .await?;
    let present_ids: HashSet<Uuid> = present.iter().map(|a| a.user_id).collect();
    let mut groups: BTreeMap<String, GroupCount> = BTreeMap::new();
    for i in &invitations {
        let g = groups
            .entry(i.invited_as.clone())
            .or_insert_with(|| GroupCount {
                group: i.invited_as.clone(),
                ..Default::default()
            });
        g.invited += 1;
        if present_ids.contains(&i.user_id) {
            g.present += 1;
        }
    }
    let invited_ids: HashSet<Uuid> = invitations.iter().map(|i| i.user_id).collect();
    let helped = crate::sessions::assisted::counts(db, s.id, &invited_ids, &present_ids).await?;
    let attendance = AttendanceSummary {
        invited: invitations.len() as u64,
        confirmed: invitations
            .iter()
            .filter(|i| i.response == "confirmed")
            .count() as u64
            + helped.confirmed,
        declined: invitations
            .iter()
            .filter(|i| i.response == "declined")
            .count() as u64
            + helped.declined,
        present_online: present.iter().filter(|a| a.mode == "online").count() as u64,
        present_assisted: present.iter().filter(|a| a.mode == "assisted").count() as u64
            + helped.present,
        register_persons: helped.persons,
        by_group: groups.into_values().collect(),
    };
    let my_response = actor.and_then(|a| {
        invitations
            .iter()
            .find(|i| i.user_id == a.id())
            .map(|i| i.response.clone())
    });
    Ok(SessionView {
        id: s.id,
        community_id: s.community_id,
        title: s.title,
        purpose: s.purpose,
        starts_at: s.starts_at,
        ends_at: s.ends_at,
        address: s.address,
        online: s.online,
        status: SessionStatus::parse(&s.status),
        chair: PersonRef {
            id: s.chair_id,
            display_name: chair.map(|c| c.display_name).unwrap_or_default(),
        },
        agenda,
        current_item_id: s.current_item_id,
        invited: serde_json::from_str(&s.invited).unwrap_or_default(),
        cancel_reason: s.cancel_reason,
        attendance,
        my_response,
        opened_at: s.opened_at,
        closed_at: s.closed_at,
    })
}

pub async fn get(state: &AppState, actor: &Actor, id: Uuid) -> Result<SessionView> {
    let (s, _) = load_visible(&state.db.conn, actor, id).await?;
    view(&state.db.conn, Some(actor), s).await
}

pub async fn list(state: &AppState, actor: &Actor, community_id: Uuid) -> Result<Vec<SessionView>> {
    let db = &state.db.conn;
    load_community(db, community_id).await?;
    let scope = scope_of(db, community_id).await?;
    let convenor = allows(actor, Action::Convene, Some(&scope));
    if !convenor && !actor.is_member_of(&scope) {
        return Err(E::Forbidden(
            "Sessions are listed for members of the community.".into(),
        ));
    }
    let mut q = session::Entity::find().filter(session::Column::CommunityId.eq(community_id));
    if !convenor {
        q = q.filter(session::Column::Status.ne(SessionStatus::Draft.as_str()));
    }
    let mut out = Vec::new();
    for s in q
        .order_by_desc(session::Column::StartsAt)
        .limit(200)
        .all(db)
        .await?
    {
        out.push(view(db, Some(actor), s).await?);
    }
    Ok(out)
}
