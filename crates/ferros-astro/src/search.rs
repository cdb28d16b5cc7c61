//! Finding when a smooth function of time crosses zero: sample on a grid,
//! then refine each sign change by the Illinois (modified regula falsi) method
//! until the bracket is shorter than [`TOLERANCE_DAYS`].

/// Refined times are within 0.05 s of the true crossing.
pub const TOLERANCE_DAYS: f64 = 0.05 / 86_400.0;

/// A zero crossing: `rising` when the function goes from negative to positive.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Crossing {
    pub jd: f64,
    pub rising: bool,
}

/// The crossings of `f` between consecutive samples `(t, f(t))`.
pub fn crossings(samples: &[(f64, f64)], mut f: impl FnMut(f64) -> f64) -> Vec<Crossing> {
    let mut out = Vec::new();
    for pair in samples.windows(2) {
        let ((a, fa), (b, fb)) = (pair[0], pair[1]);
        if (fa < 0.0) != (fb < 0.0) {
            out.push(Crossing { jd: refine(&mut f, a, fa, b, fb), rising: fa < 0.0 });
        }
    }
    out
}

/// The intervals, within the span of the samples, where `f >= 0`.
pub fn intervals_where(samples: &[(f64, f64)], f: impl FnMut(f64) -> f64) -> Vec<(f64, f64)> {
    let (Some(&(first, f0)), Some(&(last, _))) = (samples.first(), samples.last()) else { return Vec::new() };
    let mut out = Vec::new();
    let mut open = (f0 >= 0.0).then_some(first);
    for c in crossings(samples, f) {
        match (open, c.rising) {
            (None, true) => open = Some(c.jd),
            (Some(start), false) => {
                if c.jd > start {
                    out.push((start, c.jd));
                }
                open = None;
            }
            _ => {}
        }
    }
    if let Some(start) = open
        && last > start
    {
        out.push((start, last));
    }
    out
}

/// Intersection of two sorted lists of disjoint intervals.
pub fn intersect(a: &[(f64, f64)], b: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < a.len() && j < b.len() {
        let start = a[i].0.max(b[j].0);
        let end = a[i].1.min(b[j].1);
        if end > start {
            out.push((start, end));
        }
        if a[i].1 < b[j].1 {
            i += 1;
        } else {
            j += 1;
        }
    }
    out
}

fn refine(f: &mut impl FnMut(f64) -> f64, mut a: f64, mut fa: f64, mut b: f64, mut fb: f64) -> f64 {
    let mut side = 0i8;
    for _ in 0..60 {
        if (b - a).abs() < TOLERANCE_DAYS {
            break;
        }
        let c = if fa == fb { 0.5 * (a + b) } else { (a * fb - b * fa) / (fb - fa) };
        let c = if c <= a || c >= b { 0.5 * (a + b) } else { c };
        let fc = f(c);
        if (fc < 0.0) == (fb < 0.0) {
            b = c;
            fb = fc;
            if side == -1 {
                fa /= 2.0;
            }
            side = -1;
        } else {
            a = c;
            fa = fc;
            if side == 1 {
                fb /= 2.0;
            }
            side = 1;
        }
        if fc == 0.0 {
            return c;
        }
    }
    if fa.abs() < fb.abs() { a } else { b }
}

/// `n + 1` evenly spaced times from `start` to `end`.
pub fn grid(start: f64, end: f64, n: usize) -> Vec<f64> {
    (0..=n).map(|i| start + (end - start) * i as f64 / n as f64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crossings_are_refined_to_the_tolerance() {
        let f = |t: f64| (t * std::f64::consts::TAU).sin();
        let samples: Vec<(f64, f64)> = grid(0.1, 2.1, 24).into_iter().map(|t| (t, f(t))).collect();
        let c = crossings(&samples, f);
        let expected = [(0.5, false), (1.0, true), (1.5, false), (2.0, true)];
        assert_eq!(c.len(), 4);
        for (got, (t, rising)) in c.iter().zip(expected) {
            assert!((got.jd - t).abs() < TOLERANCE_DAYS, "{got:?}");
            assert_eq!(got.rising, rising);
        }
        let up = intervals_where(&samples, f);
        assert_eq!(up.len(), 3);
        assert!((up[0].0 - 0.1).abs() < 1e-12 && (up[0].1 - 0.5).abs() < TOLERANCE_DAYS);
        assert!((up[2].0 - 2.0).abs() < TOLERANCE_DAYS && (up[2].1 - 2.1).abs() < 1e-12);
    }

    #[test]
    fn intersections() {
        let a = [(0.0, 2.0), (3.0, 5.0)];
        let b = [(1.0, 4.0), (4.5, 6.0)];
        assert_eq!(intersect(&a, &b), vec![(1.0, 2.0), (3.0, 4.0), (4.5, 5.0)]);
        assert!(intersect(&a, &[]).is_empty());
    }
}
