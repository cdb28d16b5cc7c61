//! The repository's side of accounts: web sessions and the administrator's
//! changes to users.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use ferros_domain::{Profile, User};

use crate::{Db, DbResult, Pool, postgres, sqlite};

/// How a session is carried: a browser's cookie or a script's bearer token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionKind {
    Cookie,
    Bearer,
}

impl SessionKind {
    pub fn code(self) -> &'static str {
        match self {
            SessionKind::Cookie => "cookie",
            SessionKind::Bearer => "bearer",
        }
    }
}

/// A session to open for `username` (who must be active).
#[derive(Debug, Clone, Copy)]
pub struct NewSession<'a> {
    pub username: &'a str,
    /// The SHA-256 of the token the client keeps.
    pub token_hash: &'a str,
    pub kind: SessionKind,
    pub csrf: &'a str,
    pub now: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// An open session and its user.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionRecord {
    pub id: i64,
    pub kind: SessionKind,
    pub csrf: String,
    pub expires_at: DateTime<Utc>,
    pub user: User,
}

/// A registration: the account waits for a PI's activation with its link.
#[derive(Debug, Clone, Copy)]
pub struct Registration<'a> {
    pub username: &'a str,
    pub email: &'a str,
    pub password_hash: &'a str,
    pub intentions: &'a str,
    /// The SHA-256 of the activation link's token.
    pub token_hash: &'a str,
    pub now: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// What a one-use link sent by mail does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenPurpose {
    Activate,
    Reset,
}

impl TokenPurpose {
    pub fn code(self) -> &'static str {
        match self {
            TokenPurpose::Activate => "activate",
            TokenPurpose::Reset => "reset",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            TokenPurpose::Activate => "activation",
            TokenPurpose::Reset => "password reset",
        }
    }

    /// What to do about a used or expired link.
    pub(crate) fn again(self) -> &'static str {
        match self {
            TokenPurpose::Activate => " (a PI activates the account from the Users page)",
            TokenPurpose::Reset => " (ask for a new one: \"Forgot your password?\" on the login page)",
        }
    }
}

impl Db {
    /// Registers a pending account (profile Observer) with its activation
    /// link; refused for a name or e-mail address already taken.
    pub async fn register_user(&self, r: &Registration<'_>) -> DbResult<User> {
        on_backend!(self, accounts::register_user(r))
    }

    /// The user a link acts on, if it is valid at `now` (unused, unexpired).
    pub async fn token_user(
        &self,
        token_hash: &str,
        purpose: TokenPurpose,
        now: DateTime<Utc>,
    ) -> DbResult<User> {
        on_backend!(self, accounts::token_user(token_hash, purpose, now))
    }

    /// Activates the account of an activation link, once.
    pub async fn activate_user(&self, token_hash: &str, now: DateTime<Utc>) -> DbResult<User> {
        on_backend!(self, accounts::activate_user(token_hash, now))
    }

    /// A password reset link for the active account with this e-mail
    /// address (none without one: the caller says the same either way).
    pub async fn create_reset(
        &self,
        email: &str,
        token_hash: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> DbResult<Option<User>> {
        on_backend!(self, accounts::create_reset(email, token_hash, now, expires_at))
    }

    /// Sets the password of a reset link's account, once; its sessions end.
    pub async fn reset_password(
        &self,
        token_hash: &str,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> DbResult<User> {
        on_backend!(self, accounts::reset_password(token_hash, password_hash, now))
    }

    /// Adds and removes members of a program: who was added, who removed.
    pub async fn set_members(
        &self,
        program: &str,
        add: &[String],
        remove: &[String],
    ) -> DbResult<(Vec<User>, Vec<User>)> {
        on_backend!(self, accounts::set_members(program, add, remove))
    }

    /// Opens a session for an active user.
    pub async fn create_session(&self, s: &NewSession<'_>) -> DbResult<i64> {
        on_backend!(self, accounts::create_session(s))
    }

    /// The session whose token has this digest, if open at `now` and its user active.
    pub async fn session(&self, token_hash: &str, now: DateTime<Utc>) -> DbResult<Option<SessionRecord>> {
        on_backend!(self, accounts::session(token_hash, now))
    }

    /// Ends a session (logout); false if there was none.
    pub async fn delete_session(&self, token_hash: &str) -> DbResult<bool> {
        on_backend!(self, accounts::delete_session(token_hash))
    }

    /// Forgets the sessions expired at `now`.
    pub async fn prune_sessions(&self, now: DateTime<Utc>) -> DbResult<u64> {
        on_backend!(self, accounts::prune_sessions(now))
    }

    /// Activates or deactivates a user (ending their sessions).
    pub async fn set_user_active(&self, username: &str, active: bool) -> DbResult<User> {
        on_backend!(self, accounts::set_user_active(username, active))
    }

    /// Replaces a user's profiles.
    pub async fn set_user_profiles(&self, username: &str, profiles: &BTreeSet<Profile>) -> DbResult<User> {
        on_backend!(self, accounts::set_user_profiles(username, profiles))
    }

    /// Changes a user's password, ending their sessions but `keep_session`.
    pub async fn set_password(
        &self,
        username: &str,
        password_hash: &str,
        keep_session: Option<i64>,
    ) -> DbResult<()> {
        on_backend!(self, accounts::set_password(username, password_hash, keep_session))
    }
}
