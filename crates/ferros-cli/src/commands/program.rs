//! `ferros program add|list`.

use crate::output::say;
use ferros_domain::{Grade, NewProgram, Period, Priority, ScientificProgram, Seconds};
use serde::Serialize;

use super::print_json;
use crate::cli::ProgramCmd;
use crate::context::Context;
use crate::error::{CliError, CliResult};

pub async fn run(ctx: &Context, cmd: ProgramCmd) -> CliResult {
    match cmd {
        ProgramCmd::Add { name, priority, grade, quota_hours, period, description } => {
            NewProgram::validate_name(&name).map_err(|e| CliError::input(format!("program {e}")))?;
            let priority = match (priority, grade) {
                (Some(p), _) => Priority::new(p).map_err(|e| CliError::input(format!("--priority: {e}")))?,
                (None, Some(g)) => {
                    g.parse::<Grade>().map_err(|e| CliError::input(format!("--grade: {e}")))?.priority()
                }
                (None, None) => Grade::B.priority(),
            };
            let quota = Seconds::from_hours("quota", quota_hours.unwrap_or(0.0))
                .map_err(|e| CliError::input(format!("--quota-hours: {e}")))?;
            let period = match period {
                Some(p) => p.parse::<Period>().map_err(|e| CliError::input(format!("--period: {e}")))?,
                None => Period::containing(ctx.clock.now().date_naive()),
            };
            let db = ctx.open_db().await?;
            let p = db
                .create_program(&NewProgram { name, description, period, priority, quota }, ctx.clock.now())
                .await?;
            say!(
                "program {} \"{}\" created: period {}, priority {}, quota {} h",
                p.id,
                p.name,
                p.period,
                p.priority,
                p.quota.hours()
            );
            if p.quota.is_zero() {
                eprintln!("note: no observing time granted yet (--quota-hours)");
            }
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
                "{:<4} {:<20} {:<7} {:>8} {:>10} {:>10} {:>10}  PI",
                "ID",
                "NAME",
                "PERIOD",
                "PRIORITY",
                "QUOTA h",
                "USED h",
                "LEFT h"
            );
            for v in views {
                say!(
                    "{:<4} {:<20} {:<7} {:>8} {:>10.2} {:>10.2} {:>10.2}  {}",
                    v.id,
                    v.name,
                    v.period,
                    v.priority,
                    v.quota_hours,
                    v.used_hours,
                    v.remaining_hours,
                    v.pi.as_deref().unwrap_or("-")
                );
            }
            Ok(())
        }
    }
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
            used_hours: p.used.hours(),
            remaining_hours: p.remaining_quota().hours(),
        }
    }
}
