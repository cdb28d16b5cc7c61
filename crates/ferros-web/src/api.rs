//! The REST API under `/api/v1/`: JSON, a bearer token from
//! `POST /api/v1/login` (or the pages' session cookie with its CSRF token),
//! and the OpenAPI 3 document of every route of the access table.

use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use ferros_db::SessionKind;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::access::{Access, ROUTES, Viewer};
use crate::problem::{ApiProblem, Problem};
use crate::{AppState, auth};

type ApiResult = Result<Response, ApiProblem>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Login {
    username: String,
    password: String,
}

fn json_body<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, Problem> {
    serde_json::from_slice(bytes)
        .map_err(|e| Problem::bad_request(format!("the body is not the JSON expected: {e}")))
}

pub async fn login(State(state): State<AppState>, req: Request) -> ApiResult {
    let addr = req.extensions().get::<ConnectInfo<std::net::SocketAddr>>().map(|c| c.0.ip());
    let bytes = axum::body::to_bytes(req.into_body(), 4096).await.map_err(|_| Problem::too_large())?;
    let l: Login = json_body(&bytes)?;
    let done = auth::login(&state, &l.username, &l.password, addr, SessionKind::Bearer).await?;
    Ok(Json(json!({"token": done.token, "expires_in_s": done.expires_in.num_seconds()})).into_response())
}

pub async fn logout(State(state): State<AppState>, headers: HeaderMap) -> ApiResult {
    auth::logout(&state, &headers).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn status(State(state): State<AppState>) -> ApiResult {
    let v = crate::status::get(&state).await?;
    Ok(Json(&*v).into_response())
}

pub async fn control(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(command): Path<String>,
) -> ApiResult {
    let said = crate::control::give(&state, &viewer, &command).await?;
    Ok(Json(json!({"command": command, "state": "accepted", "message": said})).into_response())
}

pub async fn devices(State(state): State<AppState>) -> ApiResult {
    let v = crate::status::get(&state).await?;
    Ok(Json(&v["devices"]).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceOrder {
    command: String,
}

pub async fn device_command(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    body: axum::body::Bytes,
) -> ApiResult {
    let order: DeviceOrder = json_body(&body)?;
    let said = crate::control::give_device(&state, &viewer, &order.command).await?;
    Ok(Json(json!({"command": order.command, "state": "accepted", "message": said})).into_response())
}

pub async fn create_request(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    body: String,
) -> ApiResult {
    let user = viewer.user().ok_or_else(Problem::unauthorized)?;
    let done = crate::requests::import(&state, user, &body, false).await?;
    Ok((StatusCode::CREATED, Json(done)).into_response())
}

pub async fn request(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<i64>,
) -> ApiResult {
    let user = viewer.user().ok_or_else(Problem::unauthorized)?;
    let r = crate::requests::visible(&state, user, id).await?;
    Ok(Json(r).into_response())
}

pub async fn requests(State(state): State<AppState>, Extension(viewer): Extension<Viewer>) -> ApiResult {
    let user = viewer.user().ok_or_else(Problem::unauthorized)?;
    Ok(Json(crate::requests::listed(&state, user).await?).into_response())
}

pub async fn request_xml(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<i64>,
) -> ApiResult {
    let user = viewer.user().ok_or_else(Problem::unauthorized)?;
    Ok(crate::requests::xml_download(&crate::requests::visible(&state, user, id).await?))
}

pub async fn alerts(State(state): State<AppState>) -> ApiResult {
    Ok(Json(state.db().list_alerts(None, ferros_limits::PAGE_ROWS).await?).into_response())
}

pub async fn alert(State(state): State<AppState>, Path(id): Path<i64>) -> ApiResult {
    let a = state.db().alert(id).await?.ok_or_else(|| Problem::not_found(format!("alert {id}")))?;
    Ok(Json(a).into_response())
}

pub async fn edit_request(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<i64>,
    body: String,
) -> ApiResult {
    let user = viewer.user().ok_or_else(Problem::unauthorized)?;
    Ok(Json(crate::requests::edit(&state, user, id, &body).await?).into_response())
}

pub async fn request_action(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path((id, action)): Path<(i64, String)>,
) -> ApiResult {
    let user = viewer.user().ok_or_else(Problem::unauthorized)?;
    let said = crate::requests::act(&state, user, id, &action).await?;
    Ok(Json(json!({"request_id": id, "message": said})).into_response())
}

pub async fn schedule(State(state): State<AppState>) -> ApiResult {
    match crate::pages::schedule::load(&state, None).await? {
        Some((s, _)) => Ok(Json(s).into_response()),
        None => Ok(Json(Value::Null).into_response()),
    }
}

pub async fn programs(State(state): State<AppState>) -> ApiResult {
    Ok(Json(crate::programs::list(&state).await?).into_response())
}

pub async fn program(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(name): Path<String>,
) -> ApiResult {
    let user = viewer.user().ok_or_else(Problem::unauthorized)?;
    Ok(Json(crate::programs::usage(&state, user, &name).await?).into_response())
}

pub async fn edit_program(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(name): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult {
    let e: crate::programs::Edit = json_body(&body)?;
    crate::programs::edit(&state, &name, &e).await?;
    let user = viewer.user().ok_or_else(Problem::unauthorized)?;
    Ok(Json(crate::programs::usage(&state, user, &name).await?).into_response())
}

pub async fn program_members(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(name): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult {
    let user = viewer.user().ok_or_else(Problem::unauthorized)?;
    let m: crate::accounts::Members = json_body(&body)?;
    let said = crate::accounts::set_members(&state, user, &name, &m).await?;
    Ok(Json(json!({"message": said})).into_response())
}

pub async fn register(State(state): State<AppState>, req: Request) -> ApiResult {
    let addr = req.extensions().get::<ConnectInfo<std::net::SocketAddr>>().map(|c| c.0.ip());
    let bytes = axum::body::to_bytes(req.into_body(), 16 << 10).await.map_err(|_| Problem::too_large())?;
    let f: crate::accounts::SignUp = json_body(&bytes)?;
    let said = crate::accounts::register(&state, &f, addr).await?;
    Ok((StatusCode::CREATED, Json(json!({"message": said}))).into_response())
}

pub async fn activate(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(token): Path<String>,
) -> ApiResult {
    let by = viewer.name().unwrap_or_default().to_owned();
    let said = crate::accounts::activate(&state, &by, &token).await?;
    Ok(Json(json!({"message": said})).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResetAsk {
    email: String,
}

pub async fn ask_reset(State(state): State<AppState>, req: Request) -> ApiResult {
    let addr = req.extensions().get::<ConnectInfo<std::net::SocketAddr>>().map(|c| c.0.ip());
    let bytes = axum::body::to_bytes(req.into_body(), 4096).await.map_err(|_| Problem::too_large())?;
    let r: ResetAsk = json_body(&bytes)?;
    let said = crate::accounts::ask_reset(&state, r.email.trim(), addr).await?;
    Ok(Json(json!({"message": said})).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewPassword {
    password: String,
}

pub async fn reset_password(
    State(state): State<AppState>,
    Path(token): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult {
    let p: NewPassword = json_body(&body)?;
    let said = crate::accounts::reset(&state, &token, &p.password, None).await?;
    Ok(Json(json!({"message": said})).into_response())
}

pub async fn proposals(State(state): State<AppState>) -> ApiResult {
    Ok(Json(crate::proposals::list(&state).await?).into_response())
}

pub async fn proposal(State(state): State<AppState>, Path(id): Path<i64>) -> ApiResult {
    let p = crate::proposals::get(&state, id).await?;
    Ok(Json(crate::proposals::view(&state, p)).into_response())
}

pub async fn create_proposal(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    body: axum::body::Bytes,
) -> ApiResult {
    let user = viewer.user().ok_or_else(Problem::unauthorized)?;
    let f: crate::proposals::Form = json_body(&body)?;
    let p = crate::proposals::create(&state, user, &f).await?;
    Ok((StatusCode::CREATED, Json(crate::proposals::view(&state, p))).into_response())
}

pub async fn edit_proposal(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<i64>,
    body: axum::body::Bytes,
) -> ApiResult {
    let user = viewer.user().ok_or_else(Problem::unauthorized)?;
    let f: crate::proposals::Form = json_body(&body)?;
    let p = crate::proposals::update(&state, user, id, &f).await?;
    Ok(Json(crate::proposals::view(&state, p)).into_response())
}

pub async fn delete_proposal(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<i64>,
) -> ApiResult {
    let user = viewer.user().ok_or_else(Problem::unauthorized)?;
    let said = crate::proposals::delete(&state, user, id).await?;
    Ok(Json(json!({"message": said})).into_response())
}

pub async fn vote(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<i64>,
    body: axum::body::Bytes,
) -> ApiResult {
    let user = viewer.user().ok_or_else(Problem::unauthorized)?;
    let b: crate::proposals::Ballot = json_body(&body)?;
    let p = crate::proposals::vote(&state, user, id, &b).await?;
    Ok(Json(crate::proposals::view(&state, p)).into_response())
}

pub async fn accept_proposal(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<i64>,
    body: axum::body::Bytes,
) -> ApiResult {
    let user = viewer.user().ok_or_else(Problem::unauthorized)?;
    let a: crate::proposals::Acceptance =
        if body.is_empty() { Default::default() } else { json_body(&body)? };
    let p = crate::proposals::accept(&state, user, id, &a).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"program": p.name, "period": p.period.to_string(),
        "priority": p.priority.get(), "quota_hours": p.quota.hours(), "quota_percent": p.quota_percent()})),
    )
        .into_response())
}

pub async fn request_images(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<i64>,
) -> ApiResult {
    let user = viewer.user().ok_or_else(Problem::unauthorized)?;
    let images = crate::images::of_request(&state, user, id).await?;
    Ok(Json(images.iter().map(crate::images::listed).collect::<Vec<_>>()).into_response())
}

pub async fn request_archive(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<i64>,
) -> ApiResult {
    let user = viewer.user().ok_or_else(Problem::unauthorized)?;
    Ok(crate::images::archive(&state, user, id).await?)
}

pub async fn image_file(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    uri: axum::http::Uri,
) -> ApiResult {
    let user = viewer.user().ok_or_else(Problem::unauthorized)?;
    let path = form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
        .find(|(k, _)| k == "path")
        .map(|(_, v)| v.into_owned())
        .ok_or_else(|| Problem::bad_request("give the image's archive path: ?path=..."))?;
    let image = crate::images::visible(&state, user, &path).await?;
    let file = crate::images::file(&state, &image)?;
    let bytes = crate::images::read(file.clone()).await?;
    Ok(crate::images::fits_download(&file, bytes))
}

/// What each API route does, takes and answers, for the document.
fn describe(method: &str, path: &str) -> (&'static str, Option<(&'static str, Value)>, Value) {
    #[allow(non_snake_case, reason = "a constant schema, named like one")]
    let MSG = json!({"type": "object", "properties": {"message": {"type": "string"}}});
    let obj = json!({"type": "object"});
    let err = json!({"$ref": "#/components/schemas/Error"});
    match (method, path) {
        ("GET", "/api/v1/openapi.json") => ("This document.", None, obj),
        ("POST", "/api/v1/login") => (
            "Log in: a bearer token for scripts.",
            Some((
                "application/json",
                json!({"type": "object", "required": ["username", "password"], "additionalProperties": false,
                "properties": {"username": {"type": "string", "maxLength": 64}, "password": {"type": "string", "maxLength": 256}}}),
            )),
            json!({"type": "object", "properties": {"token": {"type": "string"}, "expires_in_s": {"type": "integer"}}}),
        ),
        ("POST", "/api/v1/logout") => ("End the session of this token.", None, obj),
        ("GET", "/api/v1/status") => {
            ("The environment synthesis, the majordome's mode and flags, the devices (public).", None, obj)
        }
        ("POST", "/api/v1/control/{command}") => (
            "A control command (lock, unlock, go-remote, go-scheduler, stop-observing, plc-bypass, stop-plc-bypass, night-ack), answered by the majordome.",
            None,
            obj,
        ),
        ("GET", "/api/v1/devices") => (
            "Each device's latest state as the gic agent publishes it (null before the first).",
            None,
            json!({"type": "object", "nullable": true}),
        ),
        ("POST", "/api/v1/devices/command") => (
            "A device command by hand (REMOTE mode): telescope park|unpark|abort|slew RA DEC, dome open|close|abort|azimuth AZ, filter_vis|filter_nir select NAME, camera_vis|camera_nir abort; answered by the majordome.",
            Some((
                "application/json",
                json!({"type": "object", "required": ["command"], "additionalProperties": false,
                "properties": {"command": {"type": "string", "maxLength": 200}}}),
            )),
            obj,
        ),
        ("POST", "/api/v1/requests") => (
            "Import a request XML (the body): 201 with its id, or 422 with every problem; nothing stored on a problem.",
            Some(("application/xml", json!({"type": "string"}))),
            json!({"type": "object", "properties": {"request_id": {"type": "integer"}, "sequences": {"type": "array", "items": {"type": "integer"}}, "warnings": {"type": "array", "items": {"type": "string"}}}}),
        ),
        ("GET", "/api/v1/requests") => (
            "The latest requests the caller sees (their own, their programs', or all for a PI or SysAdmin).",
            None,
            json!({"type": "array", "items": {"type": "object"}}),
        ),
        ("GET", "/api/v1/requests/{id}") => ("A request with its sequences, albums and plans.", None, obj),
        ("GET", "/api/v1/requests/{id}/xml") => {
            ("The request as XML, in the importer's format.", None, json!({"type": "string"}))
        }
        ("POST", "/api/v1/requests/{id}/edit") => (
            "Replace a request's sequences with those of a request XML (the body), checked as an import: 422 with every problem, 409 while a sequence is submitted, running or done (unsubmit first); nothing changed on a problem.",
            Some(("application/xml", json!({"type": "string"}))),
            json!({"type": "object", "properties": {"request_id": {"type": "integer"}, "sequences": {"type": "array", "items": {"type": "integer"}}, "warnings": {"type": "array", "items": {"type": "string"}}}}),
        ),
        ("POST", "/api/v1/requests/{id}/{action}") => {
            ("submit, unsubmit (back to COMPLETE before it runs) or cancel a request.", None, obj)
        }
        ("GET", "/api/v1/requests/{id}/images") => (
            "The images of a request the caller sees (raw and calibrated), oldest first, each with where to download it.",
            None,
            json!({"type": "array", "items": {"type": "object"}}),
        ),
        ("GET", "/api/v1/requests/{id}/archive") => (
            "All the images of a request (raw and calibrated) as one tar archive, streamed; 404 without an image.",
            None,
            json!({"type": "string", "format": "binary"}),
        ),
        ("GET", "/api/v1/images/file") => (
            "One image's FITS file, by its archive path (?path=...): the caller's requests' and programs' images, all for PI and SysAdmin; 404 otherwise.",
            None,
            json!({"type": "string", "format": "binary"}),
        ),
        ("GET", "/api/v1/proposals") => (
            "The proposals, newest period first, each with its votes, the TAC's grade (the median vote), its deadline and its program once accepted.",
            None,
            json!({"type": "array", "items": {"type": "object"}}),
        ),
        ("POST", "/api/v1/proposals") | ("POST", "/api/v1/proposals/{id}/edit") => (
            "Propose a program for a coming period (default: the first still open), until its deadline; or change one's own proposal.",
            Some((
                "application/json",
                json!({"type": "object", "required": ["name", "description", "hours"], "additionalProperties": false, "properties": {
                    "name": {"type": "string", "minLength": 1, "maxLength": 64},
                    "description": {"type": "string", "maxLength": 4000},
                    "period": {"type": "string", "maxLength": 5},
                    "hours": {"type": "number", "minimum": 0, "maximum": 10000},
                    "continues": {"type": "string", "maxLength": 64}}}),
            )),
            obj,
        ),
        ("GET", "/api/v1/proposals/{id}") => ("A proposal with its votes.", None, obj),
        ("POST", "/api/v1/proposals/{id}/delete") => {
            ("Withdraw a proposal: its proposer until the deadline, the PI until it is a program.", None, MSG)
        }
        ("POST", "/api/v1/proposals/{id}/vote") => (
            "A TAC member's grade (A, B or C) and comment; a second vote replaces the first.",
            Some((
                "application/json",
                json!({"type": "object", "required": ["grade"], "additionalProperties": false, "properties": {
                    "grade": {"type": "string", "enum": ["A", "B", "C"]},
                    "comment": {"type": "string", "maxLength": 4000}}}),
            )),
            obj,
        ),
        ("POST", "/api/v1/proposals/{id}/accept") => (
            "The PI makes a program of a proposal: priority or grade (default: the TAC's median grade's), quota in percent of the period or hours (default: what is left of it), the proposer its PI and first member.",
            Some((
                "application/json",
                json!({"type": "object", "additionalProperties": false, "properties": {
                    "priority": {"type": "integer", "minimum": 0, "maximum": 100},
                    "grade": {"type": "string", "enum": ["A", "B", "C"]},
                    "quota_percent": {"type": "number", "minimum": 0, "maximum": 100},
                    "quota_hours": {"type": "number", "minimum": 0, "maximum": 100000}}}),
            )),
            obj,
        ),
        ("GET", "/api/v1/programs") => (
            "The programs: period, priority, PI, quota in hours and percent of the period's night time, time used and left.",
            None,
            json!({"type": "array", "items": {"type": "object"}}),
        ),
        ("GET", "/api/v1/programs/{name}") => (
            "A program's use of its quota: used, asked (submitted, not yet run) and free hours, in total and per member (its members, its PI and those who see all requests).",
            None,
            obj,
        ),
        ("POST", "/api/v1/programs/{name}/edit") => (
            "Change a program (PI, SysAdmin): priority or grade, quota in percent of the period or in hours (the period's quotas never above 100 % in total), description; absent fields stay.",
            Some((
                "application/json",
                json!({"type": "object", "additionalProperties": false, "properties": {
                    "priority": {"type": "integer", "minimum": 0, "maximum": 100},
                    "grade": {"type": "string", "enum": ["A", "B", "C"]},
                    "quota_percent": {"type": "number", "minimum": 0, "maximum": 100},
                    "quota_hours": {"type": "number", "minimum": 0, "maximum": 100000},
                    "description": {"type": "string", "maxLength": 4000}}}),
            )),
            obj,
        ),
        ("POST", "/api/v1/programs/{name}/members") => (
            "The program's PI (SP-PI), or a user manager, adds and removes members (user names); each is told by mail.",
            Some((
                "application/json",
                json!({"type": "object", "additionalProperties": false, "properties": {
                    "add": {"type": "array", "maxItems": 100, "items": {"type": "string", "maxLength": 64}},
                    "remove": {"type": "array", "maxItems": 100, "items": {"type": "string", "maxLength": 64}}}}),
            )),
            MSG,
        ),
        ("POST", "/api/v1/register") => (
            "Register an account (profile Observer), pending until a PI activates it from the link mailed to the PIs; its owner is told by mail at each step.",
            Some((
                "application/json",
                json!({"type": "object", "required": ["username", "email", "password", "intentions"], "additionalProperties": false, "properties": {
                    "username": {"type": "string", "maxLength": 64},
                    "email": {"type": "string", "maxLength": 254},
                    "password": {"type": "string", "maxLength": 256},
                    "repeat": {"type": "string", "maxLength": 256},
                    "intentions": {"type": "string", "maxLength": 4000}}}),
            )),
            MSG,
        ),
        ("POST", "/api/v1/activate/{token}") => (
            "Activate the pending account of an activation link (PI, SysAdmin); each link works once, until it expires.",
            None,
            MSG,
        ),
        ("POST", "/api/v1/password-reset") => (
            "Mail a link to choose a new password to the active account with this address (the same answer either way).",
            Some((
                "application/json",
                json!({"type": "object", "required": ["email"], "additionalProperties": false,
                "properties": {"email": {"type": "string", "maxLength": 254}}}),
            )),
            MSG,
        ),
        ("POST", "/api/v1/password-reset/{token}") => (
            "Choose a new password with a reset link (once, until it expires); the account's sessions end.",
            Some((
                "application/json",
                json!({"type": "object", "required": ["password"], "additionalProperties": false,
                "properties": {"password": {"type": "string", "maxLength": 256}}}),
            )),
            MSG,
        ),
        ("GET", "/api/v1/schedule") => (
            "The latest schedule (null before the first).",
            None,
            json!({"type": "object", "nullable": true}),
        ),
        _ => ("", None, err),
    }
}

pub async fn openapi() -> impl IntoResponse {
    Json(document())
}

/// The OpenAPI 3 document, from the access table: every API route, its
/// parameters, body, answers and security.
pub fn document() -> Value {
    let mut paths = serde_json::Map::new();
    for r in ROUTES.iter().filter(|r| r.is_api()) {
        let (summary, body, ok) = describe(r.method, r.path);
        let mut params = Vec::new();
        for seg in r.path.split('/').filter(|s| s.starts_with('{')) {
            let name = seg.trim_matches(|c| c == '{' || c == '}');
            let schema = if name == "id" {
                json!({"type": "integer", "format": "int64"})
            } else if name == "name" {
                json!({"type": "string", "minLength": 1, "maxLength": 64})
            } else if name == "token" {
                json!({"type": "string", "minLength": 1, "maxLength": 128})
            } else {
                json!({"type": "string", "maxLength": 32})
            };
            params.push(json!({"name": name, "in": "path", "required": true, "schema": schema}));
        }
        if r.path == "/api/v1/images/file" {
            params.push(json!({"name": "path", "in": "query", "required": true,
                "schema": {"type": "string", "minLength": 1, "maxLength": 1024}}));
        }
        let err = |d: &str| json!({"description": d, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}});
        let ok_code = if r.method == "POST" && (r.path == "/api/v1/requests" || r.path == "/api/v1/register")
        {
            "201"
        } else if r.path == "/api/v1/logout" {
            "204"
        } else {
            "200"
        };
        let mut responses = serde_json::Map::new();
        if ok_code == "204" {
            responses.insert(ok_code.into(), json!({"description": "done"}));
        } else {
            let ct = if r.path.ends_with("/xml") {
                "application/xml"
            } else if r.path.ends_with("/archive") {
                "application/x-tar"
            } else if r.path.ends_with("/file") {
                "application/fits"
            } else {
                "application/json"
            };
            responses.insert(ok_code.into(), json!({"description": "done", "content": {ct: {"schema": ok}}}));
        }
        responses.insert("400".into(), err("the request is malformed"));
        responses.insert("404".into(), err("no such thing"));
        responses.insert("413".into(), err("the body is too large"));
        if r.access != Access::Public || r.path == "/api/v1/login" {
            responses.insert("401".into(), err("no valid login"));
        }
        if matches!(r.access, Access::Right(_)) {
            responses.insert("403".into(), err("the profiles do not allow it"));
        }
        match r.path {
            "/api/v1/requests" => {
                responses.insert("422".into(), err("every problem of the document"));
            }
            "/api/v1/register" | "/api/v1/password-reset" => {
                responses
                    .insert("422".into(), err("a field is refused (weak password, e-mail address taken...)"));
                responses.insert("409".into(), err("the user name or the e-mail address is taken"));
                responses.insert("429".into(), err("too many attempts from this address"));
            }
            "/api/v1/activate/{token}" | "/api/v1/password-reset/{token}" => {
                responses.insert("422".into(), err("the new password is refused"));
                responses.insert("409".into(), err("the link was used already or expired"));
            }
            p if p.starts_with("/api/v1/proposals") && r.method == "POST" => {
                responses.insert("422".into(), err("a field is out of range or malformed"));
                responses.insert("409".into(), err("the deadline passed, the name is taken, the quota does not fit, or it is a program already"));
            }
            "/api/v1/programs/{name}/members" => {
                responses.insert("422".into(), err("no user given, too many, or a bad name"));
                responses.insert("409".into(), err("the PI cannot be removed"));
            }
            "/api/v1/programs/{name}/edit" => {
                responses.insert("422".into(), err("a value is out of range or nothing is given"));
                responses.insert("409".into(), err("the period's quotas would exceed 100 %"));
            }
            "/api/v1/requests/{id}/edit" => {
                responses.insert("422".into(), err("every problem of the document"));
                responses.insert("409".into(), err("a sequence is submitted, running or done"));
            }
            "/api/v1/login" => {
                responses.insert("429".into(), err("too many failed logins"));
            }
            p if p.contains("control") || p.contains("command") || p.contains("{action}") => {
                responses.insert("409".into(), err("refused in this state"));
                responses.insert("504".into(), err("no answer from the majordome"));
            }
            _ => {}
        }
        responses.insert("503".into(), err("the database does not answer"));
        let mut op = json!({"summary": summary, "parameters": params, "responses": responses});
        if let Some((ct, schema)) = body {
            op["requestBody"] = json!({"required": true, "content": {ct: {"schema": schema}}});
        }
        if r.access != Access::Public {
            op["security"] = json!([{"bearer": []}]);
        }
        paths.entry(r.path.to_owned()).or_insert_with(|| json!({}))[r.method.to_ascii_lowercase()] = op;
    }
    json!({
        "openapi": "3.0.3",
        "info": {"title": "Ferros", "version": env!("CARGO_PKG_VERSION"), "description": "The Ferros observatory control system's API."},
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Error": {"type": "object", "required": ["error"], "properties": {
                "error": {"type": "string"}, "problems": {"type": "array", "items": {"type": "string"}}}}}
        }
    })
}
