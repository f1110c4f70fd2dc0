//! Tracking execution: tasks, progress reports and evidence.

use super::*;

pub(super) fn link(state: &AppState, id: Uuid) -> String {
    state.link(&format!("/#/resolutions/{id}"))
}

pub(super) async fn org_name<C: ConnectionTrait>(
    db: &C,
    id: Option<Uuid>,
) -> Result<Option<String>> {
    let Some(id) = id else { return Ok(None) };
    Ok(organisation::Entity::find_by_id(id)
        .one(db)
        .await?
        .map(|o| o.name))
}

/// Queues mail to the resolution's followers about a progress update (or, with `None`, an
/// end: cancelled or completed).
pub(super) async fn org_names<C: ConnectionTrait>(
    db: &C,
    mut ids: Vec<Uuid>,
) -> Result<HashMap<Uuid, String>> {
    ids.sort();
    ids.dedup();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(organisation::Entity::find()
        .filter(organisation::Column::Id.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|o| (o.id, o.name))
        .collect())
}

pub(super) async fn mail_followers<C: ConnectionTrait>(
    state: &AppState,
    txn: &C,
    r: &resolution::Model,
    update: Option<(&str, i32, &str)>,
) -> Result<()> {
    let followers: Vec<Uuid> = resolution_follower::Entity::find()
        .select_only()
        .column(resolution_follower::Column::UserId)
        .filter(resolution_follower::Column::ResolutionId.eq(r.id))
        .into_tuple()
        .all(txn)
        .await?;
    if followers.is_empty() {
        return Ok(());
    }
    let org = org_name(txn, r.responsible_org_id)
        .await?
        .unwrap_or_default();
    let url = link(state, r.id);
    let people = user::Entity::find()
        .filter(user::Column::Id.is_in(followers))
        .filter(user::Column::DeletedAt.is_null())
        .all(txn)
        .await?;
    let rows = people
        .into_iter()
        .map(|u| {
            let (who, percent, text) = match update {
                Some((who, percent, text)) => (who.to_string(), percent, text.to_string()),
                None => (
                    org.clone(),
                    r.progress,
                    status_words(&u.language, &r.status),
                ),
            };
            let mail = templates::resolution_update(
                &u.language,
                &u.display_name,
                &r.title,
                &who,
                percent,
                &text,
                &url,
            );
            notifications::Recipient {
                user_id: u.id,
                email: u.email,
                mail,
            }
        })
        .collect();
    notifications::notify_many(
        state,
        txn,
        notifications::Kind::ResolutionUpdate,
        Some(r.id),
        rows,
    )
    .await?;
    Ok(())
}

pub(super) fn status_words(language: &str, status: &str) -> String {
    let zh = language != "en";
    match (status, zh) {
        ("completed", true) => "决议已办结。".into(),
        ("completed", false) => "The resolution is completed.".into(),
        ("cancelled", true) => "决议已取消。".into(),
        ("cancelled", false) => "The resolution was cancelled.".into(),
        (s, _) => s.to_string(),
    }
}

pub(super) fn require_in_progress(r: &resolution::Model) -> Result<()> {
    if matches!(
        status_of(r),
        ResolutionStatus::InProgress | ResolutionStatus::Overdue
    ) {
        Ok(())
    } else {
        Err(E::Conflict(
            "not_in_progress",
            "Progress is reported while the resolution is being carried out.".into(),
        ))
    }
}

/// A file from the update form, checked.
pub struct IncomingFile {
    pub file_name: String,
    pub bytes: Vec<u8>,
}

pub(super) fn check_files(files: &[IncomingFile]) -> Result<Vec<&'static str>> {
    if files.len() > MAX_FILES {
        return Err(E::Invalid(
            "too_many_files",
            format!("At most {MAX_FILES} files per update."),
        ));
    }
    files
        .iter()
        .map(|f| {
            if f.bytes.len() > MAX_FILE_BYTES {
                return Err(E::TooLarge(format!(
                    "\"{}\" is larger than {} MiB.",
                    f.file_name,
                    MAX_FILE_BYTES / (1024 * 1024)
                )));
            }
            if f.bytes.is_empty() {
                return Err(E::Invalid(
                    "empty_file",
                    format!("\"{}\" is empty.", f.file_name),
                ));
            }
            sniff(&f.bytes).ok_or_else(|| {
                E::UnsupportedType(format!(
                    "\"{}\" is not a PNG, JPEG or WebP image or a PDF.",
                    f.file_name
                ))
            })
        })
        .collect()
}

pub fn safe_name(raw: &str) -> String {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = base
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '"' | '<' | '>'))
        .take(120)
        .collect();
    if cleaned.trim().is_empty() {
        "evidence".into()
    } else {
        cleaned.trim().to_string()
    }
}

/// The responsible party reports progress with evidence. Files are stored first, then the
/// update is committed; if the commit fails the stored files are removed, so nothing is left
/// half-written.
pub async fn post_update(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    body: &str,
    percent: i32,
    files: Vec<IncomingFile>,
) -> Result<ProgressUpdateView> {
    let body = clean("body_required", body, 10000, "update")?;
    if !(0..=100).contains(&percent) {
        return Err(E::Invalid(
            "invalid_percent",
            "The percentage is between 0 and 100.".into(),
        ));
    }
    let r = load(&state.db.conn, id).await?;
    require_responsible(actor, &r)?;
    require_in_progress(&r)?;
    let types = check_files(&files)?;
    let mut stored: Vec<(Uuid, String, &'static str, &IncomingFile)> = Vec::new();
    for (file, content_type) in files.iter().zip(types) {
        let key = Uuid::new_v4().to_string();
        if let Err(e) = state.evidence.put(&key, &file.bytes).await {
            remove_stored(state, &stored).await;
            return Err(storage_error(e));
        }
        stored.push((Uuid::new_v4(), key, content_type, file));
    }
    let written = write_update(state, actor, &r, &body, percent, &stored).await;
    if written.is_err() {
        remove_stored(state, &stored).await;
    }
    let update_id = written?;
    state.mail_wake.notify_one();
    let views = updates_of(&state.db.conn, &r, true).await?;
    views
        .into_iter()
        .find(|u| u.id == update_id)
        .ok_or(E::NotFound)
}

pub(super) fn storage_error(e: std::io::Error) -> E {
    if e.kind() == std::io::ErrorKind::StorageFull {
        E::StorageFull(e.to_string())
    } else {
        E::Storage(e)
    }
}

pub(super) async fn remove_stored(
    state: &AppState,
    stored: &[(Uuid, String, &'static str, &IncomingFile)],
) {
    for (_, key, _, _) in stored {
        if let Err(e) = state.evidence.delete(key).await {
            tracing::warn!(error = %e, "could not remove an evidence file after a failed update");
        }
    }
}

pub(super) async fn write_update(
    state: &AppState,
    actor: &Actor,
    r: &resolution::Model,
    body: &str,
    percent: i32,
    stored: &[(Uuid, String, &'static str, &IncomingFile)],
) -> Result<Uuid> {
    let txn = state.db.write().await?;
    let r = load(&*txn, r.id).await?;
    require_in_progress(&r)?;
    let org = r.responsible_org_id.ok_or(E::Missing("organisation"))?;
    let now = clock::now();
    let update_id = Uuid::new_v4();
    resolution_update::ActiveModel {
        id: Set(update_id),
        resolution_id: Set(r.id),
        organisation_id: Set(org),
        author_id: Set(actor.id()),
        body: Set(body.to_string()),
        percent: Set(percent),
        created_at: Set(now),
    }
    .insert(&*txn)
    .await?;
    let mut hashes = Vec::new();
    for (eid, key, content_type, file) in stored {
        let sha = hex::encode(Sha256::digest(&file.bytes));
        hashes.push(sha.clone());
        evidence_file::ActiveModel {
            id: Set(*eid),
            resolution_id: Set(r.id),
            update_id: Set(update_id),
            file_name: Set(safe_name(&file.file_name)),
            content_type: Set((*content_type).into()),
            size: Set(file.bytes.len() as i64),
            sha256: Set(sha),
            storage_key: Set(key.clone()),
            created_at: Set(now),
        }
        .insert(&*txn)
        .await?;
    }
    resolution::Entity::update_many()
        .col_expr(resolution::Column::Progress, Expr::value(percent))
        .col_expr(resolution::Column::UpdatedAt, Expr::value(now))
        .filter(resolution::Column::Id.eq(r.id))
        .exec(&*txn)
        .await?;
    record(
        &*txn,
        Some(actor.id()),
        "resolution.update",
        r.id,
        json!({ "update_id": update_id, "percent": percent, "evidence_sha256": hashes }),
    )
    .await?;
    let who = org_name(&*txn, Some(org)).await?.unwrap_or_default();
    mail_followers(state, &*txn, &r, Some((&who, percent, body))).await?;
    txn.commit().await?;
    Ok(update_id)
}

pub async fn milestone_done(
    state: &AppState,
    actor: &Actor,
    milestone_id: Uuid,
) -> Result<ResolutionView> {
    let txn = state.db.write().await?;
    let m = resolution_milestone::Entity::find_by_id(milestone_id)
        .one(&*txn)
        .await?
        .ok_or(E::Missing("milestone"))?;
    let r = load(&*txn, m.resolution_id).await?;
    require_responsible(actor, &r)?;
    require_in_progress(&r)?;
    let done = resolution_milestone::Entity::update_many()
        .col_expr(
            resolution_milestone::Column::DoneAt,
            Expr::value(Some(clock::now())),
        )
        .col_expr(
            resolution_milestone::Column::DoneBy,
            Expr::value(Some(actor.id())),
        )
        .filter(resolution_milestone::Column::Id.eq(milestone_id))
        .filter(resolution_milestone::Column::DoneAt.is_null())
        .exec(&*txn)
        .await?;
    if done.rows_affected != 1 {
        return Err(E::Conflict(
            "milestone_done",
            "This milestone is already done.".into(),
        ));
    }
    record(
        &*txn,
        Some(actor.id()),
        "milestone.done",
        r.id,
        json!({ "milestone_id": milestone_id, "title": m.title }),
    )
    .await?;
    txn.commit().await?;
    get(state, Some(actor), r.id).await
}

pub async fn complete(state: &AppState, actor: &Actor, id: Uuid) -> Result<ResolutionView> {
    let txn = state.db.write().await?;
    let r = load(&*txn, id).await?;
    let scope = scope_of(&*txn, r.community_id).await?;
    if require_responsible(actor, &r).is_err() && !allows(actor, Action::Moderate, Some(&scope)) {
        return Err(E::Forbidden(
            "The responsible organisation or the committee marks a resolution completed.".into(),
        ));
    }
    let open = resolution_milestone::Entity::find()
        .filter(resolution_milestone::Column::ResolutionId.eq(id))
        .filter(resolution_milestone::Column::DoneAt.is_null())
        .count(&*txn)
        .await?;
    transition(&r, Event::Complete)?;
    if open > 0 {
        return Err(E::Conflict(
            "milestones_open",
            format!("{open} milestone(s) are not done yet."),
        ));
    }
    let settings = settings_of(&*txn, r.community_id).await?;
    let now = clock::now();
    move_to(
        &*txn,
        &r,
        Event::Complete,
        vec![
            (resolution::Column::CompletedAt, Some(now).into()),
            (resolution::Column::Progress, 100.into()),
            (
                resolution::Column::RatingClosesAt,
                Some(now + Duration::days(i64::from(settings.rating_days))).into(),
            ),
        ],
    )
    .await?;
    record(
        &*txn,
        Some(actor.id()),
        "resolution.completed",
        id,
        json!({ "on_time": r.due_at.is_none_or(|due| now < due) }),
    )
    .await?;
    let r = load(&*txn, id).await?;
    mail_followers(state, &*txn, &r, None).await?;
    txn.commit().await?;
    state.mail_wake.notify_one();
    get(state, Some(actor), id).await
}
