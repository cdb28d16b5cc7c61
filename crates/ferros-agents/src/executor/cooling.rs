//! The cameras' coolers: cold through the night, warm by day. Each camera
//! with a set point (`[detectors.*] cooler_setpoint`) is cooled from sunset
//! and warmed once the morning's calibrations are taken and the Sun is up;
//! a science frame waits for its camera to settle at the set point (at most
//! `cooler_settle_s`, then it goes on and the log says so).

use super::*;

impl Kit {
    /// Sets each camera's cooler to what the hour wants; a camera that does
    /// not answer is told again at the next look.
    pub(super) async fn thermal(&self, cold: bool) {
        for det in [Detector::Vis, Detector::Nir] {
            let Some(ch) = self.channel(det) else { continue };
            let Some(setpoint) = self.settings.detectors.of(det).cooler_setpoint else { continue };
            let c = &ch.camera;
            if !c.capabilities().cooler {
                continue;
            }
            let Ok(state) = bounded(c.name(), "state", self.timeout, c.state()).await else { continue };
            let s = state.value;
            let want = cold.then_some(setpoint);
            let has = if s.cooler_on { s.cooler_setpoint } else { None };
            if has == want {
                continue;
            }
            match bounded(c.name(), "cooler", self.timeout, c.set_cooler(want)).await {
                Ok(()) => {
                    let m = match want {
                        Some(t) => format!("{}: cooling to {t} C (now {:.1} C)", c.name(), s.ccd_temperature),
                        None => format!("{}: cooler off, warming (now {:.1} C)", c.name(), s.ccd_temperature),
                    };
                    self.log(LogLevel::Info, m).await;
                }
                Err(e) => self.log(LogLevel::Warn, format!("{}: cooler: {e}", c.name())).await,
            }
        }
    }

    /// Waits for the camera to settle at its set point before science
    /// frames; on time out, goes on (the header tells the temperature).
    pub(super) async fn settle(&self, ch: &Channel) {
        let o = self.settings.detectors.of(ch.detector);
        let Some(setpoint) = o.cooler_setpoint else { return };
        let c = &ch.camera;
        if !c.capabilities().cooler {
            return;
        }
        let t = self.timeout;
        let tolerance = o.cooler_tolerance;
        let limit = Duration::from_secs_f64(o.cooler_settle_s);
        let settled = self
            .until(
                c.name(),
                "cooling",
                limit,
                || bounded(c.name(), "state", t, c.state()),
                |s| !s.value.cooler_on || (s.value.ccd_temperature - setpoint).abs() <= tolerance,
            )
            .await;
        match settled {
            Ok(s) if s.value.cooler_on => {}
            Ok(s) => {
                self.log(
                    LogLevel::Warn,
                    format!(
                        "{}: the cooler is off ({:.1} C): science frames go on warm",
                        c.name(),
                        s.value.ccd_temperature
                    ),
                )
                .await;
            }
            Err(e) => {
                self.log(
                    LogLevel::Warn,
                    format!("{}: not at {setpoint} C: {e}; science frames go on", c.name()),
                )
                .await;
            }
        }
    }
}

/// Whether the cameras should be cold now: from sunset until the morning's
/// calibrations are taken, and while they run.
pub(super) async fn night_cold(
    db: &Db,
    settings: &Settings,
    site: &Site,
    now: DateTime<Utc>,
    calibrating: bool,
) -> bool {
    if calibrating {
        return true;
    }
    match crate::sun_altitude(site, now) {
        Some(sun) if sun < 0.0 => true,
        Some(_) => calibrations_due(db, settings, site, now).await,
        None => false,
    }
}
