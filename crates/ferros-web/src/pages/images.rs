//! Images: per request (its images with a preview each and the FITS file to
//! download), the requests one may see, and for the PI and SysAdmin the
//! latest images of every kind (calibrations too).

use askama::Template;
use axum::Extension;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use ferros_domain::Right;
use serde::Deserialize;

use super::{Nav, render, shown, when};
use crate::AppState;
use crate::access::Viewer;
use crate::problem::Problem;

/// Images listed on a page at most.
const MAX_ROWS: i64 = 500;

#[derive(Debug, Default, Deserialize)]
pub struct Which {
    request: Option<i64>,
    path: Option<String>,
}

pub struct ImageRow {
    path: String,
    kind: String,
    detector: String,
    filter: String,
    exposure: String,
    date: String,
    level: String,
}

#[derive(Template)]
#[template(path = "images.html")]
struct ImagesPage {
    nav: Nav,
    /// The request shown (id, name), if one.
    request: Option<(i64, String)>,
    /// The requests one may choose from.
    requests: Vec<(i64, String, String)>,
    rows: Vec<ImageRow>,
}

fn row(i: ferros_domain::Image) -> ImageRow {
    ImageRow {
        kind: format!("{:?}", i.kind).to_lowercase(),
        detector: i.detector.to_string(),
        filter: shown(&i.filter),
        exposure: format!("{} s", i.exposure_s),
        date: when(i.date_obs),
        level: format!("{:?}", i.calibration),
        path: i.path,
    }
}

pub async fn page(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Query(q): Query<Which>,
) -> Response {
    let Some(user) = viewer.user() else { return super::error_page(&Problem::unauthorized(), viewer) };
    let found = async {
        let db = state.db();
        let requests = crate::requests::listed(&state, user)
            .await?
            .into_iter()
            .map(|r| (r.id.0, shown(&r.name), ferros_domain::summarize_statuses(&r.sequence_statuses)))
            .collect();
        let (request, images) = match q.request {
            Some(id) => {
                let r = crate::requests::visible(&state, user, id).await?;
                (Some((id, shown(&r.name))), db.request_images(r.id, MAX_ROWS).await?)
            }
            None if user.has(Right::ViewAllImages) => (None, db.images(None, MAX_ROWS / 5).await?),
            None => (None, Vec::new()),
        };
        Ok::<_, Problem>((request, requests, images))
    };
    match found.await {
        Ok((request, requests, images)) => render(
            StatusCode::OK,
            &ImagesPage {
                nav: Nav::new(&state, &viewer, "/images"),
                request,
                requests,
                rows: images.into_iter().map(row).collect(),
            },
        ),
        Err(p) => super::error_page(&p, viewer),
    }
}

async fn bytes_of(
    state: &AppState,
    viewer: &Viewer,
    path: Option<&str>,
) -> Result<(String, Vec<u8>), Problem> {
    let user = viewer.user().ok_or_else(Problem::unauthorized)?;
    let path = path.ok_or_else(|| Problem::bad_request("give the image's path: ?path=..."))?;
    let image = crate::images::visible(state, user, path).await?;
    let file = crate::images::file(state, &image)?;
    let name = file.file_name().map_or_else(|| "image.fits".into(), |n| n.to_string_lossy().into_owned());
    Ok((name, crate::images::read(file).await?))
}

/// All the images of a request as one tar archive.
pub async fn archive(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    axum::extract::Path(id): axum::extract::Path<i64>,
) -> Response {
    let Some(user) = viewer.user() else { return super::error_page(&Problem::unauthorized(), viewer) };
    match crate::images::archive(&state, user, id).await {
        Ok(r) => r,
        Err(p) => super::error_page(&p, viewer),
    }
}

/// The FITS file, as archived.
pub async fn fits(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Query(q): Query<Which>,
) -> Response {
    match bytes_of(&state, &viewer, q.path.as_deref()).await {
        Ok((name, bytes)) => {
            let name: String = name.chars().filter(|c| c.is_ascii_graphic() && *c != '"').collect();
            (
                [
                    (header::CONTENT_TYPE, "application/fits".to_owned()),
                    (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
                ],
                bytes,
            )
                .into_response()
        }
        Err(p) => super::error_page(&p, viewer),
    }
}

/// A PNG preview of the image.
pub async fn preview(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Query(q): Query<Which>,
) -> Response {
    let made = async {
        let (_, bytes) = bytes_of(&state, &viewer, q.path.as_deref()).await?;
        tokio::task::spawn_blocking(move || {
            let img = ferros_fits::read(&bytes).map_err(|e| format!("not a readable FITS image: {e}"))?;
            crate::preview::png(&img)
        })
        .await
        .map_err(|e| Problem::internal("the preview", e))?
        .map_err(|e| Problem::new(StatusCode::UNPROCESSABLE_ENTITY, e))
    };
    match made.await {
        Ok(png) => {
            ([(header::CONTENT_TYPE, "image/png"), (header::CACHE_CONTROL, "private, max-age=3600")], png)
                .into_response()
        }
        Err(p) => super::error_page(&p, viewer),
    }
}
