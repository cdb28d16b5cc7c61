//! Robust statistics of pixel samples.

/// The median of `v` (reordered in place); NaN when empty.
pub fn median(v: &mut [f32]) -> f32 {
    if v.is_empty() {
        return f32::NAN;
    }
    let mid = v.len() / 2;
    let (_, m, _) = v.select_nth_unstable_by(mid, f32::total_cmp);
    let m = *m;
    if v.len() % 2 == 1 {
        m
    } else {
        let below = v[..mid].iter().copied().fold(f32::NEG_INFINITY, f32::max);
        0.5 * (m + below)
    }
}

/// Mean and standard deviation, in f64.
pub fn mean_std(v: &[f32]) -> (f64, f64) {
    if v.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let n = v.len() as f64;
    let mean = v.iter().map(|&x| f64::from(x)).sum::<f64>() / n;
    let var = v.iter().map(|&x| (f64::from(x) - mean).powi(2)).sum::<f64>() / n;
    (mean, var.sqrt())
}

/// Sigma clipping of a sample, as SExtractor does a background mesh: the
/// mean and spread of the values within 2 standard deviations of the mean
/// bound the sample at 5 of these, then cuts at `k` of the median go on
/// until the spread settles. Returns (median, mean, std, kept) of
/// what is left; `v` is reordered and cut to the kept values.
pub fn clipped(v: &mut Vec<f32>, k: f64, rounds: usize) -> Clipped {
    v.retain(|x| x.is_finite());
    if v.len() >= 3 {
        let (mean, std) = mean_std(v);
        let near: Vec<f32> =
            v.iter().copied().filter(|&x| (f64::from(x) - mean).abs() <= 2.0 * std).collect();
        let (mean, std) = mean_std(&near);
        if near.len() >= 3 {
            v.retain(|&x| (f64::from(x) - mean).abs() <= 5.0 * std);
        }
    }
    let mut last = f64::NAN;
    for _ in 0..rounds {
        if v.len() < 3 {
            break;
        }
        let med = f64::from(median(v));
        let (_, std) = mean_std(v);
        if (std / last - 1.0).abs() < 1e-4 || std == 0.0 {
            break;
        }
        last = std;
        let before = v.len();
        v.retain(|&x| (f64::from(x) - med).abs() <= k * std);
        if v.len() == before {
            break;
        }
    }
    let med = f64::from(median(v));
    let (mean, std) = mean_std(v);
    Clipped { median: med, mean, std, kept: v.len() }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Clipped {
    pub median: f64,
    pub mean: f64,
    pub std: f64,
    pub kept: usize,
}

impl Clipped {
    /// The sky level, as SExtractor estimates it: the mode estimate
    /// 2.5 median - 1.5 mean where the clipped distribution is nearly
    /// symmetric (mean and median within 0.3 sigma), else the median.
    pub fn mode(&self) -> f64 {
        if self.std > 0.0 && ((self.median - self.mean) / self.std).abs() < 0.3 {
            2.5 * self.median - 1.5 * self.mean
        } else {
            self.median
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a test fails by panicking")]
    use super::*;

    #[test]
    fn medians_and_clipping() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&mut []).is_nan());
        let mut v: Vec<f32> = (0..1000).map(|i| 100.0 + (i % 7) as f32).collect();
        v.extend([10_000.0, -5_000.0, f32::NAN]);
        let c = clipped(&mut v, 3.0, 10);
        assert_eq!(c.kept, 1000);
        assert!((c.mean - 103.0).abs() < 0.01, "{c:?}");
    }
}
