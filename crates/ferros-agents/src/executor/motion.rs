//! Moving the observatory: the dome, the mount, the filters; waiting on a device; dithering.

use super::*;

/// One camera and its filter wheel.
#[derive(Clone)]
pub(super) struct Channel {
    pub(super) detector: Detector,
    pub(super) camera: Arc<dyn Camera>,
    pub(super) wheel: Option<Arc<dyn FilterWheel>>,
}

impl Kit {
    pub(super) fn evening(&self, now: DateTime<Utc>) -> bool {
        evening(&self.settings, &self.site, now)
    }

    pub(super) fn channel(&self, detector: Detector) -> Option<Channel> {
        let (camera, wheel) = match detector {
            Detector::Vis => (&self.obs.camera_vis, &self.obs.filter_vis),
            Detector::Nir => (&self.obs.camera_nir, &self.obs.filter_nir),
        };
        Some(Channel { detector, camera: camera.clone()?, wheel: wheel.clone() })
    }

    /// Polls `read` every half second (clock time) until `done`, or `Timeout` after `limit`.
    pub(super) async fn until<T, F, Fut>(
        &self,
        device: &str,
        what: &str,
        limit: Duration,
        mut read: F,
        done: impl Fn(&Stamped<T>) -> bool,
    ) -> DeviceResult<Stamped<T>>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = DeviceResult<Stamped<T>>>,
    {
        let start = self.clock.now();
        loop {
            let v = read().await?;
            if done(&v) {
                return Ok(v);
            }
            if (self.clock.now() - start).to_std().unwrap_or_default() >= limit {
                return Err(DeviceError::Timeout {
                    device: device.to_owned(),
                    what: what.to_owned(),
                    seconds: limit.as_secs_f64(),
                });
            }
            self.clock.sleep(POLL).await;
        }
    }

    pub(super) fn motion_limit(&self) -> Duration {
        Duration::from_secs_f64(self.settings.executor.motion_timeout_s)
    }

    /// Notes a step's time on the alert of an alert sequence (a failure is
    /// only logged: the observation goes on).
    pub(super) async fn stamp_alert(&self, sid: ferros_domain::SequenceId, step: ferros_db::AlertStep) {
        if let Err(e) = self.db.stamp_alert_sequence(sid, step, self.clock.now()).await {
            self.log(LogLevel::Warn, format!("sequence {sid}: cannot note the alert's {step:?}: {e}")).await;
        }
    }

    pub(super) async fn log(&self, level: LogLevel, m: impl Into<String>) {
        self.ctx.log("executor", level, m).await;
    }

    /// Waits for the dome to be open (the majordome opens it).
    pub(super) async fn dome_open(&self) -> DeviceResult<()> {
        let Some(d) = &self.obs.dome else { return Ok(()) };
        let t = self.timeout;
        self.until(
            d.name(),
            "shutter open",
            self.motion_limit(),
            || bounded(d.name(), "state", t, d.state()),
            |s| s.value.shutter == Shutter::Opened,
        )
        .await
        .map(|_| ())
    }

    /// Slews to J2000 `ra`, `dec` and waits for the mount, then the dome, to
    /// arrive. `alert`: the alert sequence whose slew this is (its alert
    /// notes when the slew was commanded).
    pub(super) async fn point(
        &self,
        ra: f64,
        dec: f64,
        alert: Option<ferros_domain::SequenceId>,
    ) -> DeviceResult<()> {
        let t = self.timeout;
        if let Some(m) = &self.obs.mount {
            // The majordome unparks the mount when observing starts; the executor never does.
            self.until(
                m.name(),
                "unpark",
                self.motion_limit(),
                || bounded(m.name(), "state", t, m.state()),
                |s| !s.value.parked,
            )
            .await?;
            bounded(m.name(), "slew", t, m.slew_radec(ra, dec)).await?;
            if let Some(sid) = alert {
                self.stamp_alert(sid, ferros_db::AlertStep::SlewCommanded).await;
                self.log(LogLevel::Info, format!("sequence {sid}: slew to its alert's target commanded"))
                    .await;
            }
            self.until(
                m.name(),
                "slew",
                self.motion_limit(),
                || bounded(m.name(), "state", t, m.state()),
                |s| !s.value.slewing,
            )
            .await?;
            if let Some(d) = &self.obs.dome {
                let caps = d.capabilities();
                // Slaved when it can be, unless it was found not to follow.
                let drive = !caps.slave || self.dome_driven.load(std::sync::atomic::Ordering::SeqCst);
                let ds = bounded(d.name(), "state", t, d.state()).await?;
                if !drive && !ds.value.slaved {
                    bounded(d.name(), "slave", t, d.set_slaved(true)).await?;
                } else if drive && caps.azimuth {
                    let az = bounded(m.name(), "state", t, m.state()).await?.value.az;
                    bounded(d.name(), "azimuth", t, d.slew_azimuth(az)).await?;
                }
                // A stopped dome is not an arrived one: a slaved dome looks
                // at the mount now and then, and may not have begun to turn.
                // No sky exposure before the slit is on the mount.
                let tolerance = self.settings.executor.dome_tolerance_deg;
                let start = self.clock.now();
                let mut still_since: Option<DateTime<Utc>> = None;
                loop {
                    let ds = bounded(d.name(), "state", t, d.state()).await?.value;
                    let az = bounded(m.name(), "state", t, m.state()).await?.value.az;
                    let off = ((az - ds.azimuth + 180.0).rem_euclid(360.0) - 180.0).abs();
                    if !ds.slewing && (!(caps.azimuth || caps.slave) || off <= tolerance) {
                        break;
                    }
                    // Slaved, still and off the mount for long: a dome that
                    // says it follows and does not (alpaca-simulators'). Its
                    // azimuth is driven from now on.
                    let now = self.clock.now();
                    still_since = if ds.slewing { None } else { still_since.or(Some(now)) };
                    if ds.slaved
                        && caps.azimuth
                        && still_since.is_some_and(|s| (now - s).num_seconds() >= DOME_FOLLOW_S)
                    {
                        self.log(
                            LogLevel::Warn,
                            format!(
                                "{} is slaved but stays at {:.1} deg, the mount at {az:.1}: Ferros drives its azimuth",
                                d.name(),
                                ds.azimuth
                            ),
                        )
                        .await;
                        self.dome_driven.store(true, std::sync::atomic::Ordering::SeqCst);
                        bounded(d.name(), "slave", t, d.set_slaved(false)).await?;
                        bounded(d.name(), "azimuth", t, d.slew_azimuth(az)).await?;
                        still_since = None;
                    }
                    if (self.clock.now() - start).to_std().unwrap_or_default() >= self.motion_limit() {
                        return Err(DeviceError::Timeout {
                            device: d.name().to_owned(),
                            what: format!(
                                "the slit on the mount (dome at {:.1}, mount at {az:.1} deg)",
                                ds.azimuth
                            ),
                            seconds: self.motion_limit().as_secs_f64(),
                        });
                    }
                    self.clock.sleep(POLL).await;
                }
            }
            let settle = self.settings.executor.settle_s;
            if settle > 0.0 {
                self.clock.sleep(Duration::from_secs_f64(settle)).await;
            }
        }
        Ok(())
    }

    /// Turns the wheel to `filter` (a request's name: the wheel's alias, if any, is followed).
    pub(super) async fn select_filter(&self, ch: &Channel, filter: &str) -> DeviceResult<()> {
        let Some(w) = &ch.wheel else { return Ok(()) };
        let filter = self.obs.wheels.of(ch.detector).slot(filter);
        let t = self.timeout;
        let s = bounded(w.name(), "state", t, w.state()).await?;
        if s.value.filter() == Some(filter) {
            return Ok(());
        }
        bounded(w.name(), "select", t, w.select_filter(filter)).await?;
        self.until(
            w.name(),
            "filter change",
            self.motion_limit(),
            || bounded(w.name(), "state", t, w.state()),
            |s| !s.value.moving && s.value.filter() == Some(filter),
        )
        .await
        .map(|_| ())
    }
}

/// Seconds a slaved dome may stay still off the mount before Ferros drives it.
const DOME_FOLLOW_S: i64 = 10;

/// A dithering offset: a point of a square spiral of `amplitude` arcsec, in degrees.
pub fn dither_offset(i: u32, amplitude: f64, dec: f64) -> (f64, f64) {
    if i == 0 || amplitude <= 0.0 {
        return (0.0, 0.0);
    }
    const PATTERN: [(f64, f64); 8] = [
        (1.0, 0.0),
        (1.0, 1.0),
        (0.0, 1.0),
        (-1.0, 1.0),
        (-1.0, 0.0),
        (-1.0, -1.0),
        (0.0, -1.0),
        (1.0, -1.0),
    ];
    let (x, y) = PATTERN[((i - 1) % 8) as usize];
    let ring = f64::from((i - 1) / 8 + 1);
    let a = amplitude / 3600.0 * ring;
    let cos = dec.to_radians().cos().max(0.01);
    (x * a / cos, y * a)
}
