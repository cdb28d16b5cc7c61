//! The repository's side of execution: sequences taken, progressed and
//! ended, images recorded, counts for the planner and the reports.

use chrono::{DateTime, Utc};
use ferros_domain::{Image, ImageKind, JulianDate, PlanId, RequestId, SequenceId, SequenceStatus};

use crate::{AlertWaiting, Db, DbResult, Pool, SequenceEnd, postgres, sqlite};

impl Db {
    /// The planned sequence due first, if it starts before `until` (JD).
    pub async fn next_planned(&self, until: f64) -> DbResult<Option<(SequenceId, RequestId)>> {
        on_conn!(self, execution::next_planned(until))
    }

    pub async fn sequence_status(&self, id: SequenceId) -> DbResult<Option<SequenceStatus>> {
        on_conn!(self, execution::sequence_status(id))
    }

    /// PLANNED -> EXECUTING over `tsp..tep`; a conflict if it is no longer PLANNED.
    pub async fn start_sequence(
        &self,
        id: SequenceId,
        tsp: JulianDate,
        tep: JulianDate,
        now: DateTime<Utc>,
    ) -> DbResult<()> {
        on_backend!(self, execution::start_sequence(id, tsp, tep, now))
    }

    /// `done` images of a plan taken; the sequence's progress (0..1).
    pub async fn record_progress(
        &self,
        sequence: SequenceId,
        plan: PlanId,
        done: i64,
        progress: f64,
    ) -> DbResult<()> {
        on_backend!(self, execution::record_progress(sequence, plan, done, progress))
    }

    /// Ends an execution (the quota charged with it); false if it was cancelled meanwhile.
    pub async fn finish_sequence(
        &self,
        id: SequenceId,
        end: &SequenceEnd,
        now: DateTime<Utc>,
    ) -> DbResult<bool> {
        on_backend!(self, execution::finish_sequence(id, end, now))
    }

    /// Sequences marked EXECUTING (after a crash: none is really running).
    pub async fn executing_sequences(&self) -> DbResult<Vec<SequenceId>> {
        on_conn!(self, execution::executing_sequences())
    }

    /// Alert sequences waiting whose window is open at `now` (JD).
    pub async fn alerts_waiting(&self, now: f64) -> DbResult<Vec<AlertWaiting>> {
        on_conn!(self, execution::alerts_waiting(now))
    }

    /// Whether the night has work now (`now`, JD): a sequence planned to
    /// start by `until` (JD), one executing, or an alert whose window is open.
    pub async fn work_due(&self, now: f64, until: f64) -> DbResult<bool> {
        on_conn!(self, execution::work_due(now, until))
    }

    pub async fn is_alert(&self, sequence: SequenceId) -> DbResult<bool> {
        on_conn!(self, execution::is_alert(sequence))
    }

    /// The number of sequences and the latest change: the planner replans when it moves.
    pub async fn planning_mark(&self) -> DbResult<crate::PlanningMark> {
        on_conn!(self, execution::planning_mark())
    }

    /// How many sequences are in each status.
    pub async fn sequence_counts(&self) -> DbResult<Vec<(String, i64)>> {
        on_backend!(self, execution::sequence_counts())
    }

    pub async fn insert_image(&self, image: &Image) -> DbResult<i64> {
        on_conn!(self, execution::insert_image(image))
    }

    /// Images, newest first; of one sequence if given.
    pub async fn images(&self, sequence: Option<SequenceId>, limit: i64) -> DbResult<Vec<Image>> {
        on_backend!(self, execution::images((sequence, None, None), limit))
    }

    /// The images of one request, newest first.
    pub async fn request_images(&self, request: RequestId, limit: i64) -> DbResult<Vec<Image>> {
        on_backend!(self, execution::images((None, Some(request), None), limit))
    }

    /// The image archived at `path` (relative to the archive root).
    pub async fn image_by_path(&self, path: &str) -> DbResult<Option<Image>> {
        Ok(on_backend!(self, execution::images((None, None, Some(path)), 1))?.pop())
    }

    /// How many raw images (as taken) of each kind.
    pub async fn image_counts(&self) -> DbResult<Vec<(String, i64)>> {
        on_backend!(self, execution::image_counts())
    }

    /// The request a sequence belongs to.
    pub async fn sequence_request(&self, id: SequenceId) -> DbResult<Option<(SequenceId, RequestId)>> {
        on_backend!(self, execution::sequence_request(id))
    }

    /// How many images of `kind` were taken since `since`.
    pub async fn images_since(&self, kind: ImageKind, since: DateTime<Utc>) -> DbResult<i64> {
        on_conn!(self, execution::images_since(kind, since))
    }

    /// How many images of `kind` each (detector code, filter) took since `since`.
    pub async fn images_by_filter_since(
        &self,
        kind: ImageKind,
        since: DateTime<Utc>,
    ) -> DbResult<Vec<(String, String, i64)>> {
        on_conn!(self, execution::images_by_filter_since(kind, since))
    }

    /// PLANNED -> UNPLANNABLE with the reason; false if it was no longer PLANNED.
    pub async fn give_up_sequence(&self, id: SequenceId, reason: &str, now: DateTime<Utc>) -> DbResult<bool> {
        on_backend!(self, execution::unplan_sequence(id, SequenceStatus::Unplannable, reason, now))
    }

    /// PLANNED -> TOBEPLANNED (its time is gone); false if it was no longer PLANNED.
    pub async fn replan_sequence(&self, id: SequenceId, reason: &str, now: DateTime<Utc>) -> DbResult<bool> {
        on_backend!(self, execution::unplan_sequence(id, SequenceStatus::Tobeplanned, reason, now))
    }

    /// Why a sequence was last given back or given up ("" if never).
    pub async fn sequence_reason(&self, id: SequenceId) -> DbResult<Option<String>> {
        on_backend!(self, execution::sequence_reason(id))
    }

    /// After a folder is renamed: the images under `from` (a path prefix) are under `to`.
    pub async fn move_image_paths(&self, from: &str, to: &str) -> DbResult<u64> {
        on_backend!(self, execution::move_image_paths(from, to))
    }
}
