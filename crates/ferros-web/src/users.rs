//! Accounts made by an administrator, from the Users page or the API,
//! activated or deactivated (the user told by mail), and one's own password.

use std::collections::BTreeSet;

use axum::http::StatusCode;
use ferros_domain::{Profile, validate_username};

use crate::AppState;
use crate::problem::Problem;

/// A new account: its password given, or made (and then returned, once).
pub async fn create(
    state: &AppState,
    username: &str,
    email: &str,
    password: Option<&str>,
    profiles: &[String],
    programs: &[String],
) -> Result<Option<String>, Problem> {
    validate_username(username).map_err(|e| Problem::unprocessable(e.to_string(), vec![]))?;
    if !email.is_empty() {
        crate::accounts::check_email(email)?;
    }
    if profiles.is_empty() || profiles.len() > Profile::ALL.len() || programs.len() > 100 {
        return Err(Problem::unprocessable("give 1 to 8 profiles and at most 100 programs", vec![]));
    }
    let profiles: BTreeSet<Profile> = profiles
        .iter()
        .map(|p| p.parse::<Profile>().map_err(|e| Problem::unprocessable(e.to_string(), vec![])))
        .collect::<Result<_, _>>()?;
    let (password, made) = match password.filter(|p| !p.is_empty()) {
        Some(p) => {
            ferros_auth::check_password(username, p)
                .map_err(|e| Problem::unprocessable(e.to_string(), vec![]))?;
            (p.to_owned(), false)
        }
        None => (ferros_auth::generate_password(), true),
    };
    let hash = tokio::task::spawn_blocking(move || ferros_auth::hash(&password).map(|h| (h, password)))
        .await
        .map_err(|e| Problem::internal("the password", e))?
        .map_err(|e| Problem::internal("the password", e))?;
    let new = ferros_db::NewUser {
        username: username.to_owned(),
        email: email.to_owned(),
        password_hash: hash.0,
        profiles,
        programs: programs.to_vec(),
    };
    state.db().create_user(&new, state.clock().now()).await.map_err(|e| match e {
        ferros_db::DbError::NotFound { .. } => Problem::unprocessable(e.to_string(), vec![]),
        other => Problem::from(other),
    })?;
    Ok(made.then_some(hash.1))
}

/// Activates or deactivates an account (not one's own).
pub async fn set_active(state: &AppState, me: &str, username: &str, active: bool) -> Result<String, Problem> {
    if username == me && !active {
        return Err(Problem::new(StatusCode::CONFLICT, "you cannot deactivate your own account"));
    }
    let user = state.db().set_user_active(username, active).await?;
    crate::accounts::tell_active(state, &user, active).await;
    Ok(format!("{username} {}; they were told by mail", if active { "activated" } else { "deactivated" }))
}

/// Changes the viewer's own password: the current one is checked (under the
/// login limiter, so it cannot be guessed here either), the new one must
/// pass the length rules; the user's other sessions end, this one stays.
pub async fn change_password(
    state: &AppState,
    session: &ferros_db::SessionRecord,
    current: &str,
    new: &str,
    repeated: &str,
) -> Result<String, Problem> {
    let name = session.user.username.clone();
    let key = format!("user:{name}");
    let now = state.clock().now();
    if let Some(wait) = state.inner.limiter.lock().unwrap_or_else(|e| e.into_inner()).wait(&key, now) {
        return Err(Problem::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!("too many wrong passwords: try again in {} s", wait.num_seconds().max(1)),
        ));
    }
    if new != repeated {
        return Err(Problem::unprocessable("the new password and its repetition differ", vec![]));
    }
    ferros_auth::check_password(&name, new).map_err(|e| Problem::unprocessable(e.to_string(), vec![]))?;
    let hash = state.db().password_hash(&name).await?.unwrap_or_default();
    let (current, new) = (current.to_owned(), new.to_owned());
    let made = tokio::task::spawn_blocking(move || {
        if ferros_auth::verify(&current, &hash) { ferros_auth::hash(&new).map(Some) } else { Ok(None) }
    })
    .await
    .map_err(|e| Problem::internal("the password", e))?
    .map_err(|e| Problem::internal("the password", e))?;
    let Some(hash) = made else {
        state.inner.limiter.lock().unwrap_or_else(|e| e.into_inner()).failed(&key, now);
        return Err(Problem::new(StatusCode::FORBIDDEN, "the current password is wrong; nothing changed"));
    };
    state.db().set_password(&name, &hash, Some(session.id)).await?;
    crate::access::log(state, ferros_domain::LogLevel::Info, format!("{name} changed their password")).await;
    Ok("password changed; your other sessions are closed".to_owned())
}
