//! Requests: the list the viewer may see, the upload of a request XML
//! (every problem shown on the form, nothing stored), a request's tree with
//! tonight's visibility, its XML to download, submit, unsubmit and cancel.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use serde::Deserialize;

use super::{Nav, render, shown, when};
use crate::AppState;
use crate::access::Viewer;
use crate::problem::Problem;

pub struct Row {
    id: i64,
    name: String,
    program: String,
    owner: String,
    status: String,
}

#[derive(Template)]
#[template(path = "requests.html")]
struct ListPage {
    nav: Nav,
    rows: Vec<Row>,
    xml: String,
    error: String,
    problems: Vec<String>,
}

async fn rows(state: &AppState, viewer: &Viewer) -> Result<Vec<Row>, Problem> {
    let Some(user) = viewer.user() else { return Ok(Vec::new()) };
    Ok(crate::requests::listed(state, user)
        .await?
        .into_iter()
        .map(|r| Row {
            id: r.id.0,
            name: shown(&r.name),
            program: shown(&r.program),
            owner: shown(&r.owner),
            status: ferros_domain::summarize_statuses(&r.sequence_statuses),
        })
        .collect())
}

async fn list_page(state: &AppState, viewer: &Viewer, xml: String, p: Option<Problem>) -> Response {
    let rows = match rows(state, viewer).await {
        Ok(r) => r,
        Err(p) => return super::error_page(&p, viewer.clone()),
    };
    let (status, error, problems) = match p {
        Some(p) => {
            let list = if p.problems.is_empty() { vec![p.message.clone()] } else { p.problems };
            (p.status, p.message, list)
        }
        None => (StatusCode::OK, String::new(), Vec::new()),
    };
    render(status, &ListPage { nav: Nav::new(state, viewer, "/requests"), rows, xml, error, problems })
}

pub async fn list(State(state): State<AppState>, Extension(viewer): Extension<Viewer>) -> Response {
    list_page(&state, &viewer, String::new(), None).await
}

#[derive(Debug, Deserialize)]
pub struct Upload {
    #[serde(default)]
    xml: String,
    #[serde(default)]
    submit: Option<String>,
}

pub async fn upload(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Form(f): Form<Upload>,
) -> Response {
    let Some(user) = viewer.user() else { return super::error_page(&Problem::unauthorized(), viewer) };
    match crate::requests::import(&state, user, &f.xml, f.submit.is_some()).await {
        Ok(done) => Redirect::to(&format!("/requests/{}", done.request_id)).into_response(),
        Err(p) => {
            // The document comes back on the form, unless it is too large to.
            let xml = if f.xml.len() <= 256 << 10 { f.xml } else { String::new() };
            list_page(&state, &viewer, xml, Some(p)).await
        }
    }
}

pub struct SeqRow {
    id: i64,
    name: String,
    status: String,
    target: String,
    window: String,
    planned: String,
    visible: String,
    albums: Vec<AlbumRow>,
}

pub struct AlbumRow {
    name: String,
    detector: String,
    plans: Vec<String>,
}

#[derive(Template)]
#[template(path = "request.html")]
struct RequestPage {
    nav: Nav,
    r: ferros_domain::Request,
    kind: &'static str,
    strategy: &'static str,
    created: String,
    sequences: Vec<SeqRow>,
    /// Tonight's altitude of each sequence's target (SVG), at most
    /// `MAX_CHARTS`.
    charts: Vec<String>,
    may_act: bool,
    /// The XML to edit (the request's open sequences), when it may be edited.
    edit_xml: Option<String>,
    error: String,
    problems: Vec<String>,
}

/// Visibility charts on a request's page at most.
const MAX_CHARTS: usize = 8;

fn jd(j: Option<ferros_domain::JulianDate>) -> String {
    j.map(|j| j.to_datetime().format("%m-%d %H:%M").to_string()).unwrap_or_else(|| "-".into())
}

async fn show_page(state: &AppState, viewer: &Viewer, id: i64, flash: String) -> Response {
    show_edit(state, viewer, id, flash, None, StatusCode::OK).await
}

/// A request's page; `edit` the XML of a refused edit and why.
async fn show_edit(
    state: &AppState,
    viewer: &Viewer,
    id: i64,
    flash: String,
    edit: Option<(String, Problem)>,
    status: StatusCode,
) -> Response {
    let Some(user) = viewer.user() else {
        return super::error_page(&Problem::unauthorized(), viewer.clone());
    };
    let r = match crate::requests::visible(state, user, id).await {
        Ok(r) => r,
        Err(p) => return super::error_page(&p, viewer.clone()),
    };
    let sky = match crate::sky::tonight(state).await {
        Ok(s) => s,
        Err(p) => return super::error_page(&p, viewer.clone()),
    };
    let mut charts = Vec::new();
    if let Some((sky, _)) = &sky
        && let Some((start, end)) = crate::sky::dark_span(sky)
    {
        for s in r.sequences.iter().filter(|s| s.spec.coordinates.is_some()).take(MAX_CHARTS) {
            let points = crate::sky::altitudes(sky, &s.spec);
            let title = format!("{}: altitude tonight", shown(&s.spec.name));
            charts.push(crate::svg::line_chart(&title, "deg", &points, start, end));
        }
    }
    let sequences = r
        .sequences
        .iter()
        .map(|s| SeqRow {
            id: s.id.0,
            name: shown(&s.spec.name),
            status: s.status.to_string(),
            target: match s.spec.coordinates {
                Some(c) => format!(
                    "{} ({:.4}, {:+.4})",
                    s.spec.target.as_deref().unwrap_or("-"),
                    c.ra.degrees(),
                    c.dec.degrees()
                ),
                None => s.spec.target.clone().unwrap_or_else(|| "-".into()),
            },
            window: format!("{} – {}", jd(Some(s.spec.jd1)), jd(Some(s.spec.jd2))),
            planned: format!("{} – {}", jd(s.tsp), jd(s.tep)),
            visible: match &sky {
                Some((sky, set)) if s.spec.coordinates.is_some() => {
                    super::windows_text(&crate::sky::windows(sky, *set, &s.spec))
                }
                _ => "-".into(),
            },
            albums: s
                .albums
                .iter()
                .map(|a| AlbumRow {
                    name: shown(&a.spec.name),
                    detector: a.spec.detector.to_string(),
                    plans: a
                        .plans
                        .iter()
                        .map(|p| {
                            format!(
                                "{}: filter {}, {} × {} s",
                                shown(&p.spec.name),
                                p.spec.filter,
                                p.spec.nb_images,
                                p.spec.exposure
                            )
                        })
                        .collect(),
                })
                .collect(),
        })
        .collect();
    let may_act = r.owner == user.username || user.has(ferros_domain::Right::ViewAllRequests);
    // Editable while nothing is submitted, running or done.
    let open = |s: &ferros_domain::Sequence| {
        matches!(
            s.status,
            ferros_domain::SequenceStatus::Incomplete | ferros_domain::SequenceStatus::Complete
        )
    };
    let editable = may_act
        && r.kind != ferros_domain::RequestKind::Alert
        && r.sequences.iter().any(open)
        && r.sequences.iter().all(|s| open(s) || s.status.is_final());
    let (edit_xml, error, problems) = match edit {
        Some((xml, p)) => (Some(xml), p.message, p.problems),
        None if editable => {
            let mut current = r.to_new();
            // The cancelled sequences of earlier edits stay out.
            current.sequences = r
                .sequences
                .iter()
                .zip(current.sequences)
                .filter(|(s, _)| !s.status.is_final())
                .map(|(_, n)| n)
                .collect();
            (Some(ferros_request_xml::write_request(&current)), String::new(), Vec::new())
        }
        None => (None, String::new(), Vec::new()),
    };
    let page = RequestPage {
        nav: Nav::new(state, viewer, "/requests").with_flash(flash),
        edit_xml,
        error,
        problems,
        kind: r.kind.code(),
        strategy: r.strategy.code(),
        created: when(r.created_at),
        sequences,
        charts,
        may_act,
        r,
    };
    render(status, &page)
}

pub async fn show(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<i64>,
) -> Response {
    show_page(&state, &viewer, id, String::new()).await
}

pub async fn act(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path((id, action)): Path<(i64, String)>,
) -> Response {
    let Some(user) = viewer.user() else { return super::error_page(&Problem::unauthorized(), viewer) };
    match crate::requests::act(&state, user, id, &action).await {
        Ok(said) => show_page(&state, &viewer, id, said).await,
        Err(p) => super::error_page(&p, viewer),
    }
}

/// The request as XML, in the importer's format, to edit and upload again.
pub async fn xml(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<i64>,
) -> Response {
    let Some(user) = viewer.user() else { return super::error_page(&Problem::unauthorized(), viewer) };
    match crate::requests::visible(&state, user, id).await {
        Ok(r) => crate::requests::xml_download(&r),
        Err(p) => super::error_page(&p, viewer),
    }
}

#[derive(Debug, Deserialize)]
pub struct EditForm {
    xml: String,
}

/// An edit: the new XML read with every check; the page again with every
/// problem (and the XML kept) when refused.
pub async fn edit(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<i64>,
    Form(f): Form<EditForm>,
) -> Response {
    let Some(user) = viewer.user() else { return super::error_page(&Problem::unauthorized(), viewer) };
    match crate::requests::edit(&state, user, id, &f.xml).await {
        Ok(done) => {
            let said = format!(
                "request {id} edited: {} sequence(s) now; submit it when ready",
                done.sequences.len()
            );
            show_page(&state, &viewer, id, said).await
        }
        Err(p) if p.status == StatusCode::NOT_FOUND => super::error_page(&p, viewer),
        Err(p) => {
            let status = p.status;
            show_edit(&state, &viewer, id, String::new(), Some((f.xml, p)), status).await
        }
    }
}
