//! A simulated dome: the shutter takes about a minute to open or close and is
//! `Intermediate` meanwhile; the slit turns at a fixed rate the shorter way, or
//! follows a mount when slaved.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ferros_clock::Clock;
use ferros_devices::{DeviceError, DeviceResult, Dome, DomeCapabilities, DomeState, Mount, Shutter, Stamped};

use crate::fault::Faults;
use crate::motion::Motions;
use crate::motion::seconds;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DomeConfig {
    /// Seconds for the shutter to open or close fully.
    pub shutter_seconds: f64,
    /// Rotation rate, degrees per second.
    pub rate: f64,
    /// Slaved, it looks at the mount's azimuth this often (seconds), once
    /// the mount is not slewing, and turns toward it when more than
    /// `follow_threshold` degrees off, as INDI's slaved domes do: it lags
    /// the mount.
    pub follow_s: f64,
    pub follow_threshold: f64,
}

impl Default for DomeConfig {
    fn default() -> Self {
        Self { shutter_seconds: 60.0, rate: 5.0, follow_s: 2.0, follow_threshold: 1.0 }
    }
}

#[derive(Debug, Clone, Copy)]
enum ShutterMotion {
    Still(Shutter),
    Moving { opening: bool, since: DateTime<Utc> },
}

#[derive(Debug, Clone, Copy)]
struct Rotation {
    from: f64,
    by: f64,
    since: DateTime<Utc>,
    homing: bool,
}

#[derive(Debug)]
struct Inner {
    shutter: ShutterMotion,
    azimuth: f64,
    rotation: Option<Rotation>,
    slaved: bool,
    /// When a slaved dome last looked at its mount.
    followed: Option<DateTime<Utc>>,
}

pub struct SimDome {
    name: String,
    clock: Clock,
    config: DomeConfig,
    mount: Option<Arc<dyn Mount>>,
    inner: Mutex<Inner>,
    pub faults: Faults,
    /// Its shutter's travels and its rotations, when recording.
    pub motions: Motions,
}

impl std::fmt::Debug for SimDome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimDome")
            .field("name", &self.name)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl SimDome {
    /// A closed dome at azimuth 0; `mount` is followed when slaved.
    pub fn new(name: &str, clock: Clock, config: DomeConfig, mount: Option<Arc<dyn Mount>>) -> Self {
        Self {
            name: name.to_owned(),
            clock,
            config,
            mount,
            inner: Mutex::new(Inner {
                shutter: ShutterMotion::Still(Shutter::Closed),
                azimuth: 0.0,
                rotation: None,
                slaved: false,
                followed: None,
            }),
            faults: Faults::default(),
            motions: Motions::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Settles finished motions and returns the shutter and rotation at `now`.
    fn settle(&self, inner: &mut Inner, now: DateTime<Utc>) -> (Shutter, Option<Rotation>) {
        if let ShutterMotion::Moving { opening, since } = inner.shutter
            && seconds(now - since) >= self.config.shutter_seconds
        {
            inner.shutter = ShutterMotion::Still(if opening { Shutter::Opened } else { Shutter::Closed });
        }
        if let Some(r) = inner.rotation {
            let t = r.by.abs() / self.config.rate;
            let elapsed = seconds(now - r.since);
            if elapsed >= t {
                inner.azimuth = (r.from + r.by).rem_euclid(360.0);
                inner.rotation = None;
            } else {
                inner.azimuth = (r.from + r.by.signum() * self.config.rate * elapsed).rem_euclid(360.0);
            }
        }
        let shutter = match inner.shutter {
            ShutterMotion::Still(s) => s,
            ShutterMotion::Moving { .. } => Shutter::Intermediate,
        };
        (shutter, inner.rotation)
    }

    /// The shutter now, seen from inside the dome: what it really does,
    /// whatever its faults and its mount (a slaved dome's `state` asks the
    /// mount, and fails while the mount does not answer).
    pub fn shutter(&self) -> Shutter {
        let now = self.clock.now();
        self.settle(&mut self.lock(), now).0
    }

    fn rotate_to(&self, azimuth: f64, homing: bool) -> DeviceResult<()> {
        if !azimuth.is_finite() {
            return Err(DeviceError::limit(&self.name, format!("azimuth {azimuth} is not an angle")));
        }
        let now = self.clock.now();
        let mut inner = self.lock();
        self.settle(&mut inner, now);
        let from = inner.azimuth;
        let by = (azimuth - from + 180.0).rem_euclid(360.0) - 180.0;
        self.motions.started("rotation", now, by.abs() / self.config.rate);
        inner.rotation = Some(Rotation { from, by, since: now, homing });
        Ok(())
    }

    fn move_shutter(&self, opening: bool) -> DeviceResult<()> {
        let now = self.clock.now();
        let mut inner = self.lock();
        let (shutter, _) = self.settle(&mut inner, now);
        let target = if opening { Shutter::Opened } else { Shutter::Closed };
        if shutter == target {
            return Ok(());
        }
        let full = self.config.shutter_seconds;
        let since = match inner.shutter {
            // Already on its way: asking again changes nothing.
            ShutterMotion::Moving { opening: o, .. } if o == opening => return Ok(()),
            // Turning back: as long as it has come.
            ShutterMotion::Moving { since, .. } => {
                let done = seconds(now - since).clamp(0.0, full);
                now - chrono::TimeDelta::milliseconds(((full - done) * 1000.0) as i64)
            }
            ShutterMotion::Still(_) => now,
        };
        self.motions.started("shutter", now, full - seconds(now - since));
        inner.shutter = ShutterMotion::Moving { opening, since };
        Ok(())
    }
}

#[async_trait]
impl Dome for SimDome {
    fn name(&self) -> &str {
        &self.name
    }

    fn capabilities(&self) -> DomeCapabilities {
        DomeCapabilities { azimuth: true, slave: self.mount.is_some(), home: true }
    }

    async fn state(&self) -> DeviceResult<Stamped<DomeState>> {
        self.faults.check(&self.name).await?;
        let slaved = self.lock().slaved;
        let mount_az = match (&self.mount, slaved) {
            // Like INDI's, it waits for the mount to end a slew before following.
            (Some(m), true) => Some(m.state().await?.value).filter(|s| !s.slewing).map(|s| s.az),
            _ => None,
        };
        let now = self.clock.now();
        let mut inner = self.lock();
        let (shutter, mut rotation) = self.settle(&mut inner, now);
        if let Some(az) = mount_az
            && inner.followed.is_none_or(|t| seconds(now - t) >= self.config.follow_s)
        {
            inner.followed = Some(now);
            let off = (az - inner.azimuth + 180.0).rem_euclid(360.0) - 180.0;
            let heading = rotation.map(|r| (r.from + r.by).rem_euclid(360.0));
            let retarget = heading.is_none_or(|h| ((az - h + 180.0).rem_euclid(360.0) - 180.0).abs() > 1e-9);
            if off.abs() > self.config.follow_threshold && retarget {
                self.motions.started("rotation", now, off.abs() / self.config.rate);
                let r = Rotation { from: inner.azimuth, by: off, since: now, homing: false };
                inner.rotation = Some(r);
                rotation = Some(r);
            }
        }
        Ok(Stamped {
            at: now,
            value: DomeState {
                connected: true,
                homing: rotation.is_some_and(|r| r.homing),
                slewing: rotation.is_some(),
                azimuth: inner.azimuth,
                shutter,
                slaved: inner.slaved,
            },
        })
    }

    async fn open(&self) -> DeviceResult<()> {
        self.faults.check(&self.name).await?;
        self.move_shutter(true)
    }

    async fn close(&self) -> DeviceResult<()> {
        self.faults.check(&self.name).await?;
        self.move_shutter(false)
    }

    async fn slew_azimuth(&self, azimuth: f64) -> DeviceResult<()> {
        self.faults.check(&self.name).await?;
        if self.lock().slaved {
            return Err(DeviceError::busy(&self.name, "slaved to the mount"));
        }
        self.rotate_to(azimuth, false)
    }

    async fn set_slaved(&self, on: bool) -> DeviceResult<()> {
        self.faults.check(&self.name).await?;
        if on && self.mount.is_none() {
            return Err(DeviceError::not_supported(&self.name, "follow a mount (none attached)"));
        }
        self.lock().slaved = on;
        Ok(())
    }

    async fn abort(&self) -> DeviceResult<()> {
        self.faults.check(&self.name).await?;
        let now = self.clock.now();
        let mut inner = self.lock();
        let (shutter, _) = self.settle(&mut inner, now);
        inner.rotation = None;
        inner.shutter = ShutterMotion::Still(shutter);
        self.motions.stopped("rotation", now);
        self.motions.stopped("shutter", now);
        Ok(())
    }

    async fn home(&self) -> DeviceResult<()> {
        self.faults.check(&self.name).await?;
        self.rotate_to(0.0, true)
    }
}
