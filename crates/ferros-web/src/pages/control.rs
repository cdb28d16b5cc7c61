//! The observatory control page (seed 000 1.10.2): the state, the flags,
//! and the buttons the viewer may press in this state, each confirmed.

use askama::Template;
use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use ferros_majordome::{Bypass, Command};

use super::{Nav, render};
use crate::AppState;
use crate::access::Viewer;

pub struct StateView {
    mode: String,
    env: String,
    bypassed: bool,
    locked: bool,
    bypass: String,
    ack: String,
    plc: String,
}

pub struct Button {
    path: String,
    label: &'static str,
    confirm: String,
    class: &'static str,
}

#[derive(Template)]
#[template(path = "control.html")]
struct ControlPage {
    nav: Nav,
    st: Option<StateView>,
    buttons: Vec<Button>,
}

fn label(c: Command) -> &'static str {
    match c {
        Command::PlcBypass => "PLC BYPASS (set to SAFE)",
        Command::StopPlcBypass => "STOP PLC BYPASS",
        Command::Lock => "LOCK OBSERVATORY (CLOSE)",
        Command::Unlock => "UNLOCK OBSERVATORY (OPEN)",
        Command::GoRemote => "GO REMOTE-COMMAND MODE",
        Command::GoScheduler => "GO SCHEDULER MODE",
        Command::StopObserving => "STOP OBSERVING",
        Command::NightAck => "NIGHT ACK (fallback of the PLC's button)",
    }
}

async fn show(state: &AppState, viewer: &Viewer, flash: String, status: StatusCode) -> Response {
    let s = match crate::control::majordome(state).await {
        Ok(s) => s,
        Err(p) => return super::error_page(&p, viewer.clone()),
    };
    let profiles = viewer.profiles();
    let buttons = s
        .map(|s| {
            s.offered(&profiles)
                .into_iter()
                .map(|c| Button {
                    path: c.name().replace('_', "-"),
                    label: label(c),
                    confirm: format!("{}: are you sure?", label(c)),
                    class: if matches!(c, Command::PlcBypass | Command::Lock | Command::StopObserving) {
                        "danger"
                    } else {
                        ""
                    },
                })
                .collect()
        })
        .unwrap_or_default();
    let st = s.map(|s| StateView {
        mode: s.mode.label().to_owned(),
        env: s.env.to_string(),
        bypassed: s.bypass == Bypass::On,
        locked: s.locked,
        bypass: match s.bypass {
            Bypass::Off => "off".into(),
            Bypass::On => "on (confirmed by the PLC)".into(),
            Bypass::Pending(at) => format!("asked at {} UTC, waiting for the PLC", at.format("%H:%M:%S")),
        },
        ack: s.night_ack.map_or_else(|| "not given".into(), |d| format!("given for the night of {d}")),
        plc: format!("{:?}", s.plc),
    });
    render(status, &ControlPage { nav: Nav::new(state, viewer, "/control").with_flash(flash), st, buttons })
}

pub async fn page(State(state): State<AppState>, Extension(viewer): Extension<Viewer>) -> Response {
    show(&state, &viewer, String::new(), StatusCode::OK).await
}

pub async fn submit(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(command): Path<String>,
) -> Response {
    match crate::control::give(&state, &viewer, &command).await {
        Ok(said) => show(&state, &viewer, said, StatusCode::OK).await,
        Err(p) => show(&state, &viewer, p.message, p.status).await,
    }
}
