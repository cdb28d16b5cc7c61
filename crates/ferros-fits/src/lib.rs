//! FITS (the astronomers' image format): 2880-byte blocks, a header of
//! 80-character cards, then big-endian pixels. This reads the primary image
//! of a file, as INDI cameras send it, into 16-bit pixels.

const BLOCK: usize = 2880;
const CARD: usize = 80;

/// A primary image, row-major from the first row of the file.
#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    pub width: u32,
    pub height: u32,
    pub pixels: Vec<u16>,
    /// Keyword, value (as written, quotes removed), in file order.
    pub header: Vec<(String, String)>,
}

impl Image {
    pub fn keyword(&self, k: &str) -> Option<&str> {
        self.header.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str())
    }
}

/// Reads the primary image; errors name the card or the size that is wrong.
pub fn read(bytes: &[u8]) -> Result<Image, String> {
    let mut header = Vec::new();
    let mut end = None;
    for (i, card) in bytes.chunks(CARD).enumerate() {
        if card.len() < CARD {
            break;
        }
        let text = std::str::from_utf8(card).map_err(|_| format!("card {} is not ASCII", i + 1))?;
        let key = text[..8].trim_end().to_owned();
        if key == "END" {
            end = Some(i);
            break;
        }
        if text.as_bytes()[8..10] == *b"= " {
            header.push((key, value_of(&text[10..])));
        }
    }
    let Some(end) = end else {
        return Err("no END card: not a FITS file, or a truncated header".into());
    };
    if header.first().map(|(k, v)| (k.as_str(), v.as_str())) != Some(("SIMPLE", "T")) {
        return Err("the first card is not SIMPLE = T".into());
    }
    let int = |k: &str| -> Result<i64, String> {
        let v = header.iter().find(|(key, _)| key == k).map(|(_, v)| v).ok_or(format!("no {k} card"))?;
        v.parse().map_err(|_| format!("{k} = {v} is not an integer"))
    };
    let float = |k: &str, default: f64| -> Result<f64, String> {
        match header.iter().find(|(key, _)| key == k) {
            None => Ok(default),
            Some((_, v)) => v.parse().map_err(|_| format!("{k} = {v} is not a number")),
        }
    };
    let bitpix = int("BITPIX")?;
    let naxis = int("NAXIS")?;
    if naxis != 2 {
        return Err(format!("NAXIS = {naxis}: only two-dimensional images are read"));
    }
    let (w, h) = (int("NAXIS1")?, int("NAXIS2")?);
    let (Ok(width), Ok(height)) = (u32::try_from(w), u32::try_from(h)) else {
        return Err(format!("NAXIS1 x NAXIS2 = {w} x {h}"));
    };
    let (bzero, bscale) = (float("BZERO", 0.0)?, float("BSCALE", 1.0)?);
    let size = match bitpix {
        8 => 1,
        16 => 2,
        32 | -32 => 4,
        -64 => 8,
        other => return Err(format!("BITPIX = {other} is not a FITS pixel type")),
    };
    let start = (end * CARD).div_ceil(BLOCK) * BLOCK;
    let n = width as usize * height as usize;
    let data = bytes.get(start..start + n * size).ok_or_else(|| {
        format!(
            "{} bytes of pixels for {width}x{height} of {size} byte(s)",
            bytes.len().saturating_sub(start)
        )
    })?;
    let raw = |i: usize| -> f64 {
        let p = &data[i * size..(i + 1) * size];
        match bitpix {
            8 => f64::from(p[0]),
            16 => f64::from(i16::from_be_bytes([p[0], p[1]])),
            32 => f64::from(i32::from_be_bytes([p[0], p[1], p[2], p[3]])),
            -32 => f64::from(f32::from_be_bytes([p[0], p[1], p[2], p[3]])),
            _ => f64::from_be_bytes([p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7]]),
        }
    };
    let pixels = (0..n)
        .map(|i| {
            let v = bzero + bscale * raw(i);
            if v.is_nan() { 0 } else { v.round().clamp(0.0, f64::from(u16::MAX)) as u16 }
        })
        .collect();
    Ok(Image { width, height, pixels, header })
}

/// The value of a card: a quoted string without its quotes, or the text before a comment.
fn value_of(field: &str) -> String {
    let t = field.trim_start();
    if let Some(rest) = t.strip_prefix('\'') {
        let mut out = String::new();
        let mut chars = rest.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '\'' {
                if chars.peek() == Some(&'\'') {
                    out.push('\'');
                    chars.next();
                } else {
                    break;
                }
            } else {
                out.push(c);
            }
        }
        return out.trim_end().to_owned();
    }
    t.split('/').next().unwrap_or_default().trim().to_owned()
}

/// A minimal 16-bit FITS file (BZERO 32768), for tests and fakes.
pub fn write_u16(width: u32, height: u32, pixels: &[u16]) -> Vec<u8> {
    let cards = [
        "SIMPLE  =                    T".to_owned(),
        "BITPIX  =                   16".to_owned(),
        "NAXIS   =                    2".to_owned(),
        format!("NAXIS1  = {width:>20}"),
        format!("NAXIS2  = {height:>20}"),
        "BZERO   =                32768".to_owned(),
        "BSCALE  =                    1".to_owned(),
        "END".to_owned(),
    ];
    let mut out: Vec<u8> = cards.iter().flat_map(|c| format!("{c:<80}").into_bytes()).collect();
    out.resize(out.len().div_ceil(BLOCK) * BLOCK, b' ');
    for &p in pixels {
        let v = (i32::from(p) - 32768) as i16;
        out.extend_from_slice(&v.to_be_bytes());
    }
    out.resize(out.len().div_ceil(BLOCK) * BLOCK, 0);
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a test fails by panicking")]
    use super::*;

    #[test]
    fn sixteen_bit_round_trip() {
        let pixels: Vec<u16> = (0..12).map(|i| i * 5000).collect();
        let f = write_u16(4, 3, &pixels);
        assert_eq!(f.len() % BLOCK, 0);
        let img = read(&f).unwrap();
        assert_eq!((img.width, img.height, &img.pixels), (4, 3, &pixels));
        assert_eq!(img.keyword("BZERO"), Some("32768"));
    }

    #[test]
    fn errors_name_what_is_wrong() {
        assert!(read(b"hello").unwrap_err().contains("no END card"));
        let f = write_u16(4, 3, &[0; 12]);
        assert!(read(&f[..2880 + 10]).unwrap_err().contains("10 bytes of pixels for 4x3"));
        let mut bad = f.clone();
        bad[80 + 10..80 + 30].copy_from_slice(b"                  12");
        assert!(read(&bad).unwrap_err().contains("BITPIX = 12"));
        assert_eq!(value_of(" 'It''s ok'  / comment"), "It's ok");
    }
}
