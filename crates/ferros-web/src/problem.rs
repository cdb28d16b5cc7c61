//! What goes wrong, answered as the caller expects: JSON for the API
//! (`{"error": ..., "problems": [...]}`), a page for a browser.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::access::Viewer;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub status: StatusCode,
    pub message: String,
    /// Every problem found (an XML import's, with line and column).
    pub problems: Vec<String>,
}

#[derive(Debug, Serialize)]
pub(crate) struct ProblemBody<'a> {
    error: &'a str,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    problems: &'a [String],
}

impl Problem {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self { status, message: message.into(), problems: Vec::new() }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn unauthorized() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "log in first: this needs an account")
    }

    pub fn forbidden() -> Self {
        Self::new(StatusCode::FORBIDDEN, "your profiles do not allow this (the rights matrix)")
    }

    pub fn csrf() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "missing or wrong CSRF token: reload the page and try again (scripts send X-CSRF-Token or use a bearer token)",
        )
    }

    pub fn too_large() -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is larger than {} bytes", ferros_limits::MAX_WEB_BODY_BYTES),
        )
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, format!("{} does not exist", what.into()))
    }

    pub fn unprocessable(message: impl Into<String>, problems: Vec<String>) -> Self {
        Self { status: StatusCode::UNPROCESSABLE_ENTITY, message: message.into(), problems }
    }

    /// The database or another part failed: logged, and said plainly.
    pub fn internal(what: &str, e: impl std::fmt::Display) -> Self {
        tracing::warn!("{what}: {e}");
        Self::new(StatusCode::SERVICE_UNAVAILABLE, format!("{what}: the database does not answer"))
    }

    /// JSON for the API, a page (with the menu `viewer` may see) otherwise.
    pub fn respond(self, api: bool, viewer: Option<&Viewer>) -> Response {
        let mut res = if api {
            let body = ProblemBody { error: &self.message, problems: &self.problems };
            (self.status, Json(body)).into_response()
        } else {
            crate::pages::error_page(&self, viewer.cloned().unwrap_or_default())
        };
        if self.status == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert("www-authenticate", axum::http::HeaderValue::from_static("Bearer"));
        }
        res
    }
}

impl From<ferros_db::DbError> for Problem {
    fn from(e: ferros_db::DbError) -> Self {
        use ferros_db::DbError;
        match e {
            DbError::NotFound { .. } => Self::new(StatusCode::NOT_FOUND, e.to_string()),
            DbError::Conflict(m) => Self::new(StatusCode::CONFLICT, m),
            DbError::Domain(d) => Self::new(StatusCode::UNPROCESSABLE_ENTITY, d.to_string()),
            other => Self::internal("the request failed", other),
        }
    }
}

/// An API answer: a value, or a problem as JSON.
pub(crate) struct ApiProblem(pub Problem);

impl IntoResponse for ApiProblem {
    fn into_response(self) -> Response {
        self.0.respond(true, None)
    }
}

impl From<Problem> for ApiProblem {
    fn from(p: Problem) -> Self {
        Self(p)
    }
}

impl From<ferros_db::DbError> for ApiProblem {
    fn from(e: ferros_db::DbError) -> Self {
        Self(e.into())
    }
}
