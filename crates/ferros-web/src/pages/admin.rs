//! Programs (their priority, quota in hours and percent of the period, time
//! used and left; one program's use per member and its edit), the configuration
//! in effect, and the webcams.

use askama::Template;
use axum::Extension;
use axum::extract::{Path, RawForm, State};
use axum::http::StatusCode;
use axum::response::Response;
use ferros_domain::Right;

use super::{Nav, render};
use crate::AppState;
use crate::access::Viewer;
use crate::problem::Problem;

#[derive(Template)]
#[template(path = "programs.html")]
struct ProgramsPage {
    nav: Nav,
    rows: Vec<crate::programs::ProgramView>,
}

pub async fn programs(State(state): State<AppState>, Extension(viewer): Extension<Viewer>) -> Response {
    match crate::programs::list(&state).await {
        Ok(rows) => {
            render(StatusCode::OK, &ProgramsPage { nav: Nav::new(&state, &viewer, "/programs"), rows })
        }
        Err(p) => super::error_page(&p, viewer),
    }
}

#[derive(Template)]
#[template(path = "program.html")]
struct ProgramPage {
    nav: Nav,
    u: crate::programs::UsageView,
    may_edit: bool,
    /// The SP-PI (or a user manager): chooses the members among all users.
    may_manage: bool,
    /// Every user name, for the SP-PI's choice; the members' names.
    all_users: Vec<String>,
    members: Vec<String>,
    error: String,
}

pub(crate) async fn program_page(
    state: &AppState,
    viewer: Viewer,
    name: &str,
    flash: String,
    error: String,
    status: StatusCode,
) -> Response {
    let Some(user) = viewer.user() else { return super::error_page(&Problem::unauthorized(), viewer) };
    let loaded = async {
        let u = crate::programs::usage(state, user, name).await?;
        let may_manage = crate::accounts::may_manage_members(state, user, name).await?;
        let users = state.db().list_users().await?;
        let id = state.db().program_by_name(name).await?.map(|p| p.id);
        let members = users
            .iter()
            .filter(|x| id.is_some_and(|id| x.programs.contains(&id)))
            .map(|x| x.username.clone())
            .collect();
        let all_users = if may_manage { users.into_iter().map(|x| x.username).collect() } else { Vec::new() };
        Ok::<_, Problem>((u, may_manage, all_users, members))
    };
    match loaded.await {
        Ok((u, may_manage, all_users, members)) => render(
            status,
            &ProgramPage {
                nav: Nav::new(state, &viewer, "/programs").with_flash(flash),
                may_edit: viewer.may(Right::SetQuotaAndPriority),
                may_manage,
                all_users,
                members,
                u,
                error,
            },
        ),
        Err(p) => super::error_page(&p, viewer),
    }
}

pub async fn program(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(name): Path<String>,
) -> Response {
    program_page(&state, viewer, &name, String::new(), String::new(), StatusCode::OK).await
}

/// The edit form: empty fields are unchanged.
pub async fn edit_program(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(name): Path<String>,
    RawForm(body): RawForm,
) -> Response {
    let read = || {
        let mut grant = crate::programs::Grant::default();
        let mut description = None;
        for (k, v) in form_urlencoded::parse(&body) {
            if !grant.take_field(&k, &v)? && k == "description" {
                description = Some(v.trim().to_owned()).filter(|d| !d.is_empty());
            }
        }
        let crate::programs::Grant { priority, grade, quota_percent, quota_hours } = grant;
        Ok::<_, Problem>(crate::programs::Edit { priority, grade, quota_percent, quota_hours, description })
    };
    let result = match read() {
        Ok(e) => crate::programs::edit(&state, &name, &e).await,
        Err(p) => Err(p),
    };
    match result {
        Ok(p) => {
            let flash = format!("program \"{}\" changed", p.name);
            program_page(&state, viewer, &name, flash, String::new(), StatusCode::OK).await
        }
        Err(p) => program_page(&state, viewer, &name, String::new(), p.message, p.status).await,
    }
}

#[derive(Template)]
#[template(path = "config.html")]
struct ConfigPage<'a> {
    nav: Nav,
    text: &'a str,
}

pub async fn config(State(state): State<AppState>, Extension(viewer): Extension<Viewer>) -> Response {
    let text = state.inner.settings.config_text.clone();
    render(StatusCode::OK, &ConfigPage { nav: Nav::new(&state, &viewer, "/config"), text: &text })
}

#[derive(Template)]
#[template(path = "webcams.html")]
struct WebcamsPage<'a> {
    nav: Nav,
    webcams: &'a [String],
}

pub async fn webcams(State(state): State<AppState>, Extension(viewer): Extension<Viewer>) -> Response {
    let webcams = state.inner.settings.webcams.clone();
    render(StatusCode::OK, &WebcamsPage { nav: Nav::new(&state, &viewer, "/webcams"), webcams: &webcams })
}
