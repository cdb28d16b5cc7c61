//! The dashboard's pages: the layout with the left menu of seed 000
//! (Monitoring, Science, Administration), each entry shown only to whom the
//! rights matrix lets see it; the style and the script; the error pages.

use askama::Template;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use ferros_domain::Right;

use crate::AppState;
use crate::access::Viewer;
use crate::problem::Problem;

pub mod account;
pub mod admin;
pub mod alerts;
pub mod control;
pub mod devices;
pub mod home;
pub mod images;
pub mod login;
pub mod monitoring;
pub mod proposals;
pub mod requests;
pub mod schedule;
pub mod signup;
pub mod system;
pub mod users;

/// The menu and who is looking, for the layout.
#[derive(Debug, Clone, Default)]
pub struct Nav {
    pub site: String,
    pub sections: Vec<Section>,
    pub here: String,
    pub user: Option<String>,
    pub profiles: String,
    pub csrf: String,
    pub time: String,
    pub flash: String,
}

#[derive(Debug, Clone)]
pub struct Section {
    pub title: &'static str,
    pub items: Vec<Item>,
}

#[derive(Debug, Clone)]
pub struct Item {
    pub href: &'static str,
    pub label: &'static str,
}

/// A menu entry: its address, its label and the right it needs.
type Entry = (&'static str, &'static str, Right);

/// The menu: (section, entries).
const MENU: &[(&str, &[Entry])] = &[
    (
        "Monitoring",
        &[
            ("/weather", "Weather", Right::ViewWeather),
            ("/observatory", "Observatory", Right::ViewObservatory),
            ("/webcams", "Webcams", Right::ViewObservatory),
            ("/devices", "Telescope & Instruments", Right::DeviceStatus),
            ("/cameras", "Cameras", Right::DeviceStatus),
            ("/control", "Observatory control", Right::ObservatoryControl),
        ],
    ),
    (
        "Science",
        &[
            ("/proposals", "Proposals", Right::ViewProposals),
            ("/requests", "Requests", Right::SubmitRequest),
            ("/alerts", "Alerts", Right::ViewAlerts),
            ("/schedule", "Schedule", Right::ViewSchedule),
            ("/images", "Images", Right::ViewOwnImages),
        ],
    ),
    (
        "Administration",
        &[
            ("/system", "System", Right::ViewSystem),
            ("/users", "Users", Right::ManageUsers),
            ("/programs", "Programs", Right::ViewProposals),
            ("/config", "Config", Right::EditConfig),
        ],
    ),
];

/// The menu entries the viewer may see.
fn sections(viewer: &Viewer) -> Vec<Section> {
    MENU.iter()
        .map(|(title, items)| Section {
            title,
            items: items
                .iter()
                .filter(|(_, _, r)| viewer.may(*r))
                .map(|(href, label, _)| Item { href, label })
                .collect(),
        })
        .filter(|s| !s.items.is_empty())
        .collect()
}

impl Nav {
    pub fn new(state: &AppState, viewer: &Viewer, here: &str) -> Self {
        Nav {
            site: state.site_name().to_owned(),
            sections: sections(viewer),
            here: here.to_owned(),
            user: viewer.name().map(str::to_owned),
            profiles: viewer.profiles().iter().map(|p| p.label()).collect::<Vec<_>>().join(", "),
            csrf: viewer.csrf().to_owned(),
            time: state.clock().now().format("%Y-%m-%d %H:%M:%S").to_string(),
            flash: String::new(),
        }
    }

    pub fn with_flash(mut self, flash: impl Into<String>) -> Self {
        self.flash = flash.into();
        self
    }
}

/// A rendered template as a page (a template that fails to render is a
/// bug: said plainly, never half a page).
pub fn render(status: StatusCode, t: &impl Template) -> Response {
    match t.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!("a page failed to render: {e}");
            (StatusCode::INTERNAL_SERVER_ERROR, "the page failed to render").into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    nav: Nav,
    title: &'a str,
    message: &'a str,
    problems: &'a [String],
    unauthorized: bool,
}

/// A problem as a page, with the menu the viewer may see.
pub fn error_page(p: &Problem, viewer: Viewer) -> Response {
    let nav = Nav {
        site: if viewer.site.is_empty() { "Ferros".into() } else { viewer.site.to_string() },
        sections: sections(&viewer),
        user: viewer.name().map(str::to_owned),
        profiles: viewer.profiles().iter().map(|p| p.label()).collect::<Vec<_>>().join(", "),
        csrf: viewer.csrf().to_owned(),
        ..Nav::default()
    };
    let title = p.status.canonical_reason().unwrap_or("Error");
    let page = ErrorPage {
        nav,
        title,
        message: &p.message,
        problems: &p.problems,
        unauthorized: p.status == StatusCode::UNAUTHORIZED,
    };
    render(p.status, &page)
}

pub async fn not_found(axum::extract::State(state): axum::extract::State<AppState>) -> Response {
    error_page(&Problem::not_found("this page"), Viewer::visitor(&state))
}

pub async fn style() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], include_str!("../../static/ferros.css"))
}

pub async fn script() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], include_str!("../../static/ferros.js"))
}

/// A date for people.
pub fn when(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// The hour and minute (UTC) of a Unix-millisecond time.
fn hhmm(t: i64) -> String {
    chrono::DateTime::from_timestamp_millis(t).map_or_else(String::new, |d| d.format("%H:%M").to_string())
}

/// Visibility windows (Unix ms) as people read them: "01:35 – 08:43, ...".
pub fn windows_text(windows: &[(i64, i64)]) -> String {
    if windows.is_empty() {
        return "not visible tonight".to_owned();
    }
    windows.iter().map(|(a, b)| format!("{} – {}", hhmm(*a), hhmm(*b))).collect::<Vec<_>>().join(", ")
}

/// A name as a list shows it: at most `SHOWN_NAME_CHARS` characters.
pub fn shown(name: &str) -> String {
    match name.char_indices().nth(ferros_limits::SHOWN_NAME_CHARS) {
        Some((cut, _)) => format!("{}…", &name[..cut]),
        None => name.to_owned(),
    }
}
