//! Proposals for the coming periods (seed 000's "Proposals" rights): an
//! observer proposes a program for a period until its deadline (the
//! configured days before it starts), changes or withdraws their own until
//! then; TAC members grade it A, B or C with a comment; the PI makes a
//! program of it, with a priority (by default the TAC's median grade's)
//! and a quota in percent of the period or hours, checked like any quota.

use axum::http::StatusCode;
use chrono::NaiveDate;
use ferros_domain::{Grade, LogLevel, NewProposal, Period, Proposal, ProposalId, Right, Seconds, User};
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::problem::Problem;

/// Proposals listed at most.
pub const MAX_LISTED: i64 = 500;

fn bad(m: impl Into<String>) -> Problem {
    Problem::unprocessable(m, vec![])
}

/// The last day proposals for `period` are taken.
pub fn deadline(state: &AppState, period: Period) -> NaiveDate {
    period.start() - chrono::Duration::days(i64::from(state.inner.settings.proposal_deadline_days))
}

/// The first coming period still taking proposals.
pub fn next_open(state: &AppState) -> Period {
    let today = state.clock().now().date_naive();
    let mut p = Period::containing(today).next();
    while deadline(state, p) < today {
        p = p.next();
    }
    p
}

fn open_for(state: &AppState, period: Period) -> Result<(), Problem> {
    let today = state.clock().now().date_naive();
    if period.start() <= today {
        return Err(bad(format!(
            "proposals are for a coming period: {period} has started (propose for {})",
            next_open(state)
        )));
    }
    let last = deadline(state, period);
    if today > last {
        return Err(Problem::new(
            StatusCode::CONFLICT,
            format!("proposals for {period} closed on {last} (propose for {})", next_open(state)),
        ));
    }
    Ok(())
}

/// A proposal as a form or the API gives it.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Form {
    pub name: String,
    pub description: String,
    /// Default: the first coming period still taking proposals.
    #[serde(default)]
    pub period: Option<String>,
    pub hours: f64,
    #[serde(default)]
    pub continues: Option<String>,
}

fn proposal_of(state: &AppState, f: &Form) -> Result<NewProposal, Problem> {
    let period = match f.period.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
        Some(p) => p.parse::<Period>().map_err(|e| bad(e.to_string()))?,
        None => next_open(state),
    };
    let hours = Seconds::from_hours("hours", f.hours).map_err(|e| bad(format!("hours asked: {e}")))?;
    let p = NewProposal {
        name: f.name.trim().to_owned(),
        description: f.description.trim().to_owned(),
        period,
        hours_asked: hours,
        continues: f.continues.as_deref().map(str::trim).filter(|c| !c.is_empty()).map(str::to_owned),
    };
    p.validate().map_err(|e| bad(e.to_string()))?;
    Ok(p)
}

/// A proposal as listed and shown.
#[derive(Debug, Serialize)]
pub struct View {
    #[serde(flatten)]
    pub proposal: Proposal,
    /// The TAC's grade so far (the median vote).
    pub grade: Option<Grade>,
    /// The last day it may change.
    pub deadline: NaiveDate,
}

pub fn view(state: &AppState, p: Proposal) -> View {
    View { grade: p.grade(), deadline: deadline(state, p.proposal.period), proposal: p }
}

pub async fn list(state: &AppState) -> Result<Vec<View>, Problem> {
    Ok(state.db().list_proposals(MAX_LISTED).await?.into_iter().map(|p| view(state, p)).collect())
}

pub async fn get(state: &AppState, id: i64) -> Result<Proposal, Problem> {
    state.db().proposal(ProposalId(id)).await?.ok_or_else(|| Problem::not_found(format!("proposal {id}")))
}

pub async fn create(state: &AppState, user: &User, f: &Form) -> Result<Proposal, Problem> {
    let p = proposal_of(state, f)?;
    open_for(state, p.period)?;
    let made = state.db().create_proposal(&p, &user.username, state.clock().now()).await?;
    let said = format!(
        "{} proposed \"{}\" for {} ({:.1} h)",
        user.username,
        p.name,
        p.period,
        p.hours_asked.hours()
    );
    crate::access::log(state, LogLevel::Info, said).await;
    Ok(made)
}

/// Whether `user` may change or withdraw `p`: its proposer until the
/// deadline, the PI and SysAdmin until it is a program.
fn may_change(state: &AppState, user: &User, p: &Proposal) -> Result<(), Problem> {
    if user.has(Right::SetQuotaAndPriority) {
        return Ok(());
    }
    if p.proposer != user.username {
        return Err(Problem::new(StatusCode::FORBIDDEN, "only its proposer (or the PI) changes a proposal"));
    }
    open_for(state, p.proposal.period)
}

pub async fn update(state: &AppState, user: &User, id: i64, f: &Form) -> Result<Proposal, Problem> {
    let old = get(state, id).await?;
    may_change(state, user, &old)?;
    let p = proposal_of(state, f)?;
    if p.period != old.proposal.period && !user.has(Right::SetQuotaAndPriority) {
        open_for(state, p.period)?;
    }
    Ok(state.db().update_proposal(ProposalId(id), &p, state.clock().now()).await?)
}

pub async fn delete(state: &AppState, user: &User, id: i64) -> Result<String, Problem> {
    let old = get(state, id).await?;
    may_change(state, user, &old)?;
    state.db().delete_proposal(ProposalId(id)).await?;
    let said = format!("proposal {id} \"{}\" withdrawn by {}", old.proposal.name, user.username);
    crate::access::log(state, LogLevel::Info, said.clone()).await;
    Ok(said)
}

/// A TAC member's vote.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ballot {
    pub grade: String,
    #[serde(default)]
    pub comment: String,
}

pub async fn vote(state: &AppState, user: &User, id: i64, b: &Ballot) -> Result<Proposal, Problem> {
    if !user.has(Right::VoteProposal) {
        return Err(Problem::new(StatusCode::FORBIDDEN, "only TAC members vote on proposals"));
    }
    let grade = b.grade.parse::<Grade>().map_err(|e| bad(e.to_string()))?;
    let comment = b.comment.trim();
    if comment.chars().count() > ferros_limits::MAX_PROGRAM_TEXT
        || comment.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(bad(format!("a comment is at most {} characters", ferros_limits::MAX_PROGRAM_TEXT)));
    }
    let p = state.db().vote(ProposalId(id), &user.username, grade, comment, state.clock().now()).await?;
    crate::access::log(
        state,
        LogLevel::Info,
        format!("{} graded proposal {id} {}", user.username, grade.code()),
    )
    .await;
    Ok(p)
}

/// The PI's decision: the program's priority and quota (defaults: the
/// TAC's grade, what is left of the period).
pub type Acceptance = crate::programs::Grant;

pub async fn accept(
    state: &AppState,
    user: &User,
    id: i64,
    a: &Acceptance,
) -> Result<ferros_domain::ScientificProgram, Problem> {
    let p = get(state, id).await?;
    let priority = a.priority()?.unwrap_or_else(|| p.grade().unwrap_or(Grade::B).priority());
    let quota = a.quota()?.unwrap_or(ferros_domain::Quota::Unallocated);
    let night = match state.inner.settings.sky {
        Some(sky) => {
            let nights = ferros_programs::Nights { site: sky.site, night_altitude: sky.night_altitude };
            Some(nights.period_night(state.db(), state.clock(), p.proposal.period).await.map_err(
                |e| match e {
                    ferros_programs::ProgramError::Db(d) => Problem::from(d),
                    other => bad(other.to_string()),
                },
            )?)
        }
        None => None,
    };
    let program =
        state.db().accept_proposal(ProposalId(id), priority, quota, night, state.clock().now()).await?;
    let said = format!(
        "{} made proposal {id} the program \"{}\" ({}, priority {}, quota {})",
        user.username,
        program.name,
        program.period,
        program.priority,
        ferros_programs::quota_text(&program)
    );
    crate::access::log(state, LogLevel::Info, said).await;
    Ok(program)
}
