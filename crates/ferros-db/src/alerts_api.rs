//! The repository's side of alerts: notices stored with their decisions in
//! one transaction with what they do to requests and the intake's position.

use chrono::{DateTime, Utc};
use ferros_domain::{RequestId, SequenceId};

use crate::{
    AlertEffect, AlertRecord, AlertRelated, AlertStep, AlertStored, Db, DbResult, IntakePosition, NewAlert,
    Pool, postgres, sqlite,
};

impl Db {
    /// Stores a notice with its decision, what it does to requests and the
    /// intake's new position, in one transaction. A notice whose ivorn is
    /// stored already is only counted (and the position moved on).
    pub async fn store_alert(
        &self,
        alert: &NewAlert,
        effect: &AlertEffect<'_>,
        position: Option<&IntakePosition>,
        now: DateTime<Utc>,
    ) -> DbResult<AlertStored> {
        on_backend!(self, alerts::store_alert(alert, effect, position, now))
    }

    /// Records where an intake reads from (a partition seen for the first time).
    pub async fn set_intake_position(&self, p: &IntakePosition) -> DbResult<()> {
        on_backend!(self, alerts::set_intake_position(p))
    }

    /// The positions an intake (`kafka`) has read to.
    pub async fn intake_positions(&self, source: &str) -> DbResult<Vec<IntakePosition>> {
        on_backend!(self, alerts::intake_positions(source))
    }

    /// The alert with this ivorn, if stored.
    pub async fn alert_id_by_ivorn(&self, ivorn: &str) -> DbResult<Option<i64>> {
        on_backend!(self, alerts::alert_id_by_ivorn(ivorn))
    }

    /// Counts one more copy of a stored notice.
    pub async fn count_duplicate(&self, id: i64) -> DbResult<()> {
        on_backend!(self, alerts::count_duplicate(id))
    }

    /// The alerts a decision about a notice looks at: its burst's, those it
    /// cites, and those triggered in `from..=to`.
    pub async fn alerts_related(
        &self,
        burst: Option<&str>,
        cited: &[String],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> DbResult<Vec<AlertRelated>> {
        on_backend!(self, alerts::alerts_related(burst, cited, from, to))
    }

    /// Notes the time of a step on an alert (each step once; stored always).
    pub async fn stamp_alert(&self, id: i64, step: AlertStep, at: DateTime<Utc>) -> DbResult<()> {
        on_backend!(self, alerts::stamp_alert(id, step, at))
    }

    /// Notes the time of a step on the alerts whose request holds `sequence`.
    pub async fn stamp_alert_sequence(
        &self,
        sequence: SequenceId,
        step: AlertStep,
        at: DateTime<Utc>,
    ) -> DbResult<()> {
        on_conn!(self, alerts::stamp_alert_sequence(sequence, step, at))
    }

    /// At most `limit` alerts before `before` (all when `None`), newest first.
    pub async fn list_alerts(&self, before: Option<i64>, limit: u32) -> DbResult<Vec<AlertRecord>> {
        on_backend!(self, alerts::list_alerts(before, limit))
    }

    pub async fn alert(&self, id: i64) -> DbResult<Option<AlertRecord>> {
        on_backend!(self, alerts::alert(id))
    }

    /// The notice of an alert, as received.
    pub async fn alert_xml(&self, id: i64) -> DbResult<Option<String>> {
        on_backend!(self, alerts::alert_xml(id))
    }

    /// Gives an alert another strategy: its request rebuilt in place (or
    /// created), the strategy, outcome and reason recorded, the steps' times
    /// after storing cleared.
    pub async fn restrategize_alert(
        &self,
        id: i64,
        effect: &AlertEffect<'_>,
        strategy: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> DbResult<Option<RequestId>> {
        on_backend!(self, alerts::restrategize_alert(id, effect, strategy, reason, now))
    }
}
