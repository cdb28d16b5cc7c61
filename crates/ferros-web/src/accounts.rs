//! The user life cycle (seed 000's scenario): registration with one's
//! intentions (the account pending, the PIs mailed an activation link),
//! activation by a PI (the user told by mail), deactivation and
//! reactivation (told too), the password reset by a mailed link, and the
//! SP-PI choosing the members of a program (each told). Links carry a
//! random token of which the database keeps the SHA-256; each works once,
//! until it expires.

use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use ferros_db::{Registration, TokenPurpose};
use ferros_domain::{LogLevel, Profile, Right, User, validate_username};
use ferros_mail::Mail;
use serde::Deserialize;

use crate::problem::Problem;
use crate::{AppState, MailSettings};

/// Names added or removed in one change of members, at most.
pub const MAX_MEMBER_CHANGES: usize = 100;

fn mail_settings(state: &AppState) -> Result<&MailSettings, Problem> {
    state.inner.settings.mail.as_ref().ok_or_else(|| {
        Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "mail is not set up on this server: ask the administrator",
        )
    })
}

fn bad(m: impl Into<String>) -> Problem {
    Problem::unprocessable(m, vec![])
}

/// Sends a mail; a failure is logged (the mailer keeps what it cannot send
/// in its outbox), never the caller's failure.
async fn send(state: &AppState, to: &str, subject: String, body: String) {
    let Ok(m) = mail_settings(state) else { return };
    if to.is_empty() {
        return;
    }
    let mail = Mail { to: to.to_owned(), subject, body };
    if let Err(e) = m.mailer.send(&mail, state.clock().now()).await {
        crate::access::log(state, LogLevel::Warn, format!("mail to {to}: {e}")).await;
    }
}

/// Counts an attempt of `what` by `address` and refuses beyond the login
/// limiter's allowance (registrations and reset requests are public).
fn limited(state: &AppState, what: &str, address: Option<std::net::IpAddr>) -> Result<(), Problem> {
    let key = format!("{what}:{}", address.map_or("-".into(), |a| a.to_string()));
    let now = state.clock().now();
    let mut limiter = state.inner.limiter.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(wait) = limiter.wait(&key, now) {
        return Err(Problem::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!("too many attempts from this address: try again in {} s", wait.num_seconds().max(1)),
        ));
    }
    limiter.failed(&key, now);
    Ok(())
}

/// An e-mail address as accounts hold them.
pub fn check_email(email: &str) -> Result<(), Problem> {
    let at = email.find('@');
    let ok = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '"' | ','))
        && at.is_some_and(|i| i > 0 && i + 1 < email.len() && !email[i + 1..].contains('@'));
    if ok { Ok(()) } else { Err(bad(format!("\"{}\" is not an e-mail address", crate::pages::shown(email)))) }
}

async fn hashed(password: String) -> Result<String, Problem> {
    tokio::task::spawn_blocking(move || ferros_auth::hash(&password))
        .await
        .map_err(|e| Problem::internal("the password", e))?
        .map_err(|e| Problem::internal("the password", e))
}

fn until(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// A registration form or API body.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignUp {
    pub username: String,
    pub email: String,
    pub password: String,
    /// The password again (the form's); the API may leave it out.
    #[serde(default)]
    pub repeat: Option<String>,
    pub intentions: String,
}

/// Registers a pending account and mails its owner and the PIs.
pub async fn register(
    state: &AppState,
    f: &SignUp,
    address: Option<std::net::IpAddr>,
) -> Result<String, Problem> {
    validate_username(&f.username).map_err(|e| bad(e.to_string()))?;
    check_email(&f.email)?;
    if f.repeat.as_ref().is_some_and(|r| *r != f.password) {
        return Err(bad("the password and its repetition differ"));
    }
    ferros_auth::check_password(&f.username, &f.password).map_err(|e| bad(e.to_string()))?;
    let intentions = f.intentions.trim();
    if intentions.chars().count() < 10 || intentions.chars().count() > ferros_limits::MAX_PROGRAM_TEXT {
        return Err(bad(format!(
            "say what you intend to observe, in 10 to {} characters",
            ferros_limits::MAX_PROGRAM_TEXT
        )));
    }
    if intentions.chars().any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t') {
        return Err(bad("the intentions have control characters"));
    }
    let m = mail_settings(state)?;
    limited(state, "register", address)?;
    let hash = hashed(f.password.clone()).await?;
    let token = ferros_auth::new_token();
    let digest = ferros_auth::digest(&token);
    let now = state.clock().now();
    let expires_at = now + m.activation;
    let r = Registration {
        username: &f.username,
        email: &f.email,
        password_hash: &hash,
        intentions,
        token_hash: &digest,
        now,
        expires_at,
    };
    let user = state.db().register_user(&r).await?;
    let site = state.site_name().to_owned();
    send(
        state,
        &user.email,
        format!("{site}: your account {} waits for validation", user.username),
        format!(
            "Hello {},\n\nYour account {} on {site} is created. A PI checks new accounts: you will get a mail\n\
             when yours is active.\n",
            user.username, user.username
        ),
    )
    .await;
    let link = format!("{}/activate/{token}", m.base_url.trim_end_matches('/'));
    let pis: Vec<User> = state
        .db()
        .list_users()
        .await?
        .into_iter()
        .filter(|u| u.active && u.profiles.contains(&Profile::Pi) && !u.email.is_empty())
        .collect();
    for pi in &pis {
        send(
            state,
            &pi.email,
            format!("{site}: new account {} to activate", user.username),
            format!(
                "A new account waits for activation on {site}:\n\n  user:   {}\n  e-mail: {}\n\n\
                 Intentions:\n{}\n\nTo activate it, log in as a PI and open\n  {link}\n(until {}).\n",
                user.username,
                user.email,
                intentions,
                until(expires_at)
            ),
        )
        .await;
    }
    let message =
        format!("account {} registered, pending activation by a PI ({} mailed)", user.username, pis.len());
    crate::access::log(state, LogLevel::Info, message).await;
    Ok(format!(
        "Your account {} is created and waits for a PI's validation: you will get a mail at {} when it is active.",
        user.username, user.email
    ))
}

/// The pending account an activation link names.
pub async fn pending(state: &AppState, token: &str) -> Result<User, Problem> {
    let hash = token_hash(token)?;
    Ok(state.db().token_user(&hash, TokenPurpose::Activate, state.clock().now()).await?)
}

fn token_hash(token: &str) -> Result<String, Problem> {
    if token.is_empty()
        || token.len() > 128
        || !token.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(Problem::not_found("this link (check it was copied whole)"));
    }
    Ok(ferros_auth::digest(token))
}

/// Activates the account of a link (a PI or SysAdmin follows it) and tells its owner.
pub async fn activate(state: &AppState, by: &str, token: &str) -> Result<String, Problem> {
    let hash = token_hash(token)?;
    let user = state.db().activate_user(&hash, state.clock().now()).await?;
    tell_active(state, &user, true).await;
    crate::access::log(state, LogLevel::Info, format!("{} activated by {by}", user.username)).await;
    Ok(format!("{} is active; they were told by mail", user.username))
}

/// Tells a user their account was (re)activated or deactivated.
pub async fn tell_active(state: &AppState, user: &User, active: bool) {
    let site = state.site_name().to_owned();
    let login = state
        .inner
        .settings
        .mail
        .as_ref()
        .map_or_else(|| "/login".to_owned(), |m| format!("{}/login", m.base_url.trim_end_matches('/')));
    let (subject, body) = if active {
        (
            format!("{site}: your account {} is active", user.username),
            format!("Hello {},\n\nYour account on {site} is active: log in at\n  {login}\n", user.username),
        )
    } else {
        (
            format!("{site}: your account {} is deactivated", user.username),
            format!(
                "Hello {},\n\nYour account on {site} was deactivated by a PI: you can no longer log in.\n\
                 Write to the observatory's PI if you think it is a mistake.\n",
                user.username
            ),
        )
    };
    send(state, &user.email, subject, body).await;
}

/// Mails a password reset link to the active account with this address.
/// The answer is the same whether there is one or not.
pub async fn ask_reset(
    state: &AppState,
    email: &str,
    address: Option<std::net::IpAddr>,
) -> Result<String, Problem> {
    check_email(email)?;
    let m = mail_settings(state)?;
    limited(state, "reset", address)?;
    let token = ferros_auth::new_token();
    let now = state.clock().now();
    let expires_at = now + m.reset;
    if let Some(user) = state.db().create_reset(email, &ferros_auth::digest(&token), now, expires_at).await? {
        let site = state.site_name().to_owned();
        let link = format!("{}/password-reset/{token}", m.base_url.trim_end_matches('/'));
        send(
            state,
            &user.email,
            format!("{site}: a new password for {}", user.username),
            format!(
                "Hello {},\n\nSomeone (you, we hope) asked for a new password for your account on {site}.\n\
                 Choose it at\n  {link}\n(until {}; the link works once).\nIf you did not ask, ignore this mail.\n",
                user.username,
                until(expires_at)
            ),
        )
        .await;
        crate::access::log(state, LogLevel::Info, format!("password reset asked for {}", user.username))
            .await;
    }
    Ok(format!(
        "If an active account has the address {email}, a link to choose a new password was mailed to it."
    ))
}

/// The account a reset link is for (to greet them on the form).
pub async fn reset_user(state: &AppState, token: &str) -> Result<User, Problem> {
    let hash = token_hash(token)?;
    Ok(state.db().token_user(&hash, TokenPurpose::Reset, state.clock().now()).await?)
}

/// Sets a new password through a reset link: once, checked; sessions end.
pub async fn reset(
    state: &AppState,
    token: &str,
    password: &str,
    repeat: Option<&str>,
) -> Result<String, Problem> {
    let hash = token_hash(token)?;
    let now = state.clock().now();
    let user = state.db().token_user(&hash, TokenPurpose::Reset, now).await?;
    if repeat.is_some_and(|r| r != password) {
        return Err(bad("the password and its repetition differ"));
    }
    ferros_auth::check_password(&user.username, password).map_err(|e| bad(e.to_string()))?;
    let pw = hashed(password.to_owned()).await?;
    let user = state.db().reset_password(&hash, &pw, now).await?;
    let site = state.site_name().to_owned();
    send(
        state,
        &user.email,
        format!("{site}: your password was changed"),
        format!(
            "Hello {},\n\nThe password of your account on {site} was changed with a reset link.\n",
            user.username
        ),
    )
    .await;
    crate::access::log(
        state,
        LogLevel::Info,
        format!("{} chose a new password with a reset link", user.username),
    )
    .await;
    Ok(format!("The password of {} is changed: log in with it.", user.username))
}

/// A change of a program's members.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Members {
    #[serde(default)]
    pub add: Vec<String>,
    #[serde(default)]
    pub remove: Vec<String>,
}

/// Whether `user` chooses `program`'s members: its PI (the SP-PI), or who manages users.
pub async fn may_manage_members(state: &AppState, user: &User, program: &str) -> Result<bool, Problem> {
    if user.has(Right::ManageUsers) {
        return Ok(true);
    }
    let p = state.db().program_by_name(program).await?;
    Ok(p.is_some_and(|p| p.pi == Some(user.id)))
}

/// The SP-PI adds and removes members; each is told by mail.
pub async fn set_members(state: &AppState, by: &User, program: &str, m: &Members) -> Result<String, Problem> {
    if program.len() > 64 || state.db().program_by_name(program).await?.is_none() {
        return Err(Problem::not_found(format!("program \"{}\"", crate::pages::shown(program))));
    }
    if !may_manage_members(state, by, program).await? {
        crate::access::log(
            state,
            LogLevel::Warn,
            format!("403 {} changing the members of {program}", by.username),
        )
        .await;
        return Err(Problem::new(
            StatusCode::FORBIDDEN,
            format!("only the PI of {program} (or a user manager) chooses its members"),
        ));
    }
    if m.add.is_empty() && m.remove.is_empty() {
        return Err(bad("give users to add or to remove"));
    }
    if m.add.len() + m.remove.len() > MAX_MEMBER_CHANGES {
        return Err(bad(format!("at most {MAX_MEMBER_CHANGES} users at once")));
    }
    for n in m.add.iter().chain(&m.remove) {
        validate_username(n).map_err(|e| bad(e.to_string()))?;
    }
    let (added, removed) = state.db().set_members(program, &m.add, &m.remove).await?;
    let site = state.site_name().to_owned();
    for u in &added {
        send(
            state,
            &u.email,
            format!("{site}: you are a member of {program}"),
            format!(
                "Hello {},\n\n{} made you a member of the program {program} on {site}: you may submit\n\
                 requests to it and see its images.\n",
                u.username, by.username
            ),
        )
        .await;
    }
    for u in &removed {
        send(
            state,
            &u.email,
            format!("{site}: you are no longer a member of {program}"),
            format!(
                "Hello {},\n\n{} removed you from the program {program} on {site}.\n",
                u.username, by.username
            ),
        )
        .await;
    }
    let names = |us: &[User]| us.iter().map(|u| u.username.as_str()).collect::<Vec<_>>().join(", ");
    let said = format!(
        "{program}: added {}; removed {}",
        if added.is_empty() { "nobody".into() } else { names(&added) },
        if removed.is_empty() { "nobody".into() } else { names(&removed) }
    );
    crate::access::log(state, LogLevel::Info, format!("{} changed members: {said}", by.username)).await;
    Ok(said)
}
