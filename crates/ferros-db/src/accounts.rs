//! Accounts: web sessions (the digest of their token, their CSRF token,
//! their expiry), the changes an administrator makes to users, and the
//! life cycle: registration, one-use links (activation, password reset),
//! program members. Compiled for each backend like `queries.rs`.

use chrono::{DateTime, Utc};
use ferros_domain::{Profile, User};
use sqlx::{FromRow, Pool};

use super::Db;
use super::queries::{Tx, USER_COLUMNS, UserRow, begin_write, user_details};
use crate::{DbError, DbResult, NewSession, Registration, SessionKind, SessionRecord, TokenPurpose};

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
    pending: bool,
    intentions: String,
}

pub(crate) async fn session(
    pool: &Pool<Db>,
    token_hash: &str,
    now: DateTime<Utc>,
) -> DbResult<Option<SessionRecord>> {
    let row: Option<SessionRow> = sqlx::query_as(
        "SELECT s.id AS session_id, s.kind, s.csrf, s.expires_at, u.id, u.username, u.email, u.active,
             u.pending, u.intentions
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
    let user_row = UserRow {
        id: r.id,
        username: r.username,
        email: r.email,
        active: r.active,
        pending: r.pending,
        intentions: r.intentions,
    };
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
    let id: Option<i64> =
        sqlx::query_scalar("UPDATE users SET active = $1, pending = $2 WHERE username = $3 RETURNING id")
            .bind(active)
            .bind(false)
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
    let row: UserRow = sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
        .bind(id)
        .fetch_one(pool)
        .await?;
    user_details(pool, vec![row], Some(id)).await?.pop().ok_or_else(|| DbError::not_found("user", id))
}

// ------------------------------------------------------------ life cycle

/// Whether another user has this e-mail address (case aside).
pub(crate) async fn email_taken(tx: &mut Tx<'_>, email: &str, except: Option<i64>) -> DbResult<bool> {
    if email.is_empty() {
        return Ok(false);
    }
    let found: Option<i64> =
        sqlx::query_scalar("SELECT id FROM users WHERE LOWER(email) = LOWER($1) AND id <> $2 LIMIT 1")
            .bind(email)
            .bind(except.unwrap_or(-1))
            .fetch_optional(&mut **tx)
            .await?;
    Ok(found.is_some())
}

fn taken(email: &str) -> DbError {
    DbError::Conflict(format!("the e-mail address {email} belongs to another account already"))
}

pub(crate) async fn register_user(pool: &Pool<Db>, r: &Registration<'_>) -> DbResult<User> {
    ferros_domain::validate_username(r.username)?;
    let mut tx = begin_write(pool).await?;
    if email_taken(&mut tx, r.email, None).await? {
        return Err(taken(r.email));
    }
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO users (username, email, password_hash, active, pending, intentions, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(r.username)
    .bind(r.email)
    .bind(r.password_hash)
    .bind(false)
    .bind(true)
    .bind(r.intentions)
    .bind(r.now)
    .fetch_one(&mut *tx)
    .await
    .map_err(|e| match DbError::from(e) {
        DbError::Conflict(_) => {
            DbError::Conflict(format!("the user name \"{}\" is taken already", r.username))
        }
        other => other,
    })?;
    sqlx::query("INSERT INTO user_profiles (user_id, profile) VALUES ($1, $2)")
        .bind(id)
        .bind(Profile::Observer.code())
        .execute(&mut *tx)
        .await?;
    insert_token(&mut tx, id, TokenPurpose::Activate, r.token_hash, r.now, r.expires_at).await?;
    tx.commit().await?;
    user_by_id(pool, id).await
}

async fn insert_token(
    tx: &mut Tx<'_>,
    user: i64,
    purpose: TokenPurpose,
    hash: &str,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO account_tokens (token_hash, user_id, purpose, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(hash)
    .bind(user)
    .bind(purpose.code())
    .bind(now)
    .bind(expires_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[derive(FromRow)]
struct TokenRow {
    user_id: i64,
    purpose: String,
    expires_at: DateTime<Utc>,
    used_at: Option<DateTime<Utc>>,
}

/// A link's token, checked: of this purpose, unused, unexpired; its user's id.
async fn valid_token(
    tx: &mut Tx<'_>,
    hash: &str,
    purpose: TokenPurpose,
    now: DateTime<Utc>,
) -> DbResult<i64> {
    let row: Option<TokenRow> = sqlx::query_as(
        "SELECT user_id, purpose, expires_at, used_at FROM account_tokens WHERE token_hash = $1",
    )
    .bind(hash)
    .fetch_optional(&mut **tx)
    .await?;
    let what = purpose.label();
    let Some(TokenRow { user_id: user, expires_at, used_at, .. }) =
        row.filter(|r| r.purpose == purpose.code())
    else {
        return Err(DbError::NotFound {
            what: "link",
            key: format!("(this {what} link is unknown: check it was copied whole)"),
        });
    };
    if let Some(at) = used_at {
        return Err(DbError::Conflict(format!(
            "this {what} link was used already, at {}: each link works once{}",
            at.format("%Y-%m-%d %H:%M UTC"),
            purpose.again()
        )));
    }
    if expires_at <= now {
        return Err(DbError::Conflict(format!(
            "this {what} link expired at {}{}",
            expires_at.format("%Y-%m-%d %H:%M UTC"),
            purpose.again()
        )));
    }
    Ok(user)
}

async fn use_token(tx: &mut Tx<'_>, hash: &str, now: DateTime<Utc>) -> DbResult<()> {
    sqlx::query("UPDATE account_tokens SET used_at = $1 WHERE token_hash = $2")
        .bind(now)
        .bind(hash)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The account a link would act on, if the link is valid now.
pub(crate) async fn token_user(
    pool: &Pool<Db>,
    hash: &str,
    purpose: TokenPurpose,
    now: DateTime<Utc>,
) -> DbResult<User> {
    let mut tx = begin_write(pool).await?;
    let id = valid_token(&mut tx, hash, purpose, now).await?;
    tx.rollback().await?;
    user_by_id(pool, id).await
}

pub(crate) async fn activate_user(pool: &Pool<Db>, hash: &str, now: DateTime<Utc>) -> DbResult<User> {
    let mut tx = begin_write(pool).await?;
    let id = valid_token(&mut tx, hash, TokenPurpose::Activate, now).await?;
    use_token(&mut tx, hash, now).await?;
    sqlx::query("UPDATE users SET active = $1, pending = $2 WHERE id = $3")
        .bind(true)
        .bind(false)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    user_by_id(pool, id).await
}

pub(crate) async fn create_reset(
    pool: &Pool<Db>,
    email: &str,
    hash: &str,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> DbResult<Option<User>> {
    let mut tx = begin_write(pool).await?;
    let id: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM users WHERE LOWER(email) = LOWER($1) AND email <> '' AND active = $2 LIMIT 1",
    )
    .bind(email)
    .bind(true)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(id) = id else { return Ok(None) };
    // At most a few open links per account: the oldest go.
    sqlx::query(
        "DELETE FROM account_tokens WHERE user_id = $1 AND purpose = 'reset' AND token_hash NOT IN
            (SELECT token_hash FROM account_tokens WHERE user_id = $1 AND purpose = 'reset'
             ORDER BY created_at DESC LIMIT 4)",
    )
    .bind(id)
    .execute(&mut *tx)
    .await?;
    insert_token(&mut tx, id, TokenPurpose::Reset, hash, now, expires_at).await?;
    tx.commit().await?;
    Ok(Some(user_by_id(pool, id).await?))
}

pub(crate) async fn reset_password(
    pool: &Pool<Db>,
    hash: &str,
    password_hash: &str,
    now: DateTime<Utc>,
) -> DbResult<User> {
    let mut tx = begin_write(pool).await?;
    let id = valid_token(&mut tx, hash, TokenPurpose::Reset, now).await?;
    use_token(&mut tx, hash, now).await?;
    sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
        .bind(password_hash)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(id).execute(&mut *tx).await?;
    tx.commit().await?;
    user_by_id(pool, id).await
}

/// Adds and removes members of a program; returns who was added and who
/// removed (those already in, or not in, are left out).
pub(crate) async fn set_members(
    pool: &Pool<Db>,
    program: &str,
    add: &[String],
    remove: &[String],
) -> DbResult<(Vec<User>, Vec<User>)> {
    let mut tx = begin_write(pool).await?;
    let pid: Option<i64> = sqlx::query_scalar("SELECT id FROM programs WHERE name = $1")
        .bind(program)
        .fetch_optional(&mut *tx)
        .await?;
    let pid = pid.ok_or_else(|| DbError::not_found("program", format!("\"{program}\"")))?;
    let pi: Option<i64> = sqlx::query_scalar("SELECT pi_user_id FROM programs WHERE id = $1")
        .bind(pid)
        .fetch_one(&mut *tx)
        .await?;
    let (mut added, mut removed) = (Vec::new(), Vec::new());
    for name in add {
        let uid: Option<i64> = sqlx::query_scalar("SELECT id FROM users WHERE username = $1")
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?;
        let uid = uid.ok_or_else(|| DbError::not_found("user", format!("\"{name}\"")))?;
        let n = sqlx::query(
            "INSERT INTO program_members (program_id, user_id) VALUES ($1, $2) ON CONFLICT (program_id, user_id) DO NOTHING",
        )
        .bind(pid)
        .bind(uid)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 1 {
            added.push(uid);
        }
    }
    for name in remove {
        let uid: Option<i64> = sqlx::query_scalar("SELECT id FROM users WHERE username = $1")
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?;
        let uid = uid.ok_or_else(|| DbError::not_found("user", format!("\"{name}\"")))?;
        if pi == Some(uid) {
            return Err(DbError::Conflict(format!("{name} is the program's PI and stays a member")));
        }
        let n = sqlx::query("DELETE FROM program_members WHERE program_id = $1 AND user_id = $2")
            .bind(pid)
            .bind(uid)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 1 {
            removed.push(uid);
        }
    }
    tx.commit().await?;
    let users = |ids: Vec<i64>| async move {
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.push(user_by_id(pool, id).await?);
        }
        Ok::<_, DbError>(out)
    };
    let added = users(added).await?;
    let removed = users(removed).await?;
    Ok((added, removed))
}
