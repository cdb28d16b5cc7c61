//! One's own account: who one is (profiles, programs, the session's end)
//! and the password change.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::{Extension, Form};
use serde::Deserialize;

use super::{Nav, render, when};
use crate::AppState;
use crate::access::Viewer;
use crate::problem::Problem;

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    nav: Nav,
    name: String,
    email: String,
    profiles: String,
    programs: String,
    expires: String,
    error: String,
}

async fn show(
    state: &AppState,
    viewer: &Viewer,
    flash: String,
    error: String,
    status: StatusCode,
) -> Response {
    let Some(s) = &viewer.session else { return super::error_page(&Problem::unauthorized(), viewer.clone()) };
    let programs = match state.db().list_programs().await {
        Ok(p) => p,
        Err(e) => return super::error_page(&e.into(), viewer.clone()),
    };
    let programs: Vec<&str> =
        programs.iter().filter(|p| s.user.programs.contains(&p.id)).map(|p| p.name.as_str()).collect();
    let page = AccountPage {
        nav: Nav::new(state, viewer, "/account").with_flash(flash),
        name: s.user.username.clone(),
        email: s.user.email.clone(),
        profiles: viewer.profiles().iter().map(|p| p.label()).collect::<Vec<_>>().join(", "),
        programs: if programs.is_empty() { "none".into() } else { programs.join(", ") },
        expires: when(s.expires_at),
        error,
    };
    render(status, &page)
}

pub async fn page(State(state): State<AppState>, Extension(viewer): Extension<Viewer>) -> Response {
    show(&state, &viewer, String::new(), String::new(), StatusCode::OK).await
}

#[derive(Debug, Deserialize)]
pub struct PasswordForm {
    current: String,
    new: String,
    repeat: String,
}

pub async fn password(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Form(f): Form<PasswordForm>,
) -> Response {
    let Some(s) = &viewer.session else { return super::error_page(&Problem::unauthorized(), viewer.clone()) };
    match crate::users::change_password(&state, s, &f.current, &f.new, &f.repeat).await {
        Ok(said) => show(&state, &viewer, said, String::new(), StatusCode::OK).await,
        Err(p) => show(&state, &viewer, String::new(), p.message, p.status).await,
    }
}
