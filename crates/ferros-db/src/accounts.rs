//! Accounts: web sessions (the digest of their token, their CSRF token,
//! their expiry) and the changes an administrator makes to users. Compiled
//! for each backend like `queries.rs`.

use chrono::{DateTime, Utc};
use ferros_domain::{Profile, User};
use sqlx::{FromRow, Pool};

use super::Db;
use super::queries::{UserRow, begin_write, user_details};
use crate::{DbError, DbResult, NewSession, SessionKind, SessionRecord};

pub(crate) async fn create_session(pool: &Pool<Db>, s: &NewSession<'_>) -> DbResult<i64> {
    let mut tx = begin_write(pool).await?;
    let user: Option<i64> = sqlx::query_scalar("SELECT id FROM users WHERE username = $1 AND active = $2")
        .bind(s.username)
        .bind(true)
        .fetch_optional(&mut *tx)
        .await?;
    let user = user.ok_or_else(|| DbError::not_found("active user", s.username))?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO sessions (token_hash, user_id, kind, csrf, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(s.token_hash)
    .bind(user)
    .bind(s.kind.code())
    .bind(s.csrf)
    .bind(s.now)
    .bind(s.expires_at)
    .fetch_one(&mut *tx)
    .await?;
    // A user holds a bounded number of sessions: the oldest are closed.
    sqlx::query(
        "DELETE FROM sessions WHERE user_id = $1 AND id NOT IN
             (SELECT id FROM sessions WHERE user_id = $1 ORDER BY id DESC LIMIT $2)",
    )
    .bind(user)
    .bind(ferros_limits::MAX_SESSIONS_PER_USER)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(id)
}

#[derive(FromRow)]
struct SessionRow {
    session_id: i64,
    kind: String,
    csrf: String,
    expires_at: DateTime<Utc>,
    id: i64,
    username: String,
    email: String,
    active: bool,
}

pub(crate) async fn session(
    pool: &Pool<Db>,
    token_hash: &str,
    now: DateTime<Utc>,
) -> DbResult<Option<SessionRecord>> {
    let row: Option<SessionRow> = sqlx::query_as(
        "SELECT s.id AS session_id, s.kind, s.csrf, s.expires_at, u.id, u.username, u.email, u.active
         FROM sessions s JOIN users u ON u.id = s.user_id
         WHERE s.token_hash = $1 AND s.expires_at > $2 AND u.active = $3",
    )
    .bind(token_hash)
    .bind(now)
    .bind(true)
    .fetch_optional(pool)
    .await?;
    let Some(r) = row else { return Ok(None) };
    let kind = match r.kind.as_str() {
        "bearer" => SessionKind::Bearer,
        _ => SessionKind::Cookie,
    };
    let (id, csrf, expires_at) = (r.session_id, r.csrf, r.expires_at);
    let user_row = UserRow { id: r.id, username: r.username, email: r.email, active: r.active };
    let Some(user) = user_details(pool, vec![user_row], Some(r.id)).await?.pop() else { return Ok(None) };
    Ok(Some(SessionRecord { id, kind, csrf, expires_at, user }))
}

pub(crate) async fn delete_session(pool: &Pool<Db>, token_hash: &str) -> DbResult<bool> {
    let mut tx = begin_write(pool).await?;
    let n = sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
        .bind(token_hash)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    tx.commit().await?;
    Ok(n > 0)
}

pub(crate) async fn prune_sessions(pool: &Pool<Db>, now: DateTime<Utc>) -> DbResult<u64> {
    let mut tx = begin_write(pool).await?;
    let n = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    tx.commit().await?;
    Ok(n)
}

/// Activates or deactivates a user; deactivating ends their sessions.
pub(crate) async fn set_user_active(pool: &Pool<Db>, username: &str, active: bool) -> DbResult<User> {
    let mut tx = begin_write(pool).await?;
    let id: Option<i64> = sqlx::query_scalar("UPDATE users SET active = $1 WHERE username = $2 RETURNING id")
        .bind(active)
        .bind(username)
        .fetch_optional(&mut *tx)
        .await?;
    let id = id.ok_or_else(|| DbError::not_found("user", username))?;
    if !active {
        sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(id).execute(&mut *tx).await?;
    }
    tx.commit().await?;
    user_by_id(pool, id).await
}

/// Replaces a user's profiles (at least one).
pub(crate) async fn set_user_profiles(
    pool: &Pool<Db>,
    username: &str,
    profiles: &std::collections::BTreeSet<Profile>,
) -> DbResult<User> {
    if profiles.is_empty() {
        return Err(DbError::Domain(ferros_domain::DomainError::invalid(
            "profiles",
            "a user holds at least one profile",
        )));
    }
    let mut tx = begin_write(pool).await?;
    let id: Option<i64> = sqlx::query_scalar("SELECT id FROM users WHERE username = $1")
        .bind(username)
        .fetch_optional(&mut *tx)
        .await?;
    let id = id.ok_or_else(|| DbError::not_found("user", username))?;
    sqlx::query("DELETE FROM user_profiles WHERE user_id = $1").bind(id).execute(&mut *tx).await?;
    for p in profiles {
        sqlx::query("INSERT INTO user_profiles (user_id, profile) VALUES ($1, $2)")
            .bind(id)
            .bind(p.code())
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    user_by_id(pool, id).await
}

/// Changes a user's password hash and ends their other sessions.
pub(crate) async fn set_password(
    pool: &Pool<Db>,
    username: &str,
    password_hash: &str,
    keep_session: Option<i64>,
) -> DbResult<()> {
    let mut tx = begin_write(pool).await?;
    let id: Option<i64> =
        sqlx::query_scalar("UPDATE users SET password_hash = $1 WHERE username = $2 RETURNING id")
            .bind(password_hash)
            .bind(username)
            .fetch_optional(&mut *tx)
            .await?;
    let id = id.ok_or_else(|| DbError::not_found("user", username))?;
    sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id <> $2")
        .bind(id)
        .bind(keep_session.unwrap_or(-1))
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

async fn user_by_id(pool: &Pool<Db>, id: i64) -> DbResult<User> {
    let row: UserRow = sqlx::query_as("SELECT id, username, email, active FROM users WHERE id = $1")
        .bind(id)
        .fetch_one(pool)
        .await?;
    user_details(pool, vec![row], Some(id)).await?.pop().ok_or_else(|| DbError::not_found("user", id))
}
