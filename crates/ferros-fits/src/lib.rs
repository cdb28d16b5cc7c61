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
    #[error("{0}")]
    Io(String),
}

/// A primary image of real pixels (what the pipeline works on): blank
/// (NaN) pixels stay NaN, integer pixels are scaled by BZERO and BSCALE.
#[derive(Debug, Clone, PartialEq)]
pub struct RealImage {
    pub width: u32,
    pub height: u32,
    pub pixels: Vec<f32>,
    /// BITPIX as read.
    pub bitpix: i64,
    pub header: Vec<(String, String)>,
}

impl RealImage {
    pub fn keyword(&self, k: &str) -> Option<&str> {
        self.header.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str())
    }
}

/// A header read: its cards (keyword, value) and the byte where its data start.
fn read_cards(bytes: &[u8]) -> Result<(Vec<(String, String)>, usize), FitsError> {
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
    // The header is the cards up to END included, padded to whole blocks.
    Ok((header, ((end + 1) * CARD).div_ceil(BLOCK) * BLOCK))
}

fn bad(k: &str, v: &str, expected: &'static str) -> FitsError {
    FitsError::BadValue { key: k.to_owned(), value: v.to_owned(), expected }
}

fn int_card(header: &[(String, String)], k: &str) -> Result<i64, FitsError> {
    let v = header
        .iter()
        .find(|(key, _)| key == k)
        .map(|(_, v)| v)
        .ok_or_else(|| FitsError::Missing(k.to_owned()))?;
    v.parse().map_err(|_| bad(k, v, "an integer"))
}

fn float_card(header: &[(String, String)], k: &str, default: f64) -> Result<f64, FitsError> {
    match header.iter().find(|(key, _)| key == k) {
        None => Ok(default),
        Some((_, v)) => v.parse().map_err(|_| bad(k, v, "a number")),
    }
}

/// The primary image's pixels as numbers (BZERO and BSCALE applied, NaN kept).
fn primary(bytes: &[u8]) -> Result<RealImage, FitsError> {
    let (header, start) = read_cards(bytes)?;
    if header.first().map(|(k, v)| (k.as_str(), v.as_str())) != Some(("SIMPLE", "T")) {
        return Err(FitsError::NotSimple);
    }
    let bitpix = int_card(&header, "BITPIX")?;
    let naxis = int_card(&header, "NAXIS")?;
    if naxis != 2 {
        return Err(FitsError::NotTwoDimensional(naxis));
    }
    let (w, h) = (int_card(&header, "NAXIS1")?, int_card(&header, "NAXIS2")?);
    let (Ok(width), Ok(height)) = (u32::try_from(w), u32::try_from(h)) else {
        return Err(FitsError::BadSize(w, h));
    };
    let (bzero, bscale) = (float_card(&header, "BZERO", 0.0)?, float_card(&header, "BSCALE", 1.0)?);
    let size = match bitpix {
        8 => 1,
        16 => 2,
        32 | -32 => 4,
        -64 => 8,
        other => return Err(FitsError::BadBitpix(other)),
    };
    let n = (width as usize).saturating_mul(height as usize);
    let end = n.saturating_mul(size).saturating_add(start);
    let data = bytes.get(start..end).ok_or_else(|| FitsError::Truncated {
        have: bytes.len().saturating_sub(start),
        width,
        height,
        size,
    })?;
    let pixels = data
        .chunks_exact(size)
        .map(|p| {
            let raw = match bitpix {
                8 => f64::from(p[0]),
                16 => f64::from(i16::from_be_bytes([p[0], p[1]])),
                32 => f64::from(i32::from_be_bytes([p[0], p[1], p[2], p[3]])),
                -32 => f64::from(f32::from_be_bytes([p[0], p[1], p[2], p[3]])),
                _ => f64::from_be_bytes([p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7]]),
            };
            (bzero + bscale * raw) as f32
        })
        .collect();
    Ok(RealImage { width, height, pixels, bitpix, header })
}

/// Reads the primary image; errors name the card or the size that is wrong.
pub fn read(bytes: &[u8]) -> Result<Image, FitsError> {
    let real = primary(bytes)?;
    let pixels = real
        .pixels
        .into_iter()
        .map(|v| if v.is_nan() { 0 } else { v.round().clamp(0.0, f32::from(u16::MAX)) as u16 })
        .collect();
    Ok(Image { width: real.width, height: real.height, pixels, header: real.header })
}

/// Reads the primary image as real numbers, of any BITPIX.
pub fn read_real(bytes: &[u8]) -> Result<RealImage, FitsError> {
    primary(bytes)
}

/// One header and data unit of a file: its cards, and where its data are
/// (byte offset from the start of the file, length without padding).
#[derive(Debug, Clone, PartialEq)]
pub struct Hdu {
    pub header: Vec<(String, String)>,
    pub data_at: u64,
    pub data_len: u64,
}

impl Hdu {
    pub fn keyword(&self, k: &str) -> Option<&str> {
        self.header.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str())
    }
}

/// The headers of every HDU of a file, read from `r` without its data (a
/// catalogue of millions of rows is read where it is needed). At most
/// `max_hdus`; a header of more than [`MAX_HEADER_BLOCKS`] blocks is refused.
pub fn hdus<R: std::io::Read + std::io::Seek>(r: &mut R, max_hdus: usize) -> Result<Vec<Hdu>, FitsError> {
    let io = |e: std::io::Error| FitsError::Io(e.to_string());
    let total = r.seek(std::io::SeekFrom::End(0)).map_err(io)?;
    let mut at = 0u64;
    let mut out = Vec::new();
    while at < total && out.len() < max_hdus {
        r.seek(std::io::SeekFrom::Start(at)).map_err(io)?;
        let mut head = Vec::new();
        let (header, len) = loop {
            if head.len() >= MAX_HEADER_BLOCKS * BLOCK {
                return Err(FitsError::NoEnd);
            }
            let mut block = vec![0u8; BLOCK];
            r.read_exact(&mut block).map_err(|_| FitsError::NoEnd)?;
            head.extend_from_slice(&block);
            match read_cards(&head) {
                Ok(found) => break found,
                Err(FitsError::NoEnd) => {}
                Err(e) => return Err(e),
            }
        };
        let naxis = int_card(&header, "NAXIS")?;
        let bitpix = int_card(&header, "BITPIX")?;
        let mut size = if naxis == 0 { 0u64 } else { 1u64 };
        for i in 1..=naxis.clamp(0, 999) {
            let n = int_card(&header, &format!("NAXIS{i}"))?;
            let n = u64::try_from(n).map_err(|_| bad(&format!("NAXIS{i}"), &n.to_string(), "a size"))?;
            size = size.saturating_mul(n);
        }
        let pcount = u64::try_from(float_card(&header, "PCOUNT", 0.0)? as i64).unwrap_or(0);
        let data_len = size.saturating_add(pcount).saturating_mul(bitpix.unsigned_abs() / 8);
        let data_at = at + len as u64;
        if data_at.saturating_add(data_len) > total {
            return Err(FitsError::Truncated {
                have: (total - data_at.min(total)) as usize,
                width: 0,
                height: 0,
                size: 0,
            });
        }
        at = data_at.saturating_add(data_len.div_ceil(BLOCK as u64) * BLOCK as u64);
        out.push(Hdu { header, data_at, data_len });
    }
    Ok(out)
}

/// The most 2880-byte blocks a header may take (a thousand cards or so).
pub const MAX_HEADER_BLOCKS: usize = 30;

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
    let structural = [
        card("SIMPLE", &Value::Bool(true), "conforms to FITS")?,
        card("BITPIX", &Value::Int(16), "16-bit integers")?,
        card("NAXIS", &Value::Int(2), "")?,
        card("NAXIS1", &Value::Int(i64::from(width)), "columns")?,
        card("NAXIS2", &Value::Int(i64::from(height)), "rows")?,
        card("BZERO", &Value::Int(32768), "unsigned 16-bit pixels")?,
        card("BSCALE", &Value::Int(1), "")?,
    ];
    let mut out = header_bytes(&structural, header)?;
    out.reserve(pixels.len() * 2 + BLOCK);
    for &p in pixels {
        let v = (i32::from(p) - 32768) as i16;
        out.extend_from_slice(&v.to_be_bytes());
    }
    out.resize(out.len().div_ceil(BLOCK) * BLOCK, 0);
    Ok(out)
}

/// A FITS file of 32-bit real pixels (BITPIX = -32; NaN for a blank pixel)
/// with `header`: the calibrated images and master frames.
pub fn write_real(width: u32, height: u32, pixels: &[f32], header: &Header) -> Result<Vec<u8>, FitsError> {
    if pixels.len() != width as usize * height as usize {
        return Err(FitsError::PixelCount { pixels: pixels.len(), width, height });
    }
    let structural = [
        card("SIMPLE", &Value::Bool(true), "conforms to FITS")?,
        card("BITPIX", &Value::Int(-32), "32-bit reals")?,
        card("NAXIS", &Value::Int(2), "")?,
        card("NAXIS1", &Value::Int(i64::from(width)), "columns")?,
        card("NAXIS2", &Value::Int(i64::from(height)), "rows")?,
    ];
    let mut out = header_bytes(&structural, header)?;
    out.reserve(pixels.len() * 4 + BLOCK);
    for &p in pixels {
        out.extend_from_slice(&p.to_be_bytes());
    }
    out.resize(out.len().div_ceil(BLOCK) * BLOCK, 0);
    Ok(out)
}

/// The header's blocks: the structural cards, then `header`'s, then END.
fn header_bytes(structural: &[String], header: &Header) -> Result<Vec<u8>, FitsError> {
    let mut cards = structural.to_vec();
    for (k, v, c) in &header.cards {
        if STRUCTURAL.contains(&k.as_str()) {
            return Err(FitsError::Structural(k.clone()));
        }
        cards.push(card(k, v, c)?);
    }
    cards.push(format!("{:<80}", "END"));
    let mut out: Vec<u8> = cards.concat().into_bytes();
    out.resize(out.len().div_ceil(BLOCK) * BLOCK, b' ');
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
    fn real_images_round_trip_with_their_blanks() {
        let pixels = [0.5f32, -3.25, f32::NAN, 1e6, 7.0, -0.0];
        let mut h = Header::default();
        h.set("CALIB", "L1", "");
        let f = write_real(3, 2, &pixels, &h).unwrap();
        let img = read_real(&f).unwrap();
        assert_eq!((img.width, img.height, img.bitpix), (3, 2, -32));
        assert!(img.pixels[2].is_nan());
        assert_eq!(img.pixels[..2], pixels[..2]);
        assert_eq!(img.pixels[3..], pixels[3..]);
        assert_eq!(img.keyword("CALIB"), Some("L1"));
        // A 16-bit image reads as reals too, scaled.
        assert_eq!(read_real(&write_u16(2, 1, &[0, 65535])).unwrap().pixels, [0.0, 65535.0]);
    }

    #[test]
    fn the_units_of_a_file_are_walked_without_their_data() {
        let mut f = write_u16(4, 3, &[9; 12]);
        let first = f.len() as u64;
        // A binary table extension of 5 rows of 12 bytes.
        let mut ext = String::new();
        for (k, v) in [
            ("XTENSION", "'BINTABLE'"),
            ("BITPIX", "8"),
            ("NAXIS", "2"),
            ("NAXIS1", "12"),
            ("NAXIS2", "5"),
            ("PCOUNT", "0"),
            ("GCOUNT", "1"),
            ("TFIELDS", "1"),
            ("TTYPE1", "'stars'"),
        ] {
            ext.push_str(&format!("{k:<8}= {v:>20}{:50}", ""));
        }
        ext.push_str(&format!("{:<80}", "END"));
        let mut bytes = ext.into_bytes();
        bytes.resize(BLOCK, b' ');
        bytes.extend((0..60).map(|i| i as u8));
        bytes.resize(2 * BLOCK, 0);
        f.extend_from_slice(&bytes);
        let units = hdus(&mut std::io::Cursor::new(&f), 10).unwrap();
        assert_eq!(units.len(), 2);
        assert_eq!((units[0].data_at, units[0].data_len), (2880, 24));
        assert_eq!(units[1].keyword("TTYPE1"), Some("stars"));
        assert_eq!((units[1].data_at, units[1].data_len), (first + 2880, 60));
        // Cut short, the file says so.
        let cut = &f[..f.len() - 2880];
        assert!(hdus(&mut std::io::Cursor::new(cut), 10).is_err());
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
        fn any_bytes_walk_without_panic(bytes in proptest::collection::vec(any::<u8>(), 0..9000)) {
            let _ = hdus(&mut std::io::Cursor::new(&bytes), 8);
            let _ = read_real(&bytes);
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
