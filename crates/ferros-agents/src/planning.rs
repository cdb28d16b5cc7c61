//! Planning a night from the database: the sequences to plan, their
//! visibility tonight (`ferros-astro`), the programs' remaining quotas, the
//! planner (`ferros-scheduler`), and the schedule stored with the new
//! statuses in one transaction. Used by `ferros schedule plan` and by the
//! planner agent, which replans whenever something changes.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::NaiveDate;
use ferros_astro::{Limits, NightSky, Site};
pub use ferros_astro::{altitude_floor, night_of};
use ferros_clock::Clock;
use ferros_db::{Db, PlanningCandidate, PlanningMark, StatusUpdate};
use ferros_domain::{
    EntryStatus, JulianDate, NewSchedule, Priority, RequestKind, ScheduleEntry, ScheduleId, Seconds,
    SequenceId, SequenceStatus, Strategy,
};
use ferros_scheduler::{Frozen, Input, Plan, Status, Task};

use crate::AgentError;

const DAY: f64 = 86_400.0;

/// Why a night could not be planned.
#[derive(Debug, thiserror::Error)]
pub enum PlanningError {
    /// Nothing to plan on that date (no night, bad site).
    #[error("{0}")]
    NoNight(String),
    #[error("planner: {0}")]
    Planner(String),
    #[error(transparent)]
    Db(#[from] ferros_db::DbError),
}

/// A stored plan of a night.
#[derive(Debug, Clone)]
pub struct NightPlan {
    pub schedule_id: ScheduleId,
    pub night: NaiveDate,
    pub plan: Plan,
    /// Sequences out of their reportable nights, made UNPLANNABLE.
    pub expired: Vec<ScheduleEntry>,
    /// The sequences' mark after this plan's writes; `None` when they changed
    /// while it was made (it is then stale: plan again).
    pub mark: Option<PlanningMark>,
}

/// The ephemerides of the last night planned, kept for the next plan of the
/// same night (the planner agent plans one night many times). One `Skies`
/// serves one site and one night altitude.
#[derive(Debug, Clone, Default)]
pub struct Skies(Option<(NaiveDate, Arc<NightSky>)>);

/// Plans the night of `date` (or of now's) from the clock's now on, and stores it.
/// `horizon` is `site.horizon` (see [`altitude_floor`]).
pub async fn plan_night(
    db: &Db,
    clock: &Clock,
    site: Site,
    (night_altitude, horizon): (f64, f64),
    date: Option<NaiveDate>,
    skies: &mut Skies,
) -> Result<NightPlan, PlanningError> {
    let now =
        JulianDate::from_datetime(clock.now()).map_err(|e| PlanningError::NoNight(format!("clock: {e}")))?;
    let date = date.unwrap_or_else(|| night_of(now, site.longitude()));
    // The ephemerides and the planner are CPU work: off the async workers, so
    // that the other agents (safety first) are not held up meanwhile.
    let blocking = |e: ferros_clock::OffloadError| PlanningError::Planner(e.to_string());
    let sky = match &skies.0 {
        Some((d, sky)) if *d == date => sky.clone(),
        _ => {
            let sky = clock
                .offload(move || NightSky::new(site, date, night_altitude))
                .await
                .map_err(blocking)?
                .map_err(|e| PlanningError::NoNight(e.to_string()))?;
            let sky = Arc::new(sky);
            skies.0 = Some((date, sky.clone()));
            sky
        }
    };
    let dark = sky.dark();
    let (Some(first), Some(last)) = (dark.first(), dark.last()) else {
        return Err(PlanningError::NoNight(format!(
            "no night on {date}: the Sun stays above {night_altitude} degrees"
        )));
    };
    let (start, end) = (first.start.days(), last.end.days());

    let based_on = db.planning_mark().await?;
    let candidates = db.planning_candidates(start, end).await?;
    let remaining: HashMap<i64, f64> =
        db.list_programs().await?.into_iter().map(|p| (p.id.0, p.remaining_quota().get() / DAY)).collect();
    let (candidates, expired_ids, plan) = clock
        .offload(move || {
            let mut tasks = Vec::with_capacity(candidates.len());
            let mut expired = Vec::new();
            for c in &candidates {
                let s = &c.sequence;
                if let Some(first_night) = c.first_night
                    && !matches!(s.status, SequenceStatus::Executing | SequenceStatus::Executed)
                    && (date - first_night).num_days() > i64::from(s.spec.reportable_nights)
                {
                    expired.push(s.id);
                    continue;
                }
                tasks.push(task_of(c, &sky, horizon));
            }
            let input = Input {
                night_start: start,
                night_end: end,
                now: (now.days() > start).then_some(now.days()),
                tasks,
                quotas: remaining,
                hours_per_unit: Some(24.0),
            };
            let plan = ferros_scheduler::plan(&input).map_err(|e| PlanningError::Planner(e.to_string()));
            (candidates, expired, plan)
        })
        .await
        .map_err(blocking)?;
    let plan = plan?;
    let expired: Vec<&PlanningCandidate> =
        candidates.iter().filter(|c| expired_ids.contains(&c.sequence.id)).collect();

    let by_id: HashMap<i64, &PlanningCandidate> = candidates.iter().map(|c| (c.sequence.id.0, c)).collect();
    let mut entries = Vec::with_capacity(plan.entries.len() + expired.len());
    let mut updates = Vec::new();
    let jd = |v: Option<f64>| v.and_then(|d| JulianDate::new(d).ok());
    for e in &plan.entries {
        let c = by_id[&e.id];
        entries.push(ScheduleEntry {
            sequence_id: SequenceId(e.id),
            status: e.status,
            tsp: jd(e.tsp),
            tep: jd(e.tep),
            slack_left: Seconds::new("slack", e.slack_left * DAY).unwrap_or_default(),
            slack_right: Seconds::new("slack", e.slack_right * DAY).unwrap_or_default(),
            reason: e.reason.clone(),
        });
        let to = match e.status {
            Status::Planned => SequenceStatus::Planned,
            Status::Rejected => SequenceStatus::Rejected,
            Status::Unplannable => SequenceStatus::Unplannable,
            Status::Executing | Status::Executed => continue,
        };
        push_update(&mut updates, c.sequence.status, to, SequenceId(e.id), jd(e.tsp), jd(e.tep));
    }
    let mut expired_entries = Vec::new();
    for c in expired {
        let n = c.sequence.spec.reportable_nights;
        let entry = ScheduleEntry {
            sequence_id: c.sequence.id,
            status: EntryStatus::Unplannable,
            tsp: None,
            tep: None,
            slack_left: Seconds::ZERO,
            slack_right: Seconds::ZERO,
            reason: format!("not done within its {n} reportable night(s)"),
        };
        expired_entries.push(entry.clone());
        entries.push(entry);
        push_update(&mut updates, c.sequence.status, SequenceStatus::Unplannable, c.sequence.id, None, None);
    }
    let bad = |e: ferros_domain::DomainError| PlanningError::Planner(e.to_string());
    let schedule = NewSchedule {
        night_start: JulianDate::new(start).map_err(bad)?,
        night_end: JulianDate::new(end).map_err(bad)?,
        plan_start: JulianDate::new(plan.plan_start).map_err(bad)?,
        entries,
    };
    let (schedule_id, mark) =
        db.apply_schedule(&schedule, &updates, (date, now.to_datetime()), based_on).await?;
    Ok(NightPlan { schedule_id, night: date, plan, expired: expired_entries, mark })
}

fn push_update(
    updates: &mut Vec<StatusUpdate>,
    from: SequenceStatus,
    to: SequenceStatus,
    id: SequenceId,
    tsp: Option<JulianDate>,
    tep: Option<JulianDate>,
) {
    if from == to || from.can_become(to) {
        updates.push(StatusUpdate { id, from, to, tsp, tep });
    }
}

/// What the planner needs of a stored sequence, with its visibility tonight.
fn task_of(c: &PlanningCandidate, sky: &NightSky, horizon: f64) -> Task {
    let s = &c.sequence;
    let spec = &s.spec;
    let priority = match c.kind {
        RequestKind::Alert => Priority::ALERT,
        RequestKind::Routine => spec.priority.apply(c.program_priority),
    };
    let frozen = match (s.status, s.tsp, s.tep) {
        (SequenceStatus::Executing, Some(a), Some(b)) => {
            Some(Frozen { status: Status::Executing, tsp: a.days(), tep: b.days() })
        }
        (SequenceStatus::Executed, Some(a), Some(b)) => {
            Some(Frozen { status: Status::Executed, tsp: a.days(), tep: b.days() })
        }
        _ => None,
    };
    let visibility = spec.coordinates.map(|coords| {
        let mut limits = Limits::from(&spec.constraints);
        limits.min_altitude = Some(altitude_floor(spec.constraints.min_altitude, horizon));
        limits.between = Some((spec.jd1.days(), spec.jd2.days()));
        sky.windows(coords, &limits).into_iter().map(|w| (w.start.days(), w.end.days())).collect()
    });
    Task {
        id: s.id.0,
        priority: priority.get(),
        jd1: spec.jd1.days(),
        jd2: spec.jd2.days(),
        block: spec.block().get() / DAY,
        t_prefered: spec.t_prefered.map(JulianDate::days),
        visibility,
        // Alerts are followed whatever their program's quota.
        program: (c.kind == RequestKind::Routine).then_some(c.program_id.0),
        request: Some(s.request_id.0),
        all_or_nothing: c.strategy == Strategy::AllOrNothing,
        mandatory: spec.mandatory,
        frozen,
    }
}

/// The planner agent: replans the night whenever a sequence is submitted,
/// cancelled, started or ended (the sequences' latest change moves), the
/// environment changes state, or a new night begins.
pub struct PlannerAgent {
    site: Site,
    night_altitude: f64,
    horizon: f64,
    period: std::time::Duration,
    /// What the last plan was made for.
    mark: Option<(PlanningMark, Option<ferros_domain::GlobalStatus>, NaiveDate)>,
    skies: Skies,
}

impl std::fmt::Debug for PlannerAgent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlannerAgent").finish_non_exhaustive()
    }
}

impl PlannerAgent {
    pub fn new(settings: &ferros_config::Settings, site: Site) -> Self {
        let s = &settings.site;
        Self {
            site,
            night_altitude: s.night_sun_altitude,
            horizon: s.horizon,
            period: std::time::Duration::from_secs_f64(settings.agents.planner_period_s),
            mark: None,
            skies: Skies::default(),
        }
    }
}

#[async_trait::async_trait]
impl crate::Agent for PlannerAgent {
    fn name(&self) -> &str {
        "planner"
    }

    fn period(&self) -> std::time::Duration {
        self.period
    }

    /// A sequence that started or ended, the weather's change: plan again.
    fn wakes_on(&self, e: &crate::Event) -> bool {
        matches!(
            e,
            crate::Event::Sequence { .. } | crate::Event::Environment { .. } | crate::Event::Alert { .. }
        )
    }

    async fn step(&mut self, ctx: &crate::AgentContext) -> Result<(), AgentError> {
        let site = self.site;
        let now = ctx.clock.now();
        let jd = JulianDate::from_datetime(now)?;
        let night = night_of(jd, site.longitude());
        let sequences = ctx.db.planning_mark().await?;
        let env = ctx.env().await?.map(|s| s.global_status);
        let mark = (sequences, env, night);
        if self.mark.as_ref() == Some(&mark) || sequences.sequences == 0 {
            return Ok(());
        }
        match plan_night(
            &ctx.db,
            &ctx.clock,
            site,
            (self.night_altitude, self.horizon),
            Some(night),
            &mut self.skies,
        )
        .await
        {
            Ok(p) => {
                let planned = p.plan.entries.iter().filter(|e| e.status == Status::Planned).count();
                ctx.record(
                    "planner",
                    ferros_domain::LogLevel::Info,
                    format!(
                        "schedule {} for the night of {night}: {planned} sequence(s) planned",
                        p.schedule_id
                    ),
                )
                .await;
                ctx.bus.publish(crate::Event::Schedule { at: ctx.clock.now(), id: p.schedule_id.0, planned });
                // The plan's own status changes are not news; a request
                // submitted while it was made is.
                self.mark = p.mark.map(|m| (m, mark.1, night));
                Ok(())
            }
            Err(e @ PlanningError::NoNight(_)) => {
                self.mark = Some(mark);
                Err(e.into())
            }
            // A sequence changed meanwhile (the executor took it): plan again next step.
            Err(PlanningError::Db(ferros_db::DbError::Conflict(_))) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}
