//! The schedule page (seed 003): tonight's plan as a timeline with each
//! sequence's block and window, PREV / NOW / NEXT through past plans, and
//! the rejected sequences with their reasons.

use askama::Template;
use axum::Extension;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use ferros_domain::{Schedule, ScheduleId};
use serde::Deserialize;

use super::{Nav, render, when};
use crate::AppState;
use crate::access::Viewer;
use crate::problem::Problem;
use crate::svg::{self, Bar};

#[derive(Debug, Default, Deserialize)]
pub struct At {
    at: Option<i64>,
}

pub struct EntryRow {
    sequence: i64,
    request: String,
    status: String,
    block: String,
    reason: String,
}

pub struct SchedView {
    id: i64,
    made: String,
    night: String,
    prev: i64,
    next: Option<i64>,
    chart: String,
    rows: Vec<EntryRow>,
}

#[derive(Template)]
#[template(path = "schedule.html")]
struct SchedulePage {
    nav: Nav,
    sched: Option<SchedView>,
}

fn ms(j: ferros_domain::JulianDate) -> i64 {
    j.to_datetime().timestamp_millis()
}

/// The schedule at `at` (or the latest) with the names of its requests.
pub async fn load(state: &AppState, at: Option<i64>) -> Result<Option<(Schedule, Option<i64>)>, Problem> {
    let db = state.db();
    let s = match at {
        Some(id) => db.schedule_at_most(ScheduleId(id)).await?,
        None => db.latest_schedule().await?,
    };
    let Some(s) = s else { return Ok(None) };
    let latest = db.latest_schedule().await?.map(|l| l.id.0);
    let next = latest.filter(|l| *l > s.id.0).map(|_| s.id.0 + 1);
    Ok(Some((s, next)))
}

pub async fn page(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Query(q): Query<At>,
) -> Response {
    let loaded = match load(&state, q.at).await {
        Ok(l) => l,
        Err(p) => return super::error_page(&p, viewer),
    };
    let sched = loaded.map(|(s, next)| {
        let now = state.clock().now().timestamp_millis();
        let bars: Vec<Bar> = s
            .entries
            .iter()
            .filter_map(|e| {
                let (a, b) = (e.tsp?, e.tep?);
                Some(Bar {
                    label: format!("sequence {}", e.sequence_id),
                    start: ms(a),
                    end: ms(b),
                    window: None,
                    class: "planned",
                })
            })
            .collect();
        let rows = s
            .entries
            .iter()
            .map(|e| EntryRow {
                sequence: e.sequence_id.0,
                request: String::new(),
                status: format!("{:?}", e.status),
                block: match (e.tsp, e.tep) {
                    (Some(a), Some(b)) => format!(
                        "{} – {}",
                        a.to_datetime().format("%H:%M:%S"),
                        b.to_datetime().format("%H:%M:%S")
                    ),
                    _ => "-".into(),
                },
                reason: e.reason.clone(),
            })
            .collect();
        SchedView {
            id: s.id.0,
            made: when(s.created_at),
            night: format!(
                "{} – {} UTC",
                s.night_start.to_datetime().format("%Y-%m-%d %H:%M"),
                s.night_end.to_datetime().format("%H:%M")
            ),
            prev: (s.id.0 - 1).max(1),
            next,
            chart: svg::timeline(&bars, ms(s.night_start), ms(s.night_end), now),
            rows,
        }
    });
    render(StatusCode::OK, &SchedulePage { nav: Nav::new(&state, &viewer, "/schedule"), sched })
}
