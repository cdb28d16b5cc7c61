//! The report of a simulated night, and the invariants every night keeps.

use std::collections::BTreeMap;
use std::sync::Mutex;

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use ferros_config::Settings;
use ferros_db::Db;
use ferros_devices::{FrameType, Shutter};
use ferros_devices_sim::{Motion, ShotRecord};
use ferros_domain::JulianDate;
use serde::{Deserialize, Serialize};

use crate::night::{DomeSample, Night, SimError};

/// What happened in a night. Every field but `wall` depends only on the
/// night's inputs: the same inputs give the same report, byte for byte.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub date: String,
    pub seed: u64,
    /// Whether random faults were drawn from the seed.
    pub random_faults: bool,
    /// Dark time (the Sun below the night altitude), UTC.
    pub night_start: String,
    pub night_end: String,
    /// What the simulation covered (sunset to after sunrise), and when it
    /// stopped (once the agents had wound the night down).
    pub simulated_from: String,
    pub simulated_to: String,
    pub stopped_at: String,
    pub sequences: Sequences,
    /// Archived images (FITS files with a database row).
    pub images: i64,
    pub images_by_kind: BTreeMap<String, i64>,
    pub safety: Safety,
    pub efficiency: Efficiency,
    pub states: Vec<State>,
    /// The faults injected, when and for how long.
    pub faults: Vec<String>,
    /// Agents the supervisor restarted, when and why.
    pub restarts: Vec<String>,
    /// Anything else worth knowing (the agents did not settle, events missed).
    pub notes: Vec<String>,
    /// The notices delivered (`--alerts`), in the order they arrived, and
    /// what became of each.
    pub alerts: Vec<AlertOutcome>,
    /// The data reduction pipeline: images per queue state (done, failed,
    /// pending), calibrated images written.
    pub pipeline: BTreeMap<String, i64>,
    /// Wall-clock figures: the only part that depends on the machine.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wall: Option<Wall>,
}

/// One notice of the night and what became of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertOutcome {
    pub ivorn: Option<String>,
    /// created, updated, retracted, skipped, ignored or refused.
    pub decision: String,
    pub reason: String,
    pub received: String,
    pub slew_commanded: Option<String>,
    pub first_exposure: Option<String>,
    /// Images archived for its request.
    pub images: i64,
    /// The pipeline's analyses of its images, and the transient candidates
    /// of its error circle: the brightest on each image.
    pub analysed: i64,
    pub candidates: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Sequences {
    pub submitted: i64,
    /// Still waiting at the end of the night (PLANNED or TOBEPLANNED): carried over.
    pub planned: i64,
    pub executed: i64,
    /// Not planned tonight (no room, quota): may be planned another night.
    pub rejected: i64,
    pub unplannable: i64,
    pub cancelled: i64,
    /// Still EXECUTING when the simulation stopped (after sunrise: none expected).
    pub executing: i64,
    /// Executions stopped and given back to the planner (UNSAFE, alert, device).
    pub interrupted: i64,
    /// Executed sequences whose run outlasted their block by more than the
    /// cameras' abort (`devices.timeout_s`) and a second: none expected.
    pub overran: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Safety {
    pub unsafe_periods: Vec<UnsafePeriod>,
    /// The reaction time allowed (`agents.reaction_s`).
    pub reaction_budget_s: f64,
    /// The longest time from UNSAFE to no sky exposure running and the dome closing, seconds.
    pub max_reaction_s: f64,
    /// The longest time from UNSAFE to the dome closed, seconds.
    pub max_dome_closed_s: f64,
    /// Sky exposure (light, flat) while UNSAFE beyond the reaction time, seconds.
    pub exposure_while_unsafe_s: f64,
    /// Sky exposure while UNSAFE within the reaction time, seconds.
    pub exposure_within_reaction_s: f64,
}

/// Where the SAFE dark time went (dark time: the Sun below the night
/// altitude; SAFE: outside the UNSAFE periods), from what the simulated
/// devices themselves did, seconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Efficiency {
    pub safe_dark_s: f64,
    /// Sky exposure (light frames, either camera).
    pub open_shutter_s: f64,
    /// `open_shutter_s / safe_dark_s` (0 without SAFE dark time).
    pub open_shutter_fraction: f64,
    /// The mount slewing (parking included).
    pub slews_s: f64,
    /// The dome's shutter moving or the dome turning on its own.
    pub dome_s: f64,
    /// A filter wheel turning.
    pub filters_s: f64,
    /// A camera reading out.
    pub readout_s: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnsafePeriod {
    pub start: String,
    pub end: Option<String>,
    pub reasons: Vec<String>,
    /// Seconds until the dome began closing and the last sky exposure ended.
    pub reaction_s: Option<f64>,
    /// Seconds until the dome was closed.
    pub dome_closed_s: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct State {
    pub time: String,
    pub state: String,
}

/// How long the night took on this machine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Wall {
    pub seconds: f64,
}

pub(crate) fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// An UNSAFE period: start, end (if over), reasons.
pub(crate) type Unsafe = (DateTime<Utc>, Option<DateTime<Utc>>, Vec<String>);

/// What the observers saw during the night.
#[derive(Debug, Default)]
pub(crate) struct Log {
    pub states: Vec<(DateTime<Utc>, String)>,
    pub unsafe_periods: Vec<Unsafe>,
    pub dome: Vec<DomeSample>,
    pub interrupted: i64,
    pub faults: Vec<String>,
    pub restarts: Vec<String>,
    pub notes: Vec<String>,
}

fn tenths(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn secs(d: TimeDelta) -> f64 {
    d.num_milliseconds() as f64 / 1000.0
}

#[allow(clippy::too_many_arguments, reason = "the night's facts, each named")]
pub(crate) async fn report(
    settings: &Settings,
    db: &Db,
    night: &Night,
    (dark_start, dark_end): (JulianDate, JulianDate),
    (from, to, stopped): (DateTime<Utc>, DateTime<Utc>, DateTime<Utc>),
    log: &Mutex<Log>,
    (shots, motions): (&[ShotRecord], &[Motion]),
    submitted: i64,
) -> Result<Report, SimError> {
    let counts: BTreeMap<String, i64> = db.sequence_counts().await?.into_iter().collect();
    // Stopped at its block's end, a run still aborts its cameras: each call
    // may take up to the device time limit.
    let grace = settings.devices.timeout_s + 1.0;
    let mut overran = 0;
    for r in db.list_requests().await? {
        let Some(r) = db.request(r.id).await? else { continue };
        overran += r
            .sequences
            .iter()
            .filter(|q| {
                q.status == ferros_domain::SequenceStatus::Executed
                    && q.tsp
                        .zip(q.tep)
                        .is_some_and(|(a, b)| b.seconds_since(a) > q.spec.block().get() + grace)
            })
            .count()
            .try_into()
            .unwrap_or(i64::MAX);
    }
    let n = |k: &str| counts.get(k).copied().unwrap_or(0);
    let images_by_kind: BTreeMap<String, i64> = db.image_counts().await?.into_iter().collect();
    let mut alerts: Vec<AlertOutcome> = Vec::new();
    for a in db.list_alerts(None, u32::MAX).await?.into_iter().rev() {
        let analyses = match a.request_id {
            Some(r) => db.analysed_images(r, 10_000).await?,
            None => Vec::new(),
        };
        let mut candidates = Vec::new();
        for (_, img) in analyses.iter().rev() {
            let Some(an) = img
                .analysis
                .as_deref()
                .and_then(|t| serde_json::from_str::<ferros_pipeline::Analysis>(t).ok())
            else {
                continue;
            };
            if let Some(c) = an.candidates.first() {
                let mag = c.mag.map_or_else(|| "-".to_owned(), |m| format!("{m:.2}"));
                candidates.push(format!(
                    "{} {}: {:.5} {:+.5} mag {mag}",
                    iso(img.date_obs),
                    img.filter,
                    c.ra,
                    c.dec
                ));
            }
        }
        alerts.push(AlertOutcome {
            ivorn: a.ivorn,
            decision: a.outcome,
            reason: a.reason,
            received: iso(a.received_at),
            slew_commanded: a.slew_at.map(iso),
            first_exposure: a.exposure_at.map(iso),
            images: a.images,
            analysed: analyses.len() as i64,
            candidates,
        });
    }
    let mut pipeline: BTreeMap<String, i64> = db.pipeline_counts().await?.into_iter().collect();
    // The calibrated images are the pipeline's own: counted apart.
    let calibrated = db.image_total().await? - images_by_kind.values().sum::<i64>();
    pipeline.insert("calibrated_written".into(), calibrated);
    let l = log.lock().unwrap_or_else(|e| e.into_inner());
    let budget = settings.agents.reaction_s;
    let exposures: Vec<(DateTime<Utc>, DateTime<Utc>)> = shots
        .iter()
        .filter(|s| matches!(s.frame, FrameType::Light | FrameType::Flat))
        .map(|s| (s.start, s.end))
        .collect();
    let mut max_reaction: f64 = 0.0;
    let mut max_closed: f64 = 0.0;
    let (mut beyond, mut within) = (0.0, 0.0);
    let mut periods = Vec::new();
    for (start, end_, reasons) in &l.unsafe_periods {
        let end = end_.unwrap_or(to);
        let limit = *start + TimeDelta::milliseconds((budget * 1000.0) as i64);
        // Sky exposures overlapping the period.
        let mut last_exposure = *start;
        for (a, b) in &exposures {
            let (a, b) = ((*a).max(*start), (*b).min(end));
            if b > a {
                last_exposure = last_exposure.max(b);
                within += secs(b.min(limit) - a.min(limit)).max(0.0);
                beyond += secs(b - a.max(limit)).max(0.0);
            }
        }
        let closing = l.dome.iter().find(|(t, sh)| *t >= *start && *sh != Shutter::Opened).map(|(t, _)| *t);
        let closed = l.dome.iter().find(|(t, sh)| *t >= *start && *sh == Shutter::Closed).map(|(t, _)| *t);
        let reaction = closing.map(|c| secs(c.max(last_exposure) - *start));
        let closed = closed.filter(|c| *c <= end).map(|c| secs(c - *start));
        max_reaction = max_reaction.max(reaction.unwrap_or(0.0));
        max_closed = max_closed.max(closed.unwrap_or(0.0));
        periods.push(UnsafePeriod {
            start: iso(*start),
            end: end_.map(iso),
            reasons: reasons.clone(),
            reaction_s: reaction.map(tenths),
            dome_closed_s: closed.map(tenths),
        });
    }
    Ok(Report {
        date: night.date.to_string(),
        seed: night.seed,
        random_faults: night.faults,
        night_start: iso(dark_start.to_datetime()),
        night_end: iso(dark_end.to_datetime()),
        simulated_from: iso(from),
        simulated_to: iso(to),
        stopped_at: iso(stopped),
        sequences: Sequences {
            submitted,
            planned: n("PLANNED") + n("TOBEPLANNED"),
            executed: n("EXECUTED"),
            rejected: n("REJECTED"),
            unplannable: n("UNPLANNABLE"),
            cancelled: n("CANCELLED"),
            executing: n("EXECUTING"),
            interrupted: l.interrupted,
            overran,
        },
        images: images_by_kind.values().sum(),
        images_by_kind,
        safety: Safety {
            unsafe_periods: periods,
            reaction_budget_s: budget,
            max_reaction_s: tenths(max_reaction),
            max_dome_closed_s: tenths(max_closed),
            exposure_while_unsafe_s: tenths(beyond),
            exposure_within_reaction_s: tenths(within),
        },
        efficiency: efficiency(
            (dark_start.to_datetime(), dark_end.to_datetime()),
            &l.unsafe_periods.iter().map(|(a, b, _)| (*a, b.unwrap_or(to))).collect::<Vec<_>>(),
            shots,
            motions,
        ),
        states: l.states.iter().map(|(t, s)| State { time: iso(*t), state: s.clone() }).collect(),
        faults: l.faults.clone(),
        restarts: l.restarts.clone(),
        notes: l.notes.clone(),
        alerts,
        pipeline,
        wall: None,
    })
}

type Span = (DateTime<Utc>, DateTime<Utc>);

/// Sorted, disjoint spans covering the same time as `spans`.
fn union(mut spans: Vec<Span>) -> Vec<Span> {
    spans.retain(|(a, b)| b > a);
    spans.sort();
    let mut out: Vec<Span> = Vec::with_capacity(spans.len());
    for (a, b) in spans {
        match out.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

/// Seconds two sets of sorted, disjoint spans have in common.
fn overlap(x: &[Span], y: &[Span]) -> f64 {
    let (mut i, mut j, mut total) = (0, 0, 0.0);
    while i < x.len() && j < y.len() {
        let (a, b) = (x[i].0.max(y[j].0), x[i].1.min(y[j].1));
        if b > a {
            total += secs(b - a);
        }
        if x[i].1 < y[j].1 { i += 1 } else { j += 1 }
    }
    total
}

/// The dark window without the UNSAFE periods, then what went on in it.
fn efficiency(dark: Span, unsafe_periods: &[Span], shots: &[ShotRecord], motions: &[Motion]) -> Efficiency {
    let mut safe = Vec::new();
    let mut from = dark.0;
    for (a, b) in union(unsafe_periods.to_vec()) {
        if a > from {
            safe.push((from, a.min(dark.1)));
        }
        from = from.max(b);
    }
    if dark.1 > from {
        safe.push((from, dark.1));
    }
    let safe = union(safe);
    let safe_dark = overlap(&safe, &[dark]);
    let sky = union(shots.iter().filter(|s| s.frame == FrameType::Light).map(|s| (s.start, s.end)).collect());
    let spent = |kinds: &[&str]| {
        let spans = motions.iter().filter(|m| kinds.contains(&m.what)).map(|m| (m.start, m.end)).collect();
        tenths(overlap(&safe, &union(spans)))
    };
    let open = overlap(&safe, &sky);
    Efficiency {
        safe_dark_s: tenths(safe_dark),
        open_shutter_s: tenths(open),
        open_shutter_fraction: if safe_dark > 0.0 {
            (open / safe_dark * 1000.0).round() / 1000.0
        } else {
            0.0
        },
        slews_s: spent(&["slew"]),
        dome_s: spent(&["shutter", "rotation"]),
        filters_s: spent(&["filter"]),
        readout_s: spent(&["readout"]),
    }
}

/// How long the dome may take to close after UNSAFE beyond the reaction
/// budget: its shutter's travel, with room to spare.
const DOME_TRAVEL_S: f64 = 120.0;

/// The invariants every night keeps; each broken one, said plainly.
pub fn check(r: &Report) -> Vec<String> {
    let mut broken = Vec::new();
    let s = &r.safety;
    if s.exposure_while_unsafe_s > 0.0 {
        broken.push(format!(
            "{} s of sky exposure while UNSAFE beyond the reaction time",
            s.exposure_while_unsafe_s
        ));
    }
    if s.max_dome_closed_s > s.reaction_budget_s + DOME_TRAVEL_S {
        broken.push(format!(
            "the dome closed {} s after UNSAFE (allowed {} s)",
            s.max_dome_closed_s,
            s.reaction_budget_s + DOME_TRAVEL_S
        ));
    }
    let q = &r.sequences;
    if q.overran > 0 {
        broken.push(format!("{} executed sequence(s) ran past their block", q.overran));
    }
    let accounted = q.planned + q.executed + q.rejected + q.unplannable + q.cancelled;
    if q.submitted != accounted || q.executing != 0 {
        broken.push(format!(
            "sequences unaccounted for: {} submitted, {accounted} accounted, {} still executing",
            q.submitted, q.executing
        ));
    }
    // An UNSAFE period that ends with more than two hours of night left,
    // work still waiting: observing resumes after it.
    let parse = |t: &str| DateTime::parse_from_rfc3339(t).ok().map(|t| t.with_timezone(&Utc));
    let night_end = parse(&r.night_end);
    for p in &s.unsafe_periods {
        let (Some(end), Some(night_end)) = (p.end.as_deref().and_then(parse), night_end) else { continue };
        if night_end - end > TimeDelta::hours(2)
            && p.start > r.night_start
            && !r.states.iter().any(|x| {
                parse(&x.time).is_some_and(|t| t >= end)
                    && x.state == ferros_majordome::Mode::SchedulerObserving.label()
            })
        {
            broken.push(format!("no observing after the UNSAFE period that ended at {}", iso(end)));
        }
    }
    broken
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp(1_800_000_000 + s, 0).unwrap()
    }

    #[test]
    fn efficiency_counts_only_the_safe_dark_time() {
        // Dark 0..1000 s, UNSAFE 400..600 (and a second period inside it).
        let dark = (t(0), t(1000));
        let unsafe_periods = [(t(400), t(600)), (t(450), t(500))];
        let shot = |frame, a, b| ShotRecord { frame, start: t(a), end: t(b) };
        let shots = [
            shot(FrameType::Light, -50, 100), // starts before the dark time
            shot(FrameType::Light, 350, 450), // runs into UNSAFE
            shot(FrameType::Flat, 700, 800),  // not the sky of the night
            shot(FrameType::Light, 900, 1100),
        ];
        let motion = |what, a, b| Motion { what, start: t(a), end: t(b) };
        let motions = [
            motion("slew", 100, 130),
            motion("slew", 120, 140), // overlaps the first: counted once
            motion("shutter", 590, 650),
            motion("rotation", 640, 660),
            motion("filter", 500, 510), // while UNSAFE: not counted
            motion("readout", 100, 105),
        ];
        let e = efficiency(dark, &unsafe_periods, &shots, &motions);
        assert_eq!(e.safe_dark_s, 800.0);
        assert_eq!(e.open_shutter_s, 100.0 + 50.0 + 100.0);
        assert_eq!(e.open_shutter_fraction, 0.313);
        assert_eq!((e.slews_s, e.dome_s, e.filters_s, e.readout_s), (40.0, 60.0, 0.0, 5.0));
    }

    #[test]
    fn a_night_without_safe_dark_time_has_no_fraction() {
        let e = efficiency((t(0), t(100)), &[(t(-10), t(200))], &[], &[]);
        assert_eq!((e.safe_dark_s, e.open_shutter_fraction), (0.0, 0.0));
    }
}
