//! Who may reach what: every route with the access it needs, in one table
//! that builds the router, so no route escapes the check. The guard finds
//! the viewer (session cookie or bearer token), answers 401 without a login
//! and 403 (logged) for a profile the rights matrix keeps out, and checks
//! the CSRF token of every form and API call made with a session cookie.

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use ferros_db::{SessionKind, SessionRecord};
use ferros_domain::{LogEntry, LogLevel, Profile, Right, User};

use crate::problem::Problem;
use crate::{AppState, api, auth, health, pages};

/// What a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, logged in or not (the visitors' pages, the login).
    Public,
    /// Any active account.
    Login,
    /// An account holding this right (a cell of the rights matrix).
    Right(Right),
}

impl Access {
    /// Whether someone with these profiles passes (`None`: no login, a visitor).
    pub fn allows(self, profiles: Option<&[Profile]>) -> bool {
        match (self, profiles) {
            (Access::Public, _) => true,
            (Access::Login, p) => p.is_some(),
            // Without a login, the Visitor profile's rights.
            (Access::Right(r), None) => Profile::Visitor.allows(r),
            (Access::Right(r), Some(ps)) => ps.iter().any(|p| p.allows(r)),
        }
    }
}

/// One route: its method, its path (axum's syntax) and the access it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteInfo {
    pub method: &'static str,
    pub path: &'static str,
    pub access: Access,
}

impl RouteInfo {
    pub fn is_api(&self) -> bool {
        self.path.starts_with("/api/")
    }
}

macro_rules! routes {
    ($( $method:ident $path:literal $access:expr => $handler:expr ),* $(,)?) => {
        /// Every route, with the access it needs.
        pub const ROUTES: &[RouteInfo] = &[
            $( RouteInfo { method: method_name(stringify!($method)), path: $path, access: $access } ),*
        ];

        fn handlers() -> Vec<(RouteInfo, MethodRouter<AppState>)> {
            vec![ $( (
                RouteInfo { method: method_name(stringify!($method)), path: $path, access: $access },
                $method($handler),
            ) ),* ]
        }
    };
}

const fn method_name(m: &'static str) -> &'static str {
    match m.as_bytes() {
        b"get" => "GET",
        _ => "POST",
    }
}

use Access::{Login, Public};
const fn right(r: Right) -> Access {
    Access::Right(r)
}

routes! {
    get "/healthz" Public => health::check,
    get "/static/ferros.css" Public => pages::style,
    get "/static/ferros.js" Public => pages::script,
    get "/" Public => pages::home::page,
    get "/events" Public => crate::events::events,
    get "/login" Public => pages::login::form,
    post "/login" Public => pages::login::submit,
    post "/logout" Login => pages::login::logout,
    get "/register" Public => pages::signup::register_form,
    post "/register" Public => pages::signup::register,
    get "/activate/{token}" right(Right::ManageUsers) => pages::signup::activation,
    post "/activate/{token}" right(Right::ManageUsers) => pages::signup::activate,
    get "/password-reset" Public => pages::signup::reset_form,
    post "/password-reset" Public => pages::signup::ask_reset,
    get "/password-reset/{token}" Public => pages::signup::reset_with,
    post "/password-reset/{token}" Public => pages::signup::reset,
    get "/account" right(Right::OwnProfile) => pages::account::page,
    post "/account/password" right(Right::OwnProfile) => pages::account::password,
    get "/weather" right(Right::ViewWeather) => pages::monitoring::weather,
    get "/weather/chart/{quantity}" right(Right::ViewWeather) => pages::monitoring::chart_svg,
    get "/observatory" right(Right::ViewObservatory) => pages::monitoring::observatory,
    get "/devices" right(Right::DeviceStatus) => pages::devices::devices,
    get "/cameras" right(Right::DeviceStatus) => pages::devices::cameras,
    post "/devices/command" right(Right::DeviceCommand) => pages::devices::command,
    get "/control" right(Right::ObservatoryControl) => pages::control::page,
    post "/control/{command}" right(Right::ObservatoryControl) => pages::control::submit,
    get "/requests" right(Right::SubmitRequest) => pages::requests::list,
    post "/requests" right(Right::SubmitRequest) => pages::requests::upload,
    get "/requests/{id}" right(Right::SubmitRequest) => pages::requests::show,
    get "/requests/{id}/xml" right(Right::SubmitRequest) => pages::requests::xml,
    post "/requests/{id}/edit" right(Right::SubmitRequest) => pages::requests::edit,
    post "/requests/{id}/{action}" right(Right::SubmitRequest) => pages::requests::act,
    get "/images" right(Right::ViewOwnImages) => pages::images::page,
    get "/images/preview" right(Right::ViewOwnImages) => pages::images::preview,
    get "/images/fits" right(Right::ViewOwnImages) => pages::images::fits,
    get "/images/archive/{id}" right(Right::ViewOwnImages) => pages::images::archive,
    get "/alerts" right(Right::ViewAlerts) => pages::alerts::list,
    get "/alerts/{id}" right(Right::ViewAlerts) => pages::alerts::show,
    get "/schedule" right(Right::ViewSchedule) => pages::schedule::page,
    get "/proposals" right(Right::ViewProposals) => pages::proposals::list,
    post "/proposals" right(Right::EditProposal) => pages::proposals::create,
    get "/proposals/{id}" right(Right::ViewProposals) => pages::proposals::show,
    post "/proposals/{id}/edit" right(Right::EditProposal) => pages::proposals::edit,
    post "/proposals/{id}/delete" right(Right::EditProposal) => pages::proposals::delete,
    post "/proposals/{id}/vote" right(Right::VoteProposal) => pages::proposals::vote,
    post "/proposals/{id}/accept" right(Right::SetQuotaAndPriority) => pages::proposals::accept,
    get "/programs" right(Right::ViewProposals) => pages::admin::programs,
    get "/programs/{name}" right(Right::ViewProposals) => pages::admin::program,
    post "/programs/{name}/edit" right(Right::SetQuotaAndPriority) => pages::admin::edit_program,
    post "/programs/{name}/members" Login => pages::signup::members,
    get "/config" right(Right::EditConfig) => pages::admin::config,
    get "/webcams" right(Right::ViewObservatory) => pages::admin::webcams,
    get "/system" right(Right::ViewSystem) => pages::system::page,
    get "/users" right(Right::ManageUsers) => pages::users::list,
    post "/users" right(Right::ManageUsers) => pages::users::create,
    post "/users/{name}/{action}" right(Right::ManageUsers) => pages::users::act,
    get "/api/v1/openapi.json" Public => api::openapi,
    post "/api/v1/login" Public => api::login,
    post "/api/v1/logout" Login => api::logout,
    get "/api/v1/status" Public => api::status,
    post "/api/v1/control/{command}" right(Right::ObservatoryControl) => api::control,
    get "/api/v1/devices" right(Right::DeviceStatus) => api::devices,
    post "/api/v1/devices/command" right(Right::DeviceCommand) => api::device_command,
    get "/api/v1/requests" right(Right::SubmitRequest) => api::requests,
    post "/api/v1/requests" right(Right::SubmitRequest) => api::create_request,
    get "/api/v1/requests/{id}" right(Right::SubmitRequest) => api::request,
    get "/api/v1/requests/{id}/xml" right(Right::SubmitRequest) => api::request_xml,
    post "/api/v1/requests/{id}/edit" right(Right::SubmitRequest) => api::edit_request,
    post "/api/v1/requests/{id}/{action}" right(Right::SubmitRequest) => api::request_action,
    get "/api/v1/requests/{id}/images" right(Right::ViewOwnImages) => api::request_images,
    get "/api/v1/requests/{id}/archive" right(Right::ViewOwnImages) => api::request_archive,
    get "/api/v1/images/file" right(Right::ViewOwnImages) => api::image_file,
    get "/api/v1/alerts" right(Right::ViewAlerts) => api::alerts,
    get "/api/v1/alerts/{id}" right(Right::ViewAlerts) => api::alert,
    get "/api/v1/schedule" right(Right::ViewSchedule) => api::schedule,
    get "/api/v1/proposals" right(Right::ViewProposals) => api::proposals,
    post "/api/v1/proposals" right(Right::EditProposal) => api::create_proposal,
    get "/api/v1/proposals/{id}" right(Right::ViewProposals) => api::proposal,
    post "/api/v1/proposals/{id}/edit" right(Right::EditProposal) => api::edit_proposal,
    post "/api/v1/proposals/{id}/delete" right(Right::EditProposal) => api::delete_proposal,
    post "/api/v1/proposals/{id}/vote" right(Right::VoteProposal) => api::vote,
    post "/api/v1/proposals/{id}/accept" right(Right::SetQuotaAndPriority) => api::accept_proposal,
    get "/api/v1/programs" right(Right::ViewProposals) => api::programs,
    get "/api/v1/programs/{name}" right(Right::ViewProposals) => api::program,
    post "/api/v1/programs/{name}/edit" right(Right::SetQuotaAndPriority) => api::edit_program,
    post "/api/v1/programs/{name}/members" Login => api::program_members,
    post "/api/v1/register" Public => api::register,
    post "/api/v1/activate/{token}" right(Right::ManageUsers) => api::activate,
    post "/api/v1/password-reset" Public => api::ask_reset,
    post "/api/v1/password-reset/{token}" Public => api::reset_password,
}

/// Who is asking: their open session, if any.
#[derive(Debug, Clone, Default)]
pub struct Viewer {
    pub session: Option<SessionRecord>,
    /// The site's name, for the pages (error pages included).
    pub site: std::sync::Arc<str>,
}

impl Viewer {
    /// Someone not logged in.
    pub fn visitor(state: &AppState) -> Self {
        Viewer { session: None, site: state.inner.site.clone() }
    }

    pub fn user(&self) -> Option<&User> {
        self.session.as_ref().map(|s| &s.user)
    }

    pub fn name(&self) -> Option<&str> {
        self.user().map(|u| u.username.as_str())
    }

    /// Holds `right`: by their profiles, or as a visitor without a login.
    pub fn may(&self, right: Right) -> bool {
        match self.user() {
            Some(u) => u.has(right),
            None => Profile::Visitor.allows(right),
        }
    }

    pub fn profiles(&self) -> Vec<Profile> {
        self.user().map(|u| u.profiles.iter().copied().collect()).unwrap_or_default()
    }

    pub fn csrf(&self) -> &str {
        self.session.as_ref().map_or("", |s| s.csrf.as_str())
    }
}

pub(crate) fn router(state: AppState) -> Router {
    let mut app = Router::new();
    for (info, handler) in handlers() {
        let guarded = handler.route_layer(middleware::from_fn_with_state((state.clone(), info), guard));
        app = app.route(info.path, guarded);
    }
    app.fallback(pages::not_found)
        .layer(axum::extract::DefaultBodyLimit::max(ferros_limits::MAX_WEB_BODY_BYTES))
        .with_state(state)
}

/// Checks the access of `info` for the request's viewer, and its CSRF token.
async fn guard(State((state, info)): State<(AppState, RouteInfo)>, mut req: Request, next: Next) -> Response {
    let viewer = match auth::viewer(&state, req.headers()).await {
        Ok(v) => v,
        Err(p) => return p.respond(info.is_api(), Some(&Viewer::visitor(&state))),
    };
    let profiles = viewer.user().map(|u| u.profiles.iter().copied().collect::<Vec<_>>());
    if !info.access.allows(profiles.as_deref()) {
        let Some(user) = viewer.user() else {
            return Problem::unauthorized().respond(info.is_api(), Some(&viewer));
        };
        let message = format!(
            "403 {} ({}) {} {}",
            user.username,
            viewer.profiles().iter().map(|p| p.code()).collect::<Vec<_>>().join(","),
            req.method(),
            req.uri().path()
        );
        log(&state, LogLevel::Warn, message).await;
        return Problem::forbidden().respond(info.is_api(), Some(&viewer));
    }
    if req.method() != Method::GET
        && let Some(s) = &viewer.session
        && s.kind == SessionKind::Cookie
    {
        // A form or a script using the browser's cookie must prove it
        // comes from a Ferros page: the session's CSRF token, in the
        // X-CSRF-Token header or the form's `csrf` field.
        let (parts, body) = req.into_parts();
        let bytes = match to_bytes(body, ferros_limits::MAX_WEB_BODY_BYTES).await {
            Ok(b) => b,
            Err(_) => return Problem::too_large().respond(info.is_api(), Some(&viewer)),
        };
        let given = csrf_given(&parts.headers, &bytes);
        if !given.is_some_and(|t| ferros_auth::same_secret(&t, &s.csrf)) {
            let message = format!(
                "CSRF token {} for {} {} by {}",
                if given_any(&parts.headers, &bytes) { "wrong" } else { "missing" },
                parts.method,
                parts.uri.path(),
                s.user.username
            );
            log(&state, LogLevel::Warn, message).await;
            return Problem::csrf().respond(info.is_api(), Some(&viewer));
        }
        req = Request::from_parts(parts, Body::from(bytes));
    }
    req.extensions_mut().insert(viewer);
    next.run(req).await.into_response()
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"))
}

fn csrf_given(headers: &HeaderMap, body: &[u8]) -> Option<String> {
    if let Some(h) = headers.get("x-csrf-token").and_then(|v| v.to_str().ok()) {
        return Some(h.to_owned());
    }
    if is_form(headers) {
        return form_urlencoded::parse(body).find(|(k, _)| k == "csrf").map(|(_, v)| v.into_owned());
    }
    None
}

fn given_any(headers: &HeaderMap, body: &[u8]) -> bool {
    csrf_given(headers, body).is_some_and(|t| !t.is_empty())
}

/// Writes to the log table (the System page); a failure is only traced.
pub(crate) async fn log(state: &AppState, level: LogLevel, message: String) {
    let entry = LogEntry { at: state.clock().now(), source: "web".to_owned(), level, message };
    if let Err(e) = state.db().log(&entry).await {
        tracing::warn!("cannot write to the log table: {e}");
    }
}
