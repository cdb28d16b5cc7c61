//! The alerts: every notice received, its decision and its timeline
//! (received, stored, planned, slew, first exposure); an alert's page with
//! its whole timeline, its request and the notice as received.

use askama::Template;
use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::{Nav, render, shown, when};
use crate::AppState;
use crate::access::Viewer;
use crate::problem::Problem;

pub struct AlertRow {
    id: i64,
    received: String,
    mission: String,
    burst: String,
    position: String,
    outcome: String,
    reason: String,
    request_id: i64,
    timeline: String,
}

#[derive(Template)]
#[template(path = "alerts.html")]
struct AlertsPage {
    nav: Nav,
    rows: Vec<AlertRow>,
}

pub async fn list(State(state): State<AppState>, Extension(viewer): Extension<Viewer>) -> Response {
    let alerts = match state.db().list_alerts(None, ferros_limits::PAGE_ROWS).await {
        Ok(a) => a,
        Err(e) => return super::error_page(&e.into(), viewer),
    };
    let after = |a: chrono::DateTime<chrono::Utc>, b: Option<chrono::DateTime<chrono::Utc>>, what: &str| {
        b.map(|b| format!("{what} +{:.1} s", (b - a).num_milliseconds() as f64 / 1000.0))
    };
    let rows = alerts
        .into_iter()
        .map(|a| AlertRow {
            id: a.id,
            received: when(a.received_at),
            mission: shown(&a.mission),
            burst: shown(a.burst.as_deref().unwrap_or("-")),
            position: match (a.ra, a.dec) {
                (Some(r), Some(d)) => format!("{r:.3} {d:+.3} ± {:.3} deg", a.error_deg.unwrap_or(0.0)),
                _ => "-".into(),
            },
            outcome: a.outcome.clone(),
            reason: shown(&a.reason),
            request_id: a.request_id.unwrap_or(0),
            timeline: [
                after(a.received_at, Some(a.stored_at), "stored"),
                after(a.received_at, a.planned_at, "planned"),
                after(a.received_at, a.slew_at, "slew"),
                after(a.received_at, a.exposure_at, "exposure"),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(", "),
        })
        .collect();
    render(StatusCode::OK, &AlertsPage { nav: Nav::new(&state, &viewer, "/alerts"), rows })
}

pub struct Step {
    what: &'static str,
    at: String,
    after_trigger: String,
    after_received: String,
}

#[derive(Template)]
#[template(path = "alert.html")]
struct AlertPage {
    nav: Nav,
    a: ferros_db::AlertRecord,
    steps: Vec<Step>,
    notice: String,
    notice_cut: bool,
}

/// The most of a notice shown on its page.
const SHOWN_NOTICE_BYTES: usize = 64 << 10;

/// The steps of an alert in time order, from the satellite's trigger to the
/// first exposure.
fn steps(a: &ferros_db::AlertRecord) -> Vec<Step> {
    let since = |from: Option<chrono::DateTime<chrono::Utc>>, t: chrono::DateTime<chrono::Utc>| {
        from.map_or_else(String::new, |f| format!("{:+.1} s", (t - f).num_milliseconds() as f64 / 1000.0))
    };
    [
        ("trigger (satellite)", a.trigger_at),
        ("notice issued", a.issued_at),
        ("received", Some(a.received_at)),
        ("parsed", a.parsed_at),
        ("stored, decided", Some(a.stored_at)),
        ("planned", a.planned_at),
        ("slew commanded", a.slew_at),
        ("first exposure", a.exposure_at),
    ]
    .into_iter()
    .filter_map(|(what, t)| {
        let t = t?;
        Some(Step {
            what,
            at: when(t),
            after_trigger: since(a.trigger_at, t),
            after_received: since(Some(a.received_at), t),
        })
    })
    .collect()
}

pub async fn show(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<i64>,
) -> Response {
    let found = async {
        let a = state.db().alert(id).await?.ok_or_else(|| Problem::not_found(format!("alert {id}")))?;
        let xml = state.db().alert_xml(id).await?.unwrap_or_default();
        Ok::<_, Problem>((a, xml))
    };
    let (a, mut notice) = match found.await {
        Ok(f) => f,
        Err(p) => return super::error_page(&p, viewer),
    };
    let notice_cut = notice.len() > SHOWN_NOTICE_BYTES;
    if notice_cut {
        let mut cut = SHOWN_NOTICE_BYTES;
        while !notice.is_char_boundary(cut) {
            cut -= 1;
        }
        notice.truncate(cut);
    }
    let page =
        AlertPage { nav: Nav::new(&state, &viewer, "/alerts"), steps: steps(&a), a, notice, notice_cut };
    render(StatusCode::OK, &page)
}
