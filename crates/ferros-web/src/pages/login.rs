//! Logging in and out with the pages: a session cookie (HttpOnly,
//! SameSite=Lax). The login form has its own CSRF token, in a cookie and a
//! hidden field (there is no session yet to hold one).

use askama::Template;
use axum::Extension;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Form, extract::Request};
use ferros_db::SessionKind;
use serde::Deserialize;

use super::{Nav, render};
use crate::AppState;
use crate::access::Viewer;
use crate::auth::{self, LOGIN_CSRF_COOKIE};

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    nav: Nav,
    csrf: String,
    next: String,
    username: String,
    error: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct Next {
    next: Option<String>,
}

/// Where to go after logging in: a path of this site only.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') && n.len() <= 200 => {
            n.to_owned()
        }
        _ => "/".to_owned(),
    }
}

fn login_page(
    state: &AppState,
    viewer: &Viewer,
    next: String,
    username: String,
    error: String,
    status: StatusCode,
) -> Response {
    let csrf = ferros_auth::new_token();
    let page =
        LoginPage { nav: Nav::new(state, viewer, "/login"), csrf: csrf.clone(), next, username, error };
    let mut res = render(status, &page);
    let cookie = format!("{LOGIN_CSRF_COOKIE}={csrf}; Path=/login; HttpOnly; SameSite=Strict; Max-Age=3600");
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

pub async fn form(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Query(q): Query<Next>,
) -> Response {
    login_page(&state, &viewer, safe_next(q.next.as_deref()), String::new(), String::new(), StatusCode::OK)
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    next: Option<String>,
    username: String,
    password: String,
}

pub async fn submit(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    headers: HeaderMap,
    req: Request,
) -> Response {
    let addr = req.extensions().get::<ConnectInfo<std::net::SocketAddr>>().map(|c| c.0.ip());
    let Ok(Form(f)) = Form::<LoginForm>::from_request(req, &()).await else {
        return login_page(
            &state,
            &viewer,
            "/".into(),
            String::new(),
            "give a user name and a password".into(),
            StatusCode::BAD_REQUEST,
        );
    };
    let next = safe_next(f.next.as_deref());
    let expected = auth::cookie(&headers, LOGIN_CSRF_COOKIE).unwrap_or_default();
    if expected.is_empty() || !ferros_auth::same_secret(expected, &f.csrf) {
        let e = "the login form expired (missing or wrong CSRF token): try again".to_owned();
        return login_page(&state, &viewer, next, f.username, e, StatusCode::FORBIDDEN);
    }
    match auth::login(&state, &f.username, &f.password, addr, SessionKind::Cookie).await {
        Ok(done) => {
            let mut res = Redirect::to(&next).into_response();
            let cookie = auth::session_cookie(&state, &done.token, done.expires_in.num_seconds());
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                res.headers_mut().append(header::SET_COOKIE, v);
            }
            res
        }
        Err(p) => login_page(&state, &viewer, next, f.username, p.message, p.status),
    }
}

use axum::extract::FromRequest as _;

pub async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(p) = auth::logout(&state, &headers).await {
        return super::error_page(&p, Viewer::visitor(&state));
    }
    let mut res = Redirect::to("/").into_response();
    if let Ok(v) = HeaderValue::from_str(&auth::session_cookie(&state, "", 0)) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}
