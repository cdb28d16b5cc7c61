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
