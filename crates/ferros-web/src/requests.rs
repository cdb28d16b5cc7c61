//! Requests from the web: an XML document imported with the importer's
//! checks (every problem, with line and column; nothing stored when one
//! is found), edited the same way, who may see which, and submit /
//! unsubmit / cancel.

use axum::http::StatusCode;
use ferros_domain::{JulianDate, Request, RequestId, Right, SequenceStatus, User};
use ferros_request_xml::{ReadOptions, read_request};

use crate::AppState;
use crate::problem::Problem;

/// A stored request: its id and its sequences' ids, and the importer's warnings.
#[derive(Debug, serde::Serialize)]
pub struct Imported {
    pub request_id: i64,
    pub sequences: Vec<i64>,
    pub warnings: Vec<String>,
}

pub async fn import(state: &AppState, user: &User, xml: &str, submit: bool) -> Result<Imported, Problem> {
    let (imported, submit) = checked(state, user, xml, submit).await?;
    let db = state.db();
    let id = db.create_request(&imported.request, &user.username, submit, state.clock().now()).await?;
    let stored =
        db.request(id).await?.ok_or_else(|| Problem::internal("the import", "the request vanished"))?;
    Ok(Imported {
        request_id: id.0,
        sequences: stored.sequences.iter().map(|s| s.id.0).collect(),
        warnings: imported.warnings.iter().map(ToString::to_string).collect(),
    })
}

/// Replaces the sequences of request `id` (the user's own, or any for a PI
/// or SysAdmin) with those of `xml`, read with every check of an import;
/// refused while a sequence is submitted, running or done.
pub async fn edit(state: &AppState, user: &User, id: i64, xml: &str) -> Result<Imported, Problem> {
    let r = visible(state, user, id).await?;
    if r.owner != user.username && !user.has(Right::ViewAllRequests) {
        return Err(Problem::forbidden());
    }
    let (imported, _) = checked(state, user, xml, false).await?;
    let sequences = state.db().edit_request(r.id, &imported.request, state.clock().now()).await?;
    Ok(Imported {
        request_id: id,
        sequences: sequences.iter().map(|s| s.0).collect(),
        warnings: imported.warnings.iter().map(ToString::to_string).collect(),
    })
}

/// A request document read with every check (the importer's, the program
/// the user may submit to, who may make alert requests); whether to submit it.
async fn checked(
    state: &AppState,
    user: &User,
    xml: &str,
    submit: bool,
) -> Result<(ferros_request_xml::Imported, bool), Problem> {
    if xml.len() > ferros_limits::MAX_REQUEST_BYTES as usize {
        return Err(Problem::too_large());
    }
    let now =
        JulianDate::from_datetime(state.clock().now()).map_err(|e| Problem::internal("the clock", e))?;
    let opts = ReadOptions { now, ..state.inner.import.clone() };
    let imported = read_request(xml, &opts).map_err(|problems| {
        let list: Vec<String> = problems.iter().map(ToString::to_string).collect();
        Problem::unprocessable(format!("{} problem(s) in the request; nothing stored", list.len()), list)
    })?;
    let req = &imported.request;
    let submit = submit || imported.submit;
    if submit
        && let Some(i) = req.sequences.iter().position(|s| s.initial_status() == SequenceStatus::Incomplete)
    {
        return Err(Problem::unprocessable(
            "nothing stored",
            vec![format!(
                "request/sequence[{}]: the sequence is INCOMPLETE (no album, or an album without plan) and cannot be submitted",
                i + 1
            )],
        ));
    }
    let db = state.db();
    let program = db.program_by_name(&req.program).await?.ok_or_else(|| {
        Problem::unprocessable(
            "nothing stored",
            vec![format!("request: scientific_program \"{}\" does not exist", req.program)],
        )
    })?;
    if !user.may_submit_to(program.id) {
        return Err(Problem::new(
            StatusCode::FORBIDDEN,
            format!(
                "you may not submit requests to program \"{}\" (not one of your programs); nothing stored",
                program.name
            ),
        ));
    }
    if req.kind == ferros_domain::RequestKind::Alert && !user.has(Right::SubmitAlertRequest) {
        return Err(Problem::new(
            StatusCode::FORBIDDEN,
            "is_alert=\"1\": alert requests pre-empt every program (superoperator, PI or SysAdmin only); nothing stored",
        ));
    }
    Ok((imported, submit))
}

/// The latest requests `user` sees (their own, their programs', or all),
/// newest first, at most `4 × PAGE_ROWS` read.
pub async fn listed(state: &AppState, user: &User) -> Result<Vec<ferros_db::RequestSummary>, Problem> {
    let db = state.db();
    let programs = db.list_programs().await?;
    let mine: Vec<&str> =
        programs.iter().filter(|p| user.programs.contains(&p.id)).map(|p| p.name.as_str()).collect();
    let all = user.has(Right::ViewAllRequests);
    Ok(db
        .requests_page(None, ferros_limits::PAGE_ROWS * 4)
        .await?
        .into_iter()
        .filter(|r| all || r.owner == user.username || mine.contains(&r.program.as_str()))
        .collect())
}

/// Whether `user` sees `r`: their own, their programs', or all for a PI / SysAdmin.
pub fn sees(user: &User, r: &Request, program: Option<ferros_domain::ProgramId>) -> bool {
    user.has(Right::ViewAllRequests)
        || r.owner == user.username
        || program.is_some_and(|p| user.programs.contains(&p))
}

/// The request `id` if the user sees it (404 otherwise: others' requests are not told apart from none).
pub async fn visible(state: &AppState, user: &User, id: i64) -> Result<Request, Problem> {
    let db = state.db();
    let not_found = || Problem::not_found(format!("request {id}"));
    let r = db.request(RequestId(id)).await?.ok_or_else(not_found)?;
    let program = db.program_by_name(&r.program).await?.map(|p| p.id);
    if sees(user, &r, program) { Ok(r) } else { Err(not_found()) }
}

/// `submit`, `unsubmit` or `cancel` a visible request; the ids of the sequences changed.
pub async fn act(state: &AppState, user: &User, id: i64, action: &str) -> Result<String, Problem> {
    let r = visible(state, user, id).await?;
    if r.owner != user.username && !user.has(Right::ViewAllRequests) {
        return Err(Problem::forbidden());
    }
    let now = state.clock().now();
    let changed = match action {
        "submit" => state.db().submit_request(r.id, now).await?,
        "unsubmit" => state.db().unsubmit_request(r.id, now).await?,
        "cancel" => state.db().cancel_request(r.id, now).await?,
        other => {
            return Err(Problem::not_found(format!(
                "action \"{}\" (submit, unsubmit or cancel)",
                other.chars().take(32).collect::<String>()
            )));
        }
    };
    Ok(format!("request {id}: {action}: {} sequence(s) changed", changed.len()))
}

/// A request as an XML file to download (`request-ID.xml`).
pub fn xml_download(r: &Request) -> axum::response::Response {
    use axum::response::IntoResponse;
    let text = ferros_request_xml::write_request(&r.to_new());
    let headers = [
        (axum::http::header::CONTENT_TYPE, "application/xml; charset=utf-8".to_owned()),
        (axum::http::header::CONTENT_DISPOSITION, format!("attachment; filename=\"request-{}.xml\"", r.id)),
    ];
    (headers, text).into_response()
}
