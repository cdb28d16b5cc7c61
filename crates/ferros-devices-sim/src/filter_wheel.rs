//! A simulated filter wheel: a fixed time per slot, the shorter way round.

use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ferros_clock::Clock;
use ferros_devices::{DeviceError, DeviceResult, FilterWheel, FilterWheelState, Stamped};

use crate::fault::Faults;
use crate::motion::Motions;
use crate::motion::seconds;

#[derive(Debug)]
struct Inner {
    position: usize,
    moving: Option<(usize, DateTime<Utc>, f64, bool)>,
}

#[derive(Debug)]
pub struct SimFilterWheel {
    name: String,
    clock: Clock,
    names: Vec<String>,
    /// Seconds to pass one slot.
    seconds_per_slot: f64,
    inner: Mutex<Inner>,
    pub faults: Faults,
    /// Its moves, when recording.
    pub motions: Motions,
}

impl SimFilterWheel {
    pub fn new(name: &str, clock: Clock, names: Vec<String>, seconds_per_slot: f64) -> Self {
        Self {
            name: name.to_owned(),
            clock,
            names,
            seconds_per_slot,
            inner: Mutex::new(Inner { position: 0, moving: None }),
            faults: Faults::default(),
            motions: Motions::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn settle(&self, inner: &mut Inner, now: DateTime<Utc>) {
        if let Some((to, since, secs, _)) = inner.moving
            && seconds(now - since) >= secs
        {
            inner.position = to;
            inner.moving = None;
        }
    }

    fn go(&self, to: usize, homing: bool) -> DeviceResult<()> {
        let n = self.names.len();
        if to >= n {
            return Err(DeviceError::limit(
                &self.name,
                format!("slot {to} does not exist (0..{})", n.saturating_sub(1)),
            ));
        }
        let now = self.clock.now();
        let mut inner = self.lock();
        self.settle(&mut inner, now);
        if inner.moving.is_some() {
            return Err(DeviceError::busy(&self.name, "moving"));
        }
        let d = to.abs_diff(inner.position);
        let slots = d.min(n - d);
        inner.moving = Some((to, now, slots as f64 * self.seconds_per_slot, homing));
        self.motions.started("filter", now, slots as f64 * self.seconds_per_slot);
        Ok(())
    }
}

#[async_trait]
impl FilterWheel for SimFilterWheel {
    fn name(&self) -> &str {
        &self.name
    }

    async fn state(&self) -> DeviceResult<Stamped<FilterWheelState>> {
        self.faults.check(&self.name).await?;
        let now = self.clock.now();
        let mut inner = self.lock();
        self.settle(&mut inner, now);
        Ok(Stamped {
            at: now,
            value: FilterWheelState {
                connected: true,
                homing: inner.moving.is_some_and(|m| m.3),
                moving: inner.moving.is_some(),
                position: inner.moving.is_none().then_some(inner.position),
                names: self.names.clone(),
            },
        })
    }

    async fn select(&self, position: usize) -> DeviceResult<()> {
        self.faults.check(&self.name).await?;
        self.go(position, false)
    }

    async fn select_filter(&self, name: &str) -> DeviceResult<()> {
        self.faults.check(&self.name).await?;
        let slot = ferros_devices::slot_of(&self.name, &self.names, name)?;
        self.go(slot, false)
    }

    async fn home(&self) -> DeviceResult<()> {
        self.faults.check(&self.name).await?;
        self.go(0, true)
    }
}
