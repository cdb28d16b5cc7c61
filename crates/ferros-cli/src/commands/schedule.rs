//! `ferros schedule plan|show|history`: the planner wired to the database (or
//! to a JSON file), the ephemerides and the clock.

use std::collections::HashMap;
use std::path::Path;

use chrono::{NaiveDate, SecondsFormat};
use ferros_agents::planning::{PlanningError, plan_night};
use ferros_db::Db;
use ferros_domain::JulianDate;
use ferros_scheduler::{Frozen, Input, Plan, Status, Task};
use serde::{Deserialize, Serialize};

use super::astro::site_of;
use super::print_json;
use crate::cli::{ScheduleCmd, SiteArgs};
use crate::context::Context;
use crate::error::{CliError, CliResult};
use crate::output::say;

const DAY: f64 = 86_400.0;

pub async fn run(ctx: &Context, cmd: ScheduleCmd) -> CliResult {
    match cmd {
        ScheduleCmd::Plan { input: Some(file), json, .. } => {
            let plan = plan_file(&file)?;
            let out = PlanOutput::from_plan(&plan, None);
            if json { print_json(&out) } else { print_plan(&out) }
        }
        ScheduleCmd::Plan { night, input: None, json } => {
            let db = ctx.open_db().await?;
            let out = plan_database(ctx, &db, night.as_deref()).await?;
            if json { print_json(&out) } else { print_plan(&out) }
        }
        ScheduleCmd::Show { json } => {
            let db = ctx.open_db().await?;
            let Some(s) = db.latest_schedule().await? else {
                return Err(CliError::input("no schedule yet (ferros schedule plan)"));
            };
            if json {
                return print_json(&s);
            }
            let out = PlanOutput {
                schedule_id: Some(s.id.0),
                night: None,
                night_start: s.night_start.days(),
                night_end: s.night_end.days(),
                plan_start: s.plan_start.days(),
                entries: s
                    .entries
                    .iter()
                    .map(|e| OutEntry {
                        sequence_id: e.sequence_id.0,
                        status: e.status.code().to_owned(),
                        tsp: e.tsp.map(JulianDate::days),
                        tep: e.tep.map(JulianDate::days),
                        slack_left: e.slack_left.get(),
                        slack_right: e.slack_right.get(),
                        reason: e.reason.clone(),
                    })
                    .collect(),
            };
            say!("schedule {} made {} UTC", s.id, s.created_at.format("%Y-%m-%d %H:%M:%S"));
            print_plan(&out)
        }
        ScheduleCmd::History { limit, json } => {
            let db = ctx.open_db().await?;
            let list = db.schedule_history(limit.max(1)).await?;
            if json {
                return print_json(&list);
            }
            say!(
                "{:<6} {:<20} {:<20} {:<20} {:>8}",
                "ID",
                "MADE (UTC)",
                "NIGHT START",
                "NIGHT END",
                "PLANNED"
            );
            for s in list {
                say!(
                    "{:<6} {:<20} {:<20} {:<20} {:>4}/{:<4}",
                    s.id,
                    s.created_at.format("%Y-%m-%d %H:%M:%S"),
                    iso_min(s.night_start.days()),
                    iso_min(s.night_end.days()),
                    s.planned,
                    s.entries
                );
            }
            Ok(())
        }
    }
}

/// The JSON a plan is printed as (times as Julian dates, slack in seconds).
#[derive(Debug, Serialize)]
struct PlanOutput {
    #[serde(skip_serializing_if = "Option::is_none")]
    schedule_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    night: Option<String>,
    night_start: f64,
    night_end: f64,
    plan_start: f64,
    entries: Vec<OutEntry>,
}

#[derive(Debug, Serialize)]
struct OutEntry {
    sequence_id: i64,
    status: String,
    tsp: Option<f64>,
    tep: Option<f64>,
    slack_left: f64,
    slack_right: f64,
    reason: String,
}

impl PlanOutput {
    fn from_plan(p: &Plan, schedule_id: Option<i64>) -> Self {
        PlanOutput {
            schedule_id,
            night: None,
            night_start: p.night_start,
            night_end: p.night_end,
            plan_start: p.plan_start,
            entries: p
                .entries
                .iter()
                .map(|e| OutEntry {
                    sequence_id: e.id,
                    status: e.status.code().to_owned(),
                    tsp: e.tsp,
                    tep: e.tep,
                    slack_left: e.slack_left * DAY,
                    slack_right: e.slack_right * DAY,
                    reason: e.reason.clone(),
                })
                .collect(),
        }
    }
}

fn iso(jd: f64) -> String {
    JulianDate::new(jd)
        .map(|j| j.to_datetime().to_rfc3339_opts(SecondsFormat::Secs, true))
        .unwrap_or_default()
}

fn iso_min(jd: f64) -> String {
    JulianDate::new(jd).map(|j| j.to_datetime().format("%Y-%m-%d %H:%M").to_string()).unwrap_or_default()
}

fn print_plan(out: &PlanOutput) -> CliResult {
    if let Some(id) = out.schedule_id {
        say!("schedule {id} stored");
    }
    say!(
        "night {} .. {} UTC, planning from {}",
        iso(out.night_start),
        iso(out.night_end),
        iso(out.plan_start)
    );
    say!("{:<8} {:<12} {:<21} {:<21} REASON", "SEQ", "STATUS", "START (UTC)", "END (UTC)");
    for e in &out.entries {
        say!(
            "{:<8} {:<12} {:<21} {:<21} {}",
            e.sequence_id,
            e.status,
            e.tsp.map(iso).unwrap_or_else(|| "-".into()),
            e.tep.map(iso).unwrap_or_else(|| "-".into()),
            e.reason
        );
    }
    let planned = out.entries.iter().filter(|e| e.status == "PLANNED").count();
    say!("{planned} of {} sequence(s) planned", out.entries.len());
    Ok(())
}

// ------------------------------------------------------------ from a file

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileInput {
    night: FileNight,
    #[serde(default)]
    now: Option<f64>,
    sequences: Vec<FileSequence>,
    /// Remaining quota per program, seconds.
    #[serde(default)]
    quotas: HashMap<i64, f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileNight {
    start: f64,
    end: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSequence {
    id: i64,
    jd1: f64,
    jd2: f64,
    priority: i32,
    /// Seconds.
    duration: f64,
    /// Seconds.
    #[serde(default)]
    overhead: f64,
    #[serde(default)]
    t_prefered: Option<f64>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    tsp: Option<f64>,
    #[serde(default)]
    tep: Option<f64>,
    /// Visibility windows tonight, `[[start, end], ...]` (JD).
    #[serde(default)]
    visibility: Option<Vec<[f64; 2]>>,
    #[serde(default)]
    program: Option<i64>,
    #[serde(default)]
    request: Option<i64>,
    #[serde(default)]
    all_or_nothing: bool,
    #[serde(default)]
    mandatory: bool,
}

fn plan_file(path: &Path) -> CliResult<Plan> {
    let shown = path.display();
    let text = super::common::read_text(path, super::common::MAX_PLAN_FILE_BYTES, "plan's input")?;
    let file: FileInput =
        serde_json::from_str(&text).map_err(|e| CliError::input(format!("{shown}: {e}")))?;
    let mut tasks = Vec::with_capacity(file.sequences.len());
    for s in file.sequences {
        let bad = |m: String| CliError::input(format!("{shown}: sequence {}: {m}", s.id));
        for (name, v) in [("duration", s.duration), ("overhead", s.overhead)] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(bad(format!("{name} = {v} must be a number of seconds >= 0")));
            }
        }
        let frozen = match s.status.as_deref().map(str::to_ascii_uppercase).as_deref() {
            None | Some("TOBEPLANNED") => None,
            Some(st @ ("EXECUTED" | "EXECUTING")) => {
                let (Some(tsp), Some(tep)) = (s.tsp, s.tep) else {
                    return Err(bad(format!("status {st} needs \"tsp\" and \"tep\"")));
                };
                let status = if st == "EXECUTED" { Status::Executed } else { Status::Executing };
                Some(Frozen { status, tsp, tep })
            }
            Some(other) => {
                return Err(bad(format!("status \"{other}\" (expected EXECUTED or EXECUTING, or none)")));
            }
        };
        tasks.push(Task {
            id: s.id,
            priority: s.priority,
            jd1: s.jd1,
            jd2: s.jd2,
            block: (s.duration + s.overhead) / DAY,
            t_prefered: s.t_prefered,
            visibility: s.visibility.map(|v| v.into_iter().map(|[a, b]| (a, b)).collect()),
            program: s.program,
            request: s.request,
            all_or_nothing: s.all_or_nothing,
            mandatory: s.mandatory,
            frozen,
        });
    }
    let quotas = file.quotas.into_iter().map(|(p, q)| (p, q / DAY)).collect();
    let input = Input {
        night_start: file.night.start,
        night_end: file.night.end,
        now: file.now,
        tasks,
        quotas,
        hours_per_unit: Some(24.0),
    };
    ferros_scheduler::plan(&input).map_err(|e| CliError::input(format!("{shown}: {e}")))
}

// -------------------------------------------------------- from the database

async fn plan_database(ctx: &Context, db: &Db, night: Option<&str>) -> CliResult<PlanOutput> {
    let site = site_of(ctx, &SiteArgs { lat: None, lon: None, elev: None })?;
    let date =
        match night {
            Some(d) => Some(NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d").map_err(|e| {
                CliError::input(format!("--night: \"{d}\" is not a date like 2026-11-22 ({e})"))
            })?),
            None => None,
        };
    let night_altitude = ctx.settings.site.night_sun_altitude;
    let horizon = ctx.settings.site.horizon;
    let mut skies = ferros_agents::planning::Skies::default();
    let planned = plan_night(db, &ctx.clock, site, (night_altitude, horizon), date, &mut skies)
        .await
        .map_err(|e| match e {
            PlanningError::NoNight(m) => CliError::input(format!("{m} at {}", ctx.settings.site.name)),
            PlanningError::Db(e) => e.into(),
            other => CliError::Failure(anyhow::anyhow!(other)),
        })?;
    let mut out = PlanOutput::from_plan(&planned.plan, Some(planned.schedule_id.0));
    out.night = Some(planned.night.to_string());
    for e in &planned.expired {
        out.entries.push(OutEntry {
            sequence_id: e.sequence_id.0,
            status: e.status.code().to_owned(),
            tsp: None,
            tep: None,
            slack_left: 0.0,
            slack_right: 0.0,
            reason: e.reason.clone(),
        });
    }
    Ok(out)
}
