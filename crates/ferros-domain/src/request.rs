//! Observation requests and what they hold: sequences (the unit of planning),
//! albums (one per detector) and plans (blocks of exposures).
//!
//! Each level has a `*Spec` with what an astronomer asks for, a `New*` tree used
//! to create it, and a stored form with ids and status. Durations roll up as in
//! PyROS: a plan lasts its images, an album its plans one after the other, a
//! sequence its longest album (albums run in parallel on their detectors).

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{Coordinates, DomainError, JulianDate, PriorityModulation, Seconds};

macro_rules! id_type {
    ($name:ident) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }
    };
}

id_type!(RequestId);
id_type!(SequenceId);
id_type!(AlbumId);
id_type!(PlanId);

/// Routine requests come from astronomers; alert requests from the alert agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RequestKind {
    Routine,
    Alert,
}

impl RequestKind {
    pub fn code(self) -> &'static str {
        match self {
            RequestKind::Routine => "routine",
            RequestKind::Alert => "alert",
        }
    }
}

impl FromStr for RequestKind {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, DomainError> {
        match s {
            "routine" => Ok(Self::Routine),
            "alert" => Ok(Self::Alert),
            _ => Err(DomainError::unknown("kind", s, &["routine", "alert"])),
        }
    }
}

/// How a request's sequences are executed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// Each sequence lives its own life (the default).
    #[default]
    BestEffort,
    /// The request is planned whole or not at all.
    AllOrNothing,
}

impl Strategy {
    pub fn code(self) -> &'static str {
        match self {
            Strategy::BestEffort => "best_effort",
            Strategy::AllOrNothing => "all_or_nothing",
        }
    }
}

impl FromStr for Strategy {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, DomainError> {
        match s.trim().to_ascii_lowercase().replace(['-', ' '], "_").as_str() {
            "best_effort" => Ok(Self::BestEffort),
            "all_or_nothing" => Ok(Self::AllOrNothing),
            _ => Err(DomainError::unknown("strategy", s, &["best_effort", "all_or_nothing"])),
        }
    }
}

/// The life cycle of a sequence (names kept from PyROS).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum SequenceStatus {
    /// Some part is missing (no album, or an album without plan).
    Incomplete,
    /// Ready, not yet submitted.
    Complete,
    Tobeplanned,
    Planned,
    /// Cannot be planned at all (window too short, never visible, out of its nights).
    Unplannable,
    /// Not planned by the latest schedule (no room, quota); may be in the next one.
    Rejected,
    Executing,
    Executed,
    Cancelled,
    Invalid,
}

impl SequenceStatus {
    pub const ALL: [SequenceStatus; 10] = [
        Self::Incomplete,
        Self::Complete,
        Self::Tobeplanned,
        Self::Planned,
        Self::Unplannable,
        Self::Rejected,
        Self::Executing,
        Self::Executed,
        Self::Cancelled,
        Self::Invalid,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Self::Incomplete => "INCOMPLETE",
            Self::Complete => "COMPLETE",
            Self::Tobeplanned => "TOBEPLANNED",
            Self::Planned => "PLANNED",
            Self::Unplannable => "UNPLANNABLE",
            Self::Rejected => "REJECTED",
            Self::Executing => "EXECUTING",
            Self::Executed => "EXECUTED",
            Self::Cancelled => "CANCELLED",
            Self::Invalid => "INVALID",
        }
    }

    /// No change leaves these statuses.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Executed | Self::Cancelled | Self::Invalid | Self::Unplannable)
    }

    /// Whether the life cycle allows `self -> next`.
    pub fn can_become(self, next: SequenceStatus) -> bool {
        use SequenceStatus::*;
        match (self, next) {
            (a, b) if a == b => false,
            (Incomplete, Complete | Cancelled | Invalid) => true,
            (Complete, Incomplete | Tobeplanned | Cancelled | Invalid) => true,
            // Back to COMPLETE: withdrawn by its owner before it runs (unsubmit).
            (Tobeplanned, Complete | Planned | Rejected | Unplannable | Cancelled | Invalid) => true,
            (Planned, Complete | Tobeplanned | Rejected | Unplannable | Executing | Cancelled) => true,
            (Rejected, Complete | Tobeplanned | Planned | Unplannable | Cancelled) => true,
            // An interrupted execution goes back to planning (weather, alert pre-emption).
            (Executing, Executed | Tobeplanned | Unplannable | Cancelled) => true,
            _ => false,
        }
    }

    pub fn transition(self, next: SequenceStatus) -> Result<SequenceStatus, DomainError> {
        if self.can_become(next) { Ok(next) } else { Err(DomainError::Transition { from: self, to: next }) }
    }
}

impl FromStr for SequenceStatus {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, DomainError> {
        Self::ALL
            .into_iter()
            .find(|st| st.code().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| DomainError::unknown("status", s, &Self::ALL.map(Self::code)))
    }
}

impl fmt::Display for SequenceStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// The two cameras of a COLIBRI-like unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Detector {
    /// The visible camera (DDRAGO on COLIBRI).
    Vis,
    /// The near-infrared camera (CAGIRE on COLIBRI).
    Nir,
}

impl Detector {
    pub fn code(self) -> &'static str {
        match self {
            Detector::Vis => "VIS",
            Detector::Nir => "NIR",
        }
    }
}

impl FromStr for Detector {
    type Err = DomainError;
    /// Accepts `VIS`/`NIR`, the camera names and the seeds' "Visible camera".
    fn from_str(s: &str) -> Result<Self, DomainError> {
        let k = s.trim().to_ascii_lowercase();
        match k.as_str() {
            "vis" | "visible" | "visible camera" | "ddrago" | "cameravis" | "camera vis" => Ok(Detector::Vis),
            "nir"
            | "near infrared"
            | "near-infrared"
            | "near infrared camera"
            | "near-infrared camera"
            | "infrared camera"
            | "cagire"
            | "cameranir"
            | "camera nir" => Ok(Detector::Nir),
            _ => Err(DomainError::unknown(
                "detector",
                s,
                &["VIS", "NIR", "Visible camera", "Near infrared camera"],
            )),
        }
    }
}

impl fmt::Display for Detector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// Limits a target must meet to be observed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Constraints {
    /// Minimum altitude of the target, degrees.
    pub min_altitude: Option<f64>,
    /// Maximum airmass of the target (>= 1).
    pub max_airmass: Option<f64>,
    /// Minimum angular distance to the Moon, degrees.
    pub min_moon_distance: Option<f64>,
    /// Maximum altitude of the Sun, degrees.
    pub max_sun_altitude: Option<f64>,
}

impl Constraints {
    pub fn validate(&self) -> Result<(), DomainError> {
        if let Some(a) = self.min_altitude {
            crate::units::degrees_in("min_alt", a, -90.0, 90.0)?;
        }
        if let Some(x) = self.max_airmass
            && !(x.is_finite() && x >= 1.0)
        {
            return Err(DomainError::out_of_range("max_airmass", x, "an airmass >= 1"));
        }
        if let Some(d) = self.min_moon_distance {
            crate::units::degrees_in("min_moon_dist", d, 0.0, 180.0)?;
        }
        if let Some(s) = self.max_sun_altitude {
            crate::units::degrees_in("max_sun_alt", s, -90.0, 90.0)?;
        }
        Ok(())
    }
}

/// A detector sub-window, in unbinned pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
}

impl FromStr for Window {
    type Err = DomainError;
    /// `x,y,width,height`.
    fn from_str(s: &str) -> Result<Self, DomainError> {
        let bad = || DomainError::invalid("window", format!("\"{s}\" is not \"x,y,width,height\" in pixels"));
        let parts: Vec<u32> =
            s.split(',').map(|p| p.trim().parse::<u32>()).collect::<Result<_, _>>().map_err(|_| bad())?;
        match parts[..] {
            [x, y, width, height] if width > 0 && height > 0 => Ok(Window { x, y, width, height }),
            _ => Err(bad()),
        }
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{},{},{},{}", self.x, self.y, self.width, self.height)
    }
}

/// A block of exposures on one album.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanSpec {
    pub name: String,
    pub filter: String,
    /// Exposure time of one image.
    pub exposure: Seconds,
    pub nb_images: u32,
    /// Binning, same on both axes (1..=8).
    pub binning: u8,
    pub window: Option<Window>,
    /// Dithering amplitude between images, arcseconds (0: none).
    pub dithering: f64,
    /// Time the plan takes (at least `nb_images * exposure`; the rest is readout).
    pub duration: Seconds,
}

impl PlanSpec {
    pub fn validate(&self) -> Result<(), DomainError> {
        if self.nb_images == 0 {
            return Err(DomainError::invalid("nb_images", "must be > 0"));
        }
        if !(1..=8).contains(&self.binning) {
            return Err(DomainError::out_of_range("binning", f64::from(self.binning), "1..=8"));
        }
        if !(self.dithering.is_finite() && self.dithering >= 0.0) {
            return Err(DomainError::out_of_range("dithering", self.dithering, "an amplitude >= 0 arcsec"));
        }
        let needed = self.exposure.get() * f64::from(self.nb_images);
        if self.duration.get() + 1e-9 < needed {
            return Err(DomainError::invalid(
                "duration",
                format!(
                    "{} s is shorter than nb_images x exposure = {} x {} s",
                    self.duration.get(),
                    self.nb_images,
                    self.exposure.get()
                ),
            ));
        }
        Ok(())
    }
}

impl PlanSpec {
    /// The time its images need on a camera whose full-frame readout is
    /// `readout_s`: `nb_images x (exposure + readout / binning^2)`, seconds.
    pub fn needed(&self, readout_s: f64) -> f64 {
        f64::from(self.nb_images) * (self.exposure.get() + readout_s / f64::from(self.binning.max(1)).powi(2))
    }
}

/// Each camera's full-frame readout, seconds: what every image costs beyond
/// its exposure (binned n x n, divided by n squared).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Readouts {
    pub vis: f64,
    pub nir: f64,
}

impl Readouts {
    /// The simulated cameras' readouts.
    pub const DEFAULT: Self = Self { vis: 5.0, nir: 2.0 };

    /// The readout of one image on `detector` binned `binning` x `binning`.
    pub fn of(&self, detector: Detector, binning: u8) -> f64 {
        let full = match detector {
            Detector::Vis => self.vis,
            Detector::Nir => self.nir,
        };
        full / f64::from(binning.max(1)).powi(2)
    }
}

/// What a filter wheel holds, as requests are checked against it: its slots'
/// names (empty: not known before the night) and aliases, a request's name
/// for a filter (`r`) to the slot's (`Red`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Wheel {
    pub names: Vec<String>,
    pub aliases: std::collections::BTreeMap<String, String>,
}

impl Wheel {
    /// The slot a request's filter name selects.
    pub fn slot<'a>(&'a self, filter: &'a str) -> &'a str {
        self.aliases.get(filter).map_or(filter, String::as_str)
    }

    /// Why `filter` is not on this wheel, if it is known not to be.
    pub fn lacks(&self, filter: &str) -> Option<String> {
        let slot = self.slot(filter);
        if self.names.is_empty() || self.names.iter().any(|n| n == slot) {
            return None;
        }
        let aliases: Vec<String> = self.aliases.iter().map(|(a, n)| format!("{a} = {n}")).collect();
        Some(format!(
            "no filter \"{filter}\" on the wheel (it has {}{})",
            self.names.join(", "),
            if aliases.is_empty() { String::new() } else { format!("; aliases {}", aliases.join(", ")) }
        ))
    }
}

/// The two wheels, by detector.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Wheels {
    pub vis: Wheel,
    pub nir: Wheel,
}

impl Wheels {
    pub fn of(&self, detector: Detector) -> &Wheel {
        match detector {
            Detector::Vis => &self.vis,
            Detector::Nir => &self.nir,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlbumSpec {
    pub name: String,
    pub detector: Detector,
}

/// A sequence as asked for: what, when, how long, how urgent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SequenceSpec {
    pub name: String,
    /// Target name, free text (e.g. "M31", "GRB 260101A").
    pub target: Option<String>,
    /// Where to point, J2000. `None`: the sequence does not point (tests, darks).
    pub coordinates: Option<Coordinates>,
    /// The seeds' `target_coords` text, kept when it is not an "RA Dec" pair.
    pub target_coords: Option<String>,
    pub jd1: JulianDate,
    pub jd2: JulianDate,
    /// Time of the observation proper (the longest album).
    pub duration: Seconds,
    /// Preparation before it (slew, dome, filters), planned as part of its block.
    pub overhead: Seconds,
    pub t_prefered: Option<JulianDate>,
    pub priority: PriorityModulation,
    pub constraints: Constraints,
    /// A mandatory sequence that fails fails its request.
    pub mandatory: bool,
    /// Nights (0..=7) the sequence may be carried over to when not done tonight.
    pub reportable_nights: u8,
}

impl SequenceSpec {
    pub const MAX_REPORTABLE_NIGHTS: u8 = 7;

    /// Checks what can be checked on the sequence alone.
    pub fn validate(&self) -> Result<(), DomainError> {
        if self.jd2 <= self.jd1 {
            return Err(DomainError::invalid(
                "jd2",
                format!("{} must be after jd1 = {}", self.jd2, self.jd1),
            ));
        }
        if let Some(tp) = self.t_prefered
            && !(self.jd1..=self.jd2).contains(&tp)
        {
            return Err(DomainError::invalid(
                "t_prefered",
                format!("{tp} is outside the window jd1..jd2 = {}..{}", self.jd1, self.jd2),
            ));
        }
        if self.reportable_nights > Self::MAX_REPORTABLE_NIGHTS {
            return Err(DomainError::out_of_range(
                "reportable",
                f64::from(self.reportable_nights),
                "0..=7 nights",
            ));
        }
        self.constraints.validate()
    }

    /// Overhead plus duration: the length of the block the scheduler places.
    pub fn block(&self) -> Seconds {
        self.overhead + self.duration
    }
}

/// The time an album needs: its plans one after the other.
pub fn album_duration<'a>(plans: impl IntoIterator<Item = &'a PlanSpec>) -> Seconds {
    plans.into_iter().map(|p| p.duration).sum()
}

/// What a new request is made of, as imported from XML or built by a form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewRequest {
    pub name: String,
    /// Name of the scientific program it is charged to.
    pub program: String,
    pub target_type: String,
    pub kind: RequestKind,
    pub strategy: Strategy,
    pub sequences: Vec<NewSequence>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewSequence {
    pub spec: SequenceSpec,
    pub albums: Vec<NewAlbum>,
}

impl NewSequence {
    /// Complete when it has at least one album and every album a plan.
    pub fn initial_status(&self) -> SequenceStatus {
        if !self.albums.is_empty() && self.albums.iter().all(|a| !a.plans.is_empty()) {
            SequenceStatus::Complete
        } else {
            SequenceStatus::Incomplete
        }
    }

    /// The longest album: what the sequence needs at least.
    pub fn albums_duration(&self) -> Seconds {
        self.albums.iter().map(|a| album_duration(&a.plans)).fold(Seconds::ZERO, Seconds::max)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewAlbum {
    pub spec: AlbumSpec,
    pub plans: Vec<PlanSpec>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request {
    pub id: RequestId,
    pub name: String,
    pub owner: String,
    pub program: String,
    pub target_type: String,
    pub kind: RequestKind,
    pub strategy: Strategy,
    pub created_at: DateTime<Utc>,
    pub sequences: Vec<Sequence>,
}

impl Request {
    /// The request as it was asked for, without ids or statuses.
    pub fn to_new(&self) -> NewRequest {
        NewRequest {
            name: self.name.clone(),
            program: self.program.clone(),
            target_type: self.target_type.clone(),
            kind: self.kind,
            strategy: self.strategy,
            sequences: self
                .sequences
                .iter()
                .map(|s| NewSequence {
                    spec: s.spec.clone(),
                    albums: s
                        .albums
                        .iter()
                        .map(|a| NewAlbum {
                            spec: a.spec.clone(),
                            plans: a.plans.iter().map(|p| p.spec.clone()).collect(),
                        })
                        .collect(),
                })
                .collect(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sequence {
    pub id: SequenceId,
    pub request_id: RequestId,
    pub status: SequenceStatus,
    /// Planned (or actual) start and end of the block.
    pub tsp: Option<JulianDate>,
    pub tep: Option<JulianDate>,
    pub spec: SequenceSpec,
    pub albums: Vec<Album>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Album {
    pub id: AlbumId,
    pub spec: AlbumSpec,
    pub plans: Vec<Plan>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub id: PlanId,
    pub spec: PlanSpec,
}

/// A request's state, derived from its sequences' and its strategy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum RequestStatus {
    /// Not submitted yet (or nothing in it).
    Draft,
    /// Submitted; some sequence still waits for the planner or its turn.
    Pending,
    /// A sequence is being executed.
    Running,
    /// Every sequence executed.
    Done,
    /// Best effort: some sequences executed, the others ended otherwise.
    Partial,
    /// Nothing executed (best effort), or not everything (all or nothing).
    Failed,
    /// Every sequence cancelled.
    Cancelled,
}

impl RequestStatus {
    /// From the statuses of the request's sequences.
    pub fn derive(strategy: Strategy, statuses: &[SequenceStatus]) -> RequestStatus {
        use SequenceStatus as S;
        if statuses.is_empty() || statuses.iter().all(|s| matches!(s, S::Incomplete | S::Complete)) {
            return RequestStatus::Draft;
        }
        if statuses.contains(&S::Executing) {
            return RequestStatus::Running;
        }
        let executed = statuses.iter().filter(|s| **s == S::Executed).count();
        let ended = statuses.iter().filter(|s| s.is_final()).count();
        let failed = ended - executed;
        if strategy == Strategy::AllOrNothing && failed > 0 && executed == 0 {
            // All or nothing: once one sequence cannot be, the request cannot be.
            return if statuses.iter().all(|s| *s == S::Cancelled) {
                RequestStatus::Cancelled
            } else {
                RequestStatus::Failed
            };
        }
        if ended < statuses.len() {
            return RequestStatus::Pending;
        }
        match (executed, failed) {
            (e, 0) if e > 0 => RequestStatus::Done,
            (0, _) if statuses.iter().all(|s| *s == S::Cancelled) => RequestStatus::Cancelled,
            (0, _) => RequestStatus::Failed,
            _ if strategy == Strategy::AllOrNothing => RequestStatus::Failed,
            _ => RequestStatus::Partial,
        }
    }

    /// Whether nothing more will happen to the request.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Done | Self::Partial | Self::Failed | Self::Cancelled)
    }

    pub fn code(self) -> &'static str {
        match self {
            Self::Draft => "DRAFT",
            Self::Pending => "PENDING",
            Self::Running => "RUNNING",
            Self::Done => "DONE",
            Self::Partial => "PARTIAL",
            Self::Failed => "FAILED",
            Self::Cancelled => "CANCELLED",
        }
    }
}

impl fmt::Display for RequestStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A one-line summary of a request's state, derived from its sequences.
pub fn summarize_statuses<'a>(statuses: impl IntoIterator<Item = &'a SequenceStatus>) -> String {
    let mut counts: Vec<(SequenceStatus, usize)> = Vec::new();
    for st in statuses {
        match counts.iter_mut().find(|(s, _)| s == st) {
            Some((_, n)) => *n += 1,
            None => counts.push((*st, 1)),
        }
    }
    if counts.is_empty() {
        return "empty".to_owned();
    }
    counts.iter().map(|(s, n)| format!("{n} {s}")).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use SequenceStatus::*;

    #[test]
    fn status_transitions_are_checked() {
        assert!(Complete.can_become(Tobeplanned));
        assert!(Tobeplanned.can_become(Planned));
        assert!(Planned.can_become(Executing));
        assert!(Executing.can_become(Executed));
        assert!(!Executed.can_become(Tobeplanned));
        assert!(!Cancelled.can_become(Tobeplanned));
        assert!(!Incomplete.can_become(Tobeplanned));
        assert!(!Planned.can_become(Planned));
        assert!(Planned.can_become(Complete) && Rejected.can_become(Complete));
        assert!(!Executing.can_become(Complete));
        let err = Executed.transition(Tobeplanned).unwrap_err().to_string();
        assert_eq!(err, "a sequence cannot go from EXECUTED to TOBEPLANNED");
        for s in SequenceStatus::ALL {
            if s.is_final() {
                assert!(SequenceStatus::ALL.iter().all(|n| !s.can_become(*n)), "{s} must be final");
            }
            assert_eq!(s.code().parse::<SequenceStatus>().unwrap(), s);
        }
    }

    #[test]
    fn detectors_accept_the_seed_names() {
        assert_eq!("Visible camera".parse::<Detector>().unwrap(), Detector::Vis);
        assert_eq!("CAGIRE".parse::<Detector>().unwrap(), Detector::Nir);
        assert!("X-ray".parse::<Detector>().is_err());
    }

    fn plan(duration: f64) -> PlanSpec {
        PlanSpec {
            name: "p".into(),
            filter: "r".into(),
            exposure: Seconds::new("exposure", 2.0).unwrap(),
            nb_images: 5,
            binning: 1,
            window: None,
            dithering: 0.0,
            duration: Seconds::new("duration", duration).unwrap(),
        }
    }

    #[test]
    fn durations_roll_up_plans_then_longest_album() {
        assert!(plan(9.0).validate().is_err());
        assert!(plan(10.0).validate().is_ok());
        let seq = NewSequence {
            spec: SequenceSpec {
                name: "s".into(),
                target: None,
                coordinates: None,
                target_coords: None,
                jd1: JulianDate::new(2_460_000.0).unwrap(),
                jd2: JulianDate::new(2_460_001.0).unwrap(),
                duration: Seconds::ZERO,
                overhead: Seconds::ZERO,
                t_prefered: None,
                priority: PriorityModulation::default(),
                constraints: Constraints::default(),
                mandatory: false,
                reportable_nights: 0,
            },
            albums: vec![
                NewAlbum {
                    spec: AlbumSpec { name: "v".into(), detector: Detector::Vis },
                    plans: vec![plan(10.0), plan(12.0)],
                },
                NewAlbum {
                    spec: AlbumSpec { name: "n".into(), detector: Detector::Nir },
                    plans: vec![plan(30.0)],
                },
            ],
        };
        assert_eq!(seq.albums_duration().get(), 30.0);
        assert_eq!(seq.initial_status(), Complete);
        let mut bad = seq.spec.clone();
        bad.jd2 = bad.jd1;
        assert!(bad.validate().unwrap_err().to_string().contains("jd2"));
    }

    #[test]
    fn status_summary_counts_in_order() {
        assert_eq!(summarize_statuses(&[Planned, Planned, Rejected]), "2 PLANNED, 1 REJECTED");
        assert_eq!(summarize_statuses(&[]), "empty");
    }

    #[test]
    fn request_status_follows_its_sequences_and_strategy() {
        use RequestStatus as R;
        let be = |st: &[SequenceStatus]| RequestStatus::derive(Strategy::BestEffort, st);
        let an = |st: &[SequenceStatus]| RequestStatus::derive(Strategy::AllOrNothing, st);
        assert_eq!(be(&[Complete, Complete]), R::Draft);
        assert_eq!(be(&[Planned, Tobeplanned]), R::Pending);
        assert_eq!(be(&[Executed, Executing]), R::Running);
        assert_eq!(be(&[Executed, Executed]), R::Done);
        assert_eq!(be(&[Executed, Unplannable]), R::Partial);
        assert_eq!(an(&[Executed, Unplannable]), R::Failed);
        assert_eq!(be(&[Executed, Planned]), R::Pending);
        assert_eq!(be(&[Unplannable, Cancelled]), R::Failed);
        assert_eq!(be(&[Cancelled, Cancelled]), R::Cancelled);
        // All or nothing: one sequence that cannot be fails the request at once.
        assert_eq!(an(&[Unplannable, Planned]), R::Failed);
        assert!(R::Partial.is_final() && !R::Running.is_final());
    }
}
