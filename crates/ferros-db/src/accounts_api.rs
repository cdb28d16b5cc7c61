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

impl Db {
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
