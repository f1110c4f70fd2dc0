//! Discussion threads: comments, official replies and their moderation.

use super::*;

pub(super) fn comment_view(c: proposal_comment::Model, access: Access, n: &Names) -> CommentView {
    let state = if c.hidden_at.is_some() {
        CommentState::Hidden
    } else if c.deleted_at.is_some() {
        CommentState::Deleted
    } else {
        CommentState::Visible
    };
    let committee = access == Access::Committee;
    let show = state == CommentState::Visible || (state == CommentState::Hidden && committee);
    CommentView {
        id: c.id,
        parent_id: c.parent_id,
        depth: c.depth,
        author: show.then(|| PersonRef {
            id: c.author_id,
            display_name: n.people.get(&c.author_id).cloned().unwrap_or_default(),
        }),
        organisation: if show {
            c.organisation_id
                .and_then(|o| n.organisations.get(&o))
                .cloned()
        } else {
            None
        },
        body: show.then_some(c.body),
        state,
        hidden_reason: if committee { c.hidden_reason } else { None },
        created_at: c.created_at,
        edited_at: c.edited_at,
    }
}

pub(super) async fn member_access<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    id: Uuid,
) -> Result<(proposal::Model, PlaceScope, Access)> {
    let (p, scope, access) = load_visible(db, Some(actor), id).await?;
    if access == Access::Public {
        return Err(E::Forbidden(
            "Discussions are open to members of the community.".into(),
        ));
    }
    Ok((p, scope, access))
}

pub async fn comments(state: &AppState, actor: &Actor, id: Uuid) -> Result<Vec<CommentView>> {
    let db = &state.db.conn;
    let (p, _, access) = member_access(db, actor, id).await?;
    let rows = proposal_comment::Entity::find()
        .filter(proposal_comment::Column::ProposalId.eq(p.id))
        .order_by_asc(proposal_comment::Column::CreatedAt)
        .order_by_asc(proposal_comment::Column::Id)
        .limit(MAX_COMMENTS)
        .all(db)
        .await?;
    let n = names(
        db,
        rows.iter().map(|c| c.author_id).collect(),
        rows.iter().filter_map(|c| c.organisation_id).collect(),
        vec![],
    )
    .await?;
    Ok(rows
        .into_iter()
        .map(|c| comment_view(c, access, &n))
        .collect())
}

pub(super) async fn one_comment_view<C: ConnectionTrait>(
    db: &C,
    c: proposal_comment::Model,
    access: Access,
) -> Result<CommentView> {
    let n = names(
        db,
        vec![c.author_id],
        c.organisation_id.into_iter().collect(),
        vec![],
    )
    .await?;
    Ok(comment_view(c, access, &n))
}

pub async fn comment(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    req: CommentRequest,
) -> Result<CommentView> {
    let body = clean_text("invalid_body", &req.body, 4000, "comment")?;
    let txn = state.db.write().await?;
    let (p, scope, access) = member_access(&*txn, actor, id).await?;
    authorize(actor, Action::Participate, Some(&scope))?;
    if status_of(&p) == ProposalStatus::Draft {
        return Err(E::Conflict(
            "not_open_for_discussion",
            "Drafts have no discussion yet.".into(),
        ));
    }
    check_speaks_for(actor, req.organisation_id, &scope)?;
    let depth = match req.parent_id {
        Some(parent) => {
            let parent = proposal_comment::Entity::find_by_id(parent)
                .filter(proposal_comment::Column::ProposalId.eq(p.id))
                .one(&*txn)
                .await?
                .ok_or(E::CommentNotFound)?;
            parent.depth + 1
        }
        None => 0,
    };
    if depth > MAX_DEPTH {
        return Err(E::Invalid(
            "thread_too_deep",
            format!("Replies nest at most {MAX_DEPTH} levels deep; answer a comment higher up."),
        ));
    }
    let count = proposal_comment::Entity::find()
        .filter(proposal_comment::Column::ProposalId.eq(p.id))
        .count(&*txn)
        .await?;
    if count >= MAX_COMMENTS {
        return Err(E::Conflict(
            "thread_full",
            format!("This discussion has reached its {MAX_COMMENTS} comments."),
        ));
    }
    let c = proposal_comment::ActiveModel {
        id: Set(Uuid::new_v4()),
        proposal_id: Set(p.id),
        parent_id: Set(req.parent_id),
        depth: Set(depth),
        author_id: Set(actor.id()),
        organisation_id: Set(req.organisation_id),
        body: Set(body),
        created_at: Set(clock::now()),
        edited_at: Set(None),
        deleted_at: Set(None),
        hidden_at: Set(None),
        hidden_reason: Set(None),
    }
    .insert(&*txn)
    .await?;
    audit::record(&*txn, Change {
        actor: Some(actor.id()),
        action: "comment.posted",
        object_type: "proposal",
        object_id: p.id.to_string(),
        summary: json!({ "comment_id": c.id, "parent_id": c.parent_id, "organisation_id": c.organisation_id }),
    })
    .await?;
    txn.commit().await?;
    one_comment_view(&state.db.conn, c, access).await
}

pub(super) async fn load_comment<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    comment_id: Uuid,
) -> Result<(proposal_comment::Model, PlaceScope, Access)> {
    let c = proposal_comment::Entity::find_by_id(comment_id)
        .one(db)
        .await?
        .ok_or(E::CommentNotFound)?;
    let (_, scope, access) = member_access(db, actor, c.proposal_id).await?;
    Ok((c, scope, access))
}

pub async fn edit_comment(
    state: &AppState,
    actor: &Actor,
    comment_id: Uuid,
    body: &str,
) -> Result<CommentView> {
    let body = clean_text("invalid_body", body, 4000, "comment")?;
    let txn = state.db.write().await?;
    let (c, _, access) = load_comment(&*txn, actor, comment_id).await?;
    if c.author_id != actor.id() {
        return Err(E::Forbidden("Only the author may edit a comment.".into()));
    }
    if c.deleted_at.is_some() || c.hidden_at.is_some() {
        return Err(E::Conflict(
            "comment_removed",
            "This comment was deleted or hidden.".into(),
        ));
    }
    if clock::now() - c.created_at > ChronoDuration::minutes(EDIT_WINDOW_MINUTES) {
        return Err(E::Conflict(
            "edit_window_closed",
            format!("Comments can be edited for {EDIT_WINDOW_MINUTES} minutes after posting."),
        ));
    }
    let mut am: proposal_comment::ActiveModel = c.clone().into();
    am.body = Set(body);
    am.edited_at = Set(Some(clock::now()));
    let c = am.update(&*txn).await?;
    audit::record(
        &*txn,
        Change {
            actor: Some(actor.id()),
            action: "comment.edited",
            object_type: "proposal",
            object_id: c.proposal_id.to_string(),
            summary: json!({ "comment_id": c.id }),
        },
    )
    .await?;
    txn.commit().await?;
    one_comment_view(&state.db.conn, c, access).await
}

/// The author deletes a comment; a tombstone keeps the thread's shape.
pub async fn delete_comment(state: &AppState, actor: &Actor, comment_id: Uuid) -> Result<()> {
    let txn = state.db.write().await?;
    let (c, _, _) = load_comment(&*txn, actor, comment_id).await?;
    if c.author_id != actor.id() {
        return Err(E::Forbidden("Only the author may delete a comment.".into()));
    }
    if c.deleted_at.is_some() {
        return Err(E::Conflict(
            "comment_removed",
            "This comment is already deleted.".into(),
        ));
    }
    proposal_comment::Entity::update_many()
        .col_expr(
            proposal_comment::Column::DeletedAt,
            Expr::value(Some(clock::now())),
        )
        .col_expr(proposal_comment::Column::Body, Expr::value(""))
        .filter(proposal_comment::Column::Id.eq(c.id))
        .exec(&*txn)
        .await?;
    audit::record(
        &*txn,
        Change {
            actor: Some(actor.id()),
            action: "comment.deleted",
            object_type: "proposal",
            object_id: c.proposal_id.to_string(),
            summary: json!({ "comment_id": c.id }),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

pub async fn hide_comment(
    state: &AppState,
    actor: &Actor,
    comment_id: Uuid,
    reason: &str,
) -> Result<CommentView> {
    let reason = clean_text("reason_required", reason, 2000, "reason")?;
    let txn = state.db.write().await?;
    let (c, scope, access) = load_comment(&*txn, actor, comment_id).await?;
    authorize(actor, Action::Moderate, Some(&scope))?;
    if c.hidden_at.is_some() {
        return Err(E::Conflict(
            "already_hidden",
            "This comment is already hidden.".into(),
        ));
    }
    let mut am: proposal_comment::ActiveModel = c.clone().into();
    am.hidden_at = Set(Some(clock::now()));
    am.hidden_reason = Set(Some(reason.clone()));
    let c = am.update(&*txn).await?;
    resolve_reports(&*txn, c.proposal_id, Some(c.id)).await?;
    audit::record(
        &*txn,
        Change {
            actor: Some(actor.id()),
            action: "comment.hidden",
            object_type: "proposal",
            object_id: c.proposal_id.to_string(),
            summary: json!({ "comment_id": c.id, "reason": reason }),
        },
    )
    .await?;
    txn.commit().await?;
    one_comment_view(&state.db.conn, c, access).await
}
