//! FITS (the astronomers' image format): 2880-byte blocks, a header of
//! 80-character cards, then big-endian pixels. This reads the primary image
//! of a file, as INDI cameras send it, into 16-bit pixels, and writes 16-bit
//! images with a header of typed cards ([`Header`], [`write`]).

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

/// What is wrong with a FITS file read or written: the card or the size.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FitsError {
    #[error("card {0} is not ASCII")]
    NotAscii(usize),
    #[error("no END card: not a FITS file, or a truncated header")]
    NoEnd,
    #[error("the first card is not SIMPLE = T")]
    NotSimple,
    #[error("no {0} card")]
    Missing(String),
    #[error("{key} = {value} is not {expected}")]
    BadValue { key: String, value: String, expected: &'static str },
    #[error("NAXIS = {0}: only two-dimensional images are read")]
    NotTwoDimensional(i64),
    #[error("NAXIS1 x NAXIS2 = {0} x {1}")]
    BadSize(i64, i64),
    #[error("BITPIX = {0} is not a FITS pixel type")]
    BadBitpix(i64),
    #[error("{have} bytes of pixels for {width}x{height} of {size} byte(s)")]
    Truncated { have: usize, width: u32, height: u32, size: usize },
    #[error("keyword \"{0}\": 1 to 8 of A-Z, 0-9, - and _")]
    BadKeyword(String),
    #[error("{key}: {value} is not a FITS number")]
    NotFinite { key: String, value: f64 },
    #[error("{0}: text must be printable ASCII")]
    NotPrintable(String),
    #[error("{key}: value too long for one card ({len} characters)")]
    TooLong { key: String, len: usize },
    #[error("{pixels} pixels for a {width}x{height} image")]
    PixelCount { pixels: usize, width: u32, height: u32 },
    #[error("{0} is written by Ferros itself")]
    Structural(String),
}

/// Reads the primary image; errors name the card or the size that is wrong.
pub fn read(bytes: &[u8]) -> Result<Image, FitsError> {
    let mut header = Vec::new();
    let mut end = None;
    for (i, card) in bytes.chunks(CARD).enumerate() {
        if card.len() < CARD {
            break;
        }
        if !card.is_ascii() {
            return Err(FitsError::NotAscii(i + 1));
        }
        let text = std::str::from_utf8(card).map_err(|_| FitsError::NotAscii(i + 1))?;
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
        return Err(FitsError::NoEnd);
    };
    if header.first().map(|(k, v)| (k.as_str(), v.as_str())) != Some(("SIMPLE", "T")) {
        return Err(FitsError::NotSimple);
    }
    let bad =
        |k: &str, v: &str, expected| FitsError::BadValue { key: k.to_owned(), value: v.to_owned(), expected };
    let int = |k: &str| -> Result<i64, FitsError> {
        let v = header
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v)
            .ok_or_else(|| FitsError::Missing(k.to_owned()))?;
        v.parse().map_err(|_| bad(k, v, "an integer"))
    };
    let float = |k: &str, default: f64| -> Result<f64, FitsError> {
        match header.iter().find(|(key, _)| key == k) {
            None => Ok(default),
            Some((_, v)) => v.parse().map_err(|_| bad(k, v, "a number")),
        }
    };
    let bitpix = int("BITPIX")?;
    let naxis = int("NAXIS")?;
    if naxis != 2 {
        return Err(FitsError::NotTwoDimensional(naxis));
    }
    let (w, h) = (int("NAXIS1")?, int("NAXIS2")?);
    let (Ok(width), Ok(height)) = (u32::try_from(w), u32::try_from(h)) else {
        return Err(FitsError::BadSize(w, h));
    };
    let (bzero, bscale) = (float("BZERO", 0.0)?, float("BSCALE", 1.0)?);
    let size = match bitpix {
        8 => 1,
        16 => 2,
        32 | -32 => 4,
        -64 => 8,
        other => return Err(FitsError::BadBitpix(other)),
    };
    // The header is the cards up to END included, padded to whole blocks.
    let start = ((end + 1) * CARD).div_ceil(BLOCK) * BLOCK;
    let n = (width as usize).saturating_mul(height as usize);
    let end = n.saturating_mul(size).saturating_add(start);
    let data = bytes.get(start..end).ok_or_else(|| FitsError::Truncated {
        have: bytes.len().saturating_sub(start),
        width,
        height,
        size,
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

/// A 16-bit FITS file with no other card than the structural ones.
pub fn write_u16(width: u32, height: u32, pixels: &[u16]) -> Vec<u8> {
    write(width, height, pixels, &Header::default()).unwrap_or_default()
}

/// A card's value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Text(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Text(s.to_owned())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Text(s)
    }
}
impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}
impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Float(v)
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}

/// The cards of a header after the structural ones (SIMPLE, BITPIX, NAXIS...,
/// BZERO, BSCALE), in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Header {
    cards: Vec<(String, Value, String)>,
}

impl Header {
    /// Adds (or replaces) a card.
    pub fn set(&mut self, key: &str, value: impl Into<Value>, comment: &str) -> &mut Self {
        let key = key.to_ascii_uppercase();
        let value = value.into();
        match self.cards.iter_mut().find(|c| c.0 == key) {
            Some(c) => {
                c.1 = value;
                c.2 = comment.to_owned();
            }
            None => self.cards.push((key, value, comment.to_owned())),
        }
        self
    }

    pub fn cards(&self) -> &[(String, Value, String)] {
        &self.cards
    }

    /// Keyword and value as text, as [`read`] gives them back.
    pub fn as_text(&self) -> Vec<(String, String)> {
        self.cards
            .iter()
            .map(|(k, v, _)| {
                let text = match v {
                    Value::Text(s) => s.clone(),
                    other => value_text(other).trim().to_owned(),
                };
                (k.clone(), text)
            })
            .collect()
    }
}

const STRUCTURAL: [&str; 8] = ["SIMPLE", "BITPIX", "NAXIS", "NAXIS1", "NAXIS2", "BZERO", "BSCALE", "END"];

/// The longest text a card holds, counted as written (a quote is written twice).
pub const MAX_TEXT: usize = ferros_limits::MAX_FITS_TEXT;

/// `text` as a card can hold it: printable ASCII (anything else becomes
/// `?`), cut to [`MAX_TEXT`]. The second value says whether it changed.
pub fn card_text(text: &str) -> (String, bool) {
    let mut out = String::new();
    let mut written = 0;
    for c in text.chars() {
        let c = if c.is_ascii() && !c.is_ascii_control() { c } else { '?' };
        let cost = if c == '\'' { 2 } else { 1 };
        if written + cost > MAX_TEXT {
            break;
        }
        written += cost;
        out.push(c);
    }
    let changed = out != text;
    (out, changed)
}

fn value_text(v: &Value) -> String {
    match v {
        Value::Text(s) => {
            let quoted = s.replace('\'', "''");
            format!("'{quoted:<8}'")
        }
        Value::Int(i) => format!("{i:>20}"),
        Value::Float(f) => {
            let t = if f.fract() == 0.0 && f.abs() < 1e15 { format!("{f:.1}") } else { format!("{f:.10E}") };
            format!("{t:>20}")
        }
        Value::Bool(b) => format!("{:>20}", if *b { "T" } else { "F" }),
    }
}

/// One 80-character card, or why it cannot be written.
fn card(key: &str, value: &Value, comment: &str) -> Result<String, FitsError> {
    if key.is_empty()
        || key.len() > 8
        || !key.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
    {
        return Err(FitsError::BadKeyword(key.to_owned()));
    }
    if let Value::Float(f) = value
        && !f.is_finite()
    {
        return Err(FitsError::NotFinite { key: key.to_owned(), value: *f });
    }
    let text = value_text(value);
    if let Value::Text(s) = value
        && (!s.is_ascii() || s.chars().any(|c| c.is_ascii_control()))
    {
        return Err(FitsError::NotPrintable(key.to_owned()));
    }
    let mut c = format!("{key:<8}= {text}");
    if c.len() > 80 {
        return Err(FitsError::TooLong { key: key.to_owned(), len: text.len() });
    }
    if !comment.is_empty() && c.len() + 3 < 80 {
        c.push_str(" / ");
        let room = 80 - c.len();
        c.extend(comment.chars().filter(|ch| ch.is_ascii() && !ch.is_ascii_control()).take(room));
    }
    Ok(format!("{c:<80}"))
}

/// A FITS file of 16-bit pixels (row-major, first row first) with `header`;
/// an error names the card that cannot be written.
pub fn write(width: u32, height: u32, pixels: &[u16], header: &Header) -> Result<Vec<u8>, FitsError> {
    if pixels.len() != width as usize * height as usize {
        return Err(FitsError::PixelCount { pixels: pixels.len(), width, height });
    }
    let mut cards = vec![
        card("SIMPLE", &Value::Bool(true), "conforms to FITS")?,
        card("BITPIX", &Value::Int(16), "16-bit integers")?,
        card("NAXIS", &Value::Int(2), "")?,
        card("NAXIS1", &Value::Int(i64::from(width)), "columns")?,
        card("NAXIS2", &Value::Int(i64::from(height)), "rows")?,
        card("BZERO", &Value::Int(32768), "unsigned 16-bit pixels")?,
        card("BSCALE", &Value::Int(1), "")?,
    ];
    for (k, v, c) in &header.cards {
        if STRUCTURAL.contains(&k.as_str()) {
            return Err(FitsError::Structural(k.clone()));
        }
        cards.push(card(k, v, c)?);
    }
    cards.push(format!("{:<80}", "END"));
    let mut out: Vec<u8> = cards.concat().into_bytes();
    out.resize(out.len().div_ceil(BLOCK) * BLOCK, b' ');
    out.reserve(pixels.len() * 2 + BLOCK);
    for &p in pixels {
        let v = (i32::from(p) - 32768) as i16;
        out.extend_from_slice(&v.to_be_bytes());
    }
    out.resize(out.len().div_ceil(BLOCK) * BLOCK, 0);
    Ok(out)
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

    /// Whatever the header's length, the pixels start at the block after
    /// END: with 36 cards before it, END opens a block of its own.
    #[test]
    fn the_pixels_start_after_the_block_of_end() {
        let pixels: Vec<u16> = (0..12).map(|i| 1000 + i).collect();
        for extra in 27..=31 {
            let mut h = Header::default();
            for i in 0..extra {
                h.set(&format!("KEY{i}"), i64::from(i), "");
            }
            let f = write(4, 3, &pixels, &h).unwrap();
            let img = read(&f).unwrap();
            assert_eq!(img.pixels, pixels, "7 structural and {extra} more cards before END");
        }
    }

    #[test]
    fn headers_are_written_and_read_back() {
        let mut h = Header::default();
        h.set("DATE-OBS", "2026-11-23T06:00:00.000", "start of the exposure (UTC)")
            .set("EXPTIME", 30.0, "seconds")
            .set("OBJECT", "GRB 261123A's field", "")
            .set("AIRMASS", 1.2345678901, "")
            .set("SEQ_ID", 42_i64, "Ferros sequence")
            .set("FLAT", false, "");
        let f = write(3, 2, &[0, 1, 2, 65533, 65534, 65535], &h).unwrap();
        let img = read(&f).unwrap();
        assert_eq!(img.pixels, [0, 1, 2, 65533, 65534, 65535]);
        assert_eq!(img.keyword("DATE-OBS"), Some("2026-11-23T06:00:00.000"));
        assert_eq!(img.keyword("OBJECT"), Some("GRB 261123A's field"));
        assert_eq!(img.keyword("EXPTIME"), Some("30.0"));
        assert_eq!(img.keyword("SEQ_ID"), Some("42"));
        assert_eq!(img.keyword("FLAT"), Some("F"));
        assert!((img.keyword("AIRMASS").unwrap().parse::<f64>().unwrap() - 1.2345678901).abs() < 1e-9);
        let text = std::str::from_utf8(&f[..2880]).unwrap();
        assert!(text.contains("EXPTIME =                 30.0 / seconds"), "{text}");
        assert_eq!(h.as_text()[2], ("OBJECT".to_owned(), "GRB 261123A's field".to_owned()));
    }

    #[test]
    fn unwritable_cards_are_named() {
        let bad = |k: &str, v: Value| {
            let mut h = Header::default();
            h.set(k, v, "");
            write(1, 1, &[0], &h).unwrap_err().to_string()
        };
        assert!(bad("TOOLONGKEY", Value::Int(1)).contains("TOOLONGKEY"));
        assert!(bad("EXPTIME", Value::Float(f64::NAN)).contains("EXPTIME: NaN is not a FITS number"));
        assert!(bad("OBJECT", Value::Text("x".repeat(80))).contains("OBJECT: value too long"));
        assert!(bad("OBJECT", Value::Text("é".into())).contains("printable ASCII"));
        assert!(bad("NAXIS1", Value::Int(3)).contains("written by Ferros itself"));
        assert_eq!(
            write(1, 1, &[0], Header::default().set("é", 1, "")).unwrap_err(),
            FitsError::BadKeyword("é".into())
        );
        assert!(
            write(2, 2, &[0], &Header::default())
                .unwrap_err()
                .to_string()
                .contains("1 pixels for a 2x2 image")
        );
    }

    #[test]
    fn hostile_headers_do_not_panic() {
        let mut f = write_u16(4, 3, &[0; 12]);
        f[3 * 80 + 10..3 * 80 + 30].copy_from_slice(b"          4294967295");
        f[4 * 80 + 10..4 * 80 + 30].copy_from_slice(b"          4294967295");
        assert!(read(&f).unwrap_err().to_string().contains("bytes of pixels for 4294967295x4294967295"));
        let mut g = write_u16(1, 1, &[0]);
        g[5..9].copy_from_slice("é\u{e9}".as_bytes());
        assert!(read(&g).unwrap_err().to_string().contains("card 1 is not ASCII"));
    }

    #[test]
    fn errors_name_what_is_wrong() {
        assert!(read(b"hello").unwrap_err().to_string().contains("no END card"));
        let f = write_u16(4, 3, &[0; 12]);
        assert!(read(&f[..2880 + 10]).unwrap_err().to_string().contains("10 bytes of pixels for 4x3"));
        let mut bad = f.clone();
        bad[80 + 10..80 + 30].copy_from_slice(b"                  12");
        assert!(read(&bad).unwrap_err().to_string().contains("BITPIX = 12"));
        assert_eq!(value_of(" 'It''s ok'  / comment"), "It's ok");
    }
}

/// Whatever the bytes, the reader answers (an image or an error), never panics.
#[cfg(test)]
mod fuzz {
    #![allow(clippy::unwrap_used, reason = "a test fails by panicking")]
    use proptest::prelude::*;

    use super::*;

    fn valid() -> Vec<u8> {
        let mut h = Header::default();
        h.set("OBJECT", "M 31", "").set("EXPTIME", 30.0, "");
        write(5, 4, &[7; 20], &h).unwrap()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]
        #[test]
        fn any_bytes_read_without_panic(bytes in proptest::collection::vec(any::<u8>(), 0..6000)) {
            let _ = read(&bytes);
        }

        #[test]
        fn a_damaged_file_reads_without_panic(
            edits in proptest::collection::vec((0usize..5760, any::<u8>()), 1..12),
            cut in 0usize..5760,
        ) {
            let mut f = valid();
            for (at, b) in edits {
                if let Some(x) = f.get_mut(at) {
                    *x = b;
                }
            }
            f.truncate(cut.max(1));
            let _ = read(&f);
        }
    }
}
