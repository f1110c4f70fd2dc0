use poem_openapi::OpenApi;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use uuid::Uuid;

use super::model::*;
use super::service;
use crate::api::{ApiResult, ApiTags, BearerAuth, Created, NoContent};
use crate::state::AppState;

pub struct CommunitiesApi {
    pub state: AppState,
}

#[OpenApi(tag = "ApiTags::Communities")]
impl CommunitiesApi {
    /// Create a place: a district (administrators), or a subdistrict, community or grid under
    /// its parent (government officers over the parent).
    #[oai(
        path = "/places",
        method = "post",
        operation_id = "createPlace",
        tag = "ApiTags::Places"
    )]
    async fn create_place(
        &self,
        auth: BearerAuth,
        body: Json<CreatePlaceRequest>,
    ) -> ApiResult<Created<PlaceView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Created::Created(Json(
            service::create_place(&self.state, &actor, body.0).await?,
        )))
    }

    /// List places, optionally under one parent or of one kind. Places are public.
    #[oai(
        path = "/places",
        method = "get",
        operation_id = "listPlaces",
        tag = "ApiTags::Places"
    )]
    async fn list_places(
        &self,
        parent_id: Query<Option<Uuid>>,
        kind: Query<Option<PlaceKind>>,
    ) -> ApiResult<Json<Vec<PlaceView>>> {
        Ok(Json(
            service::list_places(&self.state.db.conn, parent_id.0, kind.0).await?,
        ))
    }

    /// One place.
    #[oai(
        path = "/places/:place_id",
        method = "get",
        operation_id = "getPlace",
        tag = "ApiTags::Places"
    )]
    async fn get_place(&self, place_id: Path<Uuid>) -> ApiResult<Json<PlaceView>> {
        Ok(Json(service::place_view(
            service::load_place(&self.state.db.conn, place_id.0).await?,
        )))
    }

    /// Grant a role at a place to the person with the given email.
    #[oai(
        path = "/places/:place_id/roles",
        method = "post",
        operation_id = "grantRole",
        tag = "ApiTags::Roles"
    )]
    async fn grant_role(
        &self,
        auth: BearerAuth,
        place_id: Path<Uuid>,
        body: Json<GrantRoleRequest>,
    ) -> ApiResult<Created<GrantView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Created::Created(Json(
            service::grant_role(&self.state, &actor, place_id.0, body.0).await?,
        )))
    }

    /// Roles held at a place.
    #[oai(
        path = "/places/:place_id/roles",
        method = "get",
        operation_id = "listRoles",
        tag = "ApiTags::Roles"
    )]
    async fn list_roles(
        &self,
        auth: BearerAuth,
        place_id: Path<Uuid>,
    ) -> ApiResult<Json<Vec<GrantView>>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            service::list_grants(&self.state.db.conn, &actor, place_id.0).await?,
        ))
    }

    /// Revoke a role grant.
    #[oai(
        path = "/roles/:grant_id",
        method = "delete",
        operation_id = "revokeRole",
        tag = "ApiTags::Roles"
    )]
    async fn revoke_role(&self, auth: BearerAuth, grant_id: Path<Uuid>) -> ApiResult<NoContent> {
        let actor = auth.actor(&self.state).await?;
        service::revoke_grant(&self.state, &actor, grant_id.0).await?;
        Ok(NoContent::Done)
    }

    /// Register an organisation at a place.
    #[oai(
        path = "/organisations",
        method = "post",
        operation_id = "createOrganisation",
        tag = "ApiTags::Organisations"
    )]
    async fn create_organisation(
        &self,
        auth: BearerAuth,
        body: Json<CreateOrganisationRequest>,
    ) -> ApiResult<Created<OrganisationView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Created::Created(Json(
            service::create_organisation(&self.state, &actor, body.0).await?,
        )))
    }

    /// List organisations, optionally of one place. Organisations are public.
    #[oai(
        path = "/organisations",
        method = "get",
        operation_id = "listOrganisations",
        tag = "ApiTags::Organisations"
    )]
    async fn list_organisations(
        &self,
        place_id: Query<Option<Uuid>>,
    ) -> ApiResult<Json<Vec<OrganisationView>>> {
        Ok(Json(
            service::list_organisations(&self.state.db.conn, place_id.0).await?,
        ))
    }

    /// One organisation.
    #[oai(
        path = "/organisations/:organisation_id",
        method = "get",
        operation_id = "getOrganisation",
        tag = "ApiTags::Organisations"
    )]
    async fn get_organisation(
        &self,
        organisation_id: Path<Uuid>,
    ) -> ApiResult<Json<OrganisationView>> {
        Ok(Json(
            service::get_organisation(&self.state.db.conn, organisation_id.0).await?,
        ))
    }

    /// Members of an organisation (visible to its members and to those who manage it).
    #[oai(
        path = "/organisations/:organisation_id/members",
        method = "get",
        operation_id = "listOrganisationMembers",
        tag = "ApiTags::Organisations"
    )]
    async fn list_members(
        &self,
        auth: BearerAuth,
        organisation_id: Path<Uuid>,
    ) -> ApiResult<Json<Vec<MemberView>>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            service::list_members(&self.state.db.conn, &actor, organisation_id.0).await?,
        ))
    }

    /// Add a person to an organisation, or change their role in it.
    #[oai(
        path = "/organisations/:organisation_id/members",
        method = "post",
        operation_id = "addOrganisationMember",
        tag = "ApiTags::Organisations"
    )]
    async fn add_member(
        &self,
        auth: BearerAuth,
        organisation_id: Path<Uuid>,
        body: Json<AddMemberRequest>,
    ) -> ApiResult<Json<MemberView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            service::add_member(&self.state, &actor, organisation_id.0, body.0).await?,
        ))
    }

    /// Remove a person from an organisation.
    #[oai(
        path = "/organisations/:organisation_id/members/:user_id",
        method = "delete",
        operation_id = "removeOrganisationMember",
        tag = "ApiTags::Organisations"
    )]
    async fn remove_member(
        &self,
        auth: BearerAuth,
        organisation_id: Path<Uuid>,
        user_id: Path<Uuid>,
    ) -> ApiResult<NoContent> {
        let actor = auth.actor(&self.state).await?;
        service::remove_member(&self.state, &actor, organisation_id.0, user_id.0).await?;
        Ok(NoContent::Done)
    }

    /// Add a building to a community's register.
    #[oai(
        path = "/communities/:community_id/buildings",
        method = "post",
        operation_id = "createBuilding"
    )]
    async fn create_building(
        &self,
        auth: BearerAuth,
        community_id: Path<Uuid>,
        body: Json<CreateBuildingRequest>,
    ) -> ApiResult<Created<BuildingView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Created::Created(Json(
            service::create_building(&self.state, &actor, community_id.0, body.0).await?,
        )))
    }

    /// Assign a building to one of its community's grids (or clear it with null).
    #[oai(
        path = "/buildings/:building_id/grid",
        method = "put",
        operation_id = "assignBuildingGrid"
    )]
    async fn assign_grid(
        &self,
        auth: BearerAuth,
        building_id: Path<Uuid>,
        body: Json<AssignGridRequest>,
    ) -> ApiResult<Json<BuildingView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            service::assign_grid(&self.state, &actor, building_id.0, body.0.grid_id).await?,
        ))
    }

    /// The buildings of a community (names only; public, so people can name theirs).
    #[oai(
        path = "/communities/:community_id/buildings",
        method = "get",
        operation_id = "listBuildings"
    )]
    async fn list_buildings(&self, community_id: Path<Uuid>) -> ApiResult<Json<Vec<BuildingView>>> {
        Ok(Json(
            service::list_buildings(&self.state.db.conn, community_id.0).await?,
        ))
    }

    /// Add a property unit to a community's register.
    #[oai(
        path = "/communities/:community_id/units",
        method = "post",
        operation_id = "createUnit"
    )]
    async fn create_unit(
        &self,
        auth: BearerAuth,
        community_id: Path<Uuid>,
        body: Json<CreateUnitRequest>,
    ) -> ApiResult<Created<UnitView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Created::Created(Json(
            service::create_unit(&self.state, &actor, community_id.0, body.0).await?,
        )))
    }

    /// The unit register of a community (committee, grid workers, officers).
    #[oai(
        path = "/communities/:community_id/units",
        method = "get",
        operation_id = "listUnits"
    )]
    async fn list_units(
        &self,
        auth: BearerAuth,
        community_id: Path<Uuid>,
    ) -> ApiResult<Json<Vec<UnitView>>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            service::list_units(&self.state.db.conn, &actor, community_id.0).await?,
        ))
    }

    /// Import units from CSV. Good rows are saved; bad rows are reported by line.
    #[oai(
        path = "/communities/:community_id/units/import",
        method = "post",
        operation_id = "importUnits"
    )]
    async fn import_units(
        &self,
        auth: BearerAuth,
        community_id: Path<Uuid>,
        body: Json<ImportUnitsRequest>,
    ) -> ApiResult<Json<ImportReport>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            service::import_units(&self.state, &actor, community_id.0, &body.0.csv).await?,
        ))
    }

    /// Correct a unit's area, registered owner or developer status.
    #[oai(
        path = "/units/:unit_id",
        method = "patch",
        operation_id = "updateUnit"
    )]
    async fn update_unit(
        &self,
        auth: BearerAuth,
        unit_id: Path<Uuid>,
        body: Json<UpdateUnitRequest>,
    ) -> ApiResult<Json<UnitView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            service::update_unit(&self.state, &actor, unit_id.0, body.0).await?,
        ))
    }

    /// Ask to join a community, naming your unit. Needs a verified email.
    #[oai(
        path = "/communities/:community_id/memberships",
        method = "post",
        operation_id = "joinCommunity"
    )]
    async fn join(
        &self,
        auth: BearerAuth,
        community_id: Path<Uuid>,
        body: Json<JoinRequest>,
    ) -> ApiResult<Created<MembershipView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Created::Created(Json(
            service::join(&self.state, &actor, community_id.0, body.0).await?,
        )))
    }

    /// The committee's queue: membership requests of a community, optionally by status.
    #[oai(
        path = "/communities/:community_id/memberships",
        method = "get",
        operation_id = "listMemberships"
    )]
    async fn list_memberships(
        &self,
        auth: BearerAuth,
        community_id: Path<Uuid>,
        status: Query<Option<MembershipStatus>>,
    ) -> ApiResult<Json<Vec<MembershipView>>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            service::list_memberships(&self.state.db.conn, &actor, community_id.0, status.0)
                .await?,
        ))
    }

    /// The signed-in person's memberships and requests.
    #[oai(
        path = "/accounts/me/memberships",
        method = "get",
        operation_id = "listMyMemberships"
    )]
    async fn my_memberships(&self, auth: BearerAuth) -> ApiResult<Json<Vec<MembershipView>>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            service::my_memberships(&self.state.db.conn, &actor).await?,
        ))
    }

    /// Verify (as household member and/or owner) or reject a membership request.
    #[oai(
        path = "/memberships/:membership_id/decision",
        method = "post",
        operation_id = "decideMembership"
    )]
    async fn decide(
        &self,
        auth: BearerAuth,
        membership_id: Path<Uuid>,
        body: Json<DecisionRequest>,
    ) -> ApiResult<Json<MembershipView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            service::decide(&self.state, &actor, membership_id.0, body.0).await?,
        ))
    }
}
