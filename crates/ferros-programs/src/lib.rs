//! Scientific programs and the observing time they share. A period's night
//! time (the hours the Sun is below the night altitude at the site, summed
//! over its six months) is computed once and recorded; quotas are shares of
//! it, and the sum of a period's quotas never exceeds it (the repository
//! checks that in the transaction that grants the time).

use ferros_astro::Site;
use ferros_clock::Clock;
use ferros_db::{Db, DbError};
use ferros_domain::{Grade, NewProgram, Period, Priority, ProgramChanges, Quota, ScientificProgram, Seconds};

/// Why a program could not be made or changed.
#[derive(Debug, thiserror::Error)]
pub enum ProgramError {
    /// The period's night time cannot be computed at this site.
    #[error("the night time of {period}: {message}")]
    Night { period: Period, message: String },
    #[error(transparent)]
    Db(#[from] DbError),
}

/// The nights of the site: where, and below which Sun altitude it is night.
#[derive(Debug, Clone, Copy)]
pub struct Nights {
    pub site: Site,
    /// Degrees (the planner's `site.night_sun_altitude`).
    pub night_altitude: f64,
}

impl Nights {
    /// The night time of `period` (CPU work: about 4,400 Sun positions).
    pub fn of_period(&self, period: Period) -> Result<Seconds, ProgramError> {
        let bad = |message: String| ProgramError::Night { period, message };
        let s = ferros_astro::dark_seconds(&self.site, period.start(), period.end(), self.night_altitude)
            .map_err(|e| bad(e.to_string()))?;
        Seconds::new("night time", s).map_err(|e| bad(e.to_string()))
    }

    /// The night time of `period`: as recorded, or computed (off the async
    /// workers) and then recorded with the first program of the period.
    pub async fn period_night(
        &self,
        db: &Db,
        clock: &Clock,
        period: Period,
    ) -> Result<Seconds, ProgramError> {
        if let Some(n) = db.period_night(period).await? {
            return Ok(n);
        }
        let nights = *self;
        clock
            .offload(move || nights.of_period(period))
            .await
            .map_err(|e| ProgramError::Night { period, message: e.to_string() })?
    }

    /// Makes a program, its quota resolved against its period's night time.
    pub async fn create_program(
        &self,
        db: &Db,
        clock: &Clock,
        p: &NewProgram,
    ) -> Result<ScientificProgram, ProgramError> {
        let night = self.period_night(db, clock, p.period).await?;
        Ok(db.create_program(p, Some(night), clock.now()).await?)
    }

    /// Edits a program; a new quota is resolved against its period's night time.
    pub async fn update_program(
        &self,
        db: &Db,
        clock: &Clock,
        name: &str,
        changes: &ProgramChanges,
    ) -> Result<ScientificProgram, ProgramError> {
        let night = match (changes.quota, db.program_by_name(name).await?) {
            (Some(_), Some(p)) if p.period_night.is_zero() => {
                Some(self.period_night(db, clock, p.period).await?)
            }
            _ => None,
        };
        Ok(db.update_program(name, changes, night, clock.now()).await?)
    }
}

/// How a program's quota reads: "40.00 h (2.2 % of 2026B)".
pub fn quota_text(p: &ScientificProgram) -> String {
    match p.quota_percent() {
        Some(pc) => format!("{:.2} h ({pc:.1} % of {})", p.quota.hours(), p.period),
        None => format!("{:.2} h", p.quota.hours()),
    }
}

/// What a quota given on the command line or a form means: percent or
/// hours (at most one), or none (the period's unallocated time).
pub fn quota_from(percent: Option<f64>, hours: Option<f64>) -> Result<Quota, String> {
    match (percent, hours) {
        (Some(_), Some(_)) => Err("give the quota in percent or in hours, not both".to_owned()),
        (Some(p), None) => Quota::percent(p).map_err(|e| e.to_string()),
        (None, Some(h)) => Seconds::from_hours("quota", h).map(Quota::Time).map_err(|e| e.to_string()),
        (None, None) => Ok(Quota::Unallocated),
    }
}

/// What a priority given on the command line or a form means: a number or
/// a TAC grade (at most one; an empty grade is none), or none.
pub fn priority_from(priority: Option<i32>, grade: Option<&str>) -> Result<Option<Priority>, String> {
    match (priority, grade.map(str::trim).filter(|g| !g.is_empty())) {
        (Some(_), Some(_)) => Err("give a priority or a grade, not both".to_owned()),
        (Some(p), None) => Priority::new(p).map(Some).map_err(|e| e.to_string()),
        (None, Some(g)) => g.parse::<Grade>().map(|g| Some(g.priority())).map_err(|e| e.to_string()),
        (None, None) => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priorities_and_quotas_read_from_their_fields() {
        assert_eq!(priority_from(None, Some("A")).unwrap(), Some(Grade::A.priority()));
        assert_eq!(priority_from(Some(42), Some(" ")).unwrap().map(Priority::get), Some(42));
        assert_eq!(priority_from(None, None).unwrap(), None);
        assert!(priority_from(Some(1), Some("B")).unwrap_err().contains("not both"));
        assert!(priority_from(Some(500), None).is_err());
        assert!(priority_from(None, Some("Z")).is_err());
        assert_eq!(quota_from(None, None).unwrap(), Quota::Unallocated);
        assert_eq!(quota_from(Some(12.5), None).unwrap(), Quota::Percent(12.5));
        assert!(quota_from(Some(1.0), Some(1.0)).unwrap_err().contains("not both"));
        assert!(quota_from(None, Some(-1.0)).is_err());
    }
}
