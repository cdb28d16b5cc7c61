//! The home page: the site, the time, and what the database holds.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Html;

use crate::{AppState, escape};

pub(crate) async fn page(State(state): State<AppState>) -> (StatusCode, Html<String>) {
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
    let code = match summary(&state).await {
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

async fn summary(state: &AppState) -> Result<String, ferros_db::DbError> {
    let db = state.db();
    let programs = db.list_programs().await?;
    let requests = db.list_requests().await?;
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
    html.push_str(&format!("<h2>Requests</h2>\n<p>{} request(s).</p>\n", requests.len()));
    if !requests.is_empty() {
        html.push_str(
            "<table><tr><th>Id</th><th>Name</th><th>Program</th><th>Owner</th><th>Sequences</th></tr>\n",
        );
        for r in requests.iter().rev().take(20) {
            html.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                r.id,
                escape(&r.name),
                escape(&r.program),
                escape(&r.owner),
                ferros_domain::summarize_statuses(&r.sequence_statuses)
            ));
        }
        html.push_str("</table>\n");
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
