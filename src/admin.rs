//! Command-line operations: the first platform administrator (the demo data is `demo`).

use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use serde_json::json;
use uuid::Uuid;

use crate::accounts::service::{check_display_name, check_password, normalize_email};
use crate::audit::{self, Change};
use crate::clock;
use crate::db::Db;
use crate::entities::{role_grant, user};
use crate::passwords::Passwords;
use crate::policy::Role;

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Db(#[from] sea_orm::DbErr),
}

pub(crate) async fn insert_user<C: ConnectionTrait>(
    txn: &C,
    email: &str,
    name: &str,
    hash: &str,
) -> Result<user::Model, AdminError> {
    let now = clock::now();
    Ok(user::ActiveModel {
        id: Set(Uuid::new_v4()),
        email: Set(email.into()),
        display_name: Set(name.into()),
        password_hash: Set(hash.into()),
        language: Set("zh-CN".into()),
        email_verified_at: Set(Some(now)),
        deleted_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(txn)
    .await?)
}

pub(crate) async fn grant<C: ConnectionTrait>(
    txn: &C,
    user_id: Uuid,
    place_id: Option<Uuid>,
    role: Role,
) -> Result<(), AdminError> {
    role_grant::ActiveModel {
        id: Set(Uuid::new_v4()),
        user_id: Set(user_id),
        place_id: Set(place_id),
        role: Set(role.as_str().into()),
        granted_by: Set(None),
        created_at: Set(clock::now()),
    }
    .insert(txn)
    .await?;
    Ok(())
}

/// Creates a platform administrator with a verified email. Refuses an email already in use.
pub async fn create_admin(
    db: &Db,
    email: &str,
    name: &str,
    password: &str,
) -> Result<Uuid, AdminError> {
    let email = normalize_email(email).map_err(|e| AdminError::Invalid(e.to_string()))?;
    let name = check_display_name(name).map_err(|e| AdminError::Invalid(e.to_string()))?;
    check_password(password).map_err(|e| AdminError::Invalid(e.to_string()))?;
    let hash = Passwords::new(1)
        .hash(password)
        .await
        .map_err(AdminError::Invalid)?;
    let txn = db.write().await?;
    if user::Entity::find()
        .filter(user::Column::Email.eq(&email))
        .one(&*txn)
        .await?
        .is_some()
    {
        return Err(AdminError::Invalid(format!(
            "an account with {email} already exists"
        )));
    }
    let u = insert_user(&*txn, &email, &name, &hash).await?;
    grant(&*txn, u.id, None, Role::PlatformAdmin).await?;
    audit::record(
        &*txn,
        Change {
            actor: None,
            action: "admin.created",
            object_type: "user",
            object_id: u.id.to_string(),
            summary: json!({ "via": "command line" }),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(u.id)
}
