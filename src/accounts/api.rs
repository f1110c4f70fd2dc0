use poem::Request;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};
use uuid::Uuid;

use super::model::*;
use super::service;
use crate::api::{ApiResult, ApiTags, BearerAuth, NoContent, client_address, user_agent};
use crate::state::AppState;

pub struct AccountsApi {
    pub state: AppState,
}

#[derive(ApiResponse)]
pub enum AcceptedResponse {
    /// Accepted; what happens next is in the message.
    #[oai(status = 202)]
    Accepted(Json<Accepted>),
}

fn accepted(message: &str) -> AcceptedResponse {
    AcceptedResponse::Accepted(Json(Accepted {
        message: message.into(),
    }))
}

#[derive(ApiResponse)]
pub enum LoginResult {
    /// Signed in.
    #[oai(status = 201)]
    Created(Json<LoginResponse>),
}

#[OpenApi(tag = "ApiTags::Accounts")]
impl AccountsApi {
    /// Register an account. A verification link is emailed. The answer is the same whether or
    /// not the address is already registered.
    #[oai(path = "/accounts", method = "post", operation_id = "register")]
    async fn register(&self, body: Json<RegisterRequest>) -> ApiResult<AcceptedResponse> {
        let b = body.0;
        service::register(
            &self.state,
            &b.email,
            &b.display_name,
            &b.password,
            b.language,
        )
        .await?;
        Ok(accepted(
            "Check your email for a verification link. 请查收验证邮件。",
        ))
    }

    /// Verify an email address with the token from the emailed link. Each token works once.
    #[oai(
        path = "/accounts/verification",
        method = "post",
        operation_id = "verifyEmail"
    )]
    async fn verify_email(&self, body: Json<TokenRequest>) -> ApiResult<NoContent> {
        service::verify_email(&self.state, &body.0.token).await?;
        Ok(NoContent::Done)
    }

    /// Send a new verification link to the signed-in person.
    #[oai(
        path = "/accounts/me/verification",
        method = "post",
        operation_id = "resendVerification"
    )]
    async fn resend_verification(&self, auth: BearerAuth) -> ApiResult<AcceptedResponse> {
        let actor = auth.actor(&self.state).await?;
        service::resend_verification(&self.state, &actor).await?;
        Ok(accepted("A new verification link is on its way."))
    }

    /// Sign in with email and password; returns a bearer token. Failed attempts are limited
    /// per client address; per account, attempts from devices it was never used on are paced
    /// (growing waits, answered 429 with `Retry-After`), and the owner is mailed when that
    /// starts; a device the account signed in on before (`device`) is not paced.
    #[oai(path = "/accounts/sessions", method = "post", operation_id = "login")]
    async fn login(&self, req: &Request, body: Json<LoginRequest>) -> ApiResult<LoginResult> {
        let signed_in = super::signin::login(
            &self.state,
            &body.0.email,
            &body.0.password,
            body.0.device.as_deref(),
            client_address(req),
            user_agent(req),
        )
        .await?;
        Ok(LoginResult::Created(Json(LoginResponse {
            token: signed_in.token,
            expires_at: signed_in.expires_at,
            user: signed_in.user,
            device: signed_in.device,
        })))
    }

    /// Sign out: ends the session whose token made this request.
    #[oai(
        path = "/accounts/sessions/current",
        method = "delete",
        operation_id = "logout"
    )]
    async fn logout(&self, auth: BearerAuth) -> ApiResult<NoContent> {
        let actor = auth.actor(&self.state).await?;
        service::logout(&self.state, &actor).await?;
        Ok(NoContent::Done)
    }

    /// List the signed-in person's active sessions.
    #[oai(
        path = "/accounts/me/sessions",
        method = "get",
        operation_id = "listSignIns"
    )]
    async fn list_sessions(&self, auth: BearerAuth) -> ApiResult<Json<Vec<SignInView>>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            service::list_sessions(&self.state.db.conn, &actor).await?,
        ))
    }

    /// End one of the signed-in person's sessions.
    #[oai(
        path = "/accounts/me/sessions/:session_id",
        method = "delete",
        operation_id = "revokeSignIn"
    )]
    async fn revoke_session(
        &self,
        auth: BearerAuth,
        session_id: Path<Uuid>,
    ) -> ApiResult<NoContent> {
        let actor = auth.actor(&self.state).await?;
        service::revoke_session(&self.state, &actor, session_id.0).await?;
        Ok(NoContent::Done)
    }

    /// The signed-in person's profile and roles.
    #[oai(path = "/accounts/me", method = "get", operation_id = "getMe")]
    async fn me(&self, auth: BearerAuth) -> ApiResult<Json<Me>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            service::profile(&self.state.db.conn, &actor.user).await?,
        ))
    }

    /// Change display name or language.
    #[oai(path = "/accounts/me", method = "patch", operation_id = "updateMe")]
    async fn update_me(
        &self,
        auth: BearerAuth,
        body: Json<UpdateProfileRequest>,
    ) -> ApiResult<Json<Me>> {
        let actor = auth.actor(&self.state).await?;
        let b = body.0;
        Ok(Json(
            service::update_profile(&self.state, &actor, b.display_name.as_deref(), b.language)
                .await?,
        ))
    }

    /// Change password; every other session ends.
    #[oai(
        path = "/accounts/me/password",
        method = "post",
        operation_id = "changePassword"
    )]
    async fn change_password(
        &self,
        auth: BearerAuth,
        body: Json<ChangePasswordRequest>,
    ) -> ApiResult<NoContent> {
        let actor = auth.actor(&self.state).await?;
        service::change_password(
            &self.state,
            &actor,
            &body.0.current_password,
            &body.0.new_password,
        )
        .await?;
        Ok(NoContent::Done)
    }

    /// Ask for a password reset link. The answer is the same whether or not the address is
    /// registered.
    #[oai(
        path = "/accounts/password-reset",
        method = "post",
        operation_id = "requestPasswordReset"
    )]
    async fn request_password_reset(
        &self,
        body: Json<PasswordResetRequest>,
    ) -> ApiResult<AcceptedResponse> {
        service::request_password_reset(&self.state, &body.0.email).await?;
        Ok(accepted(
            "If the address is registered, a reset link is on its way.",
        ))
    }

    /// Set a new password with the emailed token; every session ends.
    #[oai(
        path = "/accounts/password-reset/confirm",
        method = "post",
        operation_id = "resetPassword"
    )]
    async fn reset_password(&self, body: Json<PasswordResetConfirm>) -> ApiResult<NoContent> {
        service::reset_password(&self.state, &body.0.token, &body.0.new_password).await?;
        Ok(NoContent::Done)
    }

    /// Everything the platform holds about the signed-in person, as JSON.
    #[oai(
        path = "/accounts/me/export",
        method = "get",
        operation_id = "exportMyData"
    )]
    async fn export(&self, auth: BearerAuth) -> ApiResult<Json<AccountExport>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(service::export(&self.state, &actor).await?))
    }

    /// Delete the signed-in person's account. Personal data is removed; the record of what
    /// they did stays without their identity.
    #[oai(
        path = "/accounts/me/delete",
        method = "post",
        operation_id = "deleteMyAccount"
    )]
    async fn delete_account(
        &self,
        auth: BearerAuth,
        body: Json<DeleteAccountRequest>,
    ) -> ApiResult<NoContent> {
        let actor = auth.actor(&self.state).await?;
        service::delete_account(&self.state, &actor, &body.0.password).await?;
        Ok(NoContent::Done)
    }
}
