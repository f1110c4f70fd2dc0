use crate::text::{Text, Words};
use chrono::{DateTime, Utc};
use poem_openapi::{Enum, Object};
use uuid::Uuid;

use crate::policy::Role;

/// Languages the platform speaks; Chinese first.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Default)]
pub enum Language {
    #[default]
    #[oai(rename = "zh-CN")]
    ZhCn,
    #[oai(rename = "en")]
    En,
}

impl Language {
    pub fn as_str(self) -> &'static str {
        match self {
            Language::ZhCn => "zh-CN",
            Language::En => "en",
        }
    }
    pub fn parse(s: &str) -> Language {
        if s == "en" {
            Language::En
        } else {
            Language::ZhCn
        }
    }
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct RegisterRequest {
    /// Email address; a verification link is sent to it.
    #[oai(validator(max_length = 254))]
    pub email: Words,
    /// Name shown to others, 1 to 64 characters.
    #[oai(validator(max_length = 64))]
    pub display_name: Words,
    /// 10 to 128 characters.
    #[oai(validator(max_length = 128))]
    pub password: Words,
    /// Preferred language for pages and email (default zh-CN).
    #[oai(default)]
    pub language: Language,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct Accepted {
    /// What happens next, for a person to read.
    pub message: String,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct TokenRequest {
    /// The token from the emailed link.
    #[oai(validator(max_length = 128))]
    pub token: Words,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct LoginRequest {
    #[oai(validator(max_length = 254))]
    pub email: Words,
    #[oai(validator(max_length = 128))]
    pub password: Words,
    /// The `device` this browser was given at its last sign-in to this account, if any: with
    /// it, other people's wrong guesses do not slow this sign-in down.
    #[oai(validator(max_length = 128))]
    pub device: Option<Text>,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct LoginResponse {
    /// Bearer token for the `Authorization` header. Shown once; only its hash is stored.
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub user: Me,
    /// Keep it on this device and send it with the next sign-in to this account (not a
    /// credential: the password is still needed).
    pub device: String,
}

#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct RoleGrantView {
    pub id: Uuid,
    pub role: Role,
    /// The place the role applies to (and everything under it); absent for the platform.
    pub place_id: Option<Uuid>,
    pub place_name: Option<String>,
}

#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct Me {
    pub id: Uuid,
    pub email: String,
    pub display_name: String,
    pub language: Language,
    pub email_verified: bool,
    pub created_at: DateTime<Utc>,
    pub roles: Vec<RoleGrantView>,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct UpdateProfileRequest {
    #[oai(validator(max_length = 64))]
    pub display_name: Option<Text>,
    pub language: Option<Language>,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct SignInView {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub user_agent: Option<String>,
    pub client_address: Option<String>,
    /// True for the session making this request.
    pub current: bool,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct PasswordResetRequest {
    /// Any text: the answer is the same whether or not it is an account's address.
    #[oai(validator(max_length = 254))]
    pub email: Text,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct PasswordResetConfirm {
    #[oai(validator(max_length = 128))]
    pub token: Words,
    #[oai(validator(max_length = 128))]
    pub new_password: Words,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    #[oai(validator(max_length = 128))]
    pub current_password: Words,
    #[oai(validator(max_length = 128))]
    pub new_password: Words,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct DeleteAccountRequest {
    /// The current password, to confirm.
    #[oai(validator(max_length = 128))]
    pub password: Words,
}

/// Everything the platform holds about a person (PIPL data portability).
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct AccountExport {
    pub exported_at: DateTime<Utc>,
    pub profile: Me,
    pub sessions: Vec<SignInView>,
    pub memberships: Vec<serde_json::Value>,
    pub organisations: Vec<serde_json::Value>,
    /// Entries of the record describing what this person did.
    pub activity: Vec<serde_json::Value>,
    /// What the community register holds about the person this account is, with each
    /// version's time and reason.
    pub register: Vec<serde_json::Value>,
}
