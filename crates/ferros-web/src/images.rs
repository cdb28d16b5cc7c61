//! Who reaches which image: one's own requests' and one's programs' images
//! (ViewOwnImages), every image including calibrations (ViewAllImages); an
//! image is named by its archive path, which must be a recorded image.

use std::path::{Component, Path, PathBuf};

use ferros_domain::{Image, Right, User};

use crate::AppState;
use crate::problem::Problem;

/// The largest FITS file served or previewed.
pub const MAX_FILE_BYTES: u64 = 256 << 20;

/// The recorded image at `path` if `user` may see it (404 otherwise: others'
/// images are not told apart from none).
pub async fn visible(state: &AppState, user: &User, path: &str) -> Result<Image, Problem> {
    let not_found = || Problem::not_found("this image");
    if path.len() > 1024 {
        return Err(not_found());
    }
    let image = state.db().image_by_path(path).await?.ok_or_else(not_found)?;
    if user.has(Right::ViewAllImages) {
        return Ok(image);
    }
    match image.request_id {
        Some(r) if crate::requests::visible(state, user, r.0).await.is_ok() => Ok(image),
        _ => Err(not_found()),
    }
}

/// The file of a recorded image, inside the archive (never outside it).
pub fn file(state: &AppState, image: &Image) -> Result<PathBuf, Problem> {
    let root = state
        .inner
        .settings
        .archive_root
        .as_ref()
        .ok_or_else(|| Problem::not_found("the archive (not configured for the web server)"))?;
    let rel = Path::new(&image.path);
    if !rel.components().all(|c| matches!(c, Component::Normal(_))) {
        return Err(Problem::not_found("this image"));
    }
    Ok(root.join(rel))
}

/// Reads an image's file (at most `MAX_FILE_BYTES`).
pub async fn read(path: PathBuf) -> Result<Vec<u8>, Problem> {
    let gone = |e: std::io::Error| match e.kind() {
        std::io::ErrorKind::NotFound => {
            Problem::not_found("the image's file (moved or deleted from the archive)")
        }
        _ => Problem::internal("the image's file", e),
    };
    let meta = tokio::fs::metadata(&path).await.map_err(gone)?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(Problem::too_large());
    }
    tokio::fs::read(&path).await.map_err(gone)
}

/// Images of one request in a list or an archive, at most.
pub const MAX_REQUEST_IMAGES: i64 = 20_000;
/// Bytes of one request's archive, at most (its files as they are).
pub const MAX_ARCHIVE_BYTES: u64 = 64 << 30;

/// An image as the API lists it.
#[derive(Debug, serde::Serialize)]
pub struct Listed {
    pub path: String,
    pub kind: String,
    /// raw, calibrated or analysed.
    pub level: String,
    pub detector: String,
    pub filter: String,
    pub exposure_s: f64,
    pub date_obs: chrono::DateTime<chrono::Utc>,
    /// Where to download its FITS file.
    pub file: String,
}

/// The images of a request `user` may see (raw and calibrated), oldest first.
pub async fn of_request(state: &AppState, user: &User, id: i64) -> Result<Vec<Image>, Problem> {
    let r = crate::requests::visible(state, user, id).await?;
    let mut images = state.db().request_images(r.id, MAX_REQUEST_IMAGES).await?;
    images.sort_by(|a, b| a.date_obs.cmp(&b.date_obs).then_with(|| a.path.cmp(&b.path)));
    Ok(images)
}

pub fn listed(i: &Image) -> Listed {
    Listed {
        path: i.path.clone(),
        kind: format!("{:?}", i.kind).to_lowercase(),
        level: format!("{:?}", i.calibration).to_lowercase(),
        detector: i.detector.to_string(),
        filter: i.filter.clone(),
        exposure_s: i.exposure_s,
        date_obs: i.date_obs,
        file: format!(
            "/api/v1/images/file?path={}",
            form_urlencoded::byte_serialize(i.path.as_bytes()).collect::<String>()
        ),
    }
}

/// A FITS file as a download.
pub fn fits_download(path: &Path, bytes: Vec<u8>) -> axum::response::Response {
    use axum::http::header;
    use axum::response::IntoResponse;
    let name = path.file_name().map_or_else(|| "image.fits".into(), |n| n.to_string_lossy().into_owned());
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

/// Writes into a channel: the tar archive's bytes, streamed as they are made.
struct ChannelWriter {
    tx: tokio::sync::mpsc::Sender<Result<axum::body::Bytes, std::io::Error>>,
    buf: Vec<u8>,
}

impl ChannelWriter {
    fn send(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = axum::body::Bytes::from(std::mem::take(&mut self.buf));
        self.tx.blocking_send(Ok(chunk)).map_err(|_| std::io::Error::other("the client went away"))
    }
}

impl std::io::Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= 1 << 20 {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.send()
    }
}

/// One request's images (raw and calibrated) as a tar archive, streamed:
/// `request_ID/` then each file's path in the archive. Files gone from the
/// disk are left out, and said in `MISSING.txt` at the end.
pub async fn archive(state: &AppState, user: &User, id: i64) -> Result<axum::response::Response, Problem> {
    use axum::http::header;
    use axum::response::IntoResponse;
    let images = of_request(state, user, id).await?;
    if images.is_empty() {
        return Err(Problem::not_found(format!("an image of request {id}")));
    }
    let mut files = Vec::with_capacity(images.len());
    let mut total = 0u64;
    for i in &images {
        let f = file(state, i)?;
        total = total.saturating_add(std::fs::metadata(&f).map(|m| m.len()).unwrap_or(0));
        files.push((f, format!("request_{id}/{}", i.path)));
    }
    if total > MAX_ARCHIVE_BYTES {
        return Err(Problem::new(
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "request {id}'s images make {} GiB, above the {} GiB an archive holds: download them one by one",
                total >> 30,
                MAX_ARCHIVE_BYTES >> 30
            ),
        ));
    }
    let (tx, mut rx) = tokio::sync::mpsc::channel(4);
    tokio::task::spawn_blocking(move || {
        let mut tar = tar::Builder::new(ChannelWriter { tx: tx.clone(), buf: Vec::new() });
        tar.mode(tar::HeaderMode::Deterministic);
        let mut missing = Vec::new();
        for (path, name) in &files {
            match std::fs::File::open(path) {
                Ok(mut f) => {
                    if let Err(e) = tar.append_file(name, &mut f) {
                        let _ = tx.blocking_send(Err(e));
                        return;
                    }
                }
                Err(e) => missing.push(format!("{name}: {e}\n")),
            }
        }
        if !missing.is_empty() {
            let text = missing.concat();
            let mut h = tar::Header::new_gnu();
            h.set_size(text.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            if let Err(e) = tar.append_data(&mut h, format!("request_{id}/MISSING.txt"), text.as_bytes()) {
                let _ = tx.blocking_send(Err(e));
                return;
            }
        }
        match tar.into_inner().and_then(|mut w| w.send()) {
            Ok(()) => {}
            Err(e) => {
                let _ = tx.blocking_send(Err(e));
            }
        }
    });
    let stream = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx));
    Ok((
        [
            (header::CONTENT_TYPE, "application/x-tar".to_owned()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"request_{id}_images.tar\"")),
        ],
        axum::body::Body::from_stream(stream),
    )
        .into_response())
}
