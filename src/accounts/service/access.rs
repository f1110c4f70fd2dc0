//! Who is behind a bearer token: the sign-in, the person and their access, read at once.

use super::*;

/// Resolves a bearer token to the actor behind it.
pub async fn authenticate(state: &AppState, token: &str) -> Result<Actor> {
    let unauthorized = || {
        AccountsError::Unauthenticated(
            "Sign in first: the bearer token is missing, expired or revoked.",
        )
    };
    if token.is_empty() || token.len() > 128 {
        return Err(unauthorized());
    }
    let now = clock::now();
    let token_hash = hash_token(token);
    if let Some(actor) = state.actors.get(&token_hash, now) {
        return Ok(actor);
    }
    // The sign-in, its person, their roles and their organisations, read with other
    // lookups under way at the same moment.
    let SignIn {
        session,
        user,
        access: (grants, affiliations, grid_communities),
    } = state
        .sign_in_reads
        .find(state, token_hash.clone())
        .await?
        .ok_or_else(unauthorized)?;
    if now - session.last_seen_at > ChronoDuration::minutes(5) {
        state.seen.note(state, session.id, now);
    }
    let actor = Actor {
        user,
        session_id: session.id,
        grants,
        affiliations,
        grid_communities,
    };
    state
        .actors
        .put(token_hash, actor.clone(), session.expires_at);
    Ok(actor)
}

/// A valid sign-in, its person and their access.
#[derive(Clone)]
pub struct SignIn {
    pub session: auth_session::Model,
    pub user: user::Model,
    pub access: Access,
}

/// The sign-ins with these token hashes that are valid at `now`, of people not deleted, each
/// with their person and access, in one read. On PostgreSQL the hashes go as one array, so the
/// statement's text is the same for any number of them and is prepared once per connection.
pub async fn sign_ins<C: ConnectionTrait>(
    db: &C,
    token_hashes: Vec<String>,
    now: chrono::DateTime<chrono::Utc>,
) -> std::result::Result<HashMap<String, SignIn>, sea_orm::DbErr> {
    let token_hash = Expr::col((auth_session::Entity, auth_session::Column::TokenHash));
    let by_token = if db.get_database_backend() == sea_orm::DbBackend::Postgres {
        token_hash.eq(PgFunc::any(Expr::val(token_hashes)))
    } else {
        token_hash.is_in(token_hashes)
    };
    let sign_in = auth_session::Entity::find()
        .join(
            sea_orm::JoinType::InnerJoin,
            auth_session::Entity::belongs_to(user::Entity)
                .from(auth_session::Column::UserId)
                .to(user::Column::Id)
                .into(),
        )
        .select_also(user::Entity)
        .filter(by_token)
        .filter(auth_session::Column::ExpiresAt.gt(now))
        .filter(user::Column::DeletedAt.is_null())
        .into_query();
    let rows = db.query_all(&with_access(sign_in)).await?;
    let mut by_hash: HashMap<String, Vec<&QueryResult>> = HashMap::new();
    for row in &rows {
        by_hash
            .entry(row.try_get("A_", "token_hash")?)
            .or_default()
            .push(row);
    }
    by_hash
        .into_iter()
        .map(|(hash, rows)| {
            let sign_in = SignIn {
                session: auth_session::Model::from_query_result(rows[0], "A_")?,
                user: user::Model::from_query_result(rows[0], "B_")?,
                access: read_access(rows)?,
            };
            Ok((hash, sign_in))
        })
        .collect()
}

pub async fn grants_of<C: ConnectionTrait>(
    db: &C,
    user_id: Uuid,
) -> std::result::Result<Vec<(Role, Option<Uuid>)>, sea_orm::DbErr> {
    Ok(role_grant::Entity::find()
        .filter(role_grant::Column::UserId.eq(user_id))
        .all(db)
        .await?
        .into_iter()
        .filter_map(|g| Role::parse(&g.role).map(|r| (r, g.place_id)))
        .collect())
}

/// A person's role grants (with their place), organisation affiliations, and the communities
/// of the grids they work in as grid workers.
pub type Access = (
    Vec<(Role, Option<Uuid>)>,
    Vec<crate::policy::Affiliation>,
    Vec<Uuid>,
);

/// A person's roles and organisations, in one read (every request whose sign-in is not
/// remembered resolves them).
pub async fn access_of<C: ConnectionTrait>(
    db: &C,
    user_id: Uuid,
) -> std::result::Result<Access, sea_orm::DbErr> {
    let person = sea_orm::sea_query::Query::select()
        .from(user::Entity)
        .and_where(Expr::col((user::Entity, user::Column::Id)).eq(user_id))
        .to_owned();
    read_access(&db.query_all(&with_access(person)).await?)
}

/// Extends a query that has one person's row (`user`) in scope so that it reads their access
/// too, in the same statement: one row per role grant (one with no grant when they have none),
/// then one per organisation membership, each with the query's own columns followed by `kind`
/// ("grant" or "member"), `role`, `first` (the grant's place, or the organisation) and `second`
/// (the community a grid grant's grid is in, else the grant's place; or the organisation's
/// place). `read_access` reads them back.
pub(super) fn with_access(person: SelectStatement) -> SelectStatement {
    let mut grants = person.clone();
    grants
        .left_join(
            role_grant::Entity,
            Expr::col((role_grant::Entity, role_grant::Column::UserId))
                .equals((user::Entity, user::Column::Id)),
        )
        .expr_as(Expr::val("grant"), Alias::new("kind"))
        .expr_as(
            Expr::col((role_grant::Entity, role_grant::Column::Role)),
            Alias::new("role"),
        )
        .expr_as(
            Expr::col((role_grant::Entity, role_grant::Column::PlaceId)),
            Alias::new("first"),
        )
        .left_join(
            place::Entity,
            Expr::col((place::Entity, place::Column::Id))
                .equals((role_grant::Entity, role_grant::Column::PlaceId)),
        )
        .expr_as(
            Expr::case(
                Expr::col((place::Entity, place::Column::Kind)).eq("grid"),
                Expr::col((place::Entity, place::Column::ParentId)),
            )
            .finally(Expr::col((role_grant::Entity, role_grant::Column::PlaceId))),
            Alias::new("second"),
        );
    let mut memberships = person;
    memberships
        .inner_join(
            organisation_member::Entity,
            Expr::col((
                organisation_member::Entity,
                organisation_member::Column::UserId,
            ))
            .equals((user::Entity, user::Column::Id)),
        )
        .inner_join(
            organisation::Entity,
            Expr::col((organisation::Entity, organisation::Column::Id)).equals((
                organisation_member::Entity,
                organisation_member::Column::OrganisationId,
            )),
        )
        .expr(Expr::val("member"))
        .expr(Expr::col((
            organisation_member::Entity,
            organisation_member::Column::Role,
        )))
        .expr(Expr::col((
            organisation_member::Entity,
            organisation_member::Column::OrganisationId,
        )))
        .expr(Expr::col((
            organisation::Entity,
            organisation::Column::PlaceId,
        )));
    grants.union(UnionType::All, memberships);
    grants
}

/// The role grants and affiliations in rows read with `with_access`.
pub(super) fn read_access<'r>(
    rows: impl IntoIterator<Item = &'r QueryResult>,
) -> std::result::Result<Access, sea_orm::DbErr> {
    let (mut grants, mut affiliations, mut grid_communities) = (Vec::new(), Vec::new(), Vec::new());
    for row in rows {
        let Some(role_name) = row.try_get::<Option<String>>("", "role")? else {
            continue; // the row of a person with no role grant
        };
        let first: Option<Uuid> = row.try_get("", "first")?;
        if row.try_get::<String>("", "kind")? == "grant" {
            if let Some(r) = Role::parse(&role_name) {
                grants.push((r, first));
                let second: Option<Uuid> = row.try_get("", "second")?;
                if r == Role::GridWorker
                    && let Some(community) = second.filter(|c| Some(*c) != first)
                {
                    grid_communities.push(community);
                }
            }
        } else if let (Some(organisation_id), Some(place_id)) =
            (first, row.try_get::<Option<Uuid>>("", "second")?)
        {
            affiliations.push(crate::policy::Affiliation {
                organisation_id,
                place_id,
                representative: role_name == "representative",
            });
        }
    }
    Ok((grants, affiliations, grid_communities))
}
