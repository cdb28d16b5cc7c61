//! Weather and Observatory: ENV's synthesis with each quantity's value,
//! interpretation and decision, charts of the night (10-minute points, and
//! longer ranges from the history's rollups), and the majordome's state.

use askama::Template;
use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::{Nav, render, when};
use crate::AppState;
use crate::access::Viewer;
use crate::problem::Problem;
use crate::svg;

/// The charts' ranges, and how far back each goes (hours).
const RANGES: [(&str, i64); 4] = [("night", 14), ("week", 24 * 7), ("month", 24 * 30), ("year", 24 * 365)];
/// Points on a chart at most (longer ranges are folded into buckets).
const CHART_POINTS: i64 = 300;
/// The 10-minute rollups.
const TEN_MINUTES_MS: i64 = 600_000;

#[derive(Debug, Default, Deserialize)]
pub struct RangeQuery {
    range: Option<String>,
}

pub struct QuantityRow {
    name: String,
    value: String,
    interpretation: String,
    decision: String,
    sensor: String,
}

pub struct WatchView {
    status: String,
    updated: String,
    reasons: String,
    quantities: Vec<QuantityRow>,
}

#[derive(Template)]
#[template(path = "weather.html")]
struct WeatherPage {
    nav: Nav,
    title: &'static str,
    watch: Option<WatchView>,
    charts: Vec<String>,
    ranges: Vec<&'static str>,
}

async fn watch(state: &AppState, kind: &str) -> Result<Option<WatchView>, Problem> {
    let Some(w) = state.db().latest_watch(kind).await.map_err(|e| Problem::internal("the synthesis", e))?
    else {
        return Ok(None);
    };
    let body: ferros_domain::Watch =
        serde_json::from_str(&w.body).map_err(|e| Problem::internal("the stored synthesis", e))?;
    let quantities = body
        .quantities
        .iter()
        .map(|q| QuantityRow {
            name: q.name.clone(),
            value: q.value.map(|v| format!("{v:.2} {}", q.unit)).unwrap_or_else(|| "-".into()),
            interpretation: q.interpretation.clone(),
            decision: format!("{:?}", q.decision).to_lowercase(),
            sensor: q.sensor.clone().unwrap_or_default(),
        })
        .collect();
    Ok(Some(WatchView {
        status: w.global_status.to_string(),
        updated: when(w.updated),
        reasons: w.reasons.join("; "),
        quantities,
    }))
}

/// The span of a range ending now, in Unix ms.
fn span(state: &AppState, range: Option<&str>) -> Result<(i64, i64, &'static str), Problem> {
    let (name, hours) = match range {
        None => RANGES[0],
        Some(r) => *RANGES.iter().find(|(n, _)| *n == r).ok_or_else(|| {
            Problem::bad_request(format!("range \"{}\": expected night, week, month or year", svg::escape(r)))
        })?,
    };
    let end = state.clock().now().timestamp_millis();
    Ok((end - hours * 3_600_000, end, name))
}

async fn chart(state: &AppState, quantity: &str, range: Option<&str>) -> Result<String, Problem> {
    let (start, end, name) = span(state, range)?;
    let db = state.db();
    let fail = |e| Problem::internal("the history", e);
    let bin = (end - start) / CHART_POINTS;
    let rows = if name == "night" {
        db.series(quantity, TEN_MINUTES_MS, start, end).await.map_err(fail)?
    } else {
        db.series_binned(quantity, TEN_MINUTES_MS, start, end, bin.max(TEN_MINUTES_MS)).await.map_err(fail)?
    };
    let points: Vec<svg::Point> = rows.iter().map(|r| (r.t, r.mean, r.min, r.max)).collect();
    Ok(svg::line_chart(quantity, &format!("last {name}"), &points, start, end))
}

pub async fn weather(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Query(q): Query<RangeQuery>,
) -> Response {
    let result = async {
        let watch = watch(&state, "weather").await?;
        let known = state.db().series_quantities().await.map_err(|e| Problem::internal("the history", e))?;
        let mut charts = Vec::new();
        for name in known.iter().take(12) {
            charts.push(chart(&state, name, q.range.as_deref()).await?);
        }
        Ok::<_, Problem>((watch, charts))
    }
    .await;
    match result {
        Ok((watch, charts)) => render(
            StatusCode::OK,
            &WeatherPage {
                nav: Nav::new(&state, &viewer, "/weather"),
                title: "Weather",
                watch,
                charts,
                ranges: RANGES.iter().map(|r| r.0).collect(),
            },
        ),
        Err(p) => super::error_page(&p, viewer),
    }
}

/// One quantity's chart as an SVG image.
pub async fn chart_svg(
    State(state): State<AppState>,
    Path(quantity): Path<String>,
    Query(q): Query<RangeQuery>,
) -> Response {
    if quantity.len() > 64 {
        return Problem::bad_request("the quantity's name is longer than 64 characters").respond(false, None);
    }
    match chart(&state, &quantity, q.range.as_deref()).await {
        Ok(svg) => ([(header::CONTENT_TYPE, "image/svg+xml")], svg).into_response(),
        Err(p) => p.respond(false, None),
    }
}

#[derive(Template)]
#[template(path = "observatory.html")]
struct ObservatoryPage {
    nav: Nav,
    majordome: Vec<(String, String)>,
    watch: Option<WatchView>,
}

pub async fn observatory(State(state): State<AppState>, Extension(viewer): Extension<Viewer>) -> Response {
    let result = async {
        let status = crate::status::get(&state).await?;
        let m = &status["majordome"];
        let mut majordome = Vec::new();
        if let Some(o) = m.as_object() {
            for key in
                ["mode", "env", "safe", "locked", "bypass", "night_ack", "night", "plc", "secured", "updated"]
            {
                if let Some(v) = o.get(key) {
                    let text = match v {
                        serde_json::Value::String(s) => s.clone(),
                        serde_json::Value::Null => "-".into(),
                        other => other.to_string(),
                    };
                    majordome.push((key.replace('_', " "), text));
                }
            }
        }
        Ok::<_, Problem>((majordome, watch(&state, "site").await?))
    }
    .await;
    match result {
        Ok((majordome, watch)) => render(
            StatusCode::OK,
            &ObservatoryPage { nav: Nav::new(&state, &viewer, "/observatory"), majordome, watch },
        ),
        Err(p) => super::error_page(&p, viewer),
    }
}
