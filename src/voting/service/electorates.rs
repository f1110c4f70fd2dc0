//! Who may vote in a poll: electorates drawn from the register, the session or the community.

use super::*;

pub(super) struct Entity {
    pub(super) key: String,
    pub(super) label: String,
    pub(super) area: i64,
    pub(super) people: Vec<Uuid>,
}

pub(super) async fn names<C: ConnectionTrait>(
    db: &C,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, String>> {
    let mut out = HashMap::new();
    for chunk in ids.chunks(CHUNK) {
        out.extend(
            user::Entity::find()
                .select_only()
                .column(user::Column::Id)
                .column(user::Column::DisplayName)
                .filter(user::Column::Id.is_in(chunk.to_vec()))
                .into_tuple::<(Uuid, String)>()
                .all(db)
                .await?,
        );
    }
    Ok(out)
}

pub(super) async fn person_entities<C: ConnectionTrait>(
    db: &C,
    people: Vec<Uuid>,
) -> Result<Vec<Entity>> {
    let mut seen = HashSet::new();
    let people: Vec<Uuid> = people.into_iter().filter(|u| seen.insert(*u)).collect();
    let named = names(db, &people).await?;
    Ok(people
        .into_iter()
        .map(|u| Entity {
            key: format!("user:{u}"),
            label: named.get(&u).cloned().unwrap_or_default(),
            area: 0,
            people: vec![u],
        })
        .collect())
}

/// The register's heads as voting entities: each cast by the accounts linked to its persons.
pub(super) fn register_entities(heads: Vec<RegisterHead>) -> Vec<Entity> {
    heads
        .into_iter()
        .map(|h| Entity {
            key: h.key,
            label: h.label,
            area: h.area_centi,
            people: h.accounts,
        })
        .collect()
}

/// Builds the voting entities of a poll's electorate, as the counting rules in DOMAIN.md say,
/// and the register version they were drawn from (for electorates the register decides).
pub(super) async fn build_electorate<C: ConnectionTrait>(
    db: &C,
    p: &poll::Model,
) -> Result<(Option<i64>, Vec<Entity>)> {
    let session = match p.session_id {
        Some(sid) => session::Entity::find_by_id(sid).one(db).await?,
        None => None,
    };
    let from_register = |kind| async move {
        let (seq, heads) = register_electorate::heads(
            db,
            p.community_id,
            kind,
            &spec_of(p).grid_ids,
            RegisterAt::Now,
        )
        .await?;
        Ok::<_, E>((Some(seq), register_entities(heads)))
    };
    match electorate_of(p) {
        ElectorateKind::Residents => from_register(RegisterElectorate::Residents).await,
        ElectorateKind::Households => from_register(RegisterElectorate::Households).await,
        ElectorateKind::Owners => from_register(RegisterElectorate::Owners).await,
        ElectorateKind::Attendees => {
            let people = session_attendance::Entity::find()
                .filter(session_attendance::Column::SessionId.eq(p.session_id))
                .order_by_asc(session_attendance::Column::CreatedAt)
                .all(db)
                .await?
                .into_iter()
                .map(|a| a.user_id)
                .collect::<Vec<Uuid>>();
            let present: HashSet<Uuid> = people.iter().copied().collect();
            let mut entities = person_entities(db, people).await?;
            // People a grid worker checked in, with or without an account of their own.
            if let Some(sid) = p.session_id {
                for (_, person) in
                    crate::sessions::assisted::present_persons(db, sid, &present).await?
                {
                    entities.push(Entity {
                        key: format!("person:{}", person.id),
                        label: person.name,
                        area: 0,
                        people: person.user_id.into_iter().collect(),
                    });
                }
            }
            Ok((None, entities))
        }
        ElectorateKind::Organisations => {
            let groups: InvitedGroups = session
                .as_ref()
                .and_then(|s| serde_json::from_str(&s.invited).ok())
                .unwrap_or_default();
            let mut out = Vec::new();
            for org in crate::entities::organisation::Entity::find()
                .filter(crate::entities::organisation::Column::Id.is_in(groups.organisation_ids))
                .order_by_asc(crate::entities::organisation::Column::Name)
                .all(db)
                .await?
            {
                let people = organisation_member::Entity::find()
                    .filter(organisation_member::Column::OrganisationId.eq(org.id))
                    .filter(organisation_member::Column::Role.eq("representative"))
                    .all(db)
                    .await?
                    .into_iter()
                    .map(|m| m.user_id)
                    .collect();
                out.push(Entity {
                    key: format!("org:{}", org.id),
                    label: org.name,
                    area: 0,
                    people,
                });
            }
            Ok((None, out))
        }
    }
}

/// Writes the frozen electorate. A person who could vote for several entities (say, a
/// household member who also represents an organisation) is linked to the first only; the
/// others vote through their other members. Returns the electorate's weight and, by person,
/// what `read_electorate` would read back (so the process that opens a poll has it in memory
/// before the first ballot).
pub(super) async fn freeze_electorate<C: ConnectionTrait>(
    db: &C,
    p: &poll::Model,
) -> Result<(Weight, Electors, Option<i64>)> {
    let (register_seq, entities) = build_electorate(db, p).await?;
    let mut weight = Weight::default();
    let mut linked = Electors::new();
    let mut voters = Vec::new();
    let mut people = Vec::new();
    for e in entities {
        let id = Uuid::new_v4();
        weight.headcount += 1;
        weight.area_centi += e.area.max(0) as u64;
        for u in e.people {
            if linked
                .insert(
                    u,
                    Elector {
                        voter_id: id,
                        area_centi: e.area,
                    },
                )
                .is_none()
            {
                people.push(poll_voter_person::ActiveModel {
                    id: Set(Uuid::new_v4()),
                    poll_id: Set(p.id),
                    voter_id: Set(id),
                    user_id: Set(u),
                });
            }
        }
        voters.push(poll_voter::ActiveModel {
            id: Set(id),
            poll_id: Set(p.id),
            entity_key: Set(e.key),
            label: Set(e.label),
            area_centi: Set(e.area),
            voted: Set(false),
            voted_via: Set(None),
            cast_by: Set(None),
            voted_at: Set(None),
        });
    }
    let mut voters = voters.into_iter().peekable();
    while voters.peek().is_some() {
        let chunk: Vec<_> = voters.by_ref().take(CHUNK).collect();
        poll_voter::Entity::insert_many(chunk).exec(db).await?;
    }
    let mut people = people.into_iter().peekable();
    while people.peek().is_some() {
        let chunk: Vec<_> = people.by_ref().take(CHUNK).collect();
        poll_voter_person::Entity::insert_many(chunk)
            .exec(db)
            .await?;
    }
    Ok((weight, linked, register_seq))
}
