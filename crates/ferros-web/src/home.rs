//! The home page: the site, the time, and what the database holds.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Html;
use ferros_domain::RequestId;
use ferros_limits::{PAGE_ROWS, SHOWN_NAME_CHARS};
use serde::Deserialize;

use crate::{AppState, escape};

/// Which page of the requests: those older than `before` (a request id).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Page {
    before: Option<i64>,
}

pub(crate) async fn page(
    State(state): State<AppState>,
    Query(at): Query<Page>,
) -> (StatusCode, Html<String>) {
    let now = state.clock().now();
    let mut body = format!(
        "<h1>Ferros</h1>\n<p>Robotic observatory control at <strong>{}</strong>.</p>\n<p>UTC time: {}{}</p>\n",
        escape(&state.inner.site_name),
        now.format("%Y-%m-%d %H:%M:%S"),
        if state.clock().is_simulated() {
            format!(" (simulated, x{})", state.clock().speed())
        } else {
            String::new()
        }
    );
    let code = match summary(&state, at.before.map(RequestId)).await {
        Ok(html) => {
            body.push_str(&html);
            StatusCode::OK
        }
        Err(e) => {
            tracing::warn!("home page: {e}");
            body.push_str("<p class=\"error\">The database does not answer.</p>\n");
            StatusCode::SERVICE_UNAVAILABLE
        }
    };
    body.push_str("<p><a href=\"/healthz\">Health</a></p>\n");
    (code, Html(layout("Ferros", &body)))
}

/// A name as a list shows it: at most `SHOWN_NAME_CHARS` characters.
fn shown(name: &str) -> String {
    match name.char_indices().nth(SHOWN_NAME_CHARS) {
        Some((cut, _)) => format!("{}…", escape(&name[..cut])),
        None => escape(name),
    }
}

async fn summary(state: &AppState, before: Option<RequestId>) -> Result<String, ferros_db::DbError> {
    let db = state.db();
    let programs = db.list_programs().await?;
    let total = db.count_requests().await?;
    let requests = db.requests_page(before, PAGE_ROWS).await?;
    let schedule = db.latest_schedule().await?;
    let mut html = String::from("<h2>Scientific programs</h2>\n");
    if programs.is_empty() {
        html.push_str("<p>None yet (<code>ferros program add NAME</code>).</p>\n");
    } else {
        html.push_str("<table><tr><th>Program</th><th>Period</th><th>Priority</th><th>Quota (h)</th><th>Used (h)</th></tr>\n");
        for p in &programs {
            html.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{:.1}</td><td>{:.1}</td></tr>\n",
                escape(&p.name),
                p.period,
                p.priority,
                p.quota.hours(),
                p.used.hours()
            ));
        }
        html.push_str("</table>\n");
    }
    html.push_str(&format!("<h2>Requests</h2>\n<p>{total} request(s), newest first.</p>\n"));
    if requests.is_empty() && total > 0 {
        html.push_str("<p>No older requests. <a href=\"/\">Newest</a></p>\n");
    }
    if !requests.is_empty() {
        html.push_str(
            "<table><tr><th>Id</th><th>Name</th><th>Program</th><th>Owner</th><th>Sequences</th></tr>\n",
        );
        for r in &requests {
            html.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                r.id,
                shown(&r.name),
                shown(&r.program),
                shown(&r.owner),
                ferros_domain::summarize_statuses(&r.sequence_statuses)
            ));
        }
        html.push_str("</table>\n");
        let full = u32::try_from(requests.len()).is_ok_and(|n| n == PAGE_ROWS);
        if let Some(last) = requests.last().filter(|_| full) {
            html.push_str(&format!("<p><a href=\"/?before={}\">Older requests</a></p>\n", last.id.0));
        }
    }
    html.push_str("<h2>Schedule</h2>\n");
    match schedule {
        Some(s) => html.push_str(&format!(
            "<p>Schedule {} made {} UTC: {} sequence(s) considered.</p>\n",
            s.id,
            s.created_at.format("%Y-%m-%d %H:%M"),
            s.entries.len()
        )),
        None => html.push_str("<p>No schedule yet.</p>\n"),
    }
    Ok(html)
}

pub(crate) async fn not_found() -> (StatusCode, Html<String>) {
    (StatusCode::NOT_FOUND, Html(layout("Not found", "<h1>Not found</h1>\n<p><a href=\"/\">Home</a></p>\n")))
}

fn layout(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\"><title>{}</title>\n\
         <style>body{{font-family:sans-serif;margin:2em;max-width:60em}}table{{border-collapse:collapse}}\
         td,th{{border:1px solid #ccc;padding:.2em .6em;text-align:left}}.error{{color:#b00}}</style></head>\n\
         <body>\n{}</body>\n</html>\n",
        escape(title),
        body
    )
}
