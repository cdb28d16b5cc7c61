//! Programs (their priority, quota, time used and left), the configuration
//! in effect, and the webcams.

use askama::Template;
use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use super::{Nav, render, shown};
use crate::AppState;
use crate::access::Viewer;

pub struct ProgramRow {
    name: String,
    period: String,
    priority: String,
    pi: String,
    quota_h: String,
    used_h: String,
    left_h: String,
    members: usize,
}

#[derive(Template)]
#[template(path = "programs.html")]
struct ProgramsPage {
    nav: Nav,
    rows: Vec<ProgramRow>,
}

fn hours(s: ferros_domain::Seconds) -> String {
    format!("{:.2} h", s.get() / 3600.0)
}

pub async fn programs(State(state): State<AppState>, Extension(viewer): Extension<Viewer>) -> Response {
    let loaded = async {
        let db = state.db();
        Ok::<_, crate::problem::Problem>((db.list_programs().await?, db.list_users().await?))
    };
    let (programs, users) = match loaded.await {
        Ok(l) => l,
        Err(p) => return super::error_page(&p, viewer),
    };
    let rows = programs
        .iter()
        .map(|p| ProgramRow {
            name: shown(&p.name),
            period: p.period.to_string(),
            priority: p.priority.to_string(),
            pi: p
                .pi
                .and_then(|id| users.iter().find(|u| u.id == id))
                .map_or_else(|| "-".into(), |u| shown(&u.username)),
            quota_h: hours(p.quota),
            used_h: hours(p.used),
            left_h: hours(p.remaining_quota()),
            members: users.iter().filter(|u| u.programs.contains(&p.id)).count(),
        })
        .collect();
    render(StatusCode::OK, &ProgramsPage { nav: Nav::new(&state, &viewer, "/programs"), rows })
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
