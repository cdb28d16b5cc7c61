//! An image's preview: the FITS pixels binned down to at most `MAX_SIDE`
//! pixels a side, stretched linearly between the 0.5 and 99.5 percentiles,
//! turned right side up (FITS rows go from the bottom), as an 8-bit PNG.

/// The longest side of a preview, pixels.
pub const MAX_SIDE: u32 = 800;

/// The PNG preview of an image.
pub fn png(img: &ferros_fits::Image) -> Result<Vec<u8>, String> {
    let (w, h) = (img.width as usize, img.height as usize);
    if w == 0 || h == 0 || img.pixels.len() != w * h {
        return Err(format!("{}x{} pixels for {} values", img.width, img.height, img.pixels.len()));
    }
    let k = w.max(h).div_ceil(MAX_SIDE as usize).max(1);
    let (bw, bh) = (w.div_ceil(k), h.div_ceil(k));
    let mut binned = vec![0f32; bw * bh];
    for by in 0..bh {
        for bx in 0..bw {
            let (mut sum, mut n) = (0f64, 0u32);
            for y in by * k..((by + 1) * k).min(h) {
                let row = &img.pixels[y * w..(y + 1) * w];
                for v in &row[bx * k..((bx + 1) * k).min(w)] {
                    sum += f64::from(*v);
                    n += 1;
                }
            }
            binned[by * bw + bx] = (sum / f64::from(n.max(1))) as f32;
        }
    }
    let mut sorted = binned.clone();
    sorted.sort_by(f32::total_cmp);
    let at = |q: f64| sorted[((sorted.len() - 1) as f64 * q).round() as usize];
    let (lo, hi) = (at(0.005), at(0.995));
    let span = (hi - lo).max(1.0);
    let mut gray = Vec::with_capacity(bw * bh);
    // The first FITS row is the bottom of the picture.
    for by in (0..bh).rev() {
        for v in &binned[by * bw..(by + 1) * bw] {
            gray.push((((v - lo) / span).clamp(0.0, 1.0) * 255.0).round() as u8);
        }
    }
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, bw as u32, bh as u32);
        enc.set_color(png::ColorType::Grayscale);
        enc.set_depth(png::BitDepth::Eight);
        let mut writer = enc.write_header().map_err(|e| e.to_string())?;
        writer.write_image_data(&gray).map_err(|e| e.to_string())?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a test fails by panicking")]

    use super::*;

    fn image(width: u32, height: u32, f: impl Fn(u32, u32) -> u16) -> ferros_fits::Image {
        let pixels =
            (0..height).flat_map(|y| (0..width).map(move |x| (x, y))).map(|(x, y)| f(x, y)).collect();
        ferros_fits::Image { width, height, pixels, header: vec![] }
    }

    fn decode(bytes: &[u8]) -> (u32, u32, Vec<u8>) {
        let mut r = png::Decoder::new(std::io::Cursor::new(bytes)).read_info().unwrap();
        let mut buf = vec![0; r.output_buffer_size().unwrap()];
        let info = r.next_frame(&mut buf).unwrap();
        buf.truncate(info.buffer_size());
        (info.width, info.height, buf)
    }

    #[test]
    fn a_large_frame_is_binned_flipped_and_stretched() {
        // Bright at the bottom row of the file (y = 0), dark elsewhere.
        let img = image(2000, 1000, |_, y| if y < 10 { 60_000 } else { 1_000 + (y % 7) as u16 });
        let (w, h, gray) = decode(&png(&img).unwrap());
        assert_eq!((w, h), (667, 334));
        // The bright rows are at the bottom of the picture.
        assert_eq!(gray[(h as usize - 1) * w as usize], 255);
        assert!(gray[0] < 255);
    }

    #[test]
    fn flat_and_tiny_frames_and_bad_sizes() {
        let (w, h, gray) = decode(&png(&image(1, 1, |_, _| 5)).unwrap());
        assert_eq!((w, h, gray), (1, 1, vec![0]));
        let bad = ferros_fits::Image { width: 3, height: 3, pixels: vec![0; 4], header: vec![] };
        assert_eq!(png(&bad).unwrap_err(), "3x3 pixels for 4 values");
    }
}
