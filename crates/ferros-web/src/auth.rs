//! Sessions: who a request comes from (the session cookie of a browser,
//! or a script's bearer token), logging in (argon2 on a blocking thread,
//! under the rate limiter) and out.

use axum::http::{HeaderMap, StatusCode, header};
use chrono::TimeDelta;
use ferros_db::{NewSession, SessionKind};
use ferros_domain::LogLevel;

use crate::AppState;
use crate::access::{Viewer, log};
use crate::problem::Problem;

/// The session cookie's name.
pub const COOKIE: &str = "ferros_session";
/// The login form's CSRF cookie (before there is a session).
pub const LOGIN_CSRF_COOKIE: &str = "ferros_login";

/// The value of cookie `name`, if the request carries it.
pub fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The request's viewer: a bearer token must be valid (401 otherwise); a
/// session cookie that is unknown or expired counts as no login.
pub async fn viewer(state: &AppState, headers: &HeaderMap) -> Result<Viewer, Problem> {
    let now = state.clock().now();
    if let Some(auth) = headers.get(header::AUTHORIZATION) {
        let token = auth
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty() && t.len() <= 256)
            .ok_or_else(|| {
                Problem::new(
                    StatusCode::UNAUTHORIZED,
                    "Authorization must be \"Bearer TOKEN\" (POST /api/v1/login)",
                )
            })?;
        let session = state
            .db()
            .session(&ferros_auth::digest(token), now)
            .await
            .map_err(|e| Problem::internal("sessions", e))?
            .ok_or_else(|| {
                Problem::new(StatusCode::UNAUTHORIZED, "the token is unknown or expired: log in again")
            })?;
        return Ok(Viewer { session: Some(session), site: state.inner.site.clone() });
    }
    let Some(token) = cookie(headers, COOKIE).filter(|t| !t.is_empty() && t.len() <= 256) else {
        return Ok(Viewer::visitor(state));
    };
    let session = state
        .db()
        .session(&ferros_auth::digest(token), now)
        .await
        .map_err(|e| Problem::internal("sessions", e))?;
    Ok(Viewer { session: session.filter(|s| s.kind == SessionKind::Cookie), site: state.inner.site.clone() })
}

/// A new session: its token (given to the client once) and how long it lasts.
#[derive(Debug)]
pub struct LoggedIn {
    pub token: String,
    pub expires_in: TimeDelta,
}

/// Checks a user name and password under the limiter (per name and per
/// address) and opens a session of `kind`.
pub async fn login(
    state: &AppState,
    username: &str,
    password: &str,
    address: Option<std::net::IpAddr>,
    kind: SessionKind,
) -> Result<LoggedIn, Problem> {
    let now = state.clock().now();
    let keys =
        [format!("user:{username}"), format!("addr:{}", address.map_or("-".into(), |a| a.to_string()))];
    {
        let mut limiter = state.inner.limiter.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(wait) = keys.iter().find_map(|k| limiter.wait(k, now)) {
            return Err(Problem::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!("too many failed logins: try again in {} s", wait.num_seconds().max(1)),
            ));
        }
    }
    if username.len() > 64 || password.chars().count() > ferros_auth::MAX_PASSWORD_CHARS {
        return Err(Problem::bad_request("the user name or the password is too long"));
    }
    let hash = state.db().password_hash(username).await.map_err(|e| Problem::internal("login", e))?;
    let pw = password.to_owned();
    // argon2 takes tens of milliseconds: off the request threads. A name
    // without an account is checked against a fixed hash, so the time
    // does not tell which names exist.
    let ok = tokio::task::spawn_blocking(move || match hash {
        Some(h) => ferros_auth::verify(&pw, &h),
        None => {
            let _ = ferros_auth::verify(&pw, dummy_hash());
            false
        }
    })
    .await
    .unwrap_or(false);
    if !ok {
        {
            let mut limiter = state.inner.limiter.lock().unwrap_or_else(|e| e.into_inner());
            for k in &keys {
                limiter.failed(k, now);
            }
        }
        let from = address.map_or_else(|| "an unknown address".to_owned(), |a| a.to_string());
        let shown: String = username.chars().filter(|c| !c.is_control()).take(64).collect();
        log(state, LogLevel::Warn, format!("failed login for \"{shown}\" from {from}")).await;
        return Err(Problem::new(
            StatusCode::UNAUTHORIZED,
            "wrong user name or password (or the account is inactive)",
        ));
    }
    {
        let mut limiter = state.inner.limiter.lock().unwrap_or_else(|e| e.into_inner());
        limiter.succeeded(&keys[0]);
    }
    let token = ferros_auth::new_token();
    let csrf = ferros_auth::new_token();
    let expires_in = TimeDelta::seconds((state.inner.settings.session_hours * 3600.0).round() as i64);
    let digest = ferros_auth::digest(&token);
    let session =
        NewSession { username, token_hash: &digest, kind, csrf: &csrf, now, expires_at: now + expires_in };
    state.db().create_session(&session).await.map_err(|e| Problem::internal("login", e))?;
    log(state, LogLevel::Info, format!("{username} logged in ({})", kind.code())).await;
    Ok(LoggedIn { token, expires_in })
}

/// Ends the request's session (its cookie or bearer token).
pub async fn logout(state: &AppState, headers: &HeaderMap) -> Result<(), Problem> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .or_else(|| cookie(headers, COOKIE));
    if let Some(t) = token {
        state
            .db()
            .delete_session(&ferros_auth::digest(t.trim()))
            .await
            .map_err(|e| Problem::internal("logout", e))?;
    }
    Ok(())
}

/// The Set-Cookie value of a session cookie (`max_age` 0 removes it).
pub fn session_cookie(state: &AppState, token: &str, max_age: i64) -> String {
    let secure = if state.inner.settings.secure_cookies { "; Secure" } else { "" };
    format!("{COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}")
}

/// An argon2id hash of a random password nobody knows, made once: checking
/// an unknown name costs what checking a known one does.
fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| ferros_auth::hash(&ferros_auth::generate_password()).unwrap_or_default())
}
