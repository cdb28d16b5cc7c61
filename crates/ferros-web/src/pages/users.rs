//! The Users page (PI and SysAdmin): the accounts, a new one, activation.

use askama::Template;
use axum::Extension;
use axum::extract::{Path, RawForm, State};
use axum::http::StatusCode;
use axum::response::Response;
use ferros_domain::Profile;

use super::{Nav, render};
use crate::AppState;
use crate::access::Viewer;
use crate::problem::Problem;

#[derive(Template)]
#[template(path = "users.html")]
struct UsersPage {
    nav: Nav,
    /// Name, e-mail, profiles, active, state, intentions.
    users: Vec<(String, String, String, bool, &'static str, String)>,
    profiles: Vec<(&'static str, &'static str)>,
    error: String,
}

async fn show(
    state: &AppState,
    viewer: &Viewer,
    flash: String,
    error: String,
    status: StatusCode,
) -> Response {
    let users = match state.db().list_users().await {
        Ok(u) => u,
        Err(e) => return super::error_page(&e.into(), viewer.clone()),
    };
    let users = users
        .into_iter()
        .map(|u| {
            let profiles = u.profiles.iter().map(|p| p.label()).collect::<Vec<_>>().join(", ");
            let st = match (u.active, u.pending) {
                (true, _) => "active",
                (false, true) => "pending",
                (false, false) => "deactivated",
            };
            (u.username, u.email, profiles, u.active, st, u.intentions)
        })
        .collect();
    let profiles = Profile::ALL.iter().map(|p| (p.code(), p.label())).collect();
    render(
        status,
        &UsersPage { nav: Nav::new(state, viewer, "/users").with_flash(flash), users, profiles, error },
    )
}

pub async fn list(State(state): State<AppState>, Extension(viewer): Extension<Viewer>) -> Response {
    show(&state, &viewer, String::new(), String::new(), StatusCode::OK).await
}

pub async fn create(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    RawForm(body): RawForm,
) -> Response {
    let (mut username, mut email, mut password, mut profiles, mut programs) =
        (String::new(), String::new(), String::new(), Vec::new(), Vec::new());
    for (k, v) in form_urlencoded::parse(&body) {
        match k.as_ref() {
            "username" => username = v.into_owned(),
            "email" => email = v.into_owned(),
            "password" => password = v.into_owned(),
            "profile" => profiles.push(v.into_owned()),
            "programs" => {
                programs = v.split(',').map(str::trim).filter(|p| !p.is_empty()).map(str::to_owned).collect();
            }
            _ => {}
        }
    }
    match crate::users::create(&state, &username, &email, Some(&password), &profiles, &programs).await {
        Ok(Some(made)) => {
            let flash = format!("user {username} created with password {made} (shown only this once)");
            show(&state, &viewer, flash, String::new(), StatusCode::CREATED).await
        }
        Ok(None) => {
            show(&state, &viewer, format!("user {username} created"), String::new(), StatusCode::CREATED)
                .await
        }
        Err(p) => show(&state, &viewer, String::new(), p.message, p.status).await,
    }
}

pub async fn act(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path((name, action)): Path<(String, String)>,
) -> Response {
    let me = viewer.name().unwrap_or_default().to_owned();
    let result = match action.as_str() {
        "activate" => crate::users::set_active(&state, &me, &name, true).await,
        "deactivate" => crate::users::set_active(&state, &me, &name, false).await,
        _ => Err(Problem::not_found("this action (activate or deactivate)")),
    };
    match result {
        Ok(said) => show(&state, &viewer, said, String::new(), StatusCode::OK).await,
        Err(p) => show(&state, &viewer, String::new(), p.message, p.status).await,
    }
}
