//! Telescope & Instruments and Cameras: each device's live state as the
//! `gic` agent publishes it every 6 s (driver, answered or not, every
//! reading), and for engineers and operators the device commands of REMOTE
//! mode, which the majordome accepts or refuses with its reason.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::{Extension, Form};
use ferros_domain::Right;
use serde::Deserialize;
use serde_json::Value;

use super::{Nav, render, shown};
use crate::AppState;
use crate::access::Viewer;

pub struct DeviceView {
    role: String,
    driver: String,
    ok: bool,
    read: String,
    error: String,
    fields: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "devices.html")]
struct DevicesPage {
    nav: Nav,
    title: &'static str,
    cameras: bool,
    published: String,
    devices: Vec<DeviceView>,
    mode: String,
    may_command: bool,
}

/// A reading as text (numbers rounded, nested values flattened).
fn text(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() => format!("{f:.4}").trim_end_matches('0').trim_end_matches('.').to_owned(),
            _ => n.to_string(),
        },
        Value::String(s) => shown(s),
        other => shown(&other.to_string()),
    }
}

/// Every reading of a device state, flattened to (name, value).
fn fields(prefix: &str, v: &Value, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(o) => {
            for (k, x) in o.iter().take(64) {
                let name = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                fields(&name, x, out);
            }
        }
        other => out.push((prefix.to_owned(), text(other))),
    }
}

fn view(d: &Value) -> DeviceView {
    let s = |k: &str| d.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    let mut f = Vec::new();
    if let Some(state) = d.get("state") {
        fields("", state, &mut f);
    }
    DeviceView {
        role: s("role"),
        driver: s("driver"),
        ok: d.get("ok").and_then(Value::as_bool).unwrap_or(false),
        read: s("at").get(..19).unwrap_or("-").replace('T', " "),
        error: s("error"),
        fields: f,
    }
}

async fn show(
    state: &AppState,
    viewer: &Viewer,
    cameras: bool,
    flash: String,
    status: StatusCode,
) -> Response {
    let here = if cameras { "/cameras" } else { "/devices" };
    let (st, majordome) = match (crate::status::get(state).await, crate::control::majordome(state).await) {
        (Ok(s), Ok(m)) => (s, m),
        (Err(p), _) | (_, Err(p)) => return super::error_page(&p, viewer.clone()),
    };
    let list = st["devices"]["list"].as_array().cloned().unwrap_or_default();
    let devices = list
        .iter()
        .map(view)
        .filter(|d| d.role.starts_with("camera") == cameras && d.driver != "none")
        .collect();
    let page = DevicesPage {
        nav: Nav::new(state, viewer, here).with_flash(flash),
        title: if cameras { "Cameras" } else { "Telescope & Instruments" },
        cameras,
        published: st["devices"]["date"].as_str().and_then(|d| d.get(..19)).unwrap_or("").replace('T', " "),
        devices,
        mode: majordome
            .map_or_else(|| "unknown (the majordome has not run)".into(), |m| m.mode.label().to_owned()),
        may_command: viewer.may(Right::DeviceCommand),
    };
    render(status, &page)
}

pub async fn devices(State(state): State<AppState>, Extension(viewer): Extension<Viewer>) -> Response {
    show(&state, &viewer, false, String::new(), StatusCode::OK).await
}

pub async fn cameras(State(state): State<AppState>, Extension(viewer): Extension<Viewer>) -> Response {
    show(&state, &viewer, true, String::new(), StatusCode::OK).await
}

#[derive(Debug, Deserialize)]
pub struct CommandForm {
    /// `telescope slew`, `dome open`, `camera_vis abort`...
    command: String,
    #[serde(default)]
    args: String,
    /// Back to the Cameras page after a camera's command.
    #[serde(default)]
    cameras: Option<String>,
}

pub async fn command(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Form(f): Form<CommandForm>,
) -> Response {
    let cameras = f.cameras.is_some();
    let words = format!("{} {}", f.command, f.args);
    match crate::control::give_device(&state, &viewer, &words).await {
        Ok(said) => show(&state, &viewer, cameras, said, StatusCode::OK).await,
        Err(p) => show(&state, &viewer, cameras, p.message, p.status).await,
    }
}
