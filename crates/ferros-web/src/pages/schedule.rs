//! The schedule page (seed 003): tonight's plan as a timeline with each
//! sequence's block and window, PREV / NOW / NEXT through past plans, and
//! the rejected sequences with their reasons.

use std::collections::HashMap;

use askama::Template;
use axum::Extension;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use ferros_domain::{Schedule, ScheduleId};
use serde::Deserialize;

use super::{Nav, render, when, windows_text};
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
    name: String,
    request_id: i64,
    request: String,
    window: String,
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

/// What the schedule page shows of a sequence: its names and its windows tonight.
struct Named {
    name: String,
    request_id: i64,
    request: String,
    windows: Vec<(i64, i64)>,
}

/// The names and tonight's windows of the schedule's sequences (their
/// requests read once each).
async fn named(state: &AppState, s: &Schedule) -> Result<HashMap<i64, Named>, Problem> {
    let db = state.db();
    let sky = crate::sky::tonight(state).await?;
    let mut requests: HashMap<i64, Option<ferros_domain::Request>> = HashMap::new();
    let mut out = HashMap::new();
    for e in &s.entries {
        let Some((_, rid)) = db.sequence_request(e.sequence_id).await? else { continue };
        if let std::collections::hash_map::Entry::Vacant(v) = requests.entry(rid.0) {
            v.insert(db.request(rid).await?);
        }
        let Some(Some(r)) = requests.get(&rid.0) else { continue };
        let Some(q) = r.sequences.iter().find(|q| q.id == e.sequence_id) else { continue };
        let windows =
            sky.as_ref().map(|(sky, set)| crate::sky::windows(sky, *set, &q.spec)).unwrap_or_default();
        out.insert(
            e.sequence_id.0,
            Named { name: q.spec.name.clone(), request_id: r.id.0, request: r.name.clone(), windows },
        );
    }
    Ok(out)
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
    let names = match &loaded {
        Some((s, _)) => match named(&state, s).await {
            Ok(n) => n,
            Err(p) => return super::error_page(&p, viewer),
        },
        None => HashMap::new(),
    };
    let sched = loaded.map(|(s, next)| {
        let now = state.clock().now().timestamp_millis();
        let bars: Vec<Bar> = s
            .entries
            .iter()
            .filter_map(|e| {
                let (a, b) = (e.tsp?, e.tep?);
                let n = names.get(&e.sequence_id.0);
                Some(Bar {
                    label: n.map_or_else(|| format!("sequence {}", e.sequence_id), |n| super::shown(&n.name)),
                    start: ms(a),
                    end: ms(b),
                    // The visibility window holding the block.
                    window: n
                        .and_then(|n| n.windows.iter().copied().find(|(x, y)| *x <= ms(a) && ms(b) <= *y)),
                    class: "planned",
                })
            })
            .collect();
        let rows = s
            .entries
            .iter()
            .map(|e| {
                let n = names.get(&e.sequence_id.0);
                EntryRow {
                    sequence: e.sequence_id.0,
                    name: n.map(|n| n.name.clone()).unwrap_or_default(),
                    request_id: n.map_or(0, |n| n.request_id),
                    request: n.map(|n| n.request.clone()).unwrap_or_default(),
                    window: n.map_or_else(|| "-".into(), |n| windows_text(&n.windows)),
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
                }
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
