//! The repository's side of programs and quotas.

use chrono::{DateTime, Utc};
use ferros_domain::{
    Grade, NewProgram, NewProposal, Period, Priority, ProgramChanges, ProgramUsage, Proposal, ProposalId,
    Quota, ScientificProgram, Seconds,
};

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

impl Db {
    /// Stores a proposal (its name free among programs and the period's
    /// open proposals; the program it continues known).
    pub async fn create_proposal(
        &self,
        p: &NewProposal,
        proposer: &str,
        now: DateTime<Utc>,
    ) -> DbResult<Proposal> {
        on_backend!(self, proposals::create_proposal(p, proposer, now))
    }

    /// Changes a proposal not yet made a program.
    pub async fn update_proposal(
        &self,
        id: ProposalId,
        p: &NewProposal,
        now: DateTime<Utc>,
    ) -> DbResult<Proposal> {
        on_backend!(self, proposals::update_proposal(id, p, now))
    }

    /// Deletes a proposal not yet made a program.
    pub async fn delete_proposal(&self, id: ProposalId) -> DbResult<()> {
        on_backend!(self, proposals::delete_proposal(id))
    }

    pub async fn proposal(&self, id: ProposalId) -> DbResult<Option<Proposal>> {
        on_backend!(self, proposals::proposal(id))
    }

    /// The latest proposals, newest period first.
    pub async fn list_proposals(&self, limit: i64) -> DbResult<Vec<Proposal>> {
        on_backend!(self, proposals::list_proposals(limit))
    }

    /// A TAC member's grade and comment (a second vote replaces the first).
    pub async fn vote(
        &self,
        id: ProposalId,
        voter: &str,
        grade: Grade,
        comment: &str,
        now: DateTime<Utc>,
    ) -> DbResult<Proposal> {
        on_backend!(self, proposals::vote(id, voter, grade, comment, now))
    }

    /// The program of a proposal, made in one transaction (see `proposals.rs`).
    pub async fn accept_proposal(
        &self,
        id: ProposalId,
        priority: Priority,
        quota: Quota,
        night: Option<Seconds>,
        now: DateTime<Utc>,
    ) -> DbResult<ScientificProgram> {
        on_backend!(self, proposals::accept_proposal(id, priority, quota, night, now))
    }
}
