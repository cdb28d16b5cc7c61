//! Programs for the pages and the API: the list with each quota in hours
//! and percent of its period, one program's use of its quota in total and
//! per member (seen by its members, its PI and those who see all
//! requests), and the edit of priority, quota and description (the PI and
//! SysAdmin: "Set Quota & Prio").

use ferros_domain::{Priority, ProgramChanges, ProgramUsage, Right, ScientificProgram, User};
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::problem::Problem;

/// A program as listed.
#[derive(Debug, Serialize)]
pub struct ProgramView {
    pub name: String,
    pub description: String,
    pub period: String,
    pub priority: i32,
    pub pi: Option<String>,
    pub quota_hours: f64,
    /// The quota as percent of the period's night time (none if unknown).
    pub quota_percent: Option<f64>,
    pub period_night_hours: f64,
    pub used_hours: f64,
    pub remaining_hours: f64,
    pub members: usize,
}

/// A member's (or another submitter's) use of a program's quota.
#[derive(Debug, Serialize)]
pub struct MemberView {
    pub user: String,
    pub used_hours: f64,
    pub asked_hours: f64,
}

/// A program's use of its quota.
#[derive(Debug, Serialize)]
pub struct UsageView {
    pub program: ProgramView,
    pub used_hours: f64,
    /// Submitted and not yet run.
    pub asked_hours: f64,
    /// What is left once used and asked time are counted.
    pub free_hours: f64,
    pub members: Vec<MemberView>,
}

fn view(p: &ScientificProgram, users: &[User]) -> ProgramView {
    ProgramView {
        name: p.name.clone(),
        description: p.description.clone(),
        period: p.period.to_string(),
        priority: p.priority.get(),
        pi: p.pi.and_then(|id| users.iter().find(|u| u.id == id)).map(|u| u.username.clone()),
        quota_hours: p.quota.hours(),
        quota_percent: p.quota_percent(),
        period_night_hours: p.period_night.hours(),
        used_hours: p.used.hours(),
        remaining_hours: p.remaining_quota().hours(),
        members: users.iter().filter(|u| u.programs.contains(&p.id)).count(),
    }
}

pub async fn list(state: &AppState) -> Result<Vec<ProgramView>, Problem> {
    let db = state.db();
    let (programs, users) = (db.list_programs().await?, db.list_users().await?);
    Ok(programs.iter().map(|p| view(p, &users)).collect())
}

/// One program's use, if `user` may see it (404 otherwise: others'
/// programs are not told apart from none).
pub async fn usage(state: &AppState, user: &User, name: &str) -> Result<UsageView, Problem> {
    let not_found = || Problem::not_found(format!("program \"{}\"", crate::pages::shown(name)));
    if name.len() > 64 {
        return Err(not_found());
    }
    let db = state.db();
    let u: ProgramUsage = db.program_usage(name).await?.ok_or_else(not_found)?;
    let p = &u.program;
    let sees = user.has(Right::ViewAllRequests)
        || user.has(Right::SetQuotaAndPriority)
        || user.programs.contains(&p.id)
        || p.pi == Some(user.id);
    if !sees {
        return Err(not_found());
    }
    let users = db.list_users().await?;
    Ok(UsageView {
        program: view(p, &users),
        used_hours: u.total.used.hours(),
        asked_hours: u.total.asked.hours(),
        free_hours: u.free().hours(),
        members: u
            .members
            .iter()
            .map(|(n, t)| MemberView {
                user: n.clone(),
                used_hours: t.used.hours(),
                asked_hours: t.asked.hours(),
            })
            .collect(),
    })
}

/// A priority (or grade) and a quota (in percent or hours), as the PI
/// gives them; absent: unchanged, or the default.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grant {
    #[serde(default)]
    pub priority: Option<i32>,
    #[serde(default)]
    pub grade: Option<String>,
    #[serde(default)]
    pub quota_percent: Option<f64>,
    #[serde(default)]
    pub quota_hours: Option<f64>,
}

impl Grant {
    pub fn priority(&self) -> Result<Option<Priority>, Problem> {
        ferros_programs::priority_from(self.priority, self.grade.as_deref())
            .map_err(|m| Problem::unprocessable(m, vec![]))
    }

    /// The quota, if one is given.
    pub fn quota(&self) -> Result<Option<ferros_domain::Quota>, Problem> {
        if self.quota_percent.is_none() && self.quota_hours.is_none() {
            return Ok(None);
        }
        ferros_programs::quota_from(self.quota_percent, self.quota_hours)
            .map(Some)
            .map_err(|m| Problem::unprocessable(m, vec![]))
    }

    /// Takes a form's field when it is one of these (an empty one is
    /// absent); false for another field.
    pub fn take_field(&mut self, key: &str, value: &str) -> Result<bool, Problem> {
        let v = value.trim();
        let number = || {
            v.parse::<f64>().map_err(|_| {
                Problem::unprocessable(
                    format!("{key}: \"{}\" is not a number", crate::pages::shown(v)),
                    vec![],
                )
            })
        };
        match key {
            "priority" | "grade" | "quota_percent" | "quota_hours" if v.is_empty() => {}
            "priority" => {
                self.priority = Some(v.parse().map_err(|_| {
                    Problem::unprocessable(
                        format!("priority: \"{}\" is not a whole number", crate::pages::shown(v)),
                        vec![],
                    )
                })?);
            }
            "grade" => self.grade = Some(v.to_owned()),
            "quota_percent" => self.quota_percent = Some(number()?),
            "quota_hours" => self.quota_hours = Some(number()?),
            _ => return Ok(false),
        }
        Ok(true)
    }
}

/// What an edit may change (absent: unchanged).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Edit {
    pub priority: Option<i32>,
    pub grade: Option<String>,
    pub quota_percent: Option<f64>,
    pub quota_hours: Option<f64>,
    pub description: Option<String>,
}

impl Edit {
    pub fn grant(&self) -> Grant {
        Grant {
            priority: self.priority,
            grade: self.grade.clone(),
            quota_percent: self.quota_percent,
            quota_hours: self.quota_hours,
        }
    }
}

/// Changes a program; the quota is checked against its period's total.
pub async fn edit(state: &AppState, name: &str, e: &Edit) -> Result<ScientificProgram, Problem> {
    let bad = |m: String| Problem::unprocessable(m, vec![]);
    let grant = e.grant();
    let (priority, quota) = (grant.priority()?, grant.quota()?);
    if let Some(d) = &e.description
        && (d.chars().count() > ferros_limits::MAX_PROGRAM_TEXT
            || d.chars().any(|c| c.is_control() && c != '\n' && c != '\r'))
    {
        return Err(bad(format!(
            "the description is at most {} characters, without control characters",
            ferros_limits::MAX_PROGRAM_TEXT
        )));
    }
    let changes = ProgramChanges { description: e.description.clone(), priority, quota, pi: None };
    if changes == ProgramChanges::default() {
        return Err(bad("nothing to change: give a priority, grade, quota or description".into()));
    }
    let Some(sky) = state.inner.settings.sky else {
        return Err(Problem::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "the site is not configured for the web server: quotas cannot be set here",
        ));
    };
    let nights = ferros_programs::Nights { site: sky.site, night_altitude: sky.night_altitude };
    nights.update_program(state.db(), state.clock(), name, &changes).await.map_err(|e| match e {
        ferros_programs::ProgramError::Db(d) => Problem::from(d),
        night => Problem::unprocessable(night.to_string(), vec![]),
    })
}
