//! The pages of the user life cycle: registration, a PI's activation of a
//! pending account, the password reset by a mailed link, and the SP-PI's
//! change of a program's members.

use askama::Template;
use axum::Extension;
use axum::extract::{ConnectInfo, Path, RawForm, Request, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::{Nav, render};
use crate::AppState;
use crate::access::Viewer;
use crate::accounts::{self, SignUp};
use crate::problem::Problem;

/// A link's token as a page may write it into a form's address: the
/// characters a token has, 128 at most (anything else was never a token).
fn link_token(token: &str) -> String {
    token.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_')).take(128).collect()
}

/// The caller's address and the form's body.
async fn form_of(req: Request) -> (Option<std::net::IpAddr>, Vec<u8>) {
    let addr = req.extensions().get::<ConnectInfo<std::net::SocketAddr>>().map(|c| c.0.ip());
    let body = axum::body::to_bytes(req.into_body(), 16 << 10).await.map(|b| b.to_vec()).unwrap_or_default();
    (addr, body)
}

fn fields(body: &[u8]) -> impl Iterator<Item = (String, String)> + '_ {
    form_urlencoded::parse(body).map(|(k, v)| (k.into_owned(), v.into_owned()))
}

#[derive(Template)]
#[template(path = "register.html")]
struct RegisterPage {
    nav: Nav,
    username: String,
    email: String,
    intentions: String,
    error: String,
    done: String,
}

pub async fn register_form(State(state): State<AppState>, Extension(viewer): Extension<Viewer>) -> Response {
    let page = RegisterPage {
        nav: Nav::new(&state, &viewer, "/register"),
        username: String::new(),
        email: String::new(),
        intentions: String::new(),
        error: String::new(),
        done: String::new(),
    };
    render(StatusCode::OK, &page)
}

pub async fn register(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    req: Request,
) -> Response {
    let (addr, body) = form_of(req).await;
    let mut f = SignUp::default();
    for (k, v) in fields(&body) {
        match k.as_str() {
            "username" => f.username = v.trim().to_owned(),
            "email" => f.email = v.trim().to_owned(),
            "password" => f.password = v,
            "repeat" => f.repeat = Some(v),
            "intentions" => f.intentions = v,
            _ => {}
        }
    }
    let (status, error, done) = match accounts::register(&state, &f, addr).await {
        Ok(said) => (StatusCode::CREATED, String::new(), said),
        Err(p) => (p.status, p.message, String::new()),
    };
    let page = RegisterPage {
        nav: Nav::new(&state, &viewer, "/register"),
        username: f.username,
        email: f.email,
        intentions: f.intentions,
        error,
        done,
    };
    render(status, &page)
}

#[derive(Template)]
#[template(path = "activate.html")]
struct ActivatePage {
    nav: Nav,
    token: String,
    /// Name, e-mail, intentions.
    user: Option<(String, String, String)>,
    error: String,
}

/// The page of an activation link: the pending account (`Ok(Some)`), what
/// was done (`Ok(None)` with the flash), or why the link does not work.
fn activate_page(
    state: &AppState,
    viewer: &Viewer,
    token: &str,
    found: Result<Option<ferros_domain::User>, Problem>,
    flash: String,
) -> Response {
    let (status, user, error) = match found {
        Ok(u) => (StatusCode::OK, u.map(|u| (u.username, u.email, u.intentions)), String::new()),
        Err(p) => (p.status, None, p.message),
    };
    let token = link_token(token);
    render(
        status,
        &ActivatePage { nav: Nav::new(state, viewer, "/users").with_flash(flash), token, user, error },
    )
}

pub async fn activation(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(token): Path<String>,
) -> Response {
    let found = accounts::pending(&state, &token).await.map(Some);
    activate_page(&state, &viewer, &token, found, String::new())
}

pub async fn activate(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(token): Path<String>,
) -> Response {
    let by = viewer.name().unwrap_or_default().to_owned();
    match accounts::activate(&state, &by, &token).await {
        Ok(said) => activate_page(&state, &viewer, &token, Ok(None), said),
        Err(p) => activate_page(&state, &viewer, &token, Err(p), String::new()),
    }
}

#[derive(Template)]
#[template(path = "reset.html")]
struct ResetPage {
    nav: Nav,
    /// Empty: the form asking for the address.
    token: String,
    username: String,
    show_form: bool,
    error: String,
    done: String,
}

fn reset_page(
    state: &AppState,
    viewer: &Viewer,
    token: &str,
    status: StatusCode,
    page: (String, bool, String, String),
) -> Response {
    let token = link_token(token);
    let (username, show_form, error, done) = page;
    render(
        status,
        &ResetPage {
            nav: Nav::new(state, viewer, "/password-reset"),
            token,
            username,
            show_form,
            error,
            done,
        },
    )
}

pub async fn reset_form(State(state): State<AppState>, Extension(viewer): Extension<Viewer>) -> Response {
    reset_page(&state, &viewer, "", StatusCode::OK, (String::new(), false, String::new(), String::new()))
}

pub async fn ask_reset(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    req: Request,
) -> Response {
    let (addr, body) = form_of(req).await;
    let email =
        fields(&body).find(|(k, _)| k == "email").map(|(_, v)| v.trim().to_owned()).unwrap_or_default();
    match accounts::ask_reset(&state, &email, addr).await {
        Ok(said) => {
            reset_page(&state, &viewer, "", StatusCode::OK, (String::new(), false, String::new(), said))
        }
        Err(p) => reset_page(&state, &viewer, "", p.status, (String::new(), false, p.message, String::new())),
    }
}

pub async fn reset_with(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(token): Path<String>,
) -> Response {
    match accounts::reset_user(&state, &token).await {
        Ok(u) => reset_page(
            &state,
            &viewer,
            &token,
            StatusCode::OK,
            (u.username, true, String::new(), String::new()),
        ),
        Err(p) => {
            reset_page(&state, &viewer, &token, p.status, (String::new(), false, p.message, String::new()))
        }
    }
}

pub async fn reset(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(token): Path<String>,
    RawForm(body): RawForm,
) -> Response {
    let (mut password, mut repeat) = (String::new(), None);
    for (k, v) in fields(&body) {
        match k.as_str() {
            "password" => password = v,
            "repeat" => repeat = Some(v),
            _ => {}
        }
    }
    match accounts::reset(&state, &token, &password, repeat.as_deref()).await {
        Ok(said) => {
            reset_page(&state, &viewer, &token, StatusCode::OK, (String::new(), false, String::new(), said))
        }
        Err(p) => {
            // A weak password: the form again; a dead link: its message only.
            let again = p.status == StatusCode::UNPROCESSABLE_ENTITY;
            let name = if again {
                accounts::reset_user(&state, &token).await.map(|u| u.username).unwrap_or_default()
            } else {
                String::new()
            };
            reset_page(&state, &viewer, &token, p.status, (name, again, p.message, String::new()))
        }
    }
}

/// The SP-PI's form on a program's page: `add=NAME` or `remove=NAME`.
pub async fn members(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(name): Path<String>,
    RawForm(body): RawForm,
) -> Response {
    let Some(user) = viewer.user().cloned() else {
        return super::error_page(&Problem::unauthorized(), viewer);
    };
    let mut m = accounts::Members::default();
    for (k, v) in fields(&body) {
        let v = v.trim().to_owned();
        if v.is_empty() {
            continue;
        }
        match k.as_str() {
            "add" => m.add.push(v),
            "remove" => m.remove.push(v),
            _ => {}
        }
    }
    match accounts::set_members(&state, &user, &name, &m).await {
        Ok(said) => {
            super::admin::program_page(&state, viewer, &name, said, String::new(), StatusCode::OK).await
        }
        Err(p) if p.status == StatusCode::FORBIDDEN || p.status == StatusCode::NOT_FOUND => {
            super::error_page(&p, viewer)
        }
        Err(p) => super::admin::program_page(&state, viewer, &name, String::new(), p.message, p.status).await,
    }
}
