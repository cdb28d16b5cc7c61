//! Source extraction, after SExtractor: the background-subtracted image is
//! smoothed by a 3 x 3 pyramid, pixels above `threshold` times the image's
//! noise (the median of the background meshes') are grouped (8-connected), groups of at least `min_area` pixels are
//! deblended over 32 exponential levels (a branch is a source of its own
//! when it holds at least `deblend_contrast` of the group's flux), and each
//! source is measured: isophotal barycentre, windowed second moments (FWHM,
//! ellipticity), circular-aperture and Kron (AUTO) fluxes with errors, flags.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// SExtractor's flags, same bits.
pub mod flags {
    /// Neighbours within the aperture.
    pub const CROWDED: u32 = 1;
    /// Split from a group by deblending.
    pub const DEBLENDED: u32 = 2;
    /// A pixel at or above saturation.
    pub const SATURATED: u32 = 4;
    /// Touches the image's edge.
    pub const TRUNCATED: u32 = 8;
    /// The aperture leaves the image or covers blank (NaN) pixels.
    pub const APERTURE_INCOMPLETE: u32 = 16;
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ExtractSettings {
    /// Detection threshold, in noise sigmas.
    pub threshold: f64,
    pub min_area: usize,
    pub deblend_levels: usize,
    pub deblend_contrast: f64,
    /// Radius of the circular aperture, pixels.
    pub aperture: f64,
    /// Kron factor and smallest Kron radius (SExtractor's PHOT_AUTOPARAMS).
    pub kron_factor: f64,
    pub kron_min: f64,
    /// Background mesh, pixels.
    pub mesh: usize,
}

impl Default for ExtractSettings {
    fn default() -> Self {
        Self {
            threshold: 1.5,
            min_area: 5,
            deblend_levels: 32,
            deblend_contrast: 0.005,
            aperture: 5.0,
            kron_factor: 2.5,
            kron_min: 3.5,
            mesh: 64,
        }
    }
}

/// One source, pixel positions from 0 (the first pixel's centre is 0,0).
#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    pub x: f64,
    pub y: f64,
    pub flux: f64,
    pub flux_err: f64,
    pub flux_auto: f64,
    pub flux_auto_err: f64,
    pub fwhm: f64,
    pub ellipticity: f64,
    /// Major axis angle, degrees counter-clockwise from the x axis.
    pub theta: f64,
    pub peak: f64,
    pub area: usize,
    pub flags: u32,
}

/// What extraction needs of an image.
#[derive(Debug)]
pub struct Frame<'a> {
    pub width: usize,
    pub height: usize,
    pub pixels: &'a [f32],
    pub background: &'a [f32],
    pub rms: &'a [f32],
    /// The noise detection thresholds are counted in (SExtractor's global
    /// background rms).
    pub noise: f64,
    /// Pixel value at and above which the detector saturates.
    pub saturation: f64,
    /// Electrons per ADU, for the Poisson part of the errors (none if 0).
    pub gain: f64,
}

/// The sources of a frame, brightest first, at most `max`.
pub fn extract(f: &Frame<'_>, s: &ExtractSettings, max: usize) -> Vec<Source> {
    let (w, h) = (f.width, f.height);
    let sub: Vec<f32> =
        f.pixels.iter().zip(f.background).map(|(&p, &b)| if p.is_finite() { p - b } else { 0.0 }).collect();
    let smooth = convolve(&sub, w, h);
    let level = s.threshold * f.noise.max(1e-6);
    let above: Vec<bool> =
        smooth.iter().zip(f.pixels).map(|(&v, &p)| p.is_finite() && f64::from(v) > level).collect();
    let groups = label(&above, w, h);
    let mut owner = vec![u32::MAX; w * h];
    let mut objects: Vec<(Vec<usize>, bool)> = Vec::new();
    for g in groups {
        if g.len() < s.min_area {
            continue;
        }
        let parts = deblend(&g, &smooth, w, s, level);
        let split = parts.len() > 1;
        for p in parts {
            if p.len() >= s.min_area.min(3) {
                objects.push((p, split));
            }
        }
    }
    for (k, (pixels, _)) in objects.iter().enumerate() {
        for &p in pixels {
            owner[p] = k as u32;
        }
    }
    let mut out: Vec<Source> = objects
        .iter()
        .enumerate()
        .filter_map(|(k, (pixels, split))| measure(f, &sub, &owner, k as u32, pixels, *split, s))
        .collect();
    out.sort_by(|a, b| b.flux.total_cmp(&a.flux));
    out.truncate(max);
    out
}

/// The 3 x 3 pyramid filter (1 2 1 / 2 4 2 / 1 2 1, normalised); edges
/// repeat the outer pixels.
fn convolve(v: &[f32], w: usize, h: usize) -> Vec<f32> {
    let mut rows = vec![0.0f32; w * h];
    crate::par::chunks(&mut rows, w, |y, o| {
        let r = &v[y * w..(y + 1) * w];
        for x in 0..w {
            let l = r[x.saturating_sub(1)];
            let rr = r[(x + 1).min(w - 1)];
            o[x] = 0.25 * l + 0.5 * r[x] + 0.25 * rr;
        }
    });
    let mut out = vec![0.0f32; w * h];
    crate::par::chunks(&mut out, w, |y, o| {
        let (up, down) = (y.saturating_sub(1), (y + 1).min(h - 1));
        for x in 0..w {
            o[x] = 0.25 * rows[up * w + x] + 0.5 * rows[y * w + x] + 0.25 * rows[down * w + x];
        }
    });
    out
}

/// The 8-connected groups of true pixels, as pixel indices.
fn label(mask: &[bool], w: usize, h: usize) -> Vec<Vec<usize>> {
    let mut parent: Vec<u32> = Vec::new();
    let mut labels = vec![u32::MAX; w * h];
    fn find(parent: &mut [u32], mut a: u32) -> u32 {
        while parent[a as usize] != a {
            parent[a as usize] = parent[parent[a as usize] as usize];
            a = parent[a as usize];
        }
        a
    }
    for y in 0..h {
        for x in 0..w {
            let i = y * w + x;
            if !mask[i] {
                continue;
            }
            let mut neighbours = [u32::MAX; 4];
            if x > 0 {
                neighbours[0] = labels[i - 1];
            }
            if y > 0 {
                neighbours[1] = labels[i - w];
                if x > 0 {
                    neighbours[2] = labels[i - w - 1];
                }
                if x + 1 < w {
                    neighbours[3] = labels[i - w + 1];
                }
            }
            let mut mine = u32::MAX;
            for n in neighbours.into_iter().filter(|&n| n != u32::MAX) {
                let r = find(&mut parent, n);
                if mine == u32::MAX {
                    mine = r;
                } else if r != mine {
                    let (a, b) = (mine.min(r), mine.max(r));
                    parent[b as usize] = a;
                    mine = a;
                }
            }
            if mine == u32::MAX {
                mine = parent.len() as u32;
                parent.push(mine);
            }
            labels[i] = mine;
        }
    }
    let mut index: HashMap<u32, usize> = HashMap::new();
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for (i, &l) in labels.iter().enumerate() {
        if l == u32::MAX {
            continue;
        }
        let root = find(&mut parent, l);
        let k = *index.entry(root).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[k].push(i);
    }
    groups
}

/// The 8-connected parts of a set of pixels.
fn parts(pixels: &[usize], w: usize) -> Vec<Vec<usize>> {
    let set: std::collections::HashSet<usize> = pixels.iter().copied().collect();
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for &start in pixels {
        if !seen.insert(start) {
            continue;
        }
        let mut part = vec![start];
        let mut k = 0;
        while k < part.len() {
            let p = part[k];
            k += 1;
            let (x, y) = ((p % w) as i64, (p / w) as i64);
            for dy in -1..=1 {
                for dx in -1..=1 {
                    let (nx, ny) = (x + dx, y + dy);
                    if nx < 0 || ny < 0 || nx >= w as i64 {
                        continue;
                    }
                    let q = ny as usize * w + nx as usize;
                    if set.contains(&q) && seen.insert(q) {
                        part.push(q);
                    }
                }
            }
        }
        out.push(part);
    }
    out
}

/// Splits a group into its sources: SExtractor's multi-threshold tree.
fn deblend(group: &[usize], smooth: &[f32], w: usize, s: &ExtractSettings, floor: f64) -> Vec<Vec<usize>> {
    let peak = group.iter().map(|&p| f64::from(smooth[p])).fold(f64::MIN, f64::max);
    let floor = floor.max(1e-6);
    if group.len() < 2 * s.min_area || peak <= floor * 1.5 || s.deblend_levels < 2 {
        return vec![group.to_vec()];
    }
    let levels: Vec<f64> = (1..s.deblend_levels)
        .map(|i| floor * (peak / floor).powf(i as f64 / s.deblend_levels as f64))
        .collect();
    let total: f64 = group.iter().map(|&p| f64::from(smooth[p])).sum();
    let least = s.deblend_contrast * total;
    let mut seeds = Vec::new();
    branches(group, 0, &levels, smooth, w, least, s.min_area, &mut seeds);
    if seeds.len() < 2 {
        return vec![group.to_vec()];
    }
    // Every pixel goes to the seed that most likely made it: each seed a
    // Gaussian of its own flux, centre and spread.
    let models: Vec<(f64, f64, f64, f64)> = seeds
        .iter()
        .map(|seed| {
            let (mut sw, mut sx, mut sy, mut sxx) = (0.0, 0.0, 0.0, 0.0);
            for &p in seed {
                let v = f64::from(smooth[p]).max(0.0);
                let (x, y) = ((p % w) as f64, (p / w) as f64);
                sw += v;
                sx += v * x;
                sy += v * y;
                sxx += v * (x * x + y * y);
            }
            let (cx, cy) = (sx / sw.max(1e-12), sy / sw.max(1e-12));
            let var = (sxx / sw.max(1e-12) - cx * cx - cy * cy).max(2.0) / 2.0;
            (sw, cx, cy, var)
        })
        .collect();
    let mut out = vec![Vec::new(); seeds.len()];
    let mut seed_of: HashMap<usize, usize> = HashMap::new();
    for (k, seed) in seeds.iter().enumerate() {
        for &p in seed {
            seed_of.insert(p, k);
        }
    }
    for &p in group {
        let k = seed_of.get(&p).copied().unwrap_or_else(|| {
            let (x, y) = ((p % w) as f64, (p / w) as f64);
            let like = |m: &(f64, f64, f64, f64)| {
                m.0 / m.3 * (-((x - m.1).powi(2) + (y - m.2).powi(2)) / (2.0 * m.3)).exp()
            };
            (0..models.len()).max_by(|&a, &b| like(&models[a]).total_cmp(&like(&models[b]))).unwrap_or(0)
        });
        out[k].push(p);
    }
    out.retain(|o| !o.is_empty());
    out
}

/// The branches of `node` above `levels[from..]` with enough flux above
/// their level (and `min_area` pixels): where two or more hold enough, each
/// is followed on its own; where one does, the node goes on as it.
#[allow(clippy::too_many_arguments, reason = "one recursion's state")]
fn branches(
    node: &[usize],
    from: usize,
    levels: &[f64],
    smooth: &[f32],
    w: usize,
    least: f64,
    min_area: usize,
    seeds: &mut Vec<Vec<usize>>,
) {
    let mut node = node.to_vec();
    for (k, &t) in levels.iter().enumerate().skip(from) {
        let above: Vec<usize> = node.iter().copied().filter(|&p| f64::from(smooth[p]) > t).collect();
        let strong: Vec<Vec<usize>> = parts(&above, w)
            .into_iter()
            .filter(|p| {
                p.len() >= min_area && p.iter().map(|&q| f64::from(smooth[q]) - t).sum::<f64>() > least
            })
            .collect();
        match strong.len() {
            0 => break,
            1 => node = strong.into_iter().next().unwrap_or_default(),
            _ => {
                for b in strong {
                    branches(&b, k + 1, levels, smooth, w, least, min_area, seeds);
                }
                return;
            }
        }
    }
    seeds.push(node);
}

/// Measures one source; `None` when it has no positive flux.
fn measure(
    f: &Frame<'_>,
    sub: &[f32],
    owner: &[u32],
    me: u32,
    pixels: &[usize],
    split: bool,
    s: &ExtractSettings,
) -> Option<Source> {
    let w = f.width;
    let (mut sw, mut sx, mut sy) = (0.0, 0.0, 0.0);
    let mut peak = f64::MIN;
    let mut flags = if split { flags::DEBLENDED } else { 0 };
    for &p in pixels {
        let v = f64::from(sub[p]);
        let (x, y) = ((p % w) as f64, (p / w) as f64);
        sw += v;
        sx += v * x;
        sy += v * y;
        peak = peak.max(v);
        if f64::from(f.pixels[p]) >= f.saturation {
            flags |= flags::SATURATED;
        }
        let (px, py) = (p % w, p / w);
        if px == 0 || py == 0 || px + 1 == w || py + 1 == f.height {
            flags |= flags::TRUNCATED;
        }
    }
    if sw <= 0.0 {
        return None;
    }
    let (cx, cy) = (sx / sw, sy / sw);
    // Isophotal second moments, for the Kron ellipse.
    let (mut mxx, mut myy, mut mxy) = (0.0, 0.0, 0.0);
    for &p in pixels {
        let v = f64::from(sub[p]);
        let (dx, dy) = ((p % w) as f64 - cx, (p / w) as f64 - cy);
        mxx += v * dx * dx;
        myy += v * dy * dy;
        mxy += v * dx * dy;
    }
    let (mxx, myy, mxy) = ((mxx / sw).max(1.0 / 12.0), (myy / sw).max(1.0 / 12.0), mxy / sw);
    let (fwhm, ellipticity, theta) = windowed_shape(f, sub, cx, cy, (mxx + myy) / 2.0);
    let (flux, var, incomplete, crowded) = circle(f, sub, owner, me, cx, cy, s.aperture);
    if incomplete {
        flags |= flags::APERTURE_INCOMPLETE;
    }
    if crowded {
        flags |= flags::CROWDED;
    }
    let (flux_auto, var_auto) = kron(f, sub, cx, cy, (mxx, myy, mxy), s);
    let poisson = |flux: f64| if f.gain > 0.0 { flux.max(0.0) / f.gain } else { 0.0 };
    Some(Source {
        x: cx,
        y: cy,
        flux,
        flux_err: (var + poisson(flux)).sqrt(),
        flux_auto,
        flux_auto_err: (var_auto + poisson(flux_auto)).sqrt(),
        fwhm,
        ellipticity,
        theta,
        peak,
        area: pixels.len(),
        flags,
    })
}

/// FWHM, ellipticity and angle from Gaussian-windowed second moments,
/// iterated until the window matches the source (then a Gaussian of sigma
/// s gives moments s^2 / 2 under a window of sigma s).
fn windowed_shape(f: &Frame<'_>, sub: &[f32], cx: f64, cy: f64, iso_var: f64) -> (f64, f64, f64) {
    let (w, h) = (f.width as i64, f.height as i64);
    let mut sigma2 = iso_var.clamp(0.25, 400.0);
    let mut m = (sigma2 / 2.0, sigma2 / 2.0, 0.0);
    for _ in 0..6 {
        let r = (4.0 * sigma2.sqrt()).ceil() as i64;
        let (mut sw, mut xx, mut yy, mut xy) = (0.0, 0.0, 0.0, 0.0);
        for y in (cy.round() as i64 - r).max(0)..=(cy.round() as i64 + r).min(h - 1) {
            for x in (cx.round() as i64 - r).max(0)..=(cx.round() as i64 + r).min(w - 1) {
                let v = f64::from(sub[(y * w + x) as usize]);
                let (dx, dy) = (x as f64 - cx, y as f64 - cy);
                let wt = v * (-(dx * dx + dy * dy) / (2.0 * sigma2)).exp();
                sw += wt;
                xx += wt * dx * dx;
                yy += wt * dy * dy;
                xy += wt * dx * dy;
            }
        }
        if sw <= 0.0 {
            break;
        }
        m = (xx / sw, yy / sw, xy / sw);
        let measured = (m.0 + m.1) / 2.0;
        // Under a window of variance W, a Gaussian of variance S shows S W / (S + W).
        let next =
            if measured < sigma2 * 0.999 { measured * sigma2 / (sigma2 - measured) } else { sigma2 * 2.0 };
        let next = next.clamp(0.1, 400.0);
        if (next - sigma2).abs() < 1e-4 * sigma2 {
            sigma2 = next;
            break;
        }
        sigma2 = next;
    }
    // The ellipse of the windowed moments: axes from the eigenvalues.
    let (a2, b2, theta) = axes(m.0, m.1, m.2);
    let ellipticity = if a2 > 0.0 { 1.0 - (b2 / a2).max(0.0).sqrt() } else { 0.0 };
    (2.0 * (2.0 * std::f64::consts::LN_2).sqrt() * sigma2.sqrt(), ellipticity, theta)
}

/// Eigenvalues (major, minor) and major-axis angle (degrees) of a moment matrix.
fn axes(xx: f64, yy: f64, xy: f64) -> (f64, f64, f64) {
    let half = (xx + yy) / 2.0;
    let d = (((xx - yy) / 2.0).powi(2) + xy * xy).sqrt();
    (half + d, half - d, 0.5 * (2.0 * xy).atan2(xx - yy).to_degrees())
}

/// The fraction of a pixel (centre `px`, `py`) inside a circle, by sampling
/// the pixels the circle's edge crosses 11 x 11 times.
fn overlap(px: f64, py: f64, cx: f64, cy: f64, r: f64) -> f64 {
    let d = ((px - cx).powi(2) + (py - cy).powi(2)).sqrt();
    if d <= r - std::f64::consts::FRAC_1_SQRT_2 {
        return 1.0;
    }
    if d >= r + std::f64::consts::FRAC_1_SQRT_2 {
        return 0.0;
    }
    const N: usize = 11;
    let mut inside = 0;
    for i in 0..N {
        for j in 0..N {
            let sx = px - 0.5 + (i as f64 + 0.5) / N as f64;
            let sy = py - 0.5 + (j as f64 + 0.5) / N as f64;
            if (sx - cx).powi(2) + (sy - cy).powi(2) <= r * r {
                inside += 1;
            }
        }
    }
    inside as f64 / (N * N) as f64
}

/// Flux and variance in a circle; whether the circle left the image or met
/// blank pixels, and whether it holds another source's pixels.
fn circle(
    f: &Frame<'_>,
    sub: &[f32],
    owner: &[u32],
    me: u32,
    cx: f64,
    cy: f64,
    r: f64,
) -> (f64, f64, bool, bool) {
    let (w, h) = (f.width as i64, f.height as i64);
    let (mut flux, mut var, mut incomplete, mut crowded) = (0.0, 0.0, false, false);
    let reach = (r + 1.0).ceil() as i64;
    for y in cy.round() as i64 - reach..=cy.round() as i64 + reach {
        for x in cx.round() as i64 - reach..=cx.round() as i64 + reach {
            let part = overlap(x as f64, y as f64, cx, cy, r);
            if part == 0.0 {
                continue;
            }
            if x < 0 || y < 0 || x >= w || y >= h {
                incomplete = true;
                continue;
            }
            let i = (y * w + x) as usize;
            if !f.pixels[i].is_finite() {
                incomplete = true;
                continue;
            }
            if owner[i] != u32::MAX && owner[i] != me {
                crowded = true;
            }
            flux += part * f64::from(sub[i]);
            var += part * f64::from(f.rms[i]).powi(2);
        }
    }
    (flux, var, incomplete, crowded)
}

/// Kron's flux: in the source's ellipse scaled to `kron_factor` times its
/// first-moment radius (at least `kron_min`).
fn kron(
    f: &Frame<'_>,
    sub: &[f32],
    cx: f64,
    cy: f64,
    (xx, yy, xy): (f64, f64, f64),
    s: &ExtractSettings,
) -> (f64, f64) {
    let (w, h) = (f.width as i64, f.height as i64);
    let det = (xx * yy - xy * xy).max(1e-6);
    // The ellipse's quadratic form, in units of its own axes.
    let (cxx, cyy, cxy) = (yy / det, xx / det, -2.0 * xy / det);
    let (a2, _, _) = axes(xx, yy, xy);
    let a = a2.max(0.0).sqrt().max(0.5);
    let rad = |dx: f64, dy: f64| (cxx * dx * dx + cyy * dy * dy + cxy * dx * dy).max(0.0).sqrt();
    let reach = (6.0 * a).ceil().min(200.0) as i64 + 1;
    let (mut num, mut den) = (0.0, 0.0);
    let pixels = || {
        (cy.round() as i64 - reach..=cy.round() as i64 + reach)
            .flat_map(move |y| (cx.round() as i64 - reach..=cx.round() as i64 + reach).map(move |x| (x, y)))
    };
    for (x, y) in pixels() {
        if x < 0 || y < 0 || x >= w || y >= h {
            continue;
        }
        let r = rad(x as f64 - cx, y as f64 - cy);
        let v = f64::from(sub[(y * w + x) as usize]);
        if r <= 6.0 && f.pixels[(y * w + x) as usize].is_finite() {
            num += r * v;
            den += v;
        }
    }
    let kron_radius = if den > 0.0 && num > 0.0 { num / den } else { 0.0 };
    let limit = (s.kron_factor * kron_radius).max(s.kron_min);
    let (mut flux, mut var) = (0.0, 0.0);
    let reach = (limit * a).ceil().min(400.0) as i64 + 1;
    for y in cy.round() as i64 - reach..=cy.round() as i64 + reach {
        for x in cx.round() as i64 - reach..=cx.round() as i64 + reach {
            if x < 0 || y < 0 || x >= w || y >= h {
                continue;
            }
            let i = (y * w + x) as usize;
            if rad(x as f64 - cx, y as f64 - cy) <= limit && f.pixels[i].is_finite() {
                flux += f64::from(sub[i]);
                var += f64::from(f.rms[i]).powi(2);
            }
        }
    }
    (flux, var)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a test fails by panicking")]
    use super::*;

    fn gaussian(w: usize, h: usize, stars: &[(f64, f64, f64, f64)]) -> Vec<f32> {
        let mut px = vec![0.0f32; w * h];
        for &(sx, sy, flux, sigma) in stars {
            for y in 0..h {
                for x in 0..w {
                    let d2 = (x as f64 - sx).powi(2) + (y as f64 - sy).powi(2);
                    px[y * w + x] += (flux / (std::f64::consts::TAU * sigma * sigma)
                        * (-d2 / (2.0 * sigma * sigma)).exp()) as f32;
                }
            }
        }
        px
    }

    #[test]
    fn a_star_is_found_where_it_is_with_its_flux_and_width() {
        let (w, h) = (64, 64);
        let px = gaussian(w, h, &[(30.3, 20.7, 10_000.0, 1.5)]);
        let zero = vec![0.0f32; w * h];
        let rms = vec![1.0f32; w * h];
        let f = Frame {
            width: w,
            height: h,
            pixels: &px,
            background: &zero,
            rms: &rms,
            noise: 1.0,
            saturation: 1e9,
            gain: 0.0,
        };
        let s = extract(&f, &ExtractSettings::default(), 10);
        assert_eq!(s.len(), 1, "{s:?}");
        let s = &s[0];
        assert!((s.x - 30.3).abs() < 0.01 && (s.y - 20.7).abs() < 0.01, "{s:?}");
        // Within 5 px of a sigma of 1.5: 1 - exp(-25 / 4.5) of the flux.
        let want = 10_000.0 * (1.0 - (-25.0f64 / 4.5).exp());
        assert!((s.flux - want).abs() / want < 0.002, "{} vs {want}", s.flux);
        assert!((s.fwhm - 2.3548 * 1.5).abs() < 0.1, "{}", s.fwhm);
        assert!(s.ellipticity < 0.02 && s.flags == 0, "{s:?}");
        assert!((s.flux_auto - 10_000.0).abs() / 10_000.0 < 0.03, "{}", s.flux_auto);
    }

    #[test]
    fn a_close_pair_is_deblended() {
        let (w, h) = (64, 64);
        let px = gaussian(w, h, &[(28.0, 32.0, 20_000.0, 1.5), (34.0, 32.0, 8_000.0, 1.5)]);
        let zero = vec![0.0f32; w * h];
        let rms = vec![1.0f32; w * h];
        let f = Frame {
            width: w,
            height: h,
            pixels: &px,
            background: &zero,
            rms: &rms,
            noise: 1.0,
            saturation: 1e9,
            gain: 0.0,
        };
        let s = extract(&f, &ExtractSettings::default(), 10);
        assert_eq!(s.len(), 2, "{s:?}");
        assert!((s[0].x - 28.0).abs() < 0.3 && (s[1].x - 34.0).abs() < 0.3, "{s:?}");
        assert!(s.iter().all(|s| s.flags & flags::DEBLENDED != 0));
        // Without deblending, one source.
        let one = extract(&f, &ExtractSettings { deblend_levels: 1, ..ExtractSettings::default() }, 10);
        assert_eq!(one.len(), 1);
    }
}
