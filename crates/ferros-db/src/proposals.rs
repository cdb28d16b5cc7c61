//! Proposals for a coming period, the TAC's votes, and the program a PI
//! makes of a proposal (its quota checked like any program's, its proposer
//! its PI and first member, the members of the program it continues kept),
//! in one transaction. Compiled for each backend like `queries.rs`.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use ferros_domain::{
    Grade, NewProgram, NewProposal, Period, Priority, Proposal, ProposalId, Quota, ScientificProgram,
    Seconds, Vote,
};
use sqlx::{FromRow, Pool};

use super::Db;
use super::programs::{insert_program, program_in};
use super::queries::{Tx, begin_write, corrupt};
use crate::{DbError, DbResult};

#[derive(FromRow)]
struct ProposalRow {
    id: i64,
    name: String,
    description: String,
    period: String,
    hours_asked: f64,
    continues: Option<String>,
    proposer: String,
    program: Option<String>,
    created_at: DateTime<Utc>,
}

const PROPOSAL_SELECT: &str = "SELECT p.id, p.name, p.description, p.period, p.hours_asked, p.continues,
        u.username AS proposer, g.name AS program, p.created_at
    FROM proposals p JOIN users u ON u.id = p.proposer_id LEFT JOIN programs g ON g.id = p.program_id";

async fn with_votes<'e, E>(ex: E, rows: Vec<ProposalRow>, only: Option<i64>) -> DbResult<Vec<Proposal>>
where
    E: sqlx::Executor<'e, Database = Db>,
{
    let filter = if only.is_some() { "WHERE v.proposal_id = $1" } else { "" };
    let sql = format!(
        "SELECT v.proposal_id, u.username, v.grade, v.comment, v.at FROM proposal_votes v
         JOIN users u ON u.id = v.voter_id {filter} ORDER BY v.at, u.username"
    );
    let mut q = sqlx::query_as::<_, (i64, String, String, String, DateTime<Utc>)>(&sql);
    if let Some(id) = only {
        q = q.bind(id);
    }
    let mut votes: HashMap<i64, Vec<Vote>> = HashMap::new();
    for (pid, voter, grade, comment, at) in q.fetch_all(ex).await? {
        let grade = grade.parse::<Grade>().map_err(corrupt("proposal_votes", pid))?;
        votes.entry(pid).or_default().push(Vote { voter, grade, comment, at });
    }
    rows.into_iter()
        .map(|r| {
            let c = corrupt("proposals", r.id);
            Ok(Proposal {
                id: ProposalId(r.id),
                proposal: NewProposal {
                    name: r.name,
                    description: r.description,
                    period: r.period.parse::<Period>().map_err(&c)?,
                    hours_asked: Seconds::from_hours("hours asked", r.hours_asked).map_err(&c)?,
                    continues: r.continues,
                },
                proposer: r.proposer,
                votes: votes.remove(&r.id).unwrap_or_default(),
                program: r.program,
                created_at: r.created_at,
            })
        })
        .collect()
}

async fn proposal_in(tx: &mut Tx<'_>, id: i64) -> DbResult<Proposal> {
    let row: Option<ProposalRow> = sqlx::query_as(&format!("{PROPOSAL_SELECT} WHERE p.id = $1"))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
    let row = row.ok_or_else(|| DbError::not_found("proposal", id))?;
    with_votes(&mut **tx, vec![row], Some(id)).await?.pop().ok_or_else(|| DbError::not_found("proposal", id))
}

pub(crate) async fn proposal(pool: &Pool<Db>, id: ProposalId) -> DbResult<Option<Proposal>> {
    let row: Option<ProposalRow> =
        sqlx::query_as(&format!("{PROPOSAL_SELECT} WHERE p.id = $1")).bind(id.0).fetch_optional(pool).await?;
    let Some(row) = row else { return Ok(None) };
    Ok(with_votes(pool, vec![row], Some(id.0)).await?.pop())
}

pub(crate) async fn list_proposals(pool: &Pool<Db>, limit: i64) -> DbResult<Vec<Proposal>> {
    let rows: Vec<ProposalRow> =
        sqlx::query_as(&format!("{PROPOSAL_SELECT} ORDER BY p.period DESC, p.id DESC LIMIT $1"))
            .bind(limit)
            .fetch_all(pool)
            .await?;
    with_votes(pool, rows, None).await
}

/// Checks a proposal's name and the program it continues.
async fn check(tx: &mut Tx<'_>, p: &NewProposal, except: Option<i64>) -> DbResult<()> {
    p.validate()?;
    let program: Option<i64> = sqlx::query_scalar("SELECT id FROM programs WHERE name = $1")
        .bind(&p.name)
        .fetch_optional(&mut **tx)
        .await?;
    if program.is_some() {
        return Err(DbError::Conflict(format!(
            "a program is named \"{}\" already: choose another name",
            p.name
        )));
    }
    let twin: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM proposals WHERE name = $1 AND period = $2 AND id <> $3 AND program_id IS NULL",
    )
    .bind(&p.name)
    .bind(p.period.to_string())
    .bind(except.unwrap_or(-1))
    .fetch_optional(&mut **tx)
    .await?;
    if let Some(t) = twin {
        return Err(DbError::Conflict(format!(
            "proposal {t} for {} is named \"{}\" already",
            p.period, p.name
        )));
    }
    if let Some(c) = &p.continues {
        let known: Option<i64> = sqlx::query_scalar("SELECT id FROM programs WHERE name = $1")
            .bind(c)
            .fetch_optional(&mut **tx)
            .await?;
        if known.is_none() {
            return Err(DbError::not_found("program", format!("\"{c}\" (the program it continues)")));
        }
    }
    Ok(())
}

async fn open_proposal(tx: &mut Tx<'_>, id: i64) -> DbResult<Proposal> {
    let p = proposal_in(tx, id).await?;
    if let Some(program) = &p.program {
        return Err(DbError::Conflict(format!(
            "proposal {id} is program \"{program}\" already: it no longer changes"
        )));
    }
    Ok(p)
}

pub(crate) async fn create_proposal(
    pool: &Pool<Db>,
    p: &NewProposal,
    proposer: &str,
    now: DateTime<Utc>,
) -> DbResult<Proposal> {
    let mut tx = begin_write(pool).await?;
    check(&mut tx, p, None).await?;
    let user: Option<i64> = sqlx::query_scalar("SELECT id FROM users WHERE username = $1")
        .bind(proposer)
        .fetch_optional(&mut *tx)
        .await?;
    let user = user.ok_or_else(|| DbError::not_found("user", format!("\"{proposer}\"")))?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO proposals (name, description, period, hours_asked, continues, proposer_id, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING id",
    )
    .bind(&p.name)
    .bind(&p.description)
    .bind(p.period.to_string())
    .bind(p.hours_asked.hours())
    .bind(&p.continues)
    .bind(user)
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    let made = proposal_in(&mut tx, id).await?;
    tx.commit().await?;
    Ok(made)
}

pub(crate) async fn update_proposal(
    pool: &Pool<Db>,
    id: ProposalId,
    p: &NewProposal,
    now: DateTime<Utc>,
) -> DbResult<Proposal> {
    let mut tx = begin_write(pool).await?;
    open_proposal(&mut tx, id.0).await?;
    check(&mut tx, p, Some(id.0)).await?;
    sqlx::query(
        "UPDATE proposals SET name = $1, description = $2, period = $3, hours_asked = $4, continues = $5,
             updated_at = $6 WHERE id = $7",
    )
    .bind(&p.name)
    .bind(&p.description)
    .bind(p.period.to_string())
    .bind(p.hours_asked.hours())
    .bind(&p.continues)
    .bind(now)
    .bind(id.0)
    .execute(&mut *tx)
    .await?;
    let made = proposal_in(&mut tx, id.0).await?;
    tx.commit().await?;
    Ok(made)
}

pub(crate) async fn delete_proposal(pool: &Pool<Db>, id: ProposalId) -> DbResult<()> {
    let mut tx = begin_write(pool).await?;
    open_proposal(&mut tx, id.0).await?;
    sqlx::query("DELETE FROM proposals WHERE id = $1").bind(id.0).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(())
}

pub(crate) async fn vote(
    pool: &Pool<Db>,
    id: ProposalId,
    voter: &str,
    grade: Grade,
    comment: &str,
    now: DateTime<Utc>,
) -> DbResult<Proposal> {
    let mut tx = begin_write(pool).await?;
    open_proposal(&mut tx, id.0).await?;
    let user: Option<i64> = sqlx::query_scalar("SELECT id FROM users WHERE username = $1")
        .bind(voter)
        .fetch_optional(&mut *tx)
        .await?;
    let user = user.ok_or_else(|| DbError::not_found("user", format!("\"{voter}\"")))?;
    sqlx::query(
        "INSERT INTO proposal_votes (proposal_id, voter_id, grade, comment, at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (proposal_id, voter_id) DO UPDATE SET grade = excluded.grade, comment = excluded.comment,
             at = excluded.at",
    )
    .bind(id.0)
    .bind(user)
    .bind(grade.code())
    .bind(comment)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let made = proposal_in(&mut tx, id.0).await?;
    tx.commit().await?;
    Ok(made)
}

/// Makes the program of a proposal: its name, description and period,
/// `priority` and `quota`; the proposer its PI and first member, the
/// members of the program it continues kept.
pub(crate) async fn accept_proposal(
    pool: &Pool<Db>,
    id: ProposalId,
    priority: Priority,
    quota: Quota,
    night: Option<Seconds>,
    now: DateTime<Utc>,
) -> DbResult<ScientificProgram> {
    let mut tx = begin_write(pool).await?;
    let p = open_proposal(&mut tx, id.0).await?;
    let proposer: i64 = sqlx::query_scalar("SELECT proposer_id FROM proposals WHERE id = $1")
        .bind(id.0)
        .fetch_one(&mut *tx)
        .await?;
    let new = NewProgram {
        name: p.proposal.name.clone(),
        description: p.proposal.description.clone(),
        period: p.proposal.period,
        priority,
        quota,
    };
    let program = insert_program(&mut tx, &new, night, Some(proposer), now).await?;
    if let Some(old) = &p.proposal.continues {
        sqlx::query(
            "INSERT INTO program_members (program_id, user_id)
             SELECT $1, m.user_id FROM program_members m JOIN programs g ON g.id = m.program_id
             WHERE g.name = $2 AND m.user_id <> $3",
        )
        .bind(program)
        .bind(old)
        .bind(proposer)
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query("UPDATE proposals SET program_id = $1, updated_at = $2 WHERE id = $3")
        .bind(program)
        .bind(now)
        .bind(id.0)
        .execute(&mut *tx)
        .await?;
    let made = program_in(&mut tx, program).await?;
    tx.commit().await?;
    Ok(made)
}
