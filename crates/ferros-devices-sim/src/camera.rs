//! A simulated camera. Light frames show the catalogue's stars where the
//! mount points (Tycho-2 when installed, else the synthetic sky: see
//! `ferros-catalog`), through the camera's true optics: a small pointing
//! error of the mount, the detector's rotation, plate scale and a little
//! radial distortion, so that the nominal WCS of the header is worth
//! refining; a Gaussian PSF of the seeing (widening with the airmass); sky
//! from the dark sky, the twilight and the Moon; photon noise through the
//! gain, read noise, bias, dark current following the detector's
//! temperature, flat-field vignetting and hot pixels, so the pipeline has
//! real work. A transient (a fading point source) can be injected for alert
//! tests. Exposure, readout and cooler follow the Ferros clock.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ferros_clock::Clock;
use ferros_devices::{
    Camera, CameraActivity, CameraCapabilities, CameraState, DeviceError, DeviceResult, Exposure, Frame,
    FrameType, Mount, Stamped,
};

use ferros_catalog::Catalogue;

use crate::fault::Faults;
use crate::motion::Motions;
use crate::motion::seconds;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CameraConfig {
    pub width: u32,
    pub height: u32,
    /// Arcseconds per unbinned pixel.
    pub pixel_scale: f64,
    /// Seconds to read a full frame.
    pub readout: f64,
    /// ADU.
    pub bias: f64,
    /// ADU.
    pub read_noise: f64,
    /// Electrons per ADU (photon noise is counted in electrons).
    pub gain: f64,
    /// ADU per second per pixel at the reference temperature (0 C), halving every 6 C.
    pub dark_current: f64,
    /// Dark sky background at the zenith, ADU per second per pixel.
    pub sky: f64,
    /// Magnitude giving 1 ADU per second.
    pub zero_point: f64,
    /// Seeing at the zenith, FWHM in arcseconds (times airmass^0.6 lower down).
    pub seeing: f64,
    /// The detector's true rotation, degrees (north east of +y), as mounted.
    pub rotation: f64,
    /// Radial distortion: how far (pixels) a star in the frame's corner
    /// lies outwards of where the gnomonic projection puts it.
    pub distortion: f64,
    /// The mount's pointing error, at most this many arcseconds on each
    /// axis, the same for the same pointing.
    pub pointing_error: f64,
    /// Fraction of hot pixels.
    pub hot_pixels: f64,
    pub ambient: f64,
    /// Cooler ramp, degrees per second.
    pub cooler_rate: f64,
    /// Seed of this camera's own defects (hot pixels), distinct per camera.
    pub seed: u64,
}

impl Default for CameraConfig {
    fn default() -> Self {
        Self {
            width: 1024,
            height: 1024,
            pixel_scale: 1.5,
            readout: 5.0,
            bias: 1000.0,
            read_noise: 5.0,
            gain: 1.5,
            dark_current: 0.5,
            sky: 5.0,
            zero_point: 18.0,
            seeing: 3.0,
            rotation: 0.3,
            distortion: 0.5,
            pointing_error: 20.0,
            hot_pixels: 2e-4,
            ambient: 15.0,
            cooler_rate: 0.5,
            seed: 1,
        }
    }
}

/// A point source that fades: `mag` at `start`, fainter by `fade` magnitudes per hour.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Transient {
    pub ra: f64,
    pub dec: f64,
    pub mag: f64,
    pub fade: f64,
    pub start: DateTime<Utc>,
}

#[derive(Debug, Clone)]
struct Shot {
    exposure: Exposure,
    started: DateTime<Utc>,
    /// Where the mount says it points (right ascension, declination,
    /// altitude), degrees.
    pointing: Option<(f64, f64, f64)>,
}

#[derive(Debug)]
struct Inner {
    shot: Option<Shot>,
    cooler: Option<f64>,
    temperature: f64,
    temperature_at: DateTime<Utc>,
    transients: Vec<Transient>,
    witness: Option<Witness>,
}

/// What the detector really took, seen from inside the camera: one entry per
/// shot started, its end cut short by an abort that the camera received. A
/// call that never reaches the camera (a hang) aborts nothing: that shot runs
/// to its end. Tests and `ferros simulate-night` check the safety rules on it
/// rather than on what the agents say they did.
#[derive(Debug, Clone, Default)]
pub struct Witness(Arc<Mutex<Vec<ShotRecord>>>);

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ShotRecord {
    pub frame: FrameType,
    pub start: DateTime<Utc>,
    /// When the shutter closed (or will close, for a shot still running).
    pub end: DateTime<Utc>,
}

impl Witness {
    pub fn shots(&self) -> Vec<ShotRecord> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn started(&self, frame: FrameType, start: DateTime<Utc>, duration: f64) {
        // An absurd duration saturates rather than overflows the calendar.
        let end = chrono::TimeDelta::try_milliseconds((duration * 1000.0) as i64)
            .and_then(|d| start.checked_add_signed(d))
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push(ShotRecord { frame, start, end });
    }

    fn aborted(&self, at: DateTime<Utc>) {
        if let Some(last) = self.0.lock().unwrap_or_else(|e| e.into_inner()).last_mut() {
            last.end = last.end.min(at.max(last.start));
        }
    }
}

pub struct SimCamera {
    name: String,
    clock: Clock,
    config: CameraConfig,
    catalogue: Arc<Catalogue>,
    /// For the sky's brightness (Sun and Moon); none: the dark sky always.
    site: Option<ferros_astro::Site>,
    mount: Option<Arc<dyn Mount>>,
    inner: Mutex<Inner>,
    hot: std::sync::OnceLock<Vec<u32>>,
    pub faults: Faults,
    /// Its readouts, when recording.
    pub motions: Motions,
    /// Stuck: a light frame ends in Error, and the camera is not idle until
    /// it is reset (aborted), as an offline alpaca-simulators camera does.
    stuck: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for SimCamera {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimCamera")
            .field("name", &self.name)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// A small deterministic generator (SplitMix64).
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn uniform(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn gauss(&mut self) -> f64 {
        let u = self.uniform().max(1e-300);
        let v = self.uniform();
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

pub(crate) fn hash(parts: &[u64]) -> u64 {
    let mut r = Rng(0x5EED);
    for p in parts {
        r.0 ^= p.wrapping_mul(0x100_0000_01B3);
        r.next();
    }
    r.next()
}

/// Draws of a standard normal distribution, made once: a frame's noise picks
/// from it (a megapixel frame would spend most of its time in logarithms and
/// cosines otherwise).
fn gauss_table() -> &'static [f32] {
    static TABLE: std::sync::OnceLock<Vec<f32>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let mut r = Rng(0x6A05_5E1D);
        (0..1 << 16).map(|_| r.gauss() as f32).collect()
    })
}

impl SimCamera {
    pub fn new(name: &str, clock: Clock, config: CameraConfig, mount: Option<Arc<dyn Mount>>) -> Self {
        let now = clock.now();
        Self {
            name: name.to_owned(),
            clock,
            config,
            catalogue: Arc::new(Catalogue::synthetic()),
            site: None,
            mount,
            inner: Mutex::new(Inner {
                shot: None,
                cooler: None,
                temperature: config.ambient,
                temperature_at: now,
                transients: Vec::new(),
                witness: None,
            }),
            hot: std::sync::OnceLock::new(),
            faults: Faults::default(),
            motions: Motions::default(),
            stuck: std::sync::atomic::AtomicBool::new(false),
        }
    }

    pub fn config(&self) -> CameraConfig {
        self.config
    }

    /// Shows this catalogue's stars (the synthetic sky by default).
    pub fn with_catalogue(mut self, catalogue: Arc<Catalogue>) -> Self {
        self.catalogue = catalogue;
        self
    }

    /// Lights the sky by the Sun and the Moon as seen from `site`.
    pub fn with_site(mut self, site: ferros_astro::Site) -> Self {
        self.site = Some(site);
        self
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts recording every shot from now on (see [`Witness`]).
    pub fn witness(&self) -> Witness {
        self.lock().witness.get_or_insert_with(Witness::default).clone()
    }

    /// Adds a fading point source to every later light frame.
    pub fn inject_transient(&self, t: Transient) {
        self.lock().transients.push(t);
    }

    fn temperature(&self, inner: &mut Inner, now: DateTime<Utc>) -> f64 {
        let target = inner.cooler.unwrap_or(self.config.ambient);
        let step = self.config.cooler_rate * seconds(now - inner.temperature_at).max(0.0);
        let t = inner.temperature;
        inner.temperature = if t > target { (t - step).max(target) } else { (t + step).min(target) };
        inner.temperature_at = now;
        inner.temperature
    }

    /// Makes the camera stuck (or not): see [`SimCamera`]'s `stuck`.
    pub fn set_stuck(&self, stuck: bool) {
        self.stuck.store(stuck, std::sync::atomic::Ordering::SeqCst);
    }

    fn activity(&self, shot: &Shot, now: DateTime<Utc>) -> (CameraActivity, f64) {
        let elapsed = seconds(now - shot.started);
        let d = shot.exposure.duration;
        let read = self.config.readout / f64::from(shot.exposure.binning.max(1)).powi(2);
        if elapsed < d {
            (CameraActivity::Exposing, elapsed / d)
        } else if shot.exposure.frame == FrameType::Light
            && self.stuck.load(std::sync::atomic::Ordering::SeqCst)
        {
            (CameraActivity::Error, 1.0)
        } else if elapsed < d + read {
            (CameraActivity::Reading, 1.0)
        } else {
            (CameraActivity::Ready, 1.0)
        }
    }

    /// A light frame of `duration` seconds started at `started`, the mount
    /// said to point at (`ra`, `dec`) at altitude `alt` (degrees), with this
    /// camera's transients: what an exposure there would give, without the
    /// mount or the clock (benchmarks and pipeline tests).
    pub fn render_light(
        &self,
        ra: f64,
        dec: f64,
        alt: f64,
        started: DateTime<Utc>,
        exposure: Exposure,
    ) -> Frame {
        let transients = self.lock().transients.clone();
        let temperature = self.lock().temperature;
        let shot = Shot {
            exposure: Exposure { frame: FrameType::Light, ..exposure },
            started,
            pointing: Some((ra, dec, alt)),
        };
        self.render(&shot, temperature, &transients)
    }

    /// Renders the frame of a finished shot.
    fn render(&self, shot: &Shot, temperature: f64, transients: &[Transient]) -> Frame {
        let c = &self.config;
        let e = &shot.exposure;
        let bin = u32::from(e.binning.max(1));
        let (x0, y0, w, h) = e.window.unwrap_or((0, 0, c.width, c.height));
        let (w, h) = ((w / bin).max(1), (h / bin).max(1));
        let t = e.duration;
        let dark = c.dark_current * 2f64.powf(temperature / 6.0);
        let b = f64::from(bin * bin);
        // Sky (or flat lamp) and dark current, through the vignetting of the
        // optics (1 - r^2 / 2, r from the centre in half-widths): a term per
        // column and one per row.
        let level = match e.frame {
            FrameType::Light => c.sky * self.sky_factor(shot) * t * b,
            FrameType::Flat => 20_000.0 * b,
            _ => 0.0,
        };
        let dark_level = if e.frame == FrameType::Bias { 0.0 } else { dark * t * b };
        let columns: Vec<f64> =
            (0..w).map(|xx| (f64::from(x0 + xx * bin) / f64::from(c.width) - 0.5).powi(2)).collect();
        let mut signal = vec![0.0f32; (w as usize) * (h as usize)];
        for (yy, row) in (0..h).zip(signal.chunks_exact_mut(w as usize)) {
            let r2y = (f64::from(y0 + yy * bin) / f64::from(c.height) - 0.5).powi(2);
            for (s, r2x) in row.iter_mut().zip(&columns) {
                let vignetting = 1.0 - 0.5 * (r2x + r2y);
                *s = (level * vignetting + dark_level) as f32;
            }
        }
        if e.frame == FrameType::Light
            && let Some((ra, dec, alt)) = shot.pointing
        {
            let (ra0, dec0) = self.true_pointing(ra, dec);
            let half = f64::from(c.width).hypot(f64::from(c.height)) / 2.0 * c.pixel_scale / 3600.0;
            let mut sources: Vec<(f64, f64, f64)> = self
                .catalogue
                .cone(ra0, dec0, half * 1.05)
                .iter()
                .map(|s| (s.ra, s.dec, f64::from(s.mag)))
                .collect();
            let hours = |at: DateTime<Utc>| seconds(shot.started - at) / 3600.0;
            sources.extend(
                transients
                    .iter()
                    .filter(|tr| tr.start <= shot.started)
                    .map(|tr| (tr.ra, tr.dec, tr.mag + tr.fade * hours(tr.start))),
            );
            // The seeing widens with the airmass (to the power 0.6).
            let airmass = 1.0 / alt.clamp(5.0, 90.0).to_radians().sin();
            let sigma =
                c.seeing * airmass.powf(0.6) / (2.0 * (2.0 * std::f64::consts::LN_2).sqrt()) / c.pixel_scale;
            for (ra, dec, mag) in sources {
                let Some((px, py)) = self.project(ra0, dec0, ra, dec) else { continue };
                let flux = 10f64.powf(-0.4 * (mag - c.zero_point)) * t;
                self.draw(&mut signal, (x0, y0, w, h, bin), px, py, flux, sigma);
            }
        }
        // Hot pixels: the same ones in every frame of this camera.
        if e.frame != FrameType::Bias {
            for &p in self.hot_pixels() {
                let (px, py) = (p % c.width, p / c.width);
                if px < x0 || py < y0 || (px - x0) % bin != 0 || (py - y0) % bin != 0 {
                    continue;
                }
                let (xx, yy) = ((px - x0) / bin, (py - y0) / bin);
                if xx < w && yy < h {
                    signal[(yy * w + xx) as usize] += (3000.0 + 200.0 * t) as f32;
                }
            }
        }
        // Photon and read noise: a draw of the table for each pixel, four
        // pixels from each random number.
        let mut noise = Rng(hash(&[shot.started.timestamp_micros() as u64, c.seed]));
        let gauss = gauss_table();
        let read_var = (c.read_noise * c.read_noise) as f32;
        let per_electron = (1.0 / c.gain.max(1e-3)) as f32;
        let bias = c.bias as f32;
        let mut pixels = Vec::with_capacity(signal.len());
        for quad in signal.chunks(4) {
            let mut bits = noise.next();
            for s in quad {
                let g = gauss[(bits & 0xFFFF) as usize];
                bits >>= 16;
                let v = bias + s + g * (s.max(0.0) * per_electron + read_var).sqrt();
                // Rounded to the nearest count, within the converter's range.
                pixels.push((v + 0.5).clamp(0.0, 65535.0) as u16);
            }
        }
        Frame { width: w, height: h, pixels, exposure: e.clone(), started: shot.started }
    }

    /// This camera's hot pixels (unbinned indices), drawn once from its seed.
    fn hot_pixels(&self) -> &[u32] {
        self.hot.get_or_init(|| {
            let c = &self.config;
            let n = c.width.saturating_mul(c.height);
            let mut defects = Rng(hash(&[c.seed, 7]));
            let count = (f64::from(n) * c.hot_pixels) as u64;
            let mut hot: Vec<u32> =
                (0..count).map(|_| (defects.next() % u64::from(n.max(1))) as u32).collect();
            hot.sort_unstable();
            hot.dedup();
            hot
        })
    }

    /// Where the telescope really points when the mount says (`ra`, `dec`):
    /// off by up to `pointing_error` on each axis, the same for the same
    /// pointing (to a tenth of a degree).
    fn true_pointing(&self, ra: f64, dec: f64) -> (f64, f64) {
        let c = &self.config;
        let cell = |v: f64| (v * 10.0).round() as i64 as u64;
        let mut r = Rng(hash(&[cell(ra), cell(dec), c.seed, 11]));
        let (dx, dy) =
            ((2.0 * r.uniform() - 1.0) * c.pointing_error, (2.0 * r.uniform() - 1.0) * c.pointing_error);
        let cosd = dec.to_radians().cos().max(0.01);
        ((ra + dx / 3600.0 / cosd).rem_euclid(360.0), (dec + dy / 3600.0).clamp(-90.0, 90.0))
    }

    /// The sky's brightness over the dark sky's: the twilight (the Sun
    /// above -18 degrees brightens it by 0.6 magnitude per degree) and the
    /// Moon (up to twenty dark skies when full and high, more near it).
    fn sky_factor(&self, shot: &Shot) -> f64 {
        let (Some(site), Some((ra, dec, _))) = (&self.site, shot.pointing) else { return 1.0 };
        let Ok(jd) = ferros_domain::JulianDate::from_datetime(shot.started) else { return 1.0 };
        let Ok(frame) = ferros_astro::Frame::new(site, jd) else { return 1.0 };
        let sun = frame.sun().horizontal.alt;
        let twilight = if sun > -18.0 { 10f64.powf(0.4 * 0.6 * (sun.min(0.0) + 18.0)) - 1.0 } else { 0.0 };
        let moon = frame.moon().horizontal.alt;
        let moonlight = if moon > 0.0 {
            let lit = frame.moon_phase().illumination;
            let near = ferros_domain::Coordinates::new(ra, dec).map_or(90.0, |c| frame.moon_separation(c));
            20.0 * lit.powf(1.5) * moon.to_radians().sin() * (1.0 + 5.0 * (-near / 15.0).exp())
        } else {
            0.0
        };
        1.0 + twilight + moonlight
    }

    /// The detector pixel (unbinned, from 0) of a sky position: gnomonic
    /// projection about the true pointing, the detector's rotation (north
    /// up, east left when 0), its plate scale, then the radial distortion.
    fn project(&self, ra0: f64, dec0: f64, ra: f64, dec: f64) -> Option<(f64, f64)> {
        let c = &self.config;
        let (a0, d0, a, d) = (ra0.to_radians(), dec0.to_radians(), ra.to_radians(), dec.to_radians());
        let cosc = d0.sin() * d.sin() + d0.cos() * d.cos() * (a - a0).cos();
        if cosc <= 0.0 {
            return None;
        }
        let xi = d.cos() * (a - a0).sin() / cosc;
        let eta = (d0.cos() * d.sin() - d0.sin() * d.cos() * (a - a0).cos()) / cosc;
        let scale = (c.pixel_scale / 3600.0).to_radians();
        let (xi, eta) = (xi / scale, eta / scale);
        // Rotated by the detector's angle: +y is north turned `rotation` towards east.
        let (sn, cs) = c.rotation.to_radians().sin_cos();
        let (u, v) = (-(xi * cs - eta * sn), xi * sn + eta * cs);
        let corner = f64::from(c.width).hypot(f64::from(c.height)) / 2.0;
        let k = c.distortion / corner.powi(3);
        let grow = 1.0 + k * (u * u + v * v);
        let px = (f64::from(c.width) - 1.0) / 2.0 + u * grow;
        let py = (f64::from(c.height) - 1.0) / 2.0 + v * grow;
        Some((px, py))
    }

    fn draw(
        &self,
        signal: &mut [f32],
        (x0, y0, w, h, bin): (u32, u32, u32, u32, u32),
        px: f64,
        py: f64,
        flux: f64,
        sigma: f64,
    ) {
        let r = (4.0 * sigma).ceil() as i64;
        let norm = flux / (std::f64::consts::TAU * sigma * sigma);
        for dy in -r..=r {
            for dx in -r..=r {
                let (ux, uy) = (px.round() as i64 + dx, py.round() as i64 + dy);
                if ux < i64::from(x0) || uy < i64::from(y0) {
                    continue;
                }
                let (bx, by) = ((ux - i64::from(x0)) / i64::from(bin), (uy - i64::from(y0)) / i64::from(bin));
                if bx >= i64::from(w) || by >= i64::from(h) {
                    continue;
                }
                let d2 = (ux as f64 - px).powi(2) + (uy as f64 - py).powi(2);
                signal[(by * i64::from(w) + bx) as usize] +=
                    (norm * (-d2 / (2.0 * sigma * sigma)).exp()) as f32;
            }
        }
    }
}

#[async_trait]
impl Camera for SimCamera {
    fn name(&self) -> &str {
        &self.name
    }

    fn capabilities(&self) -> CameraCapabilities {
        CameraCapabilities {
            width: self.config.width,
            height: self.config.height,
            max_binning: 4,
            cooler: true,
            subframe: true,
        }
    }

    async fn state(&self) -> DeviceResult<Stamped<CameraState>> {
        self.faults.check(&self.name).await?;
        let now = self.clock.now();
        let mut inner = self.lock();
        let temperature = self.temperature(&mut inner, now);
        let (activity, progress) =
            inner.shot.as_ref().map_or((CameraActivity::Idle, 0.0), |s| self.activity(s, now));
        Ok(Stamped {
            at: now,
            value: CameraState {
                connected: true,
                initialized: true,
                activity,
                progress,
                ccd_temperature: temperature,
                cooler_on: inner.cooler.is_some(),
                cooler_setpoint: inner.cooler,
                failure: None,
                last_maintenance: None,
            },
        })
    }

    async fn expose(&self, exposure: &Exposure) -> DeviceResult<()> {
        self.faults.check(&self.name).await?;
        let c = &self.config;
        if !(exposure.duration.is_finite() && exposure.duration >= 0.0) {
            return Err(DeviceError::limit(&self.name, format!("exposure of {} s", exposure.duration)));
        }
        if !(1..=4).contains(&exposure.binning) {
            return Err(DeviceError::not_supported(
                &self.name,
                format!("bin {}x{}", exposure.binning, exposure.binning),
            ));
        }
        // In u64: a window sent from outside may be near u32::MAX.
        let beyond = |at: u32, len: u32, size: u32| u64::from(at) + u64::from(len) > u64::from(size);
        if let Some((x, y, w, h)) = exposure.window
            && (w == 0 || h == 0 || beyond(x, w, c.width) || beyond(y, h, c.height))
        {
            return Err(DeviceError::limit(
                &self.name,
                format!("window {x},{y},{w},{h} is outside {}x{}", c.width, c.height),
            ));
        }
        let pointing = match (exposure.frame, &self.mount) {
            (FrameType::Light, Some(m)) => {
                let s = m.state().await?.value;
                Some((s.ra, s.dec, s.alt))
            }
            _ => None,
        };
        let now = self.clock.now();
        let mut inner = self.lock();
        if let Some(shot) = &inner.shot
            && matches!(self.activity(shot, now).0, CameraActivity::Exposing | CameraActivity::Reading)
        {
            return Err(DeviceError::busy(&self.name, "an exposure is in progress"));
        }
        if let Some(shot) = &inner.shot
            && self.activity(shot, now).0 == CameraActivity::Error
        {
            return Err(DeviceError::busy(&self.name, "the camera is not idle (in Error): reset it"));
        }
        if let Some(w) = &inner.witness {
            w.started(exposure.frame, now, exposure.duration);
        }
        let read = c.readout / f64::from(exposure.binning.max(1)).powi(2);
        let exposed = chrono::TimeDelta::try_milliseconds((exposure.duration * 1000.0) as i64)
            .and_then(|d| now.checked_add_signed(d))
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        self.motions.started("readout", exposed, read);
        inner.shot = Some(Shot { exposure: exposure.clone(), started: now, pointing });
        Ok(())
    }

    async fn abort(&self) -> DeviceResult<()> {
        self.faults.check(&self.name).await?;
        let now = self.clock.now();
        let inner = &mut *self.lock();
        if let (Some(_), Some(w)) = (inner.shot.take(), &inner.witness) {
            w.aborted(now);
        }
        self.motions.stopped("readout", now);
        Ok(())
    }

    async fn image(&self) -> DeviceResult<Frame> {
        self.faults.check(&self.name).await?;
        let now = self.clock.now();
        let (shot, temperature, transients) = {
            let mut inner = self.lock();
            let temperature = self.temperature(&mut inner, now);
            let Some(shot) = inner.shot.clone() else {
                return Err(DeviceError::busy(&self.name, "no exposure to read"));
            };
            if self.activity(&shot, now).0 != CameraActivity::Ready {
                return Err(DeviceError::busy(&self.name, "the exposure is not read out yet"));
            }
            inner.shot = None;
            (shot, temperature, inner.transients.clone())
        };
        Ok(self.render(&shot, temperature, &transients))
    }

    async fn set_cooler(&self, setpoint: Option<f64>) -> DeviceResult<()> {
        self.faults.check(&self.name).await?;
        if let Some(t) = setpoint
            && !(-100.0..=30.0).contains(&t)
        {
            return Err(DeviceError::limit(&self.name, format!("cooler setpoint {t} C")));
        }
        let now = self.clock.now();
        let mut inner = self.lock();
        self.temperature(&mut inner, now);
        inner.cooler = setpoint;
        Ok(())
    }
}
