//! The repository's side of programs and quotas.

use chrono::{DateTime, Utc};
use ferros_domain::{NewProgram, Period, ProgramChanges, ProgramUsage, ScientificProgram, Seconds};

use crate::{Db, DbResult, Pool, postgres, sqlite};

impl Db {
    /// The night time of a period at the site, if recorded.
    pub async fn period_night(&self, period: Period) -> DbResult<Option<Seconds>> {
        on_backend!(self, programs::period_night(period))
    }

    /// Makes a program. `night` is its period's night time at the site (the
    /// period's recorded value wins); its quota is resolved against it and
    /// refused, naming the total, if the period's quotas would exceed it.
    /// Without either, only a quota in hours is taken.
    pub async fn create_program(
        &self,
        p: &NewProgram,
        night: Option<Seconds>,
        now: DateTime<Utc>,
    ) -> DbResult<ScientificProgram> {
        on_backend!(self, programs::create_program(p, night, now))
    }

    /// Edits a program, with the same check of its period's quotas; `night`
    /// is its period's night time if it is not recorded yet.
    pub async fn update_program(
        &self,
        name: &str,
        changes: &ProgramChanges,
        night: Option<Seconds>,
        now: DateTime<Utc>,
    ) -> DbResult<ScientificProgram> {
        on_backend!(self, programs::update_program(name, changes, night, now))
    }

    pub async fn list_programs(&self) -> DbResult<Vec<ScientificProgram>> {
        on_backend!(self, programs::list_programs())
    }

    pub async fn program_by_name(&self, name: &str) -> DbResult<Option<ScientificProgram>> {
        on_backend!(self, programs::program_by_name(name))
    }

    /// A program's time used and asked, in total and per member.
    pub async fn program_usage(&self, name: &str) -> DbResult<Option<ProgramUsage>> {
        on_backend!(self, programs::program_usage(name))
    }
}
