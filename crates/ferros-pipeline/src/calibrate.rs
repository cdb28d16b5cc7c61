//! Master calibration frames and calibrated images (level L1).
//!
//! A master is the per-pixel mean of its frames after sigma clipping (a
//! value beyond 3 sigmas of the pixel's median, sigma from the median
//! absolute deviation, is left out: a cosmic ray, a satellite). Bias frames are combined as they are; darks
//! after their bias; flats after bias and dark, each scaled to its median,
//! and the master flat normalised to a median of 1. A raw image becomes
//! `(raw - bias - dark * t / t_dark) / flat`; a pixel whose flat is below
//! 0.1 (dead, vignetted away) becomes blank (NaN).

use crate::{Image, PipelineError, stats};

fn bad(message: impl Into<String>) -> PipelineError {
    PipelineError::Calibration(message.into())
}

/// Combines frames of one size pixel by pixel: the mean of each pixel's
/// values within 3 sigmas of their median.
pub fn combine(frames: &[&[f32]]) -> Result<Vec<f32>, PipelineError> {
    let n = frames.first().map(|f| f.len()).ok_or_else(|| bad("no frame to combine"))?;
    if frames.iter().any(|f| f.len() != n) {
        return Err(bad("the frames to combine are not all of one size"));
    }
    if frames.len() > ferros_limits::MAX_MASTER_FRAMES {
        return Err(bad(format!(
            "{} frames: at most {} make a master",
            frames.len(),
            ferros_limits::MAX_MASTER_FRAMES
        )));
    }
    let mut out = vec![0.0f32; n];
    let mut column = Vec::with_capacity(frames.len());
    let mut dev = Vec::with_capacity(frames.len());
    for (i, o) in out.iter_mut().enumerate() {
        column.clear();
        column.extend(frames.iter().map(|f| f[i]).filter(|v| v.is_finite()));
        *o = match column.len() {
            0 => f32::NAN,
            1 | 2 => column.iter().sum::<f32>() / column.len() as f32,
            _ => {
                let med = f64::from(stats::median(&mut column));
                // The spread from the median absolute deviation: an outlier
                // does not widen it.
                dev.clear();
                dev.extend(column.iter().map(|&v| (f64::from(v) - med).abs() as f32));
                let limit = 3.0 * (1.4826 * f64::from(stats::median(&mut dev))).max(1e-6);
                let (sum, kept) = column
                    .iter()
                    .filter(|&&v| (f64::from(v) - med).abs() <= limit)
                    .fold((0.0f64, 0u32), |(s, k), &v| (s + f64::from(v), k + 1));
                if kept == 0 { med as f32 } else { (sum / f64::from(kept)) as f32 }
            }
        };
    }
    Ok(out)
}

fn sub(a: &mut [f32], b: &[f32], k: f32) {
    for (x, y) in a.iter_mut().zip(b) {
        *x -= k * y;
    }
}

/// A master bias from raw bias frames.
pub fn master_bias(frames: &[&Image]) -> Result<Vec<f32>, PipelineError> {
    same_size(frames)?;
    combine(&frames.iter().map(|f| f.pixels.as_slice()).collect::<Vec<_>>())
}

/// A master dark (counts for its own exposure, bias removed) from raw darks.
pub fn master_dark(frames: &[&Image], bias: Option<&[f32]>) -> Result<Vec<f32>, PipelineError> {
    same_size(frames)?;
    let cleaned: Vec<Vec<f32>> = frames
        .iter()
        .map(|f| {
            let mut p = f.pixels.clone();
            if let Some(b) = bias {
                sub(&mut p, b, 1.0);
            }
            p
        })
        .collect();
    combine(&cleaned.iter().map(Vec::as_slice).collect::<Vec<_>>())
}

/// A master flat (median 1) from raw flats of one filter; `dark` with its
/// exposure, scaled to each flat's.
pub fn master_flat(
    frames: &[&Image],
    exposures: &[f64],
    bias: Option<&[f32]>,
    dark: Option<(&[f32], f64)>,
) -> Result<Vec<f32>, PipelineError> {
    same_size(frames)?;
    let mut scaled = Vec::with_capacity(frames.len());
    for (f, &t) in frames.iter().zip(exposures) {
        let mut p = f.pixels.clone();
        if let Some(b) = bias {
            sub(&mut p, b, 1.0);
        }
        if let Some((d, td)) = dark
            && td > 0.0
        {
            sub(&mut p, d, (t / td) as f32);
        }
        let mut sample: Vec<f32> = p.iter().copied().filter(|v| v.is_finite()).step_by(7).collect();
        let level = stats::median(&mut sample);
        if !(level.is_finite() && level > 0.0) {
            return Err(bad(format!("a flat with a level of {level}: not lit")));
        }
        for v in &mut p {
            *v /= level;
        }
        scaled.push(p);
    }
    let mut flat = combine(&scaled.iter().map(Vec::as_slice).collect::<Vec<_>>())?;
    let mut sample: Vec<f32> = flat.iter().copied().filter(|v| v.is_finite()).step_by(7).collect();
    let level = stats::median(&mut sample);
    for v in &mut flat {
        *v /= level;
    }
    Ok(flat)
}

fn same_size(frames: &[&Image]) -> Result<(), PipelineError> {
    let first = frames.first().ok_or_else(|| bad("no frame"))?;
    if let Some(f) = frames.iter().find(|f| (f.width, f.height) != (first.width, first.height)) {
        return Err(bad(format!(
            "frames of {}x{} and {}x{}: a master is made of one size",
            first.width, first.height, f.width, f.height
        )));
    }
    Ok(())
}

/// The masters applied to one image.
#[derive(Debug, Clone, Copy, Default)]
pub struct Masters<'a> {
    pub bias: Option<&'a [f32]>,
    /// The master dark and its exposure, seconds.
    pub dark: Option<(&'a [f32], f64)>,
    pub flat: Option<&'a [f32]>,
}

/// The calibrated pixels of `raw` (exposure `t` seconds), and the level a
/// pixel saturates at afterwards.
pub fn apply(raw: &Image, t: f64, m: &Masters<'_>) -> Result<(Vec<f32>, f64), PipelineError> {
    let n = raw.pixels.len();
    for (what, len) in [
        ("bias", m.bias.map(<[f32]>::len)),
        ("dark", m.dark.map(|d| d.0.len())),
        ("flat", m.flat.map(<[f32]>::len)),
    ] {
        if let Some(len) = len
            && len != n
        {
            return Err(bad(format!("the master {what} has {len} pixels, the image {n}")));
        }
    }
    // One pass over the pixels, shared among the cores.
    let scale = m.dark.filter(|d| d.1 > 0.0).map_or(0.0, |d| (t / d.1) as f32);
    let mut p = raw.pixels.clone();
    crate::par::chunks_indexed(&mut p, 1 << 16, |start, part| {
        for (k, v) in part.iter_mut().enumerate() {
            let i = start + k;
            if let Some(b) = m.bias {
                *v -= b[i];
            }
            if let Some((d, _)) = m.dark {
                *v -= scale * d[i];
            }
            if let Some(f) = m.flat {
                let g = f[i];
                *v = if g.is_finite() && g >= 0.1 { *v / g } else { f32::NAN };
            }
        }
    });
    let floor: f64 =
        m.bias.map_or(0.0, |b| b.iter().copied().filter(|v| v.is_finite()).fold(0.0f32, f32::max).into());
    let top_flat: f64 = m.flat.map_or(1.0, |f| {
        f.iter().copied().filter(|g| g.is_finite() && *g >= 0.1).fold(f32::INFINITY, f32::min).into()
    });
    let saturation = (raw.saturation - floor) / top_flat.max(0.1);
    Ok((p, saturation))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a test fails by panicking")]
    use super::*;

    fn image(pixels: Vec<f32>) -> Image {
        Image { width: 2, height: 2, pixels, header: Vec::new(), blank: 0, saturation: 65535.0, gain: 1.0 }
    }

    #[test]
    fn masters_clip_outliers_and_calibration_undoes_the_detector() {
        // Bias 100, with a cosmic ray in one frame.
        let biases: Vec<Image> = (0..5)
            .map(|i| image(vec![100.0, 100.0 + if i == 2 { 5000.0 } else { 0.0 }, 100.0, 100.0]))
            .collect();
        let bias = master_bias(&biases.iter().collect::<Vec<_>>()).unwrap();
        assert_eq!(bias, [100.0; 4]);
        // Dark current 10 counts in 100 s, 30 on a hot pixel.
        let darks: Vec<Image> = (0..3).map(|_| image(vec![110.0, 110.0, 130.0, 110.0])).collect();
        let dark = master_dark(&darks.iter().collect::<Vec<_>>(), Some(&bias)).unwrap();
        assert_eq!(dark, [10.0, 10.0, 30.0, 10.0]);
        // Flats: vignetting 1, 1, 0.8, 0.5 at two levels.
        let flats: Vec<Image> = [1000.0f32, 2000.0]
            .iter()
            .map(|&l| image(vec![100.0 + l, 100.0 + l, 100.0 + 0.8 * l, 100.0 + 0.5 * l]))
            .collect();
        let flat = master_flat(&flats.iter().collect::<Vec<_>>(), &[0.0, 0.0], Some(&bias), None).unwrap();
        assert!((flat[0] - 1.0).abs() < 1e-6 && (flat[3] - 0.5).abs() < 1e-6, "{flat:?}");
        // A sky of 500 seen through it all, 50 s.
        let raw =
            image(vec![100.0 + 5.0 + 500.0, 100.0 + 5.0 + 500.0, 100.0 + 15.0 + 400.0, 100.0 + 5.0 + 250.0]);
        let m = Masters { bias: Some(&bias), dark: Some((&dark, 100.0)), flat: Some(&flat) };
        let (cal, _) = apply(&raw, 50.0, &m).unwrap();
        assert!(cal.iter().all(|v| (v - 500.0).abs() < 1e-3), "{cal:?}");
        // Sizes that differ are refused.
        let e = apply(&raw, 50.0, &Masters { bias: Some(&bias[..2]), ..Masters::default() }).unwrap_err();
        assert!(e.to_string().contains("master bias has 2 pixels, the image 4"), "{e}");
        let other = Image { width: 1, height: 4, ..image(vec![0.0; 4]) };
        assert!(master_bias(&[&biases[0], &other]).unwrap_err().to_string().contains("one size"));
    }
}
