//! What the alert manager reads off a notice: who sent it, which burst it is
//! about, when it happened, where, and whether it takes an earlier notice back.

use chrono::{DateTime, Utc};
use ferros_domain::Coordinates;
use ferros_voevent::{Cite, Role, VoEvent};
use serde::Serialize;

/// The params that name a burst, by mission: SVOM's `Burst_Id`, GCN's
/// `TrigID` (Fermi, Swift), LIGO/Virgo/KAGRA's `GraceID`.
const BURST_PARAMS: [&str; 3] = ["Burst_Id", "TrigID", "GraceID"];

/// A notice's facts, as the decisions use them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Facts {
    pub ivorn: String,
    pub role: Role,
    /// The ivorn before its `#`: who numbers the notices
    /// (`ivo://org.svom/fsc`, `ivo://nasa.gsfc.gcn/Fermi`).
    pub authority: String,
    /// The mission, for people: SVOM, Fermi, Swift, LVK, or the authority.
    pub mission: String,
    /// The instrument: SVOM's `Instrument` param, else the first word of the
    /// ivorn's fragment (`GBM`, `BAT`, `LAT`).
    pub instrument: Option<String>,
    /// The burst, unique across missions: `authority#id`.
    pub burst: Option<String>,
    /// The burst's own name (`sb26021102`, `792135758`, `S250206dm`).
    pub burst_id: Option<String>,
    /// When the event happened (WhereWhen's time).
    pub trigger: Option<DateTime<Utc>>,
    /// When the notice was written (Who's date).
    pub issued: Option<DateTime<Utc>>,
    pub position: Option<Coordinates>,
    /// The error circle's radius, degrees.
    pub error_deg: Option<f64>,
    /// Whether it retracts earlier notices (those it cites, or its burst).
    pub retraction: bool,
    /// The notices it cites, whatever the relation.
    pub cited: Vec<String>,
}

/// Why a notice's facts cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FactsError {
    #[error("WhereWhen: the position RA {ra} Dec {dec} is not on the sky ({why})")]
    Position { ra: f64, dec: f64, why: String },
    #[error("WhereWhen: the error radius {0} is not an angle of 0 to 180 degrees")]
    Error(f64),
}

impl Facts {
    pub fn of(event: &VoEvent) -> Result<Facts, FactsError> {
        let (authority, fragment) = match event.ivorn.split_once('#') {
            Some((a, f)) => (a.to_owned(), f),
            None => (event.ivorn.clone(), ""),
        };
        let mission = mission_of(&authority);
        let instrument =
            event.param("Instrument").map(|p| p.value.trim().to_owned()).filter(|v| !v.is_empty()).or_else(
                || {
                    let word = fragment.split(['_', '-']).next().unwrap_or("");
                    (!word.is_empty() && word.len() <= 16 && word.chars().all(|c| c.is_ascii_alphabetic()))
                        .then(|| word.to_owned())
                },
            );
        let burst_id = BURST_PARAMS
            .iter()
            .find_map(|name| event.param(name))
            .map(|p| p.value.trim().to_owned())
            .filter(|v| !v.is_empty() && v.len() <= 64);
        let burst = burst_id.as_ref().map(|id| format!("{authority}#{id}"));
        let (position, error_deg) = match event.position() {
            None => (None, None),
            Some(p) => {
                let c = Coordinates::new(p.ra_deg, p.dec_deg).map_err(|e| FactsError::Position {
                    ra: p.ra_deg,
                    dec: p.dec_deg,
                    why: e.to_string(),
                })?;
                if let Some(e) = p.error_deg
                    && !(e.is_finite() && (0.0..=180.0).contains(&e))
                {
                    return Err(FactsError::Error(e));
                }
                (Some(c), p.error_deg)
            }
        };
        Ok(Facts {
            ivorn: event.ivorn.clone(),
            role: event.role,
            authority,
            mission,
            instrument,
            burst,
            burst_id,
            trigger: event.where_when.as_ref().and_then(|w| w.time),
            issued: event.who.date,
            position,
            error_deg,
            retraction: event.is_retraction(),
            cited: event
                .citations
                .iter()
                .filter(|c| matches!(c.cite, Cite::Retraction | Cite::Supersedes | Cite::Followup))
                .map(|c| c.ivorn.clone())
                .collect(),
        })
    }

    /// A short name for people: mission, instrument and burst.
    pub fn title(&self) -> String {
        let mut t = self.mission.clone();
        if let Some(i) = &self.instrument {
            t.push(' ');
            t.push_str(i);
        }
        if let Some(b) = &self.burst_id {
            t.push(' ');
            t.push_str(b);
        }
        t
    }
}

fn mission_of(authority: &str) -> String {
    let a = authority.to_ascii_lowercase();
    let known = [("svom", "SVOM"), ("fermi", "Fermi"), ("swift", "Swift"), ("gwnet", "LVK"), ("lvc", "LVK")];
    known
        .iter()
        .find(|(k, _)| a.contains(k))
        .map(|(_, m)| (*m).to_owned())
        .unwrap_or_else(|| authority.trim_start_matches("ivo://").to_owned())
}

/// The angle between two positions, degrees.
pub fn separation(a: Coordinates, b: Coordinates) -> f64 {
    let (ra1, de1) = (a.ra.degrees().to_radians(), a.dec.degrees().to_radians());
    let (ra2, de2) = (b.ra.degrees().to_radians(), b.dec.degrees().to_radians());
    let h = ((de2 - de1) / 2.0).sin().powi(2) + de1.cos() * de2.cos() * ((ra2 - ra1) / 2.0).sin().powi(2);
    (2.0 * h.sqrt().min(1.0).asin()).to_degrees()
}
