use chrono::{DateTime, Utc};
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::payload::PlainText;
use poem_openapi::{ApiResponse, OpenApi};
use uuid::Uuid;

use super::model::*;
use super::service::{
    assisted, electorate, erasure, export, households, import, owners, persons, reads, requests,
    units,
};
use crate::api::{ApiResult, ApiTags, BearerAuth, Created, NoContent};
use crate::error::ApiError;
use crate::state::AppState;

pub struct RegisterApi {
    pub state: AppState,
}

/// The register as a CSV file.
#[derive(ApiResponse)]
pub enum RegisterFile {
    #[oai(status = 200, content_type = "text/csv; charset=utf-8")]
    Csv(
        PlainText<String>,
        #[oai(header = "Content-Disposition")] String,
    ),
}

#[OpenApi(tag = "ApiTags::Register")]
impl RegisterApi {
    /// Add a person to the community's register (the committee). An identity document is kept
    /// only as a keyed hash and its last four characters.
    #[oai(
        path = "/communities/:community_id/register/persons",
        method = "post",
        operation_id = "createRegisterPerson"
    )]
    async fn create_person(
        &self,
        auth: BearerAuth,
        community_id: Path<Uuid>,
        body: Json<CreatePersonRequest>,
    ) -> ApiResult<Created<PersonView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Created::Created(Json(
            persons::create(&self.state, &actor, community_id.0, body.0).await?,
        )))
    }

    /// Units by grid, building and number, each with its area, owner and households: the
    /// committee and officers see all, a grid worker their grids.
    #[oai(
        path = "/communities/:community_id/register/units",
        method = "get",
        operation_id = "listRegisterUnits"
    )]
    async fn list_units(
        &self,
        auth: BearerAuth,
        community_id: Path<Uuid>,
    ) -> ApiResult<Json<Vec<RegisterUnitView>>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            units::list(&self.state, &actor, community_id.0).await?,
        ))
    }

    /// Persons of the register, by unit and then name: the committee and officers see all, a
    /// grid worker their grids.
    /// `q` matches a name (spaces, width and case ignored), a unit, or a document's last four.
    #[oai(
        path = "/communities/:community_id/register/persons",
        method = "get",
        operation_id = "listRegisterPersons"
    )]
    async fn list_persons(
        &self,
        auth: BearerAuth,
        community_id: Path<Uuid>,
        #[oai(validator(max_length = 64))] q: Query<Option<String>>,
        status: Query<Option<PersonStatus>>,
        #[oai(validator(minimum(value = "1"), maximum(value = "1000")))] limit: Query<Option<u64>>,
        #[oai(validator(maximum(value = "10000000")))] offset: Query<Option<u64>>,
    ) -> ApiResult<Json<Vec<PersonView>>> {
        let actor = auth.actor(&self.state).await?;
        let query = persons::PersonQuery {
            q: q.0,
            status: status.0,
            limit: limit.0.unwrap_or(200),
            offset: offset.0.unwrap_or(0),
        };
        Ok(Json(
            persons::list(&self.state, &actor, community_id.0, query).await?,
        ))
    }

    /// One person of the register.
    #[oai(
        path = "/register/persons/:person_id",
        method = "get",
        operation_id = "getRegisterPerson"
    )]
    async fn get_person(
        &self,
        auth: BearerAuth,
        person_id: Path<Uuid>,
    ) -> ApiResult<Json<PersonView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(persons::get(&self.state, &actor, person_id.0).await?))
    }

    /// Change a person (moved in or out, died, corrected), with the reason kept in the version.
    #[oai(
        path = "/register/persons/:person_id",
        method = "patch",
        operation_id = "updateRegisterPerson"
    )]
    async fn update_person(
        &self,
        auth: BearerAuth,
        person_id: Path<Uuid>,
        body: Json<UpdatePersonRequest>,
    ) -> ApiResult<Json<PersonView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            persons::update(&self.state, &actor, person_id.0, body.0).await?,
        ))
    }

    /// Register a household at a unit.
    #[oai(
        path = "/communities/:community_id/register/households",
        method = "post",
        operation_id = "createHousehold"
    )]
    async fn create_household(
        &self,
        auth: BearerAuth,
        community_id: Path<Uuid>,
        body: Json<CreateHouseholdRequest>,
    ) -> ApiResult<Created<HouseholdView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Created::Created(Json(
            households::create(&self.state, &actor, community_id.0, body.0).await?,
        )))
    }

    /// Households with their members.
    #[oai(
        path = "/communities/:community_id/register/households",
        method = "get",
        operation_id = "listHouseholds"
    )]
    async fn list_households(
        &self,
        auth: BearerAuth,
        community_id: Path<Uuid>,
    ) -> ApiResult<Json<Vec<HouseholdView>>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            households::list(&self.state, &actor, community_id.0).await?,
        ))
    }

    /// Relabel a household or dissolve it (once no one lives in it).
    #[oai(
        path = "/register/households/:household_id",
        method = "patch",
        operation_id = "updateHousehold"
    )]
    async fn update_household(
        &self,
        auth: BearerAuth,
        household_id: Path<Uuid>,
        body: Json<UpdateHouseholdRequest>,
    ) -> ApiResult<Json<HouseholdView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            households::update(&self.state, &actor, household_id.0, body.0).await?,
        ))
    }

    /// Register an owner: a person, co-owners (one head, with the representative who votes),
    /// the developer, or an organisation.
    #[oai(
        path = "/communities/:community_id/register/owners",
        method = "post",
        operation_id = "createOwner"
    )]
    async fn create_owner(
        &self,
        auth: BearerAuth,
        community_id: Path<Uuid>,
        body: Json<CreateOwnerRequest>,
    ) -> ApiResult<Created<OwnerView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Created::Created(Json(
            owners::create(&self.state, &actor, community_id.0, body.0).await?,
        )))
    }

    /// Owners with their units and summed floor area.
    #[oai(
        path = "/communities/:community_id/register/owners",
        method = "get",
        operation_id = "listOwners"
    )]
    async fn list_owners(
        &self,
        auth: BearerAuth,
        community_id: Path<Uuid>,
    ) -> ApiResult<Json<Vec<OwnerView>>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            owners::list(&self.state, &actor, community_id.0).await?,
        ))
    }

    /// Change an owner: its persons, its representative, its name; or confirm who an owner
    /// known only by name is.
    #[oai(
        path = "/register/owners/:owner_id",
        method = "patch",
        operation_id = "updateOwner"
    )]
    async fn update_owner(
        &self,
        auth: BearerAuth,
        owner_id: Path<Uuid>,
        body: Json<UpdateOwnerRequest>,
    ) -> ApiResult<Json<OwnerView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            owners::update(&self.state, &actor, owner_id.0, body.0).await?,
        ))
    }

    /// Record who owns a unit, with its property certificate number.
    #[oai(
        path = "/units/:unit_id/owner",
        method = "put",
        operation_id = "setUnitOwner"
    )]
    async fn set_unit_owner(
        &self,
        auth: BearerAuth,
        unit_id: Path<Uuid>,
        body: Json<SetUnitOwnerRequest>,
    ) -> ApiResult<Json<OwnerView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            owners::set_unit_owner(&self.state, &actor, unit_id.0, body.0).await?,
        ))
    }

    /// Forget who owns a unit (it counts as a head of its own until an owner is recorded).
    #[oai(
        path = "/units/:unit_id/owner",
        method = "delete",
        operation_id = "clearUnitOwner"
    )]
    async fn clear_unit_owner(
        &self,
        auth: BearerAuth,
        unit_id: Path<Uuid>,
        #[oai(validator(max_length = 500))] reason: Query<String>,
    ) -> ApiResult<NoContent> {
        let actor = auth.actor(&self.state).await?;
        owners::clear_unit_owner(&self.state, &actor, unit_id.0, &reason.0).await?;
        Ok(NoContent::Done)
    }

    /// What the committee should look at: units with no owner, owners known only by name,
    /// similar names, persons in no household, empty households, co-owners with no
    /// representative. Nothing is merged or split by the program.
    #[oai(
        path = "/communities/:community_id/register/anomalies",
        method = "get",
        operation_id = "listRegisterAnomalies"
    )]
    async fn anomalies(
        &self,
        auth: BearerAuth,
        community_id: Path<Uuid>,
    ) -> ApiResult<Json<Vec<Anomaly>>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            reads::anomalies(&self.state, &actor, community_id.0).await?,
        ))
    }

    /// The electorate a poll would freeze if it opened now: heads, area, how many can vote
    /// online, and the anomalies that can change the count.
    #[oai(
        path = "/communities/:community_id/register/electorate",
        method = "get",
        operation_id = "previewElectorate"
    )]
    async fn preview(
        &self,
        auth: BearerAuth,
        community_id: Path<Uuid>,
        electorate: Query<RegisterElectorate>,
        #[oai(validator(max_items = 50))] grid_ids: Query<Option<Vec<Uuid>>>,
    ) -> ApiResult<Json<ElectoratePreview>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            electorate::preview(
                &self.state,
                &actor,
                community_id.0,
                electorate.0,
                grid_ids.0.unwrap_or_default(),
            )
            .await?,
        ))
    }

    /// The whole register now, at a version (`seq`) or as it was at a moment (`as_of`).
    #[oai(
        path = "/communities/:community_id/register",
        method = "get",
        operation_id = "readRegister"
    )]
    async fn snapshot(
        &self,
        auth: BearerAuth,
        community_id: Path<Uuid>,
        #[oai(validator(minimum(value = "0")))] seq: Query<Option<i64>>,
        as_of: Query<Option<DateTime<Utc>>>,
    ) -> ApiResult<Json<RegisterSnapshot>> {
        let actor = auth.actor(&self.state).await?;
        if seq.0.is_some() && as_of.0.is_some() {
            return Err(ApiError::unprocessable(
                "invalid_version",
                "Ask for a version (seq) or a moment (as_of), not both.",
            ));
        }
        Ok(Json(
            reads::snapshot(&self.state, &actor, community_id.0, seq.0, as_of.0).await?,
        ))
    }

    /// The register's changes after a version, oldest first: who, when and why.
    #[oai(
        path = "/communities/:community_id/register/changes",
        method = "get",
        operation_id = "listRegisterChanges"
    )]
    async fn changes(
        &self,
        auth: BearerAuth,
        community_id: Path<Uuid>,
        #[oai(validator(minimum(value = "0")))] after: Query<Option<i64>>,
        #[oai(validator(minimum(value = "1"), maximum(value = "1000")))] limit: Query<Option<u64>>,
    ) -> ApiResult<Json<Vec<RegisterChangeView>>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            reads::changes(
                &self.state,
                &actor,
                community_id.0,
                after.0.unwrap_or(0),
                limit.0.unwrap_or(200),
            )
            .await?,
        ))
    }

    /// Import a register file (CSV, UTF-8): persons with the unit they live in and whether they
    /// own it. Rows are matched by document, else by name and unit, so a second import of the
    /// same file changes nothing; each bad row is reported by its line, the good ones are taken.
    #[oai(
        path = "/communities/:community_id/register/import",
        method = "post",
        operation_id = "importRegister"
    )]
    async fn import(
        &self,
        auth: BearerAuth,
        community_id: Path<Uuid>,
        form: RegisterImportForm,
    ) -> ApiResult<Json<RegisterImportReport>> {
        let actor = auth.actor(&self.state).await?;
        let bytes = form.file.into_vec().await.map_err(|e| {
            ApiError::bad_request(
                "invalid_request",
                format!("The file could not be read: {e}"),
            )
        })?;
        let text = String::from_utf8(bytes).map_err(|_| {
            ApiError::unprocessable(
                "invalid_encoding",
                "The register file must be CSV in UTF-8 (save it as \"CSV UTF-8\").",
            )
        })?;
        Ok(Json(
            import::import(&self.state, &actor, community_id.0, &text).await?,
        ))
    }

    /// Ask the committee to record a change (moved in, moved out, died, sold), with the paper
    /// it rests on: grid workers for their grids, and the committee.
    #[oai(
        path = "/communities/:community_id/register/requests",
        method = "post",
        operation_id = "requestRegisterChange"
    )]
    async fn request_change(
        &self,
        auth: BearerAuth,
        community_id: Path<Uuid>,
        body: Json<CreateRegisterRequest>,
    ) -> ApiResult<Created<RegisterRequestView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Created::Created(Json(
            requests::create(&self.state, &actor, community_id.0, body.0).await?,
        )))
    }

    /// Requested changes, pending first: the committee's queue, and a grid worker's own.
    #[oai(
        path = "/communities/:community_id/register/requests",
        method = "get",
        operation_id = "listRegisterRequests"
    )]
    async fn list_requests(
        &self,
        auth: BearerAuth,
        community_id: Path<Uuid>,
        status: Query<Option<RequestStatus>>,
    ) -> ApiResult<Json<Vec<RegisterRequestView>>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            requests::list(&self.state, &actor, community_id.0, status.0).await?,
        ))
    }

    /// Confirm a requested change (it is made, as a version naming both people) or refuse it
    /// with a reason. Someone other than the one who asked decides.
    #[oai(
        path = "/register/requests/:request_id/decision",
        method = "post",
        operation_id = "decideRegisterRequest"
    )]
    async fn decide_request(
        &self,
        auth: BearerAuth,
        request_id: Path<Uuid>,
        body: Json<DecideRegisterRequest>,
    ) -> ApiResult<Json<RegisterRequestView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            requests::decide(&self.state, &actor, request_id.0, body.0).await?,
        ))
    }

    /// The committee's export of the register: one row per person, by unit and name, in the
    /// columns the import reads (no document numbers: the register keeps none), plus the
    /// document as shown and the household. Each export is in the tamper-evident record.
    #[oai(
        path = "/communities/:community_id/register/export",
        method = "get",
        operation_id = "exportRegister"
    )]
    async fn export(&self, auth: BearerAuth, community_id: Path<Uuid>) -> ApiResult<RegisterFile> {
        let actor = auth.actor(&self.state).await?;
        let (text, name) = export::export(&self.state, &actor, community_id.0).await?;
        Ok(RegisterFile::Csv(
            PlainText(text),
            format!("attachment; filename=\"{name}\""),
        ))
    }

    /// What the community registers hold about the signed-in person: the entry, and whether a
    /// request to be erased waits.
    #[oai(
        path = "/accounts/me/register",
        method = "get",
        operation_id = "myRegisterEntries"
    )]
    async fn my_entries(&self, auth: BearerAuth) -> ApiResult<Json<Vec<MyRegisterEntry>>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(erasure::mine(&self.state, &actor).await?))
    }

    /// Ask to be erased from a community's register. A committee member confirms it (as a
    /// register request); the person then stays counted where they live, without name,
    /// document, phone or birth date, in every version kept.
    #[oai(
        path = "/accounts/me/register/erasure",
        method = "post",
        operation_id = "askRegisterErasure"
    )]
    async fn ask_erasure(
        &self,
        auth: BearerAuth,
        body: Json<AskErasureRequest>,
    ) -> ApiResult<Created<RegisterRequestView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Created::Created(Json(
            erasure::ask(
                &self.state,
                &actor,
                body.0.community_id,
                body.0.reason.as_deref(),
            )
            .await?,
        )))
    }

    /// What grid workers and the committee did for persons of the register, newest first:
    /// `status=pending` is the second person's confirmation queue. A grid worker sees their
    /// grids.
    #[oai(
        path = "/communities/:community_id/assisted-acts",
        method = "get",
        operation_id = "listAssistedActs"
    )]
    async fn list_assisted(
        &self,
        auth: BearerAuth,
        community_id: Path<Uuid>,
        status: Query<Option<AssistedStatus>>,
    ) -> ApiResult<Json<Vec<AssistedActView>>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            assisted::list(&self.state, &actor, community_id.0, status.0).await?,
        ))
    }

    /// What others did for the persons the signed-in account is linked to: check-ins, answers,
    /// co-signatures, ratings and objections, with who acted and on what paper.
    #[oai(
        path = "/accounts/me/assisted-acts",
        method = "get",
        operation_id = "listMyAssistedActs"
    )]
    async fn my_assisted(&self, auth: BearerAuth) -> ApiResult<Json<Vec<AssistedActView>>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(assisted::mine(&self.state, &actor).await?))
    }

    /// A second person finds a pending act does not match the paper: it does not count.
    /// (Confirming is done where the act counts, e.g. a proposal's assisted co-signatures.)
    #[oai(
        path = "/assisted-acts/:act_id/rejection",
        method = "post",
        operation_id = "rejectAssistedAct"
    )]
    async fn reject_assisted(
        &self,
        auth: BearerAuth,
        act_id: Path<Uuid>,
        body: Json<RejectAssistedActRequest>,
    ) -> ApiResult<Json<AssistedActView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            assisted::reject(&self.state, &actor, act_id.0, &body.0.reason).await?,
        ))
    }
}
