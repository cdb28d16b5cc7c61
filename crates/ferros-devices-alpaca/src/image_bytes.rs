//! The Alpaca ImageBytes format: a 44-byte little-endian header (metadata
//! version, error number, transaction ids, data start, element types, rank,
//! dimensions) then the pixels, first index (x) slowest. Also the JSON form
//! (`"Value": [[...]]`, indexed `[x][y]`) that servers without ImageBytes send.

use serde_json::Value;

/// A monochrome image, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    pub width: u32,
    pub height: u32,
    pub pixels: Vec<u16>,
}

const HEADER: usize = 44;

/// What is wrong with an image a server sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageError {
    #[error("ImageBytes: {0} bytes, shorter than the 44-byte header")]
    Short(usize),
    #[error("ImageBytes: metadata version {0} (expected 1)")]
    Version(i32),
    #[error("ImageBytes: negative data start")]
    NegativeStart,
    /// The server's own error, with its text.
    #[error("Alpaca error 0x{number:X}: {text}")]
    Server { number: i32, text: String },
    #[error("ImageBytes: rank {0} (only monochrome, rank 2, images are read)")]
    Rank(i32),
    #[error("ImageBytes: dimensions {0}x{1}")]
    Dimensions(i64, i64),
    #[error("ImageBytes: transmission element type {0} not read (1, 2, 6, 8 are)")]
    ElementType(i32),
    #[error("ImageBytes: dimensions {0}x{1} too large")]
    TooLarge(u32, u32),
    #[error("ImageBytes: data start {start} beyond the {len} bytes")]
    StartBeyond { start: usize, len: usize },
    #[error(
        "ImageBytes: {have} bytes of pixels for {width}x{height} of {size} byte(s) (expected {expected})"
    )]
    PixelBytes { have: usize, width: u32, height: u32, size: usize, expected: usize },
    /// The JSON form: where (`Value[3]`, `Value[3][7]`) and what.
    #[error("imagearray: {at} {what}")]
    Json { at: String, what: String },
}

fn int(b: &[u8], at: usize) -> i32 {
    i32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Reads an ImageBytes body; errors say which header field is wrong.
pub fn parse(b: &[u8]) -> Result<Image, ImageError> {
    if b.len() < HEADER {
        return Err(ImageError::Short(b.len()));
    }
    let version = int(b, 0);
    if version != 1 {
        return Err(ImageError::Version(version));
    }
    let error = int(b, 4);
    let start = usize::try_from(int(b, 16)).map_err(|_| ImageError::NegativeStart)?;
    if error != 0 {
        let text = b.get(start.min(b.len())..).map(String::from_utf8_lossy).unwrap_or_default();
        return Err(ImageError::Server { number: error, text: text.into_owned() });
    }
    let transmission = int(b, 24);
    let rank = int(b, 28);
    if rank != 2 {
        return Err(ImageError::Rank(rank));
    }
    let (w, h) = (int(b, 32), int(b, 36));
    let (Ok(width), Ok(height)) = (u32::try_from(w), u32::try_from(h)) else {
        return Err(ImageError::Dimensions(i64::from(w), i64::from(h)));
    };
    let size: usize = match transmission {
        1 | 8 => 2,
        2 => 4,
        6 => 1,
        other => {
            return Err(ImageError::ElementType(other));
        }
    };
    let n = (width as usize).checked_mul(height as usize);
    let Some(expected) = n.and_then(|n| n.checked_mul(size)) else {
        return Err(ImageError::TooLarge(width, height));
    };
    let data = b.get(start..).ok_or(ImageError::StartBeyond { start, len: b.len() })?;
    if data.len() != expected {
        return Err(ImageError::PixelBytes { have: data.len(), width, height, size, expected });
    }
    let value = |i: usize| -> u16 {
        let p = &data[i * size..(i + 1) * size];
        match transmission {
            1 => i16::from_le_bytes([p[0], p[1]]).max(0) as u16,
            8 => u16::from_le_bytes([p[0], p[1]]),
            2 => i32::from_le_bytes([p[0], p[1], p[2], p[3]]).clamp(0, i32::from(u16::MAX)) as u16,
            _ => u16::from(p[0]),
        }
    };
    Ok(Image { width, height, pixels: transpose(width, height, value) })
}

/// Row-major pixels from x-major elements.
fn transpose(width: u32, height: u32, value: impl Fn(usize) -> u16) -> Vec<u16> {
    let (w, h) = (width as usize, height as usize);
    let mut pixels = vec![0u16; w * h];
    for x in 0..w {
        for y in 0..h {
            pixels[y * w + x] = value(x * h + y);
        }
    }
    pixels
}

/// Reads the JSON form of an image (`Value` indexed `[x][y]`).
pub fn from_json(value: &Value) -> Result<Image, ImageError> {
    let bad = |at: String, what: &str| ImageError::Json { at, what: what.to_owned() };
    let columns = value.as_array().ok_or_else(|| bad("Value".into(), "is not a list"))?;
    let width = columns.len();
    let height = columns.first().and_then(Value::as_array).map_or(0, Vec::len);
    let mut flat = Vec::with_capacity(width * height);
    for (x, col) in columns.iter().enumerate() {
        let col = col.as_array().ok_or_else(|| bad(format!("Value[{x}]"), "is not a list"))?;
        if col.len() != height {
            let what = format!("has {} pixels, Value[0] {height}", col.len());
            return Err(bad(format!("Value[{x}]"), &what));
        }
        for (y, p) in col.iter().enumerate() {
            let v = p.as_f64().ok_or_else(|| bad(format!("Value[{x}][{y}]"), "is not a number"))?;
            flat.push(v.clamp(0.0, f64::from(u16::MAX)) as u16);
        }
    }
    let too_large = || ImageError::Dimensions(width as i64, height as i64);
    let (w, h) =
        (u32::try_from(width).map_err(|_| too_large())?, u32::try_from(height).map_err(|_| too_large())?);
    Ok(Image { width: w, height: h, pixels: transpose(w, h, |i| flat[i]) })
}

/// An ImageBytes body for these pixels (unsigned 16-bit), for tests and fakes.
pub fn encode(image: &Image) -> Vec<u8> {
    let mut b = Vec::with_capacity(HEADER + image.pixels.len() * 2);
    for v in [1, 0, 0, 0, HEADER as i32, 2, 8, 2, image.width as i32, image.height as i32, 0] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    let (w, h) = (image.width as usize, image.height as usize);
    for x in 0..w {
        for y in 0..h {
            b.extend_from_slice(&image.pixels[y * w + x].to_le_bytes());
        }
    }
    b
}
