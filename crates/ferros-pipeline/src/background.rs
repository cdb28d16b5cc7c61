//! The sky background and its noise, as maps: the image is cut into meshes
//! (64 x 64 pixels by default), each mesh's level is a sigma-clipped mode
//! and its noise the clipped standard deviation, the mesh grid is median
//! filtered (3 x 3) and interpolated by cubic splines between mesh centres, as
//! SExtractor does.

use crate::stats::clipped;

#[derive(Debug, Clone)]
pub struct Background {
    pub width: usize,
    pub height: usize,
    /// Per pixel.
    pub level: Vec<f32>,
    pub rms: Vec<f32>,
    /// Over the image: the median of the meshes.
    pub global_level: f64,
    pub global_rms: f64,
}

/// The background of `pixels` (NaN pixels are left out) in meshes of `mesh` pixels.
pub fn estimate(pixels: &[f32], width: usize, height: usize, mesh: usize) -> Background {
    let mesh = mesh.clamp(8, 1024);
    let (nx, ny) = (width.div_ceil(mesh).max(1), height.div_ceil(mesh).max(1));
    let mut levels = vec![f64::NAN; nx * ny];
    let mut noises = vec![f64::NAN; nx * ny];
    // Rows of meshes shared among the cores.
    let mesh_row = |j: usize, levels: &mut [f64], noises: &mut [f64]| {
        let mut sample = Vec::with_capacity(mesh * mesh);
        for i in 0..nx {
            sample.clear();
            for y in j * mesh..((j + 1) * mesh).min(height) {
                let row = &pixels[y * width..(y + 1) * width];
                sample.extend(row[i * mesh..((i + 1) * mesh).min(width)].iter().filter(|v| v.is_finite()));
            }
            // A mesh mostly blank says nothing.
            if sample.len() * 2 < mesh.min(width) * mesh.min(height) / 2 {
                continue;
            }
            let c = clipped(&mut sample, 3.0, 100);
            levels[i] = c.mode();
            noises[i] = c.std;
        }
    };
    crate::par::rows(&mut levels, &mut noises, nx, |j, l, n| mesh_row(j, l, n));
    fill_blanks(&mut levels, nx, ny);
    fill_blanks(&mut noises, nx, ny);
    let levels = median_filter(&levels, nx, ny);
    let noises = median_filter(&noises, nx, ny);
    let global = |v: &[f64]| {
        let mut s: Vec<f32> = v.iter().map(|&x| x as f32).collect();
        f64::from(crate::stats::median(&mut s))
    };
    let (global_level, global_rms) = (global(&levels), global(&noises));
    let level = interpolate(&levels, nx, ny, mesh, width, height);
    let rms = interpolate(&noises, nx, ny, mesh, width, height);
    Background { width, height, level, rms, global_level, global_rms }
}

/// Meshes without a value take the mean of their valued neighbours, growing
/// outwards; all blank, they become 0.
fn fill_blanks(v: &mut [f64], nx: usize, ny: usize) {
    if v.iter().all(|x| x.is_nan()) {
        v.fill(0.0);
        return;
    }
    while v.iter().any(|x| x.is_nan()) {
        let before = v.to_vec();
        for j in 0..ny {
            for i in 0..nx {
                if !before[j * nx + i].is_nan() {
                    continue;
                }
                let (mut sum, mut n) = (0.0, 0);
                for (di, dj) in [(-1i64, 0i64), (1, 0), (0, -1), (0, 1)] {
                    let (a, b) = (i as i64 + di, j as i64 + dj);
                    if a >= 0 && b >= 0 && (a as usize) < nx && (b as usize) < ny {
                        let x = before[b as usize * nx + a as usize];
                        if !x.is_nan() {
                            sum += x;
                            n += 1;
                        }
                    }
                }
                if n > 0 {
                    v[j * nx + i] = sum / f64::from(n);
                }
            }
        }
    }
}

fn median_filter(v: &[f64], nx: usize, ny: usize) -> Vec<f64> {
    let mut out = vec![0.0; v.len()];
    let mut window = Vec::with_capacity(9);
    for j in 0..ny {
        for i in 0..nx {
            // A window symmetric about the mesh, narrower at the edges (a
            // corner mesh keeps its own value).
            window.clear();
            let (hx, hy) = (i.min(nx - 1 - i).min(1), j.min(ny - 1 - j).min(1));
            for b in j - hy..=j + hy {
                for a in i - hx..=i + hx {
                    window.push(v[b * nx + a] as f32);
                }
            }
            out[j * nx + i] = f64::from(crate::stats::median(&mut window));
        }
    }
    out
}

/// Natural cubic splines through the mesh nodes (at regular steps of a
/// mesh, a partial last mesh included), along y then x, as SExtractor
/// does; beyond the outer nodes the outer pieces go on.
fn interpolate(v: &[f64], nx: usize, ny: usize, mesh: usize, width: usize, height: usize) -> Vec<f32> {
    let node = |k: usize| (k as f64 + 0.5) * mesh as f64 - 0.5;
    let cx: Vec<f64> = (0..nx).map(node).collect();
    let cy: Vec<f64> = (0..ny).map(node).collect();
    // Each mesh column's spline along y.
    let columns: Vec<Spline> =
        (0..nx).map(|i| Spline::new(&cy, &(0..ny).map(|j| v[j * nx + i]).collect::<Vec<_>>())).collect();
    // Where each column falls between nodes, once for all rows.
    let place: Vec<(usize, f64, f64)> = (0..width).map(|x| Spline::place(&cx, x as f64)).collect();
    let mut out = vec![0.0f32; width * height];
    crate::par::chunks(&mut out, width, |y, row| {
        let at: Vec<f64> = columns.iter().map(|c| c.at(y as f64)).collect();
        let spline = Spline::new(&cx, &at);
        for (o, &(k, a, b)) in row.iter_mut().zip(&place) {
            *o = spline.at_placed(k, a, b) as f32;
        }
    });
    out
}

/// A natural cubic spline through points of increasing abscissa.
struct Spline {
    x: Vec<f64>,
    y: Vec<f64>,
    /// Second derivatives at the points.
    d2: Vec<f64>,
}

impl Spline {
    fn new(x: &[f64], y: &[f64]) -> Spline {
        let n = x.len();
        let mut d2 = vec![0.0; n];
        if n > 2 {
            let mut u = vec![0.0; n];
            for i in 1..n - 1 {
                let sig = (x[i] - x[i - 1]) / (x[i + 1] - x[i - 1]);
                let p = sig * d2[i - 1] + 2.0;
                d2[i] = (sig - 1.0) / p;
                let slope = (y[i + 1] - y[i]) / (x[i + 1] - x[i]) - (y[i] - y[i - 1]) / (x[i] - x[i - 1]);
                u[i] = (6.0 * slope / (x[i + 1] - x[i - 1]) - sig * u[i - 1]) / p;
            }
            d2[n - 1] = 0.0;
            for k in (0..n - 1).rev() {
                d2[k] = d2[k] * d2[k + 1] + u[k];
            }
        }
        Spline { x: x.to_vec(), y: y.to_vec(), d2 }
    }

    /// The piece of `p` among the nodes `x` and its weights: beyond the
    /// outer nodes, the outer pieces go on.
    fn place(x: &[f64], p: f64) -> (usize, f64, f64) {
        let n = x.len();
        if n == 1 {
            return (0, 1.0, 0.0);
        }
        let k = x.partition_point(|&v| v <= p).clamp(1, n - 1);
        let h = x[k] - x[k - 1];
        (k, (x[k] - p) / h, (p - x[k - 1]) / h)
    }

    fn at(&self, p: f64) -> f64 {
        let (k, a, b) = Self::place(&self.x, p);
        self.at_placed(k, a, b)
    }

    fn at_placed(&self, k: usize, a: f64, b: f64) -> f64 {
        if self.x.len() == 1 {
            return self.y[0];
        }
        let (lo, hi) = (k - 1, k);
        let h = self.x[hi] - self.x[lo];
        a * self.y[lo]
            + b * self.y[hi]
            + ((a * a * a - a) * self.d2[lo] + (b * b * b - b) * self.d2[hi]) * h * h / 6.0
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a test fails by panicking")]
    use super::*;

    #[test]
    fn a_sloped_sky_with_stars_is_followed_and_the_stars_ignored() {
        let (w, h) = (256, 192);
        let mut px = vec![0.0f32; w * h];
        let mut seed = 1u64;
        for y in 0..h {
            for x in 0..w {
                seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let noise = ((seed >> 40) as f64 / (1u64 << 24) as f64 - 0.5) * 2.0 * 17.32; // std 10
                px[y * w + x] = (100.0 + 0.2 * x as f64 + noise) as f32;
            }
        }
        for k in 0..30 {
            let (x, y) = (10 + (k * 37) % 230, 10 + (k * 53) % 170);
            px[y * w + x] += 5000.0;
        }
        px[5] = f32::NAN;
        let b = estimate(&px, w, h, 32);
        for (x, y) in [(40, 40), (128, 100), (200, 150)] {
            let want = 100.0 + 0.2 * x as f64;
            assert!((f64::from(b.level[y * w + x]) - want).abs() < 2.0, "{x},{y}: {}", b.level[y * w + x]);
            assert!((f64::from(b.rms[y * w + x]) - 10.0).abs() < 1.0, "{}", b.rms[y * w + x]);
        }
    }
}
