//! The Proposals pages: the list and the form to propose, one proposal
//! with its votes, and the forms of who may act on it (its proposer, the
//! TAC, the PI).

use askama::Template;
use axum::Extension;
use axum::extract::{Path, RawForm, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use ferros_domain::Right;

use super::{Nav, render, when};
use crate::AppState;
use crate::access::Viewer;
use crate::problem::Problem;
use crate::proposals::{self, Acceptance, Ballot, Form};

type Row = (i64, String, String, String, String, usize, String, String);

#[derive(Template)]
#[template(path = "proposals.html")]
struct ListPage {
    nav: Nav,
    rows: Vec<Row>,
    may_propose: bool,
    next: String,
    deadline: String,
    error: String,
}

async fn list_page(state: &AppState, viewer: Viewer, error: String, status: StatusCode) -> Response {
    let rows = match proposals::list(state).await {
        Ok(r) => r,
        Err(p) => return super::error_page(&p, viewer),
    };
    let rows = rows
        .into_iter()
        .map(|v| {
            let p = &v.proposal;
            (
                p.id.0,
                super::shown(&p.proposal.name),
                p.proposal.period.to_string(),
                p.proposer.clone(),
                format!("{:.1} h", p.proposal.hours_asked.hours()),
                p.votes.len(),
                v.grade.map_or("-", |g| g.code()).to_owned(),
                p.program.clone().unwrap_or_else(|| "-".into()),
            )
        })
        .collect();
    let next = proposals::next_open(state);
    let page = ListPage {
        nav: Nav::new(state, &viewer, "/proposals"),
        rows,
        may_propose: viewer.may(Right::EditProposal),
        next: next.to_string(),
        deadline: proposals::deadline(state, next).to_string(),
        error,
    };
    render(status, &page)
}

pub async fn list(State(state): State<AppState>, Extension(viewer): Extension<Viewer>) -> Response {
    list_page(&state, viewer, String::new(), StatusCode::OK).await
}

fn form_of(body: &[u8]) -> Result<Form, Problem> {
    let mut f = Form::default();
    let mut hours = String::new();
    for (k, v) in form_urlencoded::parse(body) {
        match k.as_ref() {
            "name" => f.name = v.into_owned(),
            "description" => f.description = v.into_owned(),
            "period" => f.period = Some(v.into_owned()),
            "hours" => hours = v.trim().to_owned(),
            "continues" => f.continues = Some(v.into_owned()),
            _ => {}
        }
    }
    f.hours = hours.parse().map_err(|_| {
        Problem::unprocessable(format!("hours asked: \"{}\" is not a number", super::shown(&hours)), vec![])
    })?;
    Ok(f)
}

pub async fn create(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    RawForm(body): RawForm,
) -> Response {
    let Some(user) = viewer.user().cloned() else {
        return super::error_page(&Problem::unauthorized(), viewer);
    };
    let made = async { proposals::create(&state, &user, &form_of(&body)?).await };
    match made.await {
        Ok(p) => Redirect::to(&format!("/proposals/{}", p.id)).into_response(),
        Err(p) => list_page(&state, viewer, p.message, p.status).await,
    }
}

#[derive(Template)]
#[template(path = "proposal.html")]
struct ShowPage {
    nav: Nav,
    id: i64,
    name: String,
    period: String,
    deadline: String,
    proposer: String,
    hours: String,
    hours_value: String,
    continues: String,
    continues_value: String,
    grade: String,
    program: String,
    description: String,
    votes: Vec<(String, String, String, String)>,
    may_vote: bool,
    may_accept: bool,
    may_change: bool,
    error: String,
}

async fn show_page(
    state: &AppState,
    viewer: Viewer,
    id: i64,
    flash: String,
    error: String,
    status: StatusCode,
) -> Response {
    let p = match proposals::get(state, id).await {
        Ok(p) => p,
        Err(p) => return super::error_page(&p, viewer),
    };
    let v = proposals::view(state, p);
    let me = viewer.name().unwrap_or_default();
    let q = &v.proposal.proposal;
    let page = ShowPage {
        nav: Nav::new(state, &viewer, "/proposals").with_flash(flash),
        id,
        name: q.name.clone(),
        period: q.period.to_string(),
        deadline: v.deadline.to_string(),
        proposer: v.proposal.proposer.clone(),
        hours: format!("{:.1} h", q.hours_asked.hours()),
        hours_value: format!("{}", q.hours_asked.hours()),
        continues: q.continues.clone().unwrap_or_else(|| "-".into()),
        continues_value: q.continues.clone().unwrap_or_default(),
        grade: v.grade.map_or("none yet", |g| g.code()).to_owned(),
        program: v.proposal.program.clone().unwrap_or_default(),
        description: q.description.clone(),
        votes: v
            .proposal
            .votes
            .iter()
            .map(|x| (x.voter.clone(), x.grade.code().to_owned(), x.comment.clone(), when(x.at)))
            .collect(),
        may_vote: viewer.may(Right::VoteProposal),
        may_accept: viewer.may(Right::SetQuotaAndPriority),
        may_change: viewer.may(Right::SetQuotaAndPriority)
            || (viewer.may(Right::EditProposal) && v.proposal.proposer == me),
        error,
    };
    render(status, &page)
}

pub async fn show(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<i64>,
) -> Response {
    show_page(&state, viewer, id, String::new(), String::new(), StatusCode::OK).await
}

async fn answer(state: &AppState, viewer: Viewer, id: i64, done: Result<String, Problem>) -> Response {
    match done {
        Ok(said) => show_page(state, viewer, id, said, String::new(), StatusCode::OK).await,
        Err(p) if p.status == StatusCode::NOT_FOUND || p.status == StatusCode::FORBIDDEN => {
            super::error_page(&p, viewer)
        }
        Err(p) => show_page(state, viewer, id, String::new(), p.message, p.status).await,
    }
}

pub async fn edit(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<i64>,
    RawForm(body): RawForm,
) -> Response {
    let Some(user) = viewer.user().cloned() else {
        return super::error_page(&Problem::unauthorized(), viewer);
    };
    let done = async {
        proposals::update(&state, &user, id, &form_of(&body)?).await.map(|_| "proposal changed".to_owned())
    };
    let done = done.await;
    answer(&state, viewer, id, done).await
}

pub async fn delete(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<i64>,
) -> Response {
    let Some(user) = viewer.user().cloned() else {
        return super::error_page(&Problem::unauthorized(), viewer);
    };
    match proposals::delete(&state, &user, id).await {
        Ok(_) => Redirect::to("/proposals").into_response(),
        Err(p) => answer(&state, viewer, id, Err(p)).await,
    }
}

pub async fn vote(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<i64>,
    RawForm(body): RawForm,
) -> Response {
    let Some(user) = viewer.user().cloned() else {
        return super::error_page(&Problem::unauthorized(), viewer);
    };
    let mut b = Ballot::default();
    for (k, v) in form_urlencoded::parse(&body) {
        match k.as_ref() {
            "grade" => b.grade = v.into_owned(),
            "comment" => b.comment = v.into_owned(),
            _ => {}
        }
    }
    let done =
        proposals::vote(&state, &user, id, &b).await.map(|_| format!("your vote {} is counted", b.grade));
    answer(&state, viewer, id, done).await
}

pub async fn accept(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<i64>,
    RawForm(body): RawForm,
) -> Response {
    let Some(user) = viewer.user().cloned() else {
        return super::error_page(&Problem::unauthorized(), viewer);
    };
    let read = || {
        let mut a = Acceptance::default();
        for (k, v) in form_urlencoded::parse(&body) {
            a.take_field(&k, &v)?;
        }
        Ok::<_, Problem>(a)
    };
    let done = match read() {
        Err(p) => Err(p),
        Ok(a) => proposals::accept(&state, &user, id, &a).await.map(|p| {
            format!(
                "program \"{}\" made: priority {}, quota {}",
                p.name,
                p.priority,
                ferros_programs::quota_text(&p)
            )
        }),
    };
    answer(&state, viewer, id, done).await
}
