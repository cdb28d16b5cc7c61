//! `ferros program add|edit|list|show`.

use crate::output::say;
use ferros_domain::{
    Grade, NewProgram, Period, Priority, ProgramChanges, ProgramUsage, Quota, ScientificProgram, TimeUse,
};
use ferros_programs::{Nights, priority_from, quota_from, quota_text};
use serde::Serialize;

use super::astro::site_of;
use super::print_json;
use crate::cli::{ProgramCmd, QuotaArgs, SiteArgs};
use crate::context::Context;
use crate::error::{CliError, CliResult};

fn nights(ctx: &Context) -> CliResult<Nights> {
    let site = site_of(ctx, &SiteArgs { lat: None, lon: None, elev: None })?;
    Ok(Nights { site, night_altitude: ctx.settings.site.night_sun_altitude })
}

fn priority_of(priority: Option<i32>, grade: Option<&str>) -> CliResult<Option<Priority>> {
    let flag = if priority.is_some() { "--priority" } else { "--grade" };
    priority_from(priority, grade).map_err(|e| CliError::input(format!("{flag}: {e}")))
}

fn quota_of(q: QuotaArgs) -> CliResult<Quota> {
    let flag = if q.quota_percent.is_some() { "--quota-percent" } else { "--quota-hours" };
    quota_from(q.quota_percent, q.quota_hours).map_err(|e| CliError::input(format!("{flag}: {e}")))
}

pub async fn run(ctx: &Context, cmd: ProgramCmd) -> CliResult {
    match cmd {
        ProgramCmd::Add { name, priority, grade, quota, period, description } => {
            NewProgram::validate_name(&name).map_err(|e| CliError::input(format!("program {e}")))?;
            check_description(&description)?;
            let priority = priority_of(priority, grade.as_deref())?.unwrap_or(Grade::B.priority());
            let quota = quota_of(quota)?;
            let period = match period {
                Some(p) => p.parse::<Period>().map_err(|e| CliError::input(format!("--period: {e}")))?,
                None => Period::containing(ctx.clock.now().date_naive()),
            };
            let db = ctx.open_db().await?;
            let p = nights(ctx)?
                .create_program(&db, &ctx.clock, &NewProgram { name, description, period, priority, quota })
                .await?;
            say!(
                "program {} \"{}\" created: period {}, priority {}, quota {}",
                p.id,
                p.name,
                p.period,
                p.priority,
                quota_text(&p)
            );
            if quota == Quota::Unallocated {
                eprintln!(
                    "note: no quota given: the program has all of {} not granted to other programs \
                     (change it with `ferros program edit {} --quota-percent P` or `--quota-hours H`)",
                    p.period, p.name
                );
            }
            Ok(())
        }
        ProgramCmd::Edit { name, priority, grade, quota, description, pi } => {
            if let Some(d) = &description {
                check_description(d)?;
            }
            let db = ctx.open_db().await?;
            let pi = match pi {
                Some(u) => Some(
                    db.user_by_name(&u)
                        .await?
                        .ok_or_else(|| CliError::input(format!("--pi: user \"{u}\" does not exist")))?
                        .id,
                ),
                None => None,
            };
            let quota = (quota.quota_percent.is_some() || quota.quota_hours.is_some())
                .then(|| quota_of(quota))
                .transpose()?;
            let changes =
                ProgramChanges { description, priority: priority_of(priority, grade.as_deref())?, quota, pi };
            if changes == ProgramChanges::default() {
                return Err(CliError::input(
                    "nothing to change: give --priority, --grade, --quota-percent, --quota-hours, --description or --pi",
                ));
            }
            let p = nights(ctx)?.update_program(&db, &ctx.clock, &name, &changes).await?;
            say!(
                "program \"{}\": period {}, priority {}, quota {}",
                p.name,
                p.period,
                p.priority,
                quota_text(&p)
            );
            Ok(())
        }
        ProgramCmd::List { json } => {
            let db = ctx.open_db().await?;
            let programs = db.list_programs().await?;
            let users = db.list_users().await?;
            let views: Vec<ProgramView> = programs
                .iter()
                .map(|p| {
                    ProgramView::new(p, users.iter().find(|u| Some(u.id) == p.pi).map(|u| u.username.clone()))
                })
                .collect();
            if json {
                return print_json(&views);
            }
            say!(
                "{:<4} {:<20} {:<7} {:>8} {:>10} {:>7} {:>10} {:>10}  PI",
                "ID",
                "NAME",
                "PERIOD",
                "PRIORITY",
                "QUOTA h",
                "QUOTA %",
                "USED h",
                "LEFT h"
            );
            for v in views {
                say!(
                    "{:<4} {:<20} {:<7} {:>8} {:>10.2} {:>7} {:>10.2} {:>10.2}  {}",
                    v.id,
                    v.name,
                    v.period,
                    v.priority,
                    v.quota_hours,
                    v.quota_percent.map_or_else(|| "-".to_owned(), |p| format!("{p:.1}")),
                    v.used_hours,
                    v.remaining_hours,
                    v.pi.as_deref().unwrap_or("-")
                );
            }
            Ok(())
        }
        ProgramCmd::Show { name, json } => {
            let db = ctx.open_db().await?;
            let usage = db
                .program_usage(&name)
                .await?
                .ok_or_else(|| CliError::input(format!("program \"{name}\" does not exist")))?;
            let view = UsageView::new(&usage);
            if json {
                return print_json(&view);
            }
            let p = &usage.program;
            say!("program \"{}\", period {}, priority {}", p.name, p.period, p.priority);
            say!("quota  {}", quota_text(p));
            say!(
                "used   {:.2} h, asked {:.2} h (submitted, not yet run), free {:.2} h",
                view.used_hours,
                view.asked_hours,
                view.free_hours
            );
            say!("{:<24} {:>10} {:>10}", "MEMBER", "USED h", "ASKED h");
            for m in &view.members {
                say!("{:<24} {:>10.2} {:>10.2}", m.user, m.used_hours, m.asked_hours);
            }
            Ok(())
        }
    }
}

fn check_description(d: &str) -> CliResult<()> {
    if d.chars().count() > ferros_limits::MAX_PROGRAM_TEXT || d.chars().any(|c| c.is_control() && c != '\n') {
        return Err(CliError::input(format!(
            "--description: at most {} characters, no control characters",
            ferros_limits::MAX_PROGRAM_TEXT
        )));
    }
    Ok(())
}

#[derive(Debug, Serialize)]
struct ProgramView {
    id: i64,
    name: String,
    description: String,
    pi: Option<String>,
    period: String,
    priority: i32,
    quota_hours: f64,
    /// The quota as percent of the period's night time.
    quota_percent: Option<f64>,
    period_night_hours: f64,
    used_hours: f64,
    remaining_hours: f64,
}

impl ProgramView {
    fn new(p: &ScientificProgram, pi: Option<String>) -> Self {
        Self {
            id: p.id.0,
            name: p.name.clone(),
            description: p.description.clone(),
            pi,
            period: p.period.to_string(),
            priority: p.priority.get(),
            quota_hours: p.quota.hours(),
            quota_percent: p.quota_percent(),
            period_night_hours: p.period_night.hours(),
            used_hours: p.used.hours(),
            remaining_hours: p.remaining_quota().hours(),
        }
    }
}

#[derive(Debug, Serialize)]
struct MemberView {
    user: String,
    used_hours: f64,
    asked_hours: f64,
}

#[derive(Debug, Serialize)]
struct UsageView {
    program: ProgramView,
    used_hours: f64,
    asked_hours: f64,
    free_hours: f64,
    members: Vec<MemberView>,
}

impl UsageView {
    fn new(u: &ProgramUsage) -> Self {
        let member = |(user, t): &(String, TimeUse)| MemberView {
            user: user.clone(),
            used_hours: t.used.hours(),
            asked_hours: t.asked.hours(),
        };
        Self {
            program: ProgramView::new(&u.program, None),
            used_hours: u.total.used.hours(),
            asked_hours: u.total.asked.hours(),
            free_hours: u.free().hours(),
            members: u.members.iter().map(member).collect(),
        }
    }
}
