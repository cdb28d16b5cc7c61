//! The executor: runs the schedule on the devices while the majordome says
//! SCHEDULER (observing), and the night's calibrations.
//!
//! One job at a time, in a task of its own that the executor's steps watch:
//! - a sequence: slew, the dome follows, then its albums in parallel, one per
//!   camera, each plan in turn (filter, then its exposures, dithering between
//!   them); every image archived as FITS with its full header and recorded in
//!   the database, progress stored as it goes; at the end the sequence is
//!   EXECUTED and its real time charged to its program. Stopped (UNSAFE, the
//!   majordome stops observing, an operator cancels, an alert pre-empts it, a
//!   device fails) it goes back to the planner and nothing is charged;
//! - twilight flats in the evening, bias and darks in the morning with the
//!   dome closed.
//!
//! The job's task is aborted with the executor: a restarted executor finds
//! the sequences left EXECUTING and gives them back.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use ferros_archive::{Archive, ImageInfo, image_header};
use ferros_astro::Site;
use ferros_clock::Clock;
use ferros_config::{Preemption, Settings};
use ferros_db::{Db, SequenceEnd};
use ferros_devices::{
    Camera, CameraActivity, DeviceError, DeviceResult, Exposure, FilterWheel, FrameType, Shutter, Stamped,
    bounded,
};
use ferros_domain::{
    CalibrationLevel, Detector, GlobalStatus, Image, ImageKind, JulianDate, LogLevel, Request, RequestId,
    RequestStatus, SequenceId, SequenceStatus,
};
use ferros_majordome::Mode;
use ferros_observatory::Observatory;
use tokio::sync::{RwLock, watch};
use tokio::task::JoinHandle;

use crate::runtime::{Agent, AgentContext, Event};

/// Polling interval of device states, clock time.
const POLL: Duration = Duration::from_millis(500);

/// Why a job must stop, and how.
#[derive(Debug, Clone, PartialEq)]
enum Stop {
    Go,
    /// Abort the exposures now.
    Now(String),
    /// Let the running exposures end and be archived.
    AfterExposure(String),
}

#[derive(Debug, Clone, PartialEq)]
enum Job {
    Sequence { id: SequenceId, alert: bool },
    Flats,
    Calibrations,
}

struct Running {
    job: Job,
    stop: Arc<watch::Sender<Stop>>,
    task: JoinHandle<()>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Everything a job needs, shared with its task.
#[derive(Clone)]
struct Kit {
    obs: Observatory,
    archive: Archive,
    db: Db,
    clock: Clock,
    ctx: AgentContext,
    settings: Arc<Settings>,
    site: Option<Site>,
    /// Device call time limit (real time).
    timeout: Duration,
}

pub struct ExecutorAgent {
    kit: Kit,
    period: Duration,
    running: Option<Running>,
    recovered: bool,
    /// The sky of the last minute an alert's altitude was asked for.
    frames: std::sync::Mutex<Option<(i64, ferros_astro::Frame)>>,
    /// The sequences taken at one instant of the clock: one is not taken
    /// twice at the same instant (taken, given back to the planner, placed
    /// again at once: without time passing, that would go on for ever).
    taken: (DateTime<Utc>, Vec<SequenceId>),
}

impl std::fmt::Debug for ExecutorAgent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecutorAgent").field("job", &self.running.as_ref().map(|r| &r.job)).finish()
    }
}

/// When calibrations are due, from the Sun and the clock.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Twilight {
    /// The Sun's altitude now and in ten minutes, degrees.
    pub sun: f64,
    pub sun_later: f64,
}

impl Twilight {
    pub fn at(site: Option<&Site>, now: DateTime<Utc>) -> Option<Twilight> {
        let sun = crate::sun_altitude(site, now)?;
        let sun_later = crate::sun_altitude(site, now + TimeDelta::minutes(10))?;
        Some(Twilight { sun, sun_later })
    }

    /// Evening twilight, the Sun between `top` and `bottom` and setting.
    pub fn evening(&self, top: f64, bottom: f64) -> bool {
        self.sun_later < self.sun && self.sun <= top && self.sun > bottom
    }

    /// Morning, the Sun above `night` (the night is over) and below the horizon + 10 degrees.
    pub fn morning(&self, night: f64) -> bool {
        self.sun_later > self.sun && self.sun > night && self.sun < 10.0
    }
}

/// The evening twilight of the flats: the Sun setting between
/// `executor.flats_sun_altitude` and the night's altitude.
fn evening(settings: &Settings, site: Option<&Site>, now: DateTime<Utc>) -> bool {
    Twilight::at(site, now)
        .is_some_and(|t| t.evening(settings.executor.flats_sun_altitude, settings.site.night_sun_altitude))
}

/// Whether twilight flats are due now: evening, and a filter still lacks its flats.
pub async fn flats_due(db: &Db, settings: &Settings, site: Option<&Site>, now: DateTime<Utc>) -> bool {
    !flats_wanted(db, settings, site, now).await.is_empty()
}

/// The evening flats still to take now: (detector, filter, how many), each
/// filter of `executor.flat_filters_*` until it has `flats_per_filter` from
/// this twilight; nothing outside the evening's window.
pub async fn flats_wanted(
    db: &Db,
    settings: &Settings,
    site: Option<&Site>,
    now: DateTime<Utc>,
) -> Vec<(Detector, String, u32)> {
    let x = &settings.executor;
    if x.flats_per_filter == 0 || !evening(settings, site, now) {
        return Vec::new();
    }
    // This evening's: the window lasts well under three hours.
    let Ok(taken) = db.images_by_filter_since(ImageKind::Flat, now - TimeDelta::hours(3)).await else {
        return Vec::new();
    };
    let mut wanted = Vec::new();
    for (det, filters) in [(Detector::Vis, &x.flat_filters_vis), (Detector::Nir, &x.flat_filters_nir)] {
        for f in filters {
            let have = taken
                .iter()
                .find(|(d, name, _)| d == det.code() && name == f)
                .map_or(0, |(_, _, n)| u32::try_from(*n).unwrap_or(u32::MAX));
            if have < x.flats_per_filter {
                wanted.push((det, f.clone(), x.flats_per_filter - have));
            }
        }
    }
    wanted
}

/// Whether the morning's bias and darks are due: morning, none taken in the last 6 hours.
async fn calibrations_due(db: &Db, settings: &Settings, site: Option<&Site>, now: DateTime<Utc>) -> bool {
    let x = &settings.executor;
    if x.biases == 0 && x.darks_s.is_empty() {
        return false;
    }
    let Some(t) = Twilight::at(site, now) else { return false };
    if !t.morning(settings.site.night_sun_altitude) {
        return false;
    }
    let since = now - TimeDelta::hours(6);
    matches!(db.images_since(ImageKind::Bias, since).await, Ok(0))
        && matches!(db.images_since(ImageKind::Dark, since).await, Ok(0))
}

impl ExecutorAgent {
    pub fn new(settings: &Settings, obs: Observatory, archive: Archive, ctx: AgentContext) -> Self {
        let s = &settings.site;
        let kit = Kit {
            timeout: Duration::from_secs_f64(settings.devices.timeout_s),
            obs,
            archive,
            db: ctx.db.clone(),
            clock: ctx.clock,
            ctx,
            settings: Arc::new(settings.clone()),
            site: Site::new(s.latitude, s.longitude, s.elevation).ok(),
        };
        Self {
            kit,
            period: Duration::from_secs_f64(settings.executor.period_s),
            running: None,
            recovered: false,
            frames: std::sync::Mutex::new(None),
            taken: (DateTime::<Utc>::MIN_UTC, Vec::new()),
        }
    }

    fn start(&mut self, job: Job, ctx: &AgentContext) {
        let (stop, stopped) = watch::channel(Stop::Go);
        let stop = Arc::new(stop);
        let kit = self.kit.clone();
        let j = job.clone();
        let ctx = ctx.clone();
        // The environment turning UNSAFE stops a sky job at once, before the
        // majordome's next tick.
        let mut events = ctx.bus.subscribe();
        let unsafe_stop = stop.clone();
        let sky = !matches!(job, Job::Calibrations);
        let task = tokio::spawn(async move {
            let run = async {
                match &j {
                    Job::Sequence { id, .. } => kit.run_sequence(*id, stopped).await,
                    Job::Flats => kit.run_flats(stopped).await,
                    Job::Calibrations => kit.run_calibrations(stopped).await,
                }
            };
            tokio::pin!(run);
            let r = loop {
                // In a fixed order (a simulated night is replayed exactly):
                // the news first, so that UNSAFE stops the job before it goes on.
                tokio::select! {
                    biased;
                    e = events.recv() => {
                        if sky && let Ok(Event::Environment { status: GlobalStatus::Unsafe, reasons, .. }) = e {
                            unsafe_stop.send_if_modified(|s| {
                                if matches!(s, Stop::Now(_)) {
                                    return false;
                                }
                                *s = Stop::Now(format!("UNSAFE: {}", reasons.join("; ")));
                                true
                            });
                        }
                    }
                    r = &mut run => break r,
                }
            };
            if let Err(e) = r {
                ctx.log("executor", LogLevel::Warn, format!("{j:?}: {e}")).await;
            }
        });
        self.running = Some(Running { job, stop, task });
    }

    fn stop(&self, how: Stop) {
        if let Some(r) = &self.running
            && *r.stop.borrow() == Stop::Go
        {
            let _ = r.stop.send(how);
        }
    }

    /// With no job running, nothing executes: what is still marked EXECUTING
    /// (a run that could not record its end) goes back to the planner.
    async fn give_back_orphans(&self, ctx: &AgentContext, why: &str) -> Result<(), String> {
        let now = ctx.clock.now();
        for id in ctx.db.executing_sequences().await.map_err(|e| e.to_string())? {
            let end = SequenceEnd::GivenBack { reason: format!("interrupted: {why}") };
            if ctx.db.finish_sequence(id, &end, now).await.map_err(|e| e.to_string())? {
                ctx.log(
                    "executor",
                    LogLevel::Warn,
                    format!("sequence {id} was interrupted ({why}): given back"),
                )
                .await;
                ctx.bus.publish(Event::Sequence { at: now, id: id.0, state: format!("given back: {why}") });
            }
        }
        Ok(())
    }

    /// After a restart: nothing runs, so what is marked EXECUTING goes back to
    /// the planner, exposures left running are aborted, half-written files removed.
    async fn recover(&mut self, ctx: &AgentContext) -> Result<(), String> {
        self.give_back_orphans(ctx, "the executor restarted").await?;
        for c in [&self.kit.obs.camera_vis, &self.kit.obs.camera_nir].into_iter().flatten() {
            if let Ok(s) = bounded(c.name(), "state", self.kit.timeout, c.state()).await
                && s.value.activity == CameraActivity::Exposing
            {
                let _ = bounded(c.name(), "abort", self.kit.timeout, c.abort()).await;
            }
        }
        match self.kit.archive.recover() {
            Ok(removed) if !removed.is_empty() => {
                ctx.log(
                    "executor",
                    LogLevel::Warn,
                    format!("removed {} half-written file(s)", removed.len()),
                )
                .await;
            }
            Ok(_) => {}
            Err(e) => ctx.log("executor", LogLevel::Error, format!("archive: {e}")).await,
        }
        Ok(())
    }

    /// The sky at the start of `now`'s minute, computed once a minute (the
    /// executor asks at every step while an alert waits; a target moves a
    /// quarter of a degree at most in a minute).
    fn frame_of_minute(
        &self,
        site: &ferros_astro::Site,
        now: DateTime<Utc>,
    ) -> Result<ferros_astro::Frame, String> {
        let minute = now.timestamp().div_euclid(60);
        let mut cache = self.frames.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((m, f)) = cache.as_ref()
            && *m == minute
        {
            return Ok(f.clone());
        }
        let at = DateTime::<Utc>::from_timestamp(minute * 60, 0).unwrap_or(now);
        let jd = JulianDate::from_datetime(at).map_err(|e| e.to_string())?;
        let frame = ferros_astro::Frame::new(site, jd).map_err(|e| e.to_string())?;
        *cache = Some((minute, frame.clone()));
        Ok(frame)
    }

    /// An alert sequence waiting, its window open and its target up: pre-empts routine work.
    async fn alert_ready(&self, now: DateTime<Utc>) -> Result<Option<SequenceId>, String> {
        let jd = JulianDate::from_datetime(now).map_err(|e| e.to_string())?;
        let waiting = self.kit.db.alerts_waiting(jd.days()).await.map_err(|e| e.to_string())?;
        let horizon = self.kit.settings.site.horizon;
        for a in waiting {
            let up = match (a.radec, self.kit.site.as_ref()) {
                (Some((ra, dec)), Some(site)) => {
                    let c = ferros_domain::Coordinates::new(ra, dec).map_err(|e| e.to_string())?;
                    self.frame_of_minute(site, now)?.star(c).alt > a.min_alt.unwrap_or(horizon).max(horizon)
                }
                _ => true,
            };
            if up {
                return Ok(Some(a.id));
            }
        }
        Ok(None)
    }
}

#[async_trait]
impl Agent for ExecutorAgent {
    fn name(&self) -> &str {
        "executor"
    }

    fn period(&self) -> Duration {
        self.period
    }

    /// A new mode, UNSAFE or SAFE, a new schedule: look again at once.
    fn wakes_on(&self, e: &Event) -> bool {
        matches!(e, Event::Mode { .. } | Event::Environment { .. } | Event::Schedule { .. })
    }

    async fn step(&mut self, ctx: &AgentContext) -> Result<(), String> {
        if !self.recovered {
            self.recover(ctx).await?;
            self.recovered = true;
        }
        let now = ctx.clock.now();
        // The majordome's last word, and ENV's latest: UNSAFE stops at once.
        let majordome = ctx.majordome().await?;
        let (mode, safe) = majordome.map_or(("", false), |m| (m.mode.label(), m.safe));
        let env_safe = ctx.env().await?.is_some_and(|s| s.global_status == GlobalStatus::Safe);
        let observing = majordome.is_some_and(|m| m.observing()) && env_safe;
        if self.running.as_ref().is_some_and(|r| r.task.is_finished()) {
            self.running = None;
        }
        if self.running.is_none() {
            self.give_back_orphans(ctx, "its run ended without recording an outcome").await?;
        }
        if let Some(r) = &self.running {
            match &r.job {
                Job::Sequence { id, alert } => {
                    let status = ctx.db.sequence_status(*id).await.map_err(|e| e.to_string())?;
                    if status == Some(SequenceStatus::Cancelled) {
                        self.stop(Stop::Now("cancelled".into()));
                    } else if !observing {
                        self.stop(Stop::Now(format!("observing stopped ({mode}, {})", safety(safe))));
                    } else if !alert && let Some(a) = self.alert_ready(now).await? {
                        let why = format!("pre-empted by alert sequence {a}");
                        self.stop(match self.kit.settings.executor.preemption {
                            Preemption::Abort => Stop::Now(why),
                            Preemption::EndOfExposure => Stop::AfterExposure(why),
                        });
                    }
                }
                Job::Flats if !observing => self.stop(Stop::Now(format!("observing stopped ({mode})"))),
                // The twilight is over (the night's sequences come next). A run
                // that has all its flats ends by itself.
                Job::Flats if !self.kit.evening(now) => {
                    self.stop(Stop::AfterExposure("the twilight is over".into()))
                }
                Job::Flats => {}
                // Bias and darks need no sky: only the night's start stops them.
                Job::Calibrations if observing => self.stop(Stop::Now("observing again".into())),
                Job::Calibrations => {}
            }
            return Ok(());
        }
        let site = self.kit.site;
        if observing {
            if flats_due(&ctx.db, &self.kit.settings, site.as_ref(), now).await {
                self.start(Job::Flats, ctx);
                return Ok(());
            }
            let jd = JulianDate::from_datetime(now).map_err(|e| e.to_string())?;
            let lead = self.kit.settings.executor.lead_s / 86_400.0;
            if self.taken.0 != now {
                self.taken = (now, Vec::new());
            }
            let job = if let Some(a) = self.alert_ready(now).await?
                && ctx.db.sequence_status(a).await.map_err(|e| e.to_string())?
                    == Some(SequenceStatus::Planned)
            {
                Some(Job::Sequence { id: a, alert: true })
            } else if let Some((id, _)) =
                ctx.db.next_planned(jd.days() + lead).await.map_err(|e| e.to_string())?
            {
                let alert = ctx.db.is_alert(id).await.map_err(|e| e.to_string())?;
                Some(Job::Sequence { id, alert })
            } else {
                None
            };
            // Taken already at this instant: wait for the next period.
            if let Some(Job::Sequence { id, alert }) = job
                && !self.taken.1.contains(&id)
            {
                self.taken.1.push(id);
                self.start(Job::Sequence { id, alert }, ctx);
            }
        } else if majordome.is_some_and(|m| m.mode != Mode::Closing)
            && calibrations_due(&ctx.db, &self.kit.settings, site.as_ref(), now).await
            && secured(&self.kit).await
        {
            self.start(Job::Calibrations, ctx);
        }
        Ok(())
    }
}

fn safety(safe: bool) -> &'static str {
    if safe { "SAFE" } else { "UNSAFE" }
}

/// Dome closed (or none): dark frames see no light.
async fn secured(kit: &Kit) -> bool {
    match &kit.obs.dome {
        Some(d) => bounded(d.name(), "state", kit.timeout, d.state())
            .await
            .is_ok_and(|s| s.value.shutter == Shutter::Closed),
        None => true,
    }
}

/// One camera and its filter wheel.
#[derive(Clone)]
struct Channel {
    detector: Detector,
    camera: Arc<dyn Camera>,
    wheel: Option<Arc<dyn FilterWheel>>,
}

impl Kit {
    fn evening(&self, now: DateTime<Utc>) -> bool {
        evening(&self.settings, self.site.as_ref(), now)
    }

    fn channel(&self, detector: Detector) -> Option<Channel> {
        let (camera, wheel) = match detector {
            Detector::Vis => (&self.obs.camera_vis, &self.obs.filter_vis),
            Detector::Nir => (&self.obs.camera_nir, &self.obs.filter_nir),
        };
        Some(Channel { detector, camera: camera.clone()?, wheel: wheel.clone() })
    }

    /// Polls `read` every half second (clock time) until `done`, or `Timeout` after `limit`.
    async fn until<T, F, Fut>(
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

    fn motion_limit(&self) -> Duration {
        Duration::from_secs_f64(self.settings.executor.motion_timeout_s)
    }

    async fn log(&self, level: LogLevel, m: impl Into<String>) {
        self.ctx.log("executor", level, m).await;
    }

    /// Waits for the dome to be open (the majordome opens it).
    async fn dome_open(&self) -> DeviceResult<()> {
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

    /// Slews to J2000 `ra`, `dec` and waits for the mount, then the dome, to arrive.
    async fn point(&self, ra: f64, dec: f64) -> DeviceResult<()> {
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
            self.until(
                m.name(),
                "slew",
                self.motion_limit(),
                || bounded(m.name(), "state", t, m.state()),
                |s| !s.value.slewing,
            )
            .await?;
            if let Some(d) = &self.obs.dome {
                let ds = bounded(d.name(), "state", t, d.state()).await?;
                if d.capabilities().slave && !ds.value.slaved {
                    bounded(d.name(), "slave", t, d.set_slaved(true)).await?;
                } else if !d.capabilities().slave && d.capabilities().azimuth {
                    let az = bounded(m.name(), "state", t, m.state()).await?.value.az;
                    bounded(d.name(), "azimuth", t, d.slew_azimuth(az)).await?;
                }
                self.until(
                    d.name(),
                    "dome rotation",
                    self.motion_limit(),
                    || bounded(d.name(), "state", t, d.state()),
                    |s| !s.value.slewing,
                )
                .await?;
            }
        }
        Ok(())
    }

    async fn select_filter(&self, ch: &Channel, filter: &str) -> DeviceResult<()> {
        let Some(w) = &ch.wheel else { return Ok(()) };
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

    /// One exposure, archived under `dir` as `name`; `None` when stopped before its end.
    async fn expose(
        &self,
        ch: &Channel,
        exposure: &Exposure,
        stop: &mut watch::Receiver<Stop>,
        shot: Shot<'_>,
    ) -> Result<Option<PathBuf>, String> {
        if matches!(*stop.borrow(), Stop::Now(_) | Stop::AfterExposure(_)) {
            return Ok(None);
        }
        let c = &ch.camera;
        let t = self.timeout;
        let started = self.clock.now();
        bounded(c.name(), "expose", t, c.expose(exposure)).await.map_err(|e| e.to_string())?;
        let limit = Duration::from_secs_f64(exposure.duration + self.settings.executor.readout_timeout_s);
        let wait = self.until(
            c.name(),
            "exposure",
            limit,
            || bounded(c.name(), "state", t, c.state()),
            |s| {
                matches!(
                    s.value.activity,
                    CameraActivity::Ready | CameraActivity::Idle | CameraActivity::Error
                )
            },
        );
        let sky = matches!(exposure.frame, FrameType::Light | FrameType::Flat);
        let outcome = tokio::select! {
            biased;
            _ = stop.wait_for(|s| matches!(s, Stop::Now(_))) => None,
            r = wait => Some(r),
        };
        let ended = self.clock.now();
        let state = match outcome {
            None => {
                let _ = bounded(c.name(), "abort", t, c.abort()).await;
                self.ctx.bus.publish(Event::Exposure {
                    camera: c.name().to_owned(),
                    start: started,
                    end: self.clock.now(),
                    sky,
                    completed: false,
                });
                return Ok(None);
            }
            Some(r) => r.map_err(|e| e.to_string())?,
        };
        self.ctx.bus.publish(Event::Exposure {
            camera: c.name().to_owned(),
            start: started,
            end: ended,
            sky,
            completed: state.value.activity == CameraActivity::Ready,
        });
        if state.value.activity != CameraActivity::Ready {
            return Err(format!("{}: the exposure ended {:?}", c.name(), state.value.activity));
        }
        let frame = bounded(c.name(), "image", t, c.image()).await.map_err(|e| e.to_string())?;
        let info = self.image_info(ch, &shot, state.value.ccd_temperature).await;
        let header = image_header(&frame, &info);
        let name = format!(
            "{}_{}_{}",
            shot.prefix,
            ch.detector.code().to_ascii_lowercase(),
            frame.started.format("%Y%m%dT%H%M%S%3f")
        );
        let started = frame.started;
        let mut image = Image {
            path: String::new(),
            kind: shot.kind,
            request_id: shot.request,
            sequence_id: shot.sequence,
            album_id: shot.album,
            plan_id: shot.plan,
            detector: ch.detector,
            date_obs: started,
            exposure_s: exposure.duration,
            filter: shot.filter.to_owned(),
            headers: header.as_text(),
            calibration: CalibrationLevel::Raw,
            analysis: None,
        };
        // An image taken is archived whole, file and row, even if the job is
        // stopped meanwhile: the storing is a task of its own. Rendering and
        // syncing the file is blocking work, kept off the async workers so
        // that the other agents (safety first) never wait on the disk.
        let (archive, db, dir, alert, clock) =
            (self.archive.clone(), self.db.clone(), shot.dir.to_path_buf(), shot.alert, self.clock);
        let store = tokio::spawn(async move {
            let file = archive.clone();
            let path = clock
                .offload(move || file.write_image(&dir, &name, &frame, &info))
                .await
                .map_err(|e| format!("writing the image: {e}"))??;
            image.path = path.strip_prefix(archive.root()).unwrap_or(&path).to_string_lossy().into_owned();
            db.insert_image(&image).await.map_err(|e| e.to_string())?;
            if alert {
                archive.link_fsc(&path)?;
            }
            Ok::<_, String>(path)
        });
        let path = store.await.map_err(|e| format!("storing the image: {e}"))??;
        Ok(Some(path))
    }

    async fn image_info(&self, ch: &Channel, shot: &Shot<'_>, ccd: f64) -> ImageInfo {
        let s = &self.settings.site;
        let (mut ra, mut dec, mut airmass) = (shot.radec.map(|p| p.0), shot.radec.map(|p| p.1), None);
        if shot.kind == ImageKind::Light
            && let (Some((r, d)), Some(site)) = (shot.radec, self.site.as_ref())
            && let Ok(jd) = JulianDate::from_datetime(self.clock.now())
            && let Ok(frame) = ferros_astro::Frame::new(site, jd)
            && let Ok(c) = ferros_domain::Coordinates::new(r, d)
        {
            airmass = frame.star(c).airmass();
        }
        if !matches!(shot.kind, ImageKind::Light) {
            (ra, dec) = (None, None);
        }
        ImageInfo {
            object: shot.object.to_owned(),
            telescope: s.name.clone(),
            instrument: match ch.detector {
                Detector::Vis => "DDRAGO".into(),
                Detector::Nir => "CAGIRE".into(),
            },
            observer: shot.observer.to_owned(),
            filter: shot.filter.to_owned(),
            ra,
            dec,
            airmass,
            ccd_temperature: Some(ccd),
            request_id: shot.request.map(|r| r.0),
            sequence_id: shot.sequence.map(|r| r.0),
            album_id: shot.album.map(|r| r.0),
            plan_id: shot.plan.map(|r| r.0),
            site_name: s.name.clone(),
            latitude: s.latitude,
            longitude: s.longitude,
            elevation: s.elevation,
        }
    }
}

/// What an image is of (for its name, header and row).
#[derive(Clone, Copy)]
struct Shot<'a> {
    dir: &'a std::path::Path,
    prefix: &'a str,
    kind: ImageKind,
    object: &'a str,
    observer: &'a str,
    filter: &'a str,
    radec: Option<(f64, f64)>,
    request: Option<RequestId>,
    sequence: Option<SequenceId>,
    album: Option<ferros_domain::AlbumId>,
    plan: Option<ferros_domain::PlanId>,
    /// Alert data: linked into `exchange/FSC/TO` for the French Science Center.
    alert: bool,
}

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

/// The outcome of an album or a job part.
type Part = Result<(), String>;

impl Kit {
    async fn run_sequence(&self, id: SequenceId, stop: watch::Receiver<Stop>) -> Result<(), String> {
        let db = &self.db;
        let Some((_, rid)) = db.sequence_request(id).await.map_err(|e| e.to_string())? else {
            return Err(format!("sequence {id} is gone"));
        };
        let request = db.request(rid).await.map_err(|e| e.to_string())?.ok_or("the request is gone")?;
        let seq = request.sequences.iter().find(|s| s.id == id).ok_or("the sequence is gone")?.clone();
        let block = seq.spec.block().get();
        // A sequence is started up to `lead_s` before its planned start; one
        // whose target rises only at that start waits for it (else the planner
        // would place it again at the same time, and so on for ever).
        if let Some(tsp) = seq.tsp {
            let now = JulianDate::from_datetime(self.clock.now()).map_err(|e| e.to_string())?;
            if tsp.days() > now.days()
                && !self.up_between(&seq, now.days(), now.days() + block / 86_400.0)
                && self.up_between(&seq, tsp.days(), tsp.days() + block / 86_400.0)
            {
                let wait =
                    Duration::from_secs_f64(((tsp.days() - now.days()) * 86_400.0).clamp(0.0, 3_600.0));
                let mut stop = stop.clone();
                tokio::select! {
                    biased;
                    _ = stop.wait_for(|s| *s != Stop::Go) => return Ok(()),
                    () = self.clock.sleep(wait) => {}
                }
            }
        }
        let now = self.clock.now();
        let start = JulianDate::from_datetime(now).map_err(|e| e.to_string())?;
        // What the observatory cannot do at all is given up, with the reason.
        if let Some(why) = self.cannot_do(&seq).await {
            db.give_up_sequence(id, &why, now).await.map_err(|e| e.to_string())?;
            self.log(LogLevel::Warn, format!("sequence {id} is UNPLANNABLE: {why}")).await;
            self.ctx.bus.publish(Event::Sequence { at: now, id: id.0, state: format!("UNPLANNABLE: {why}") });
            return Ok(());
        }
        // A plan made before a pause (weather, a device) may be stale: if the
        // target is no longer up for the whole block, the planner places it again.
        let end = start.days() + block / 86_400.0;
        let down = !self.up_between(&seq, start.days(), end);
        if down || end > seq.spec.jd2.days() {
            let why =
                if down { "its target is not up now" } else { "it can no longer end within its window" };
            db.replan_sequence(id, why, now).await.map_err(|e| e.to_string())?;
            self.ctx.bus.publish(Event::Sequence { at: now, id: id.0, state: format!("replanned: {why}") });
            return Ok(());
        }
        let end = JulianDate::new(start.days() + block / 86_400.0).map_err(|e| e.to_string())?;
        db.start_sequence(id, start, end, now).await.map_err(|e| e.to_string())?;
        self.log(LogLevel::Info, format!("sequence {id} \"{}\" started", seq.spec.name)).await;
        self.ctx.bus.publish(Event::Sequence { at: now, id: id.0, state: "EXECUTING".into() });
        let outcome = self.sequence_body(&request, &seq, stop.clone()).await;
        let now = self.clock.now();
        let (end, state) = match outcome {
            Ok(()) => {
                let charge = (now - seq_start(start)).num_milliseconds() as f64 / 1000.0;
                let tep = JulianDate::from_datetime(now).map_err(|e| e.to_string())?;
                (SequenceEnd::Executed { tep, charge_s: charge }, "EXECUTED".to_owned())
            }
            Err(why) => (SequenceEnd::GivenBack { reason: why.clone() }, format!("given back: {why}")),
        };
        let changed = db.finish_sequence(id, &end, now).await.map_err(|e| e.to_string())?;
        let state = if changed { state } else { "cancelled".to_owned() };
        self.log(LogLevel::Info, format!("sequence {id}: {state}")).await;
        self.ctx.bus.publish(Event::Sequence { at: now, id: id.0, state });
        // A request with nothing left to do has its folder completed.
        if let Ok(Some(r)) = db.request(rid).await {
            let statuses: Vec<_> = r.sequences.iter().map(|s| s.status).collect();
            if RequestStatus::derive(r.strategy, &statuses).is_final() {
                self.request_folder(r.kind.code(), rid, false).await?;
            }
        }
        Ok(())
    }

    /// Whether the target stays above its lowest altitude from `a` to `b` (JD).
    fn up_between(&self, seq: &ferros_domain::Sequence, a: f64, b: f64) -> bool {
        let (Some(c), Some(site)) = (seq.spec.coordinates, self.site.as_ref()) else { return true };
        let floor =
            crate::planning::altitude_floor(seq.spec.constraints.min_altitude, self.settings.site.horizon);
        let steps = ((b - a) * 86_400.0 / 600.0).ceil().max(1.0) as u32;
        (0..=steps).all(|i| {
            let t = a + (b - a) * f64::from(i) / f64::from(steps);
            JulianDate::new(t)
                .ok()
                .and_then(|jd| ferros_astro::Frame::new(site, jd).ok())
                .is_none_or(|f| f.star(c).alt >= floor)
        })
    }

    /// Why the observatory can never run `seq` (a filter its wheel lacks), if so.
    async fn cannot_do(&self, seq: &ferros_domain::Sequence) -> Option<String> {
        for album in &seq.albums {
            let Some(ch) = self.channel(album.spec.detector) else { continue };
            // The wheel's filters, when it tells them.
            let names = match &ch.wheel {
                Some(w) => bounded(w.name(), "state", self.timeout, w.state())
                    .await
                    .map(|s| s.value.names)
                    .unwrap_or_default(),
                None => Vec::new(),
            };
            let caps = ch.camera.capabilities();
            for p in &album.plans {
                if let Some(w) = p.spec.window
                    && (u64::from(w.x) + u64::from(w.width) > u64::from(caps.width)
                        || u64::from(w.y) + u64::from(w.height) > u64::from(caps.height))
                {
                    return Some(format!(
                        "plan \"{}\": window {},{} {}x{} is outside the {}x{} {} camera",
                        p.spec.name,
                        w.x,
                        w.y,
                        w.width,
                        w.height,
                        caps.width,
                        caps.height,
                        album.spec.detector
                    ));
                }
                if !names.is_empty() && !names.iter().any(|n| n == &p.spec.filter) {
                    return Some(format!(
                        "album \"{}\": no filter \"{}\" on the {} wheel (has {})",
                        album.spec.name,
                        p.spec.filter,
                        album.spec.detector,
                        names.join(", ")
                    ));
                }
            }
        }
        None
    }

    async fn sequence_body(
        &self,
        request: &Request,
        seq: &ferros_domain::Sequence,
        mut stop: watch::Receiver<Stop>,
    ) -> Result<(), String> {
        let radec = seq.spec.coordinates.map(|c| (c.ra.degrees(), c.dec.degrees()));
        if let Some((ra, dec)) = radec {
            let r = tokio::select! {
                biased;
                _ = stop.wait_for(|s| *s != Stop::Go) => None,
                r = self.point(ra, dec) => Some(r),
            };
            r.ok_or_else(|| stop_reason(&stop))?.map_err(|e| format!("pointing: {e}"))?;
        }
        let r = tokio::select! {
            biased;
            _ = stop.wait_for(|s| *s != Stop::Go) => None,
            r = self.dome_open() => Some(r),
        };
        r.ok_or_else(|| stop_reason(&stop))?.map_err(|e| format!("dome: {e}"))?;
        let dir = self.request_folder(request.kind.code(), request.id, true).await?;
        let dir = self.archive.sequence_dir(&dir, seq.id.0)?;
        let total: f64 = seq
            .albums
            .iter()
            .flat_map(|a| a.plans.iter())
            .map(|p| f64::from(p.spec.nb_images))
            .sum::<f64>()
            .max(1.0);
        let done = Arc::new(std::sync::atomic::AtomicU32::new(0));
        // Exposures share the pointing (read); a dithering move waits for them all (write).
        let pointing = Arc::new(RwLock::new(radec));
        let mut albums = tokio::task::JoinSet::new();
        for album in &seq.albums {
            let Some(ch) = self.channel(album.spec.detector) else {
                if album.spec.detector == Detector::Vis {
                    return Err("no VIS camera".into());
                }
                self.log(LogLevel::Warn, format!("album {}: no NIR camera here; skipped", album.id)).await;
                continue;
            };
            // The NIR camera is not blocking: one that does not answer is left out.
            if ch.detector == Detector::Nir
                && let Err(e) = bounded(ch.camera.name(), "state", self.timeout, ch.camera.state()).await
            {
                self.log(LogLevel::Warn, format!("album {}: {e}; the sequence goes on without it", album.id))
                    .await;
                continue;
            }
            let detector = ch.detector;
            let kit = self.clone();
            let album = album.clone();
            let (dir, stop, done, pointing) = (dir.clone(), stop.clone(), done.clone(), pointing.clone());
            let object = seq.spec.target.clone().unwrap_or_else(|| seq.spec.name.clone());
            let observer = request.owner.clone();
            let (rid, sid) = (request.id, seq.id);
            let alert = request.kind == ferros_domain::RequestKind::Alert;
            albums.spawn(async move {
                let mut stop = stop;
                let run = async {
                    for plan in &album.plans {
                        let p = &plan.spec;
                        kit.select_filter(&ch, &p.filter).await.map_err(|e| format!("filter: {e}"))?;
                        let exposure = Exposure {
                            duration: p.exposure.get(),
                            frame: FrameType::Light,
                            binning: p.binning,
                            window: p.window.map(|w| (w.x, w.y, w.width, w.height)),
                        };
                        for i in 0..p.nb_images {
                            if p.dithering > 0.0 && i > 0 {
                                let mut at = pointing.write().await;
                                if *stop.borrow() != Stop::Go {
                                    return Err(stop_reason(&stop));
                                }
                                if let Some((ra0, dec0)) = radec {
                                    let (dx, dy) = dither_offset(i, p.dithering, dec0);
                                    let target =
                                        ((ra0 + dx).rem_euclid(360.0), (dec0 + dy).clamp(-90.0, 90.0));
                                    let moved = tokio::select! {
                                        biased;
                                        _ = stop.wait_for(|s| *s != Stop::Go) => None,
                                        r = kit.point(target.0, target.1) => Some(r),
                                    };
                                    moved
                                        .ok_or_else(|| stop_reason(&stop))?
                                        .map_err(|e| format!("dithering: {e}"))?;
                                    *at = Some(target);
                                }
                            }
                            let at = pointing.read().await;
                            let shot = Shot {
                                dir: &dir,
                                prefix: &format!("seq{}_plan{}_{:03}", sid.0, plan.id.0, i + 1),
                                kind: ImageKind::Light,
                                object: &object,
                                observer: &observer,
                                filter: &p.filter,
                                radec: *at,
                                request: Some(rid),
                                sequence: Some(sid),
                                album: Some(album.id),
                                plan: Some(plan.id),
                                alert,
                            };
                            let taken = kit.expose(&ch, &exposure, &mut stop, shot).await?;
                            drop(at);
                            if taken.is_none() {
                                return Err(stop_reason(&stop));
                            }
                            let n = done.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                            kit.db
                                .record_progress(sid, plan.id, i64::from(i + 1), f64::from(n) / total)
                                .await
                                .map_err(|e| e.to_string())?;
                            if *stop.borrow() != Stop::Go {
                                return Err(stop_reason(&stop));
                            }
                        }
                    }
                    Ok(())
                };
                let r: Part = run.await;
                (detector, album.id, r, *stop.borrow() == Stop::Go)
            });
        }
        let mut result: Part = Ok(());
        while let Some(r) = albums.join_next().await {
            let (detector, album, r) = match r {
                Ok((d, a, r, going)) => (d, Some((a, going)), r),
                Err(e) => (Detector::Vis, None, Err(format!("an album's task failed: {e}"))),
            };
            match (r, album) {
                (Ok(()), _) => {}
                // A NIR failure that is not a stop: noted, the VIS album decides.
                (Err(e), Some((a, true))) if detector == Detector::Nir => {
                    self.log(LogLevel::Warn, format!("album {a}: {e}; the sequence goes on without it"))
                        .await;
                }
                (Err(e), _) if result.is_ok() => result = Err(e),
                (Err(_), _) => {}
            }
        }
        result
    }

    /// Twilight flats: the telescope at the anti-solar point 75 degrees up, N per filter.
    async fn run_flats(&self, mut stop: watch::Receiver<Stop>) -> Result<(), String> {
        let now = self.clock.now();
        self.log(LogLevel::Info, "twilight flats").await;
        if let (Some(m), Some(site)) = (&self.obs.mount, self.site.as_ref()) {
            let jd = JulianDate::from_datetime(now).map_err(|e| e.to_string())?;
            let frame = ferros_astro::Frame::new(site, jd).map_err(|e| e.to_string())?;
            let az = (frame.sun().horizontal.az + 180.0).rem_euclid(360.0);
            let t = self.timeout;
            let unparked = tokio::select! {
                biased;
                _ = stop.wait_for(|s| *s != Stop::Go) => None,
                r = self.until(m.name(), "unpark", self.motion_limit(), || bounded(m.name(), "state", t, m.state()), |s| !s.value.parked) => Some(r),
            };
            unparked.ok_or_else(|| stop_reason(&stop))?.map_err(|e| e.to_string())?;
            bounded(m.name(), "slew", t, m.slew_altaz(75.0, az)).await.map_err(|e| e.to_string())?;
        }
        let r = tokio::select! {
            biased;
            _ = stop.wait_for(|s| *s != Stop::Go) => None,
            r = self.dome_open() => Some(r),
        };
        r.ok_or_else(|| stop_reason(&stop))?.map_err(|e| format!("dome: {e}"))?;
        let night = crate::planning::night_of(
            JulianDate::from_datetime(now).map_err(|e| e.to_string())?,
            self.settings.site.longitude,
        );
        let dir = self.calibration_dir(night)?;
        // Only what is missing (a run stopped halfway goes on where it stopped).
        let wanted = flats_wanted(&self.db, &self.settings, self.site.as_ref(), now).await;
        let mut parts = tokio::task::JoinSet::new();
        for det in [Detector::Vis, Detector::Nir] {
            let Some(ch) = self.channel(det) else { continue };
            let filters: Vec<(String, u32)> =
                wanted.iter().filter(|w| w.0 == det).map(|(_, f, n)| (f.clone(), *n)).collect();
            if filters.is_empty() {
                continue;
            }
            let (kit, dir, stop) = (self.clone(), dir.clone(), stop.clone());
            parts.spawn(async move {
                let mut stop = stop;
                let e = &kit.settings.executor;
                let exposure = Exposure {
                    duration: e.flat_exposure_s,
                    frame: FrameType::Flat,
                    binning: 1,
                    window: None,
                };
                for (f, missing) in &filters {
                    kit.select_filter(&ch, f).await.map_err(|e| format!("filter {f}: {e}"))?;
                    let first = e.flats_per_filter - missing;
                    for i in first..e.flats_per_filter {
                        let prefix = format!("flat_{f}_{:02}", i + 1);
                        let shot = calibration_shot(&dir, &prefix, ImageKind::Flat, f);
                        if kit.expose(&ch, &exposure, &mut stop, shot).await?.is_none() {
                            return Err(stop_reason(&stop));
                        }
                    }
                }
                Ok(())
            });
        }
        join_parts(parts).await
    }

    /// Bias and darks, dome closed, every camera in parallel.
    async fn run_calibrations(&self, stop: watch::Receiver<Stop>) -> Result<(), String> {
        let x = &self.settings.executor;
        let now = self.clock.now();
        self.log(LogLevel::Info, "bias and darks").await;
        let night = crate::planning::night_of(
            JulianDate::from_datetime(now).map_err(|e| e.to_string())?,
            self.settings.site.longitude,
        );
        let dir = self.calibration_dir(night)?;
        let mut parts = tokio::task::JoinSet::new();
        for det in [Detector::Vis, Detector::Nir] {
            let Some(ch) = self.channel(det) else { continue };
            let (kit, dir, stop) = (self.clone(), dir.clone(), stop.clone());
            let frames: Vec<(FrameType, f64)> =
                std::iter::repeat_n((FrameType::Bias, 0.0), x.biases as usize)
                    .chain(x.darks_s.iter().map(|d| (FrameType::Dark, *d)))
                    .collect();
            parts.spawn(async move {
                let mut stop = stop;
                for (i, (frame, duration)) in frames.into_iter().enumerate() {
                    let kind = if frame == FrameType::Bias { ImageKind::Bias } else { ImageKind::Dark };
                    let prefix = format!("{}_{:02}", kind.code(), i + 1);
                    let shot = calibration_shot(&dir, &prefix, kind, "dark");
                    let exposure = Exposure { duration, frame, binning: 1, window: None };
                    if kit.expose(&ch, &exposure, &mut stop, shot).await?.is_none() {
                        return Err(stop_reason(&stop));
                    }
                }
                Ok(())
            });
        }
        join_parts(parts).await
    }

    /// Opens (`active`) or completes a request's folder; the Image rows follow the rename.
    async fn request_folder(&self, kind: &str, request: RequestId, active: bool) -> Result<PathBuf, String> {
        let name = format!("{kind}_{}", request.0);
        let (done, open) = (format!("produced/{name}/"), format!("produced/{name}_active/"));
        let dir = if active {
            self.archive.begin_request(kind, request.0)?
        } else {
            self.archive.finish_request(kind, request.0)?
        };
        let (from, to) = if active { (done, open) } else { (open, done) };
        self.db.move_image_paths(&from, &to).await.map_err(|e| e.to_string())?;
        Ok(dir)
    }

    fn calibration_dir(&self, night: NaiveDate) -> Result<PathBuf, String> {
        let d = self.archive.produced().join("calibrations").join(night.to_string());
        std::fs::create_dir_all(&d).map_err(|e| format!("cannot create {}: {e}", d.display()))?;
        Ok(d)
    }
}

fn calibration_shot<'a>(
    dir: &'a std::path::Path,
    prefix: &'a str,
    kind: ImageKind,
    filter: &'a str,
) -> Shot<'a> {
    Shot {
        dir,
        prefix,
        kind,
        object: kind.code(),
        observer: "Ferros",
        filter,
        radec: None,
        request: None,
        sequence: None,
        album: None,
        plan: None,
        alert: false,
    }
}

async fn join_parts(mut parts: tokio::task::JoinSet<Part>) -> Result<(), String> {
    let mut result = Ok(());
    while let Some(r) = parts.join_next().await {
        if let Err(e) = r.map_err(|e| e.to_string()).and_then(|r| r)
            && result.is_ok()
        {
            result = Err(e);
        }
    }
    result
}

fn seq_start(start: JulianDate) -> DateTime<Utc> {
    start.to_datetime()
}

fn stop_reason(stop: &watch::Receiver<Stop>) -> String {
    match &*stop.borrow() {
        Stop::Now(why) | Stop::AfterExposure(why) => why.clone(),
        Stop::Go => "stopped".into(),
    }
}
