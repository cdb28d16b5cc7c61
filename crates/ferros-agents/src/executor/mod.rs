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
//!
//! Here: the jobs and the agent's state machine. `twilight.rs`: when flats
//! and calibrations are due; `motion.rs`: dome, mount, filters, dithering;
//! `imaging.rs`: one exposure to its FITS file and row; `sequence.rs`: a
//! sequence from its checks to its end; `calibrations.rs`: flats, bias and
//! darks.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use ferros_archive::{Archive, ArchiveError, ImageInfo, image_header};
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

use crate::AgentError;
use crate::runtime::{Agent, AgentContext, Event};

mod calibrations;
mod cooling;
mod faults;
mod imaging;
mod motion;
mod sequence;
mod twilight;

use imaging::Shot;
use motion::Channel;
pub use motion::dither_offset;
use sequence::Part;
pub use twilight::{Twilight, flats_due, flats_wanted};
use twilight::{calibrations_due, evening};

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
    /// Set by the job as its last act, just before it says so on the bus.
    ended: Arc<std::sync::atomic::AtomicBool>,
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
    site: Site,
    /// Device call time limit (real time).
    timeout: Duration,
    /// The last failure of each sequence given back (not a stop): the same
    /// failure twice gives the sequence up, with its reason.
    failures: Arc<std::sync::Mutex<std::collections::HashMap<SequenceId, String>>>,
    /// The dome said it followed the mount and did not: its azimuth is driven.
    dome_driven: Arc<std::sync::atomic::AtomicBool>,
    /// The archive out of service (`faults.rs`): a full disk.
    archive_out: Arc<std::sync::Mutex<Option<faults::CameraFault>>>,
    /// The cameras out of service (`faults.rs`).
    faulty: Arc<std::sync::Mutex<std::collections::HashMap<Detector, faults::CameraFault>>>,
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
    /// When the coolers were last looked at.
    thermal_at: Option<DateTime<Utc>>,
}

/// How often the coolers are looked at, clock time.
const THERMAL_EVERY: TimeDelta = TimeDelta::seconds(60);

impl std::fmt::Debug for ExecutorAgent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecutorAgent").field("job", &self.running.as_ref().map(|r| &r.job)).finish()
    }
}

impl ExecutorAgent {
    pub fn new(settings: &Settings, obs: Observatory, archive: Archive, ctx: AgentContext) -> Self {
        let kit = Kit {
            site: obs.site,
            timeout: Duration::from_secs_f64(settings.devices.timeout_s),
            obs,
            archive,
            db: ctx.db.clone(),
            clock: ctx.clock,
            ctx,
            settings: Arc::new(settings.clone()),
            failures: Arc::default(),
            faulty: Arc::default(),
            dome_driven: Arc::default(),
            archive_out: Arc::default(),
        };
        Self {
            kit,
            period: Duration::from_secs_f64(settings.executor.period_s),
            running: None,
            recovered: false,
            frames: std::sync::Mutex::new(None),
            taken: (DateTime::<Utc>::MIN_UTC, Vec::new()),
            thermal_at: None,
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
        let ended = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let done = ended.clone();
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
            // The executor takes its next job at once (an alert that
            // pre-empted this one waits for it), not at its next period.
            done.store(true, std::sync::atomic::Ordering::SeqCst);
            ctx.bus.publish(Event::ExecutorFree { at: ctx.clock.now() });
        });
        self.running = Some(Running { job, stop, task, ended });
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
    async fn give_back_orphans(&self, ctx: &AgentContext, why: &str) -> Result<(), AgentError> {
        let now = ctx.clock.now();
        for id in ctx.db.executing_sequences().await? {
            let end = SequenceEnd::GivenBack { reason: format!("interrupted: {why}") };
            if ctx.db.finish_sequence(id, &end, now).await? {
                ctx.record(
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
    async fn recover(&mut self, ctx: &AgentContext) -> Result<(), AgentError> {
        self.give_back_orphans(ctx, "the executor restarted").await?;
        for c in [&self.kit.obs.camera_vis, &self.kit.obs.camera_nir].into_iter().flatten() {
            if let Ok(s) = bounded(c.name(), "state", self.kit.timeout, c.state()).await
                && s.value.activity == CameraActivity::Exposing
            {
                let _ = bounded(c.name(), "abort", self.kit.timeout, c.abort()).await;
            }
        }
        match self.kit.archive.recover() {
            Ok(done) => {
                if !done.removed.is_empty() || !done.completed.is_empty() {
                    let (removed, completed) = (done.removed.len(), done.completed.len());
                    let text = format!(
                        "removed {removed} half-written file(s), put {completed} whole one(s) in place"
                    );
                    ctx.log("executor", LogLevel::Warn, text).await;
                }
            }
            Err(e) => ctx.log("executor", LogLevel::Error, format!("archive: {e}")).await,
        }
        self.reconcile_folders(ctx).await
    }

    /// The image rows follow their request folders: a crash between a
    /// folder's rename and the rows' update left the rows on the old name.
    async fn reconcile_folders(&self, ctx: &AgentContext) -> Result<(), AgentError> {
        let folders = match self.kit.archive.request_folders() {
            Ok(f) => f,
            Err(e) => {
                ctx.log("executor", LogLevel::Error, format!("archive: {e}")).await;
                return Ok(());
            }
        };
        let mut moved = 0;
        for (name, active) in folders {
            let (done, open) = (format!("produced/{name}/"), format!("produced/{name}_active/"));
            let (from, to) = if active { (done, open) } else { (open, done) };
            moved += ctx.db.move_image_paths(&from, &to).await?;
        }
        if moved > 0 {
            let text = format!("{moved} image row(s) put back on their request folder's name");
            ctx.log("executor", LogLevel::Warn, text).await;
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
    ) -> Result<ferros_astro::Frame, AgentError> {
        let minute = now.timestamp().div_euclid(60);
        let mut cache = self.frames.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((m, f)) = cache.as_ref()
            && *m == minute
        {
            return Ok(f.clone());
        }
        let at = DateTime::<Utc>::from_timestamp(minute * 60, 0).unwrap_or(now);
        let jd = JulianDate::from_datetime(at)?;
        let frame = ferros_astro::Frame::new(site, jd)?;
        *cache = Some((minute, frame.clone()));
        Ok(frame)
    }

    /// An alert sequence waiting, its window open and its target up: pre-empts routine work.
    async fn alert_ready(&self, now: DateTime<Utc>) -> Result<Option<SequenceId>, AgentError> {
        let jd = JulianDate::from_datetime(now)?;
        let waiting = self.kit.db.alerts_waiting(jd.days()).await?;
        let horizon = self.kit.settings.site.horizon;
        for a in waiting {
            let up = match a.radec {
                Some((ra, dec)) => {
                    let c = ferros_domain::Coordinates::new(ra, dec)?;
                    self.frame_of_minute(&self.kit.site, now)?.star(c).alt
                        > a.min_alt.unwrap_or(horizon).max(horizon)
                }
                None => true,
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
        matches!(
            e,
            Event::Mode { .. }
                | Event::Environment { .. }
                | Event::Schedule { .. }
                | Event::Alert { .. }
                | Event::ExecutorFree { .. }
        )
    }

    async fn step(&mut self, ctx: &AgentContext) -> Result<(), AgentError> {
        if !self.recovered {
            self.recover(ctx).await?;
            self.recovered = true;
        }
        let now = ctx.clock.now();
        if self.thermal_at.is_none_or(|t| now - t >= THERMAL_EVERY || now < t) {
            self.thermal_at = Some(now);
            let calibrating = self.running.as_ref().is_some_and(|r| r.job == Job::Calibrations);
            let cold =
                cooling::night_cold(&ctx.db, &self.kit.settings, &self.kit.site, now, calibrating).await;
            self.kit.thermal(cold).await;
        }
        // The majordome's last word, and ENV's latest: UNSAFE stops at once.
        let majordome = ctx.majordome().await?;
        let (mode, safe) = majordome.map_or(("", false), |m| (m.mode.label(), m.safe));
        let env_safe = ctx.env().await?.is_some_and(|s| s.global_status == GlobalStatus::Safe);
        let observing = majordome.is_some_and(|m| m.observing()) && env_safe;
        if let Some(r) = &mut self.running
            && r.ended.load(std::sync::atomic::Ordering::SeqCst)
        {
            // It has nothing left to do but return.
            let _ = (&mut r.task).await;
        }
        if self.running.as_ref().is_some_and(|r| r.task.is_finished()) {
            self.running = None;
        }
        if self.running.is_none() {
            self.give_back_orphans(ctx, "its run ended without recording an outcome").await?;
        }
        if let Some(r) = &self.running {
            match &r.job {
                Job::Sequence { id, alert } => {
                    let status = ctx.db.sequence_status(*id).await?;
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
        // A faulty VIS camera pauses observing until it answers again; an
        // archive that cannot write holds every job back.
        if observing && !self.kit.camera_usable(Detector::Vis).await {
            return Ok(());
        }
        if !self.kit.archive_usable().await {
            return Ok(());
        }
        if observing {
            if flats_due(&ctx.db, &self.kit.settings, &site, now).await {
                self.start(Job::Flats, ctx);
                return Ok(());
            }
            let jd = JulianDate::from_datetime(now)?;
            let lead = self.kit.settings.executor.lead_s / 86_400.0;
            if self.taken.0 != now {
                self.taken = (now, Vec::new());
            }
            let job = if let Some(a) = self.alert_ready(now).await?
                && ctx.db.sequence_status(a).await? == Some(SequenceStatus::Planned)
            {
                Some(Job::Sequence { id: a, alert: true })
            } else if let Some((id, _)) = ctx.db.next_planned(jd.days() + lead).await? {
                let alert = ctx.db.is_alert(id).await?;
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
            && calibrations_due(&ctx.db, &self.kit.settings, &site, now).await
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

async fn join_parts(mut parts: tokio::task::JoinSet<Part>) -> Result<(), AgentError> {
    let mut result = Ok(());
    while let Some(r) = parts.join_next().await {
        if let Err(e) =
            r.map_err(|source| AgentError::Task { what: "a part of the work", source }).and_then(|r| r)
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

fn stop_reason(stop: &watch::Receiver<Stop>) -> AgentError {
    AgentError::Stopped(match &*stop.borrow() {
        Stop::Now(why) | Stop::AfterExposure(why) => why.clone(),
        Stop::Go => "stopped".into(),
    })
}
