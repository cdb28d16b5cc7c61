//! `ferros request import|export|list|show|submit|cancel`.

use crate::output::{say, say_raw};
use std::path::Path;

use ferros_domain::{
    JulianDate, Request, RequestId, RequestStatus, Right, SequenceStatus, summarize_statuses,
};
use ferros_request_xml::{ReadOptions, read_request, write_request};
use serde::Serialize;

use super::print_json;
use crate::cli::RequestCmd;
use crate::context::Context;
use crate::error::{CliError, CliResult};

/// Owner of imported requests when `--user` is not given: the account `ferros start` creates.
const DEFAULT_OWNER: &str = "admin";

pub async fn run(ctx: &Context, cmd: RequestCmd) -> CliResult {
    match cmd {
        RequestCmd::Import { file, user, submit, json } => import(ctx, &file, user, submit, json).await,
        RequestCmd::Export { id } => {
            let req = load(ctx, id).await?;
            say_raw!("{}", write_request(&req.to_new()));
            Ok(())
        }
        RequestCmd::List { json } => list(ctx, json).await,
        RequestCmd::Show { id, json } => {
            let req = load(ctx, id).await?;
            if json { print_json(&req) } else { show(&req) }
        }
        RequestCmd::Submit { id } => {
            let db = ctx.open_db().await?;
            let moved = db.submit_request(RequestId(id), ctx.clock.now()).await?;
            say!("request {id}: {} sequence(s) submitted (TOBEPLANNED)", moved.len());
            Ok(())
        }
        RequestCmd::Cancel { id } => {
            let db = ctx.open_db().await?;
            let moved = db.cancel_request(RequestId(id), ctx.clock.now()).await?;
            say!("request {id}: {} sequence(s) cancelled", moved.len());
            Ok(())
        }
    }
}

async fn load(ctx: &Context, id: i64) -> CliResult<Request> {
    let db = ctx.open_db().await?;
    db.request(RequestId(id)).await?.ok_or_else(|| CliError::input(format!("request {id} does not exist")))
}

#[derive(Debug, Serialize)]
struct ImportOutput {
    request_id: i64,
    sequences: Vec<i64>,
}

async fn import(ctx: &Context, file: &Path, user: Option<String>, submit: bool, json: bool) -> CliResult {
    let shown = file.display();
    let text = super::common::read_text(file, super::common::MAX_REQUEST_BYTES, "request")?;
    let now = JulianDate::from_datetime(ctx.clock.now())
        .map_err(|e| CliError::input(format!("the clock is outside the dates Ferros handles: {e}")))?;
    let opts = ReadOptions {
        now,
        limits: ctx.settings.import,
        readouts: ctx.settings.executor.readouts(),
        wheels: ferros_observatory::wheels(&ctx.settings),
    };
    let imported = match read_request(&text, &opts) {
        Ok(imported) => imported,
        Err(problems) => {
            for p in &problems {
                eprintln!("{shown}:{p}");
            }
            return Err(CliError::Reported(format!(
                "{shown}: {} problem(s); nothing stored",
                problems.len()
            )));
        }
    };
    let submit = submit || imported.submit;
    let req = &imported.request;
    if submit
        && let Some(i) = req.sequences.iter().position(|s| s.initial_status() == SequenceStatus::Incomplete)
    {
        return Err(CliError::input(format!(
            "{shown}: request/sequence[{}]: the sequence is INCOMPLETE (no album, or an album without plan) and cannot be submitted; nothing stored",
            i + 1
        )));
    }

    let db = ctx.open_db().await?;
    let program = db.program_by_name(&req.program).await?.ok_or_else(|| {
        CliError::input(format!(
            "{shown}: request: scientific_program \"{}\" does not exist (see ferros program list); nothing stored",
            req.program
        ))
    })?;
    let owner = user.unwrap_or_else(|| DEFAULT_OWNER.to_owned());
    let account = db.user_by_name(&owner).await?.ok_or_else(|| {
        CliError::input(format!(
            "--user: user \"{owner}\" does not exist (see ferros user list); nothing stored"
        ))
    })?;
    if !account.may_submit_to(program.id) {
        return Err(CliError::input(format!(
            "--user: user \"{owner}\" may not submit requests to program \"{}\" (not an active member with an observer profile); nothing stored",
            program.name
        )));
    }

    if req.kind == ferros_domain::RequestKind::Alert && !account.has(Right::SubmitAlertRequest) {
        return Err(CliError::input(format!(
            "{shown}: request: is_alert=\"1\": user \"{owner}\" may not create alert requests (they pre-empt every program: superoperator, PI or sysadmin only); nothing stored"
        )));
    }
    let id = db.create_request(req, &owner, submit, ctx.clock.now()).await?;
    for w in &imported.warnings {
        eprintln!("{shown}:{w} (warning)");
    }
    let stored =
        db.request(id).await?.ok_or_else(|| CliError::Failure(anyhow::anyhow!("request {id} vanished")))?;
    let sequences: Vec<i64> = stored.sequences.iter().map(|s| s.id.0).collect();
    if json {
        return print_json(&ImportOutput { request_id: id.0, sequences });
    }
    let statuses: Vec<SequenceStatus> = stored.sequences.iter().map(|s| s.status).collect();
    say!("request {id} imported from {shown}: {}", summarize_statuses(&statuses));
    Ok(())
}

#[derive(Debug, Serialize)]
struct ListItem<'a> {
    #[serde(flatten)]
    summary: &'a ferros_db::RequestSummary,
    /// Derived from the sequences and the strategy: PENDING, RUNNING, DONE...
    state: RequestStatus,
    status: String,
}

async fn list(ctx: &Context, json: bool) -> CliResult {
    let db = ctx.open_db().await?;
    let requests = db.list_requests().await?;
    if json {
        let items: Vec<ListItem<'_>> = requests
            .iter()
            .map(|r| ListItem {
                summary: r,
                state: RequestStatus::derive(r.strategy, &r.sequence_statuses),
                status: summarize_statuses(&r.sequence_statuses),
            })
            .collect();
        return print_json(&items);
    }
    say!(
        "{:<5} {:<32} {:<12} {:<12} {:<8} {:<10} SEQUENCES",
        "ID",
        "NAME",
        "PROGRAM",
        "OWNER",
        "KIND",
        "STATUS"
    );
    for r in &requests {
        say!(
            "{:<5} {:<32} {:<12} {:<12} {:<8} {:<10} {}",
            r.id,
            r.name,
            r.program,
            r.owner,
            r.kind.code(),
            RequestStatus::derive(r.strategy, &r.sequence_statuses).code(),
            summarize_statuses(&r.sequence_statuses)
        );
    }
    Ok(())
}

fn utc(jd: JulianDate) -> String {
    jd.to_datetime().format("%Y-%m-%d %H:%M:%S").to_string()
}

fn show(r: &Request) -> CliResult {
    say!("request {} \"{}\"", r.id, r.name);
    say!("  program {}, owner {}, {} request, {}", r.program, r.owner, r.kind.code(), r.strategy.code());
    say!("  target type \"{}\", created {} UTC", r.target_type, r.created_at.format("%Y-%m-%d %H:%M:%S"));
    for s in &r.sequences {
        let spec = &s.spec;
        say!("  sequence {} \"{}\": {}", s.id, spec.name, s.status);
        let target = spec.target.as_deref().unwrap_or("-");
        match spec.coordinates {
            Some(c) => say!(
                "    target {target} at RA {:.5} Dec {:+.5} deg (J2000)",
                c.ra.degrees(),
                c.dec.degrees()
            ),
            None => say!(
                "    target {target}, no pointing{}",
                spec.target_coords.as_ref().map(|t| format!(" (target_coords \"{t}\")")).unwrap_or_default()
            ),
        }
        say!("    window {} .. {} UTC (JD {} .. {})", utc(spec.jd1), utc(spec.jd2), spec.jd1, spec.jd2);
        say!(
            "    duration {} s + overhead {} s, priority modulation {:+}, {}, reportable {} night(s)",
            spec.duration.get(),
            spec.overhead.get(),
            spec.priority.get(),
            if spec.mandatory { "mandatory" } else { "optional" },
            spec.reportable_nights
        );
        if let Some(tp) = spec.t_prefered {
            say!("    preferred time {} UTC", utc(tp));
        }
        let c = &spec.constraints;
        let limits: Vec<String> = [
            c.min_altitude.map(|v| format!("altitude >= {v} deg")),
            c.max_airmass.map(|v| format!("airmass <= {v}")),
            c.min_moon_distance.map(|v| format!("moon distance >= {v} deg")),
            c.max_sun_altitude.map(|v| format!("sun altitude <= {v} deg")),
        ]
        .into_iter()
        .flatten()
        .collect();
        if !limits.is_empty() {
            say!("    constraints: {}", limits.join(", "));
        }
        if let (Some(a), Some(b)) = (s.tsp, s.tep) {
            say!("    block {} .. {} UTC", utc(a), utc(b));
        }
        for a in &s.albums {
            say!("    album {} \"{}\" on {}", a.id, a.spec.name, a.spec.detector);
            for p in &a.plans {
                let p_id = p.id;
                let p = &p.spec;
                let window = p.window.map(|w| format!(", window {w}")).unwrap_or_default();
                let dither =
                    if p.dithering > 0.0 { format!(", dithering {}\"", p.dithering) } else { String::new() };
                say!(
                    "      plan {p_id} \"{}\": {} x {} s in {}, binning {}{window}{dither}: {} s",
                    p.name,
                    p.nb_images,
                    p.exposure.get(),
                    p.filter,
                    p.binning,
                    p.duration.get()
                );
            }
        }
    }
    Ok(())
}
