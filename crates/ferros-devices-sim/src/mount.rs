//! A simulated equatorial mount: slews with acceleration on both axes at once,
//! tracks, parks at the zenith, refuses targets below its horizon. Positions are
//! computed from the Ferros clock whenever the state is read.

use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ferros_astro::{Site, gmst_hours};
use ferros_clock::Clock;
use ferros_devices::{DeviceError, DeviceResult, Mount, MountCapabilities, MountState, Stamped};
use ferros_domain::JulianDate;

use crate::fault::Faults;
use crate::motion::seconds;
use crate::motion::{Motions, Profile};

/// How the simulated mount moves.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MountConfig {
    /// Top slew rate, degrees per second on each axis.
    pub rate: f64,
    /// Acceleration, degrees per second squared.
    pub accel: f64,
    /// Lowest altitude it may point at, degrees.
    pub horizon: f64,
}

impl Default for MountConfig {
    fn default() -> Self {
        Self { rate: 5.0, accel: 2.0, horizon: 0.0 }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Pointing {
    /// Tracking a sky position.
    Sky { ra: f64, dec: f64 },
    /// Still with respect to the ground.
    Fixed { ha: f64, dec: f64 },
}

#[derive(Debug, Clone, Copy)]
struct Slew {
    from: (f64, f64),
    to: Pointing,
    started: DateTime<Utc>,
    ha: Profile,
    dec: Profile,
    homing: bool,
    parking: bool,
}

#[derive(Debug)]
struct Inner {
    pointing: Pointing,
    slew: Option<Slew>,
    parked: bool,
}

#[derive(Debug)]
pub struct SimMount {
    name: String,
    site: Site,
    clock: Clock,
    config: MountConfig,
    connected_at: DateTime<Utc>,
    inner: Mutex<Inner>,
    pub faults: Faults,
    /// Its slews (parking included), when recording.
    pub motions: Motions,
}

impl SimMount {
    /// A mount parked at the zenith.
    pub fn new(name: &str, site: Site, clock: Clock, config: MountConfig) -> Self {
        Self {
            name: name.to_owned(),
            site,
            connected_at: clock.now(),
            clock,
            config,
            inner: Mutex::new(Inner {
                pointing: Pointing::Fixed { ha: 0.0, dec: site.latitude() },
                slew: None,
                parked: true,
            }),
            faults: Faults::default(),
            motions: Motions::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Local mean sidereal time, degrees.
    fn lst(&self, t: DateTime<Utc>) -> f64 {
        let gmst = JulianDate::from_datetime(t).ok().and_then(|jd| gmst_hours(jd).ok()).unwrap_or(0.0);
        (gmst * 15.0 + self.site.longitude()).rem_euclid(360.0)
    }

    fn hadec(&self, p: Pointing, t: DateTime<Utc>) -> (f64, f64) {
        match p {
            Pointing::Sky { ra, dec } => (wrap(self.lst(t) - ra), dec),
            Pointing::Fixed { ha, dec } => (ha, dec),
        }
    }

    /// Settles a finished slew, then says where the mount is at `t`.
    fn position(&self, inner: &mut Inner, t: DateTime<Utc>) -> (f64, f64, Option<Slew>) {
        if let Some(s) = inner.slew {
            let elapsed = seconds(t - s.started);
            if elapsed >= s.ha.duration().max(s.dec.duration()) {
                inner.pointing = s.to;
                inner.parked = s.parking;
                inner.slew = None;
            } else {
                return (wrap(s.from.0 + s.ha.covered(elapsed)), s.from.1 + s.dec.covered(elapsed), Some(s));
            }
        }
        let (ha, dec) = self.hadec(inner.pointing, t);
        (ha, dec, None)
    }

    fn start_slew(&self, to: Pointing, homing: bool, parking: bool) -> DeviceResult<()> {
        let now = self.clock.now();
        let mut inner = self.lock();
        let (ha0, dec0, _) = self.position(&mut inner, now);
        if inner.parked && !parking && !homing {
            return Err(DeviceError::busy(&self.name, "parked; unpark first"));
        }
        let (ha1, dec1) = self.hadec(to, now);
        let (alt, _) = altaz(ha1, dec1, self.site.latitude());
        if alt < self.config.horizon {
            return Err(DeviceError::limit(
                &self.name,
                format!("target at altitude {alt:.1} is below the horizon limit {}", self.config.horizon),
            ));
        }
        let profile = |d: f64| Profile { distance: d, rate: self.config.rate, accel: self.config.accel };
        let slew = Slew {
            from: (ha0, dec0),
            to,
            started: now,
            ha: profile(wrap(ha1 - ha0)),
            dec: profile(dec1 - dec0),
            homing,
            parking,
        };
        self.motions.started("slew", now, slew.ha.duration().max(slew.dec.duration()));
        inner.slew = Some(slew);
        Ok(())
    }

    fn park_position(&self) -> Pointing {
        Pointing::Fixed { ha: 0.0, dec: self.site.latitude() }
    }
}

/// An angle in -180..180 degrees.
fn wrap(a: f64) -> f64 {
    let r = (a + 180.0).rem_euclid(360.0) - 180.0;
    if r == -180.0 { 180.0 } else { r }
}

pub use ferros_astro::equinox::{altaz, hadec};

#[async_trait]
impl Mount for SimMount {
    fn name(&self) -> &str {
        &self.name
    }

    fn capabilities(&self) -> MountCapabilities {
        MountCapabilities { slew_altaz: true, park: true, home: true, tracking: true }
    }

    async fn state(&self) -> DeviceResult<Stamped<MountState>> {
        self.faults.check(&self.name).await?;
        let now = self.clock.now();
        let mut inner = self.lock();
        let (ha, dec, slew) = self.position(&mut inner, now);
        let (alt, az) = altaz(ha, dec, self.site.latitude());
        let ra = match (slew, inner.pointing) {
            (None, Pointing::Sky { ra, .. }) => ra,
            _ => (self.lst(now) - ha).rem_euclid(360.0),
        };
        let tracking = slew.is_none() && matches!(inner.pointing, Pointing::Sky { .. });
        Ok(Stamped {
            at: now,
            value: MountState {
                connected: true,
                slewing: slew.is_some(),
                homing: slew.is_some_and(|s| s.homing),
                parked: inner.parked,
                tracking,
                stop_sensor: false,
                at_flat_position: false,
                last_connection: Some(self.connected_at),
                last_maintenance: None,
                ra,
                dec,
                ha: ha / 15.0,
                alt,
                az,
            },
        })
    }

    async fn slew_radec(&self, ra: f64, dec: f64) -> DeviceResult<()> {
        self.faults.check(&self.name).await?;
        if !((0.0..360.0).contains(&ra) && (-90.0..=90.0).contains(&dec)) {
            return Err(DeviceError::limit(&self.name, format!("RA {ra} / Dec {dec} is not a sky position")));
        }
        self.start_slew(Pointing::Sky { ra, dec }, false, false)
    }

    async fn slew_altaz(&self, alt: f64, az: f64) -> DeviceResult<()> {
        self.faults.check(&self.name).await?;
        let (ha, dec) = hadec(alt, az, self.site.latitude());
        self.start_slew(Pointing::Fixed { ha, dec }, false, false)
    }

    async fn set_tracking(&self, on: bool) -> DeviceResult<()> {
        self.faults.check(&self.name).await?;
        let now = self.clock.now();
        let mut inner = self.lock();
        let (ha, dec, slew) = self.position(&mut inner, now);
        if slew.is_some() {
            return Err(DeviceError::busy(&self.name, "slewing"));
        }
        if inner.parked && on {
            return Err(DeviceError::busy(&self.name, "parked; unpark first"));
        }
        inner.pointing = if on {
            Pointing::Sky { ra: (self.lst(now) - ha).rem_euclid(360.0), dec }
        } else {
            Pointing::Fixed { ha, dec }
        };
        Ok(())
    }

    async fn stop(&self) -> DeviceResult<()> {
        self.abort().await?;
        self.set_tracking(false).await
    }

    async fn abort(&self) -> DeviceResult<()> {
        self.faults.check(&self.name).await?;
        let now = self.clock.now();
        let mut inner = self.lock();
        let (ha, dec, slew) = self.position(&mut inner, now);
        if slew.is_some() {
            inner.slew = None;
            inner.pointing = Pointing::Fixed { ha, dec };
            self.motions.stopped("slew", now);
        }
        Ok(())
    }

    async fn park(&self) -> DeviceResult<()> {
        self.faults.check(&self.name).await?;
        self.start_slew(self.park_position(), false, true)
    }

    async fn unpark(&self) -> DeviceResult<()> {
        self.faults.check(&self.name).await?;
        let now = self.clock.now();
        let mut inner = self.lock();
        if self.position(&mut inner, now).2.is_some() {
            return Err(DeviceError::busy(&self.name, "still moving to park"));
        }
        inner.parked = false;
        Ok(())
    }

    async fn home(&self) -> DeviceResult<()> {
        self.faults.check(&self.name).await?;
        let parked = self.lock().parked;
        self.start_slew(self.park_position(), true, parked)
    }
}
