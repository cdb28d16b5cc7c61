//! Astrometric solutions: a WCS for an image from its sources and a star
//! catalogue. Two solvers behind one trait: [`Refine`], Ferros's own, which
//! starts from the header's nominal WCS (the pointing) and matches the
//! catalogue around it, and [`SolveField`], astrometry.net's `solve-field`
//! run as a program (blind, from the image alone, within a scale range).

use std::path::{Path, PathBuf};
use std::time::Duration;

use ferros_catalog::{Catalogue, Star};
use serde::{Deserialize, Serialize};

use crate::extract::flags;
use crate::wcs::{Sip, Wcs, gnomonic, separation};
use crate::{Measured, PipelineError};

/// A solution and how good it is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Solution {
    pub wcs: Wcs,
    /// Which solver.
    pub solver: String,
    /// Sources matched to catalogue stars, and their residuals (arcseconds, rms).
    pub matched: usize,
    pub rms_arcsec: f64,
}

/// What a solver is given: the image's size, sources (FITS pixels) and
/// the header's WCS, if any.
#[derive(Debug, Clone, Copy)]
pub struct Problem<'a> {
    pub width: usize,
    pub height: usize,
    pub sources: &'a [Measured],
    pub nominal: Option<&'a Wcs>,
    /// The FITS file, for a solver that reads images.
    pub file: Option<&'a Path>,
}

pub trait Solver: Send + Sync {
    fn name(&self) -> &str;
    fn solve(&self, p: &Problem<'_>) -> Result<Solution, PipelineError>;
}

fn fail(message: impl Into<String>) -> PipelineError {
    PipelineError::Astrometry(message.into())
}

/// Ferros's solver: the nominal WCS refined against the catalogue. The
/// offset between sources and projected stars is voted for (every pair of
/// the brightest of each), the pairs that agree are fitted (a linear map
/// from pixels to the tangent plane, the tangent point moved to the fitted
/// centre), then every source is matched again more tightly and fitted
/// again; with many stars, a third-order SIP distortion too.
#[derive(Debug, Clone)]
pub struct Refine<'a> {
    pub catalogue: &'a Catalogue,
    /// How far the true pointing may be from the header's, arcseconds.
    pub max_offset_arcsec: f64,
}

const BRIGHTEST: usize = 60;

impl Solver for Refine<'_> {
    fn name(&self) -> &str {
        "ferros"
    }

    fn solve(&self, p: &Problem<'_>) -> Result<Solution, PipelineError> {
        let nominal = p.nominal.ok_or_else(|| fail("no WCS in the header to start from (the pointing)"))?;
        let scale = nominal.scale();
        let (cx, cy) = ((p.width as f64 + 1.0) / 2.0, (p.height as f64 + 1.0) / 2.0);
        let (ra0, dec0) = nominal.pixel_to_sky(cx, cy);
        let half = (p.width as f64).hypot(p.height as f64) / 2.0 * scale / 3600.0;
        let stars = self.catalogue.cone(ra0, dec0, half + self.max_offset_arcsec / 3600.0);
        // Stars only: not saturated, not at the edge, not sharper than a
        // pixel (a hot pixel, a cosmic ray).
        let mut sources: Vec<&Measured> = p
            .sources
            .iter()
            .filter(|s| s.flags & (flags::SATURATED | flags::TRUNCATED) == 0 && s.flux > 0.0 && s.fwhm >= 1.0)
            .collect();
        sources.sort_by(|a, b| b.flux.total_cmp(&a.flux));
        if sources.len() < 3 || stars.len() < 3 {
            return Err(fail(format!(
                "{} usable sources and {} catalogue stars: at least 3 of each are needed",
                sources.len(),
                stars.len()
            )));
        }
        // Stars where the nominal WCS puts them (inside the frame, with room for the offset).
        let margin = self.max_offset_arcsec / scale;
        let projected = |w: &Wcs| -> Vec<(f64, f64, Star)> {
            stars
                .iter()
                .filter_map(|s| {
                    let (x, y) = w.sky_to_pixel(s.ra, s.dec)?;
                    (x > -margin
                        && y > -margin
                        && x < p.width as f64 + margin
                        && y < p.height as f64 + margin)
                        .then_some((x, y, *s))
                })
                .collect()
        };
        let near = projected(nominal);
        // Few stars in the field (Tycho-2 at high latitude): two agreeing pairs suffice to start.
        let inside = near
            .iter()
            .filter(|s| s.0 >= 0.0 && s.1 >= 0.0 && s.0 <= p.width as f64 && s.1 <= p.height as f64)
            .count();
        let least = if inside >= 6 { 3 } else { 2 };
        let (dx, dy) = vote(&sources, &near, margin.max(10.0), least).ok_or_else(|| {
            fail(format!("no offset found that sources and stars agree on ({inside} stars in the field)"))
        })?;
        let mut pairs = pair(&sources, &near, |x, y| (x - dx, y - dy), 10.0);
        if pairs.len() < 3 {
            return Err(fail(format!(
                "{} sources match catalogue stars: at least 3 are needed",
                pairs.len()
            )));
        }
        let mut wcs = fit(nominal, &pairs, false)?;
        let mut radius = 5.0;
        for round in 0..4 {
            let stars_now = projected(&wcs);
            // Well-measured sources only (S/N above 10): faint centroids are noise.
            let all: Vec<&Measured> = p
                .sources
                .iter()
                .filter(|s| s.flux > 10.0 * s.flux_err && s.flags & flags::SATURATED == 0)
                .collect();
            pairs = pair(&all, &stars_now, |x, y| (x, y), radius);
            if pairs.len() < 3 {
                return Err(fail(format!(
                    "{} sources match catalogue stars: at least 3 are needed",
                    pairs.len()
                )));
            }
            let sip = round >= 2 && pairs.len() >= 30;
            wcs = fit(&wcs, &pairs, sip)?;
            // Pairs far off the fit (a wrong match, a blend) are dropped, and the rest fitted again.
            let off = |w: &Wcs, pr: &Pair| {
                w.sky_to_pixel(pr.1.ra, pr.1.dec)
                    .map_or(f64::INFINITY, |(x, y)| (x - pr.0.0).hypot(y - pr.0.1))
            };
            let rms = (pairs.iter().map(|pr| off(&wcs, pr).powi(2)).sum::<f64>() / pairs.len() as f64).sqrt();
            let kept: Vec<Pair> =
                pairs.iter().filter(|pr| off(&wcs, pr) <= (3.0 * rms).max(0.3)).cloned().collect();
            if kept.len() >= 3 && kept.len() < pairs.len() {
                pairs = kept;
                wcs = fit(&wcs, &pairs, sip)?;
            }
            radius = (radius * 0.6).max(2.0);
        }
        let residuals: Vec<f64> = pairs
            .iter()
            .map(|(s, star)| {
                let (ra, dec) = wcs.pixel_to_sky(s.0, s.1);
                separation((ra, dec), (star.ra, star.dec)) * 3600.0
            })
            .collect();
        let rms = (residuals.iter().map(|r| r * r).sum::<f64>() / residuals.len() as f64).sqrt();
        // Three pairs leave two checks on a shift, turn and scale: they must agree to a pixel.
        if rms > scale.max(0.5) {
            return Err(fail(format!("{} pairs fit to {rms:.2}\" rms only: not a solution", pairs.len())));
        }
        Ok(Solution { wcs, solver: "ferros".into(), matched: pairs.len(), rms_arcsec: rms })
    }
}

/// The offset (source minus star, pixels) most pairs of the brightest agree on.
fn vote(sources: &[&Measured], stars: &[(f64, f64, Star)], reach: f64, least: u32) -> Option<(f64, f64)> {
    // Rotation and distortion spread the true offset over several pixels.
    const BIN: f64 = 5.0;
    let n = (2.0 * reach / BIN).ceil() as usize + 1;
    if n > 4000 {
        return None;
    }
    let mut grid = vec![0u16; n * n];
    let mut brightest: Vec<&(f64, f64, Star)> = stars.iter().collect();
    brightest.sort_by(|a, b| a.2.mag.total_cmp(&b.2.mag));
    brightest.truncate(BRIGHTEST);
    let cell = |d: f64| ((d + reach) / BIN).floor();
    for s in sources.iter().take(BRIGHTEST) {
        for st in &brightest {
            let (i, j) = (cell(s.x - st.0), cell(s.y - st.1));
            if i >= 0.0 && j >= 0.0 && (i as usize) < n && (j as usize) < n {
                let k = j as usize * n + i as usize;
                grid[k] = grid[k].saturating_add(1);
            }
        }
    }
    // The best 3 x 3 block (an offset on a bin's edge splits its votes).
    let mut best = (0u32, 0usize, 0usize);
    for j in 0..n.saturating_sub(2) {
        for i in 0..n.saturating_sub(2) {
            let mut v = 0u32;
            for dj in 0..3 {
                for di in 0..3 {
                    v += u32::from(grid[(j + dj) * n + i + di]);
                }
            }
            if v > best.0 {
                best = (v, i, j);
            }
        }
    }
    if best.0 < least {
        return None;
    }
    // The mean offset of the pairs in that block.
    let (lo_x, lo_y) = (best.1 as f64 * BIN - reach, best.2 as f64 * BIN - reach);
    let (mut sx, mut sy, mut k) = (0.0, 0.0, 0.0);
    for s in sources.iter().take(BRIGHTEST) {
        for st in &brightest {
            let (dx, dy) = (s.x - st.0, s.y - st.1);
            if (lo_x..lo_x + 3.0 * BIN).contains(&dx) && (lo_y..lo_y + 3.0 * BIN).contains(&dy) {
                sx += dx;
                sy += dy;
                k += 1.0;
            }
        }
    }
    Some((sx / k, sy / k))
}

type Pair = ((f64, f64), Star);

/// Each star's nearest source within `radius` pixels (after `shift`), one
/// to one: a source claimed twice goes to the nearer star.
fn pair(
    sources: &[&Measured],
    stars: &[(f64, f64, Star)],
    shift: impl Fn(f64, f64) -> (f64, f64),
    radius: f64,
) -> Vec<Pair> {
    let mut best: Vec<Option<(f64, usize)>> = vec![None; sources.len()];
    for (k, st) in stars.iter().enumerate() {
        let mut near: Option<(f64, usize)> = None;
        for (i, s) in sources.iter().enumerate() {
            let (x, y) = shift(s.x, s.y);
            let d = (x - st.0).hypot(y - st.1);
            if d <= radius && near.is_none_or(|(b, _)| d < b) {
                near = Some((d, i));
            }
        }
        if let Some((d, i)) = near
            && best[i].is_none_or(|(b, _)| d < b)
        {
            best[i] = Some((d, k));
        }
    }
    best.iter()
        .enumerate()
        .filter_map(|(i, b)| b.map(|(_, k)| ((sources[i].x, sources[i].y), stars[k].2)))
        .collect()
}

/// Least squares of a linear map from pixel offsets (from `start`'s
/// reference pixel) to the stars' standard coordinates, about the fitted
/// centre (two passes); with `sip`, third-order distortion terms too.
fn fit(start: &Wcs, pairs: &[Pair], sip: bool) -> Result<Wcs, PipelineError> {
    if pairs.len() < FULL_FIT {
        return fit_similar(start, pairs);
    }
    let mut wcs = Wcs { sip: None, ..start.clone() };
    for _ in 0..2 {
        let terms: Vec<(usize, usize)> = if sip {
            vec![(0, 0), (1, 0), (0, 1), (2, 0), (1, 1), (0, 2), (3, 0), (2, 1), (1, 2), (0, 3)]
        } else {
            vec![(0, 0), (1, 0), (0, 1)]
        };
        let mut rows = Vec::with_capacity(pairs.len());
        let mut xi = Vec::with_capacity(pairs.len());
        let mut eta = Vec::with_capacity(pairs.len());
        for ((x, y), star) in pairs {
            let Some((a, b)) = gnomonic(wcs.crval, star.ra, star.dec) else { continue };
            let (u, v) = (x - wcs.crpix[0], y - wcs.crpix[1]);
            rows.push(terms.iter().map(|&(p, q)| u.powi(p as i32) * v.powi(q as i32)).collect::<Vec<f64>>());
            xi.push(a);
            eta.push(b);
        }
        let cx = least_squares(&rows, &xi).ok_or_else(|| fail("the matched stars do not fix a solution"))?;
        let cy = least_squares(&rows, &eta).ok_or_else(|| fail("the matched stars do not fix a solution"))?;
        let cd = [[cx[1], cx[2]], [cy[1], cy[2]]];
        let det = cd[0][0] * cd[1][1] - cd[0][1] * cd[1][0];
        if det.abs() < 1e-20 {
            return Err(fail("a degenerate solution"));
        }
        // The higher terms, as SIP: pixel offsets added before the CD matrix.
        let inv = [[cd[1][1] / det, -cd[0][1] / det], [-cd[1][0] / det, cd[0][0] / det]];
        let mut a = Vec::new();
        let mut b = Vec::new();
        for (k, &(p, q)) in terms.iter().enumerate().skip(3) {
            a.push((p, q, inv[0][0] * cx[k] + inv[0][1] * cy[k]));
            b.push((p, q, inv[1][0] * cx[k] + inv[1][1] * cy[k]));
        }
        // The constant term moves the tangent point to the reference pixel's sky position.
        let (ra, dec) = {
            // The sky position whose standard coordinates are the constant terms.
            let tmp = Wcs { crval: wcs.crval, crpix: [0.0, 0.0], cd: [[1.0, 0.0], [0.0, 1.0]], sip: None };
            tmp.pixel_to_sky(cx[0], cy[0])
        };
        wcs = Wcs { crval: [ra, dec], crpix: wcs.crpix, cd, sip: sip.then_some(Sip { order: 3, a, b }) };
    }
    Ok(wcs)
}

/// Pairs a full linear fit wants (six unknowns, and some to spare); with
/// fewer, only a shift, a turn and a scale are fitted (four unknowns).
const FULL_FIT: usize = 6;

/// A shift, a turn and a scale of `start` (its shape and parity kept),
/// fitted to the pairs, about the fitted centre.
fn fit_similar(start: &Wcs, pairs: &[Pair]) -> Result<Wcs, PipelineError> {
    let mut wcs = Wcs { sip: None, ..start.clone() };
    for _ in 0..2 {
        // (p, q): the pixel offsets through the start's matrix, degrees.
        let mut rows = Vec::with_capacity(2 * pairs.len());
        let mut y = Vec::with_capacity(2 * pairs.len());
        for ((x, yy), star) in pairs {
            let Some((a, b)) = gnomonic(wcs.crval, star.ra, star.dec) else { continue };
            let (u, v) = (x - wcs.crpix[0], yy - wcs.crpix[1]);
            let (p, q) = (start.cd[0][0] * u + start.cd[0][1] * v, start.cd[1][0] * u + start.cd[1][1] * v);
            // xi = s p - t q + c, eta = t p + s q + d.
            rows.push(vec![p, -q, 1.0, 0.0]);
            y.push(a);
            rows.push(vec![q, p, 0.0, 1.0]);
            y.push(b);
        }
        let k = least_squares(&rows, &y).ok_or_else(|| fail("the matched stars do not fix a solution"))?;
        let (sc, t) = (k[0], k[1]);
        let m = start.cd;
        let cd = [
            [sc * m[0][0] - t * m[1][0], sc * m[0][1] - t * m[1][1]],
            [t * m[0][0] + sc * m[1][0], t * m[0][1] + sc * m[1][1]],
        ];
        let tmp = Wcs { crval: wcs.crval, crpix: [0.0, 0.0], cd: [[1.0, 0.0], [0.0, 1.0]], sip: None };
        let (ra, dec) = tmp.pixel_to_sky(k[2], k[3]);
        wcs = Wcs { crval: [ra, dec], crpix: wcs.crpix, cd, sip: None };
    }
    Ok(wcs)
}

/// Least squares by the normal equations (few unknowns): `None` when singular.
fn least_squares(rows: &[Vec<f64>], y: &[f64]) -> Option<Vec<f64>> {
    let n = rows.first()?.len();
    if rows.len() < n {
        return None;
    }
    let mut m = vec![vec![0.0; n + 1]; n];
    for (r, &v) in rows.iter().zip(y) {
        for i in 0..n {
            for j in 0..n {
                m[i][j] += r[i] * r[j];
            }
            m[i][n] += r[i] * v;
        }
    }
    // Gauss-Jordan with partial pivoting, the columns scaled first.
    let scale: Vec<f64> = (0..n).map(|i| m[i][i].abs().sqrt().max(1e-300)).collect();
    for i in 0..n {
        for j in 0..n {
            m[i][j] /= scale[i] * scale[j];
        }
        m[i][n] /= scale[i];
    }
    for c in 0..n {
        let p = (c..n).max_by(|&a, &b| m[a][c].abs().total_cmp(&m[b][c].abs()))?;
        if m[p][c].abs() < 1e-12 {
            return None;
        }
        m.swap(c, p);
        let pivot = m[c][c];
        for v in &mut m[c] {
            *v /= pivot;
        }
        for r in 0..n {
            if r != c {
                let f = m[r][c];
                if f != 0.0 {
                    let pivot_row = m[c].clone();
                    for (v, p) in m[r].iter_mut().zip(&pivot_row).skip(c) {
                        *v -= f * p;
                    }
                }
            }
        }
    }
    Some((0..n).map(|i| m[i][n] / scale[i]).collect())
}

/// astrometry.net's `solve-field`, blind within a plate-scale range around
/// the nominal WCS's (or any), with the index files of `index_dir`.
#[derive(Debug, Clone)]
pub struct SolveField {
    pub program: String,
    pub index_dir: PathBuf,
    pub timeout: Duration,
    /// Where its files go (a fresh folder per image within it).
    pub work_dir: PathBuf,
    /// The order of the distortion it fits (1: none): 2 wants some thirty
    /// stars in the field, as Ferros's own solver does for its terms.
    pub tweak_order: u32,
}

impl Solver for SolveField {
    fn name(&self) -> &str {
        "astrometry.net"
    }

    fn solve(&self, p: &Problem<'_>) -> Result<Solution, PipelineError> {
        let file = p.file.ok_or_else(|| fail("solve-field reads a FITS file: none given"))?;
        let dir = tempfile::Builder::new()
            .prefix("solve-")
            .tempdir_in(&self.work_dir)
            .map_err(|e| fail(format!("{}: {e}", self.work_dir.display())))?;
        let config = dir.path().join("astrometry.cfg");
        std::fs::write(&config, format!("add_path {}\nautoindex\ninparallel\n", self.index_dir.display()))
            .map_err(|e| fail(format!("{}: {e}", config.display())))?;
        let mut cmd = std::process::Command::new(&self.program);
        cmd.arg(file)
            .args(["--dir"])
            .arg(dir.path())
            .args(["--config"])
            .arg(&config)
            .args(["--no-plots", "--overwrite", "--no-remove-lines", "--uniformize", "0", "--crpix-center"])
            .args(["--tweak-order", &self.tweak_order.to_string()])
            .args([
                "--new-fits",
                "none",
                "--corr",
                "none",
                "--rdls",
                "none",
                "--match",
                "none",
                "--index-xyls",
                "none",
            ])
            .args(["--cpulimit", &self.timeout.as_secs().max(1).to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped());
        if let Some(w) = p.nominal {
            let s = w.scale();
            let (ra, dec) = w.pixel_to_sky((p.width as f64 + 1.0) / 2.0, (p.height as f64 + 1.0) / 2.0);
            cmd.args(["--scale-units", "arcsecperpix", "--scale-low", &format!("{}", s * 0.9)])
                .args(["--scale-high", &format!("{}", s * 1.1)])
                .args(["--ra", &format!("{ra}"), "--dec", &format!("{dec}"), "--radius", "2"]);
        }
        let mut child = cmd.spawn().map_err(|e| fail(format!("{}: cannot run: {e}", self.program)))?;
        let start = std::time::Instant::now();
        let status = loop {
            match child.try_wait() {
                Ok(Some(s)) => break s,
                Ok(None) if start.elapsed() > self.timeout + Duration::from_secs(5) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(fail(format!(
                        "{} took more than {} s",
                        self.program,
                        self.timeout.as_secs()
                    )));
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                Err(e) => return Err(fail(format!("{}: {e}", self.program))),
            }
        };
        let stem = file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let wcs_file = dir.path().join(format!("{stem}.wcs"));
        if !status.success() || !wcs_file.exists() {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                use std::io::Read;
                let _ = e.by_ref().take(4096).read_to_string(&mut err);
            }
            let last = err.lines().last().unwrap_or("").to_owned();
            return Err(fail(format!(
                "{} found no solution ({status}){}",
                self.program,
                if last.is_empty() { String::new() } else { format!(": {last}") }
            )));
        }
        let bytes = std::fs::read(&wcs_file).map_err(|e| fail(format!("{}: {e}", wcs_file.display())))?;
        let units = ferros_fits::hdus(&mut std::io::Cursor::new(&bytes), 2)?;
        let header = &units.first().ok_or_else(|| fail("an empty .wcs file"))?.header;
        let wcs =
            Wcs::from_header(header).map_err(fail)?.ok_or_else(|| fail("no WCS in solve-field's answer"))?;
        Ok(Solution { wcs, solver: "astrometry.net".into(), matched: 0, rms_arcsec: f64::NAN })
    }
}

/// How far apart two solutions put the image's pixels on the sky: the
/// largest separation over a grid of 5 x 5 points, arcseconds.
pub fn disagreement(a: &Wcs, b: &Wcs, width: usize, height: usize) -> f64 {
    let mut worst = 0.0f64;
    for i in 0..5 {
        for j in 0..5 {
            let x = 1.0 + (width as f64 - 1.0) * i as f64 / 4.0;
            let y = 1.0 + (height as f64 - 1.0) * j as f64 / 4.0;
            worst = worst.max(separation(a.pixel_to_sky(x, y), b.pixel_to_sky(x, y)) * 3600.0);
        }
    }
    worst
}
