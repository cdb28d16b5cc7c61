//! `ferros alert inject|list|show|strategy|strategies`.

use std::path::Path;

use chrono::{DateTime, Utc};
use ferros_agents::alerts::AlertDesk;
use ferros_agents::{AgentContext, Bus};
use ferros_db::AlertRecord;
use ferros_limits::PAGE_ROWS;
use serde::Serialize;

use super::print_json;
use crate::cli::AlertCmd;
use crate::context::Context;
use crate::error::{CliError, CliResult};
use crate::output::say;

pub async fn run(ctx: &Context, cmd: AlertCmd) -> CliResult {
    match cmd {
        AlertCmd::Inject { file, json } => inject(ctx, &file, json).await,
        AlertCmd::List { before, json } => list(ctx, before, json).await,
        AlertCmd::Show { id, json } => {
            let db = ctx.open_db().await?;
            let a =
                db.alert(id).await?.ok_or_else(|| CliError::input(format!("alert {id} does not exist")))?;
            let analyses = match a.request_id {
                Some(r) => analyses(&db, r).await?,
                None => Vec::new(),
            };
            if json {
                print_json(&Timeline { analyses, ..Timeline::of(&a) })
            } else {
                show(&a)?;
                show_analyses(&analyses);
                Ok(())
            }
        }
        AlertCmd::Strategy { id, name } => {
            let (desk, actx) = desk(ctx).await?;
            let r = desk.restrategize(&actx, id, &name).await.map_err(CliError::input)?;
            let request = r.request.map(|q| format!(" (request {q})")).unwrap_or_default();
            say!("alert {id}: {}{request}: {}", r.outcome.code(), r.reason);
            Ok(())
        }
        AlertCmd::Strategies => {
            let desk = AlertDesk::new(&ctx.settings, site(ctx)?, &ferros_observatory::wheels(&ctx.settings))
                .map_err(CliError::input)?;
            for s in desk.strategies().all() {
                let t = &s.target;
                say!(
                    "{:<14} order {:>4}  {} ({} step(s), min altitude {} deg, within {} h, large error: {:?})",
                    s.name,
                    s.order,
                    s.title,
                    s.ladder.len(),
                    t.min_altitude,
                    t.within_h,
                    t.large_error
                );
            }
            Ok(())
        }
    }
}

fn site(ctx: &Context) -> CliResult<ferros_astro::Site> {
    ferros_observatory::site(&ctx.settings).map_err(|e| CliError::input(format!("site: {e}")))
}

async fn desk(ctx: &Context) -> CliResult<(AlertDesk, AgentContext)> {
    let desk = AlertDesk::new(&ctx.settings, site(ctx)?, &ferros_observatory::wheels(&ctx.settings))
        .map_err(CliError::input)?;
    let db = ctx.open_db().await?;
    Ok((desk, AgentContext::new(db, ctx.clock, Bus::default())))
}

#[derive(Debug, Serialize)]
struct Injected {
    alert: i64,
    outcome: &'static str,
    reason: String,
    request: Option<i64>,
    duplicate: bool,
}

/// Takes the file as a broker's notice would be taken: whatever it holds,
/// it is stored with its decision (a document that is no notice as refused).
async fn inject(ctx: &Context, file: &Path, json: bool) -> CliResult {
    let shown = file.display();
    // A larger notice is refused by the desk, with its size.
    let bytes = super::common::read_head(file, ferros_limits::MAX_VOEVENT_BYTES as u64)?;
    let (desk, actx) = desk(ctx).await?;
    let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let r = desk
        .receive(&actx, &bytes, &format!("cli:{name}"), ctx.clock.now(), None)
        .await
        .map_err(|e| CliError::Failure(anyhow::anyhow!(e)))?;
    if json {
        return print_json(&Injected {
            alert: r.alert,
            outcome: r.outcome.code(),
            reason: r.reason,
            request: r.request.map(|q| q.0),
            duplicate: r.duplicate,
        });
    }
    let request = r.request.map(|q| format!(" -> request {q}")).unwrap_or_default();
    say!("alert {}: {}{request}: {}", r.alert, r.outcome.code(), r.reason);
    if r.outcome == ferros_alerts::Outcome::Refused {
        return Err(CliError::Reported(format!("{shown}: refused")));
    }
    Ok(())
}

async fn list(ctx: &Context, before: Option<i64>, json: bool) -> CliResult {
    let db = ctx.open_db().await?;
    let page = db.list_alerts(before, PAGE_ROWS).await?;
    if json {
        let rows: Vec<Timeline<'_>> = page.iter().map(Timeline::of).collect();
        return print_json(&rows);
    }
    if page.is_empty() {
        say!("no alerts");
        return Ok(());
    }
    for a in &page {
        let request = a.request_id.map(|r| format!(" request {r}")).unwrap_or_default();
        say!(
            "{:>5}  {}  {:<9} {:<24} {}{request}",
            a.id,
            a.received_at.format("%Y-%m-%d %H:%M:%S"),
            a.outcome,
            title(a),
            cut(&a.reason, 100)
        );
    }
    if let Some(last) = page.last()
        && page.len() == PAGE_ROWS as usize
    {
        say!("(older: ferros alert list --before {})", last.id);
    }
    Ok(())
}

fn title(a: &AlertRecord) -> String {
    let mut t = a.mission.clone();
    let burst = a.burst.as_ref().and_then(|b| b.rsplit_once('#').map(|(_, id)| id.to_owned()));
    for p in [&a.instrument, &burst].into_iter().flatten() {
        t.push(' ');
        t.push_str(p);
    }
    if t.is_empty() { "(unread)".to_owned() } else { t }
}

fn cut(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        format!("{}...", s.chars().take(n).collect::<String>())
    }
}

/// An alert with the delay of each step after its receipt, milliseconds.
#[derive(Debug, Serialize)]
struct Timeline<'a> {
    #[serde(flatten)]
    alert: &'a AlertRecord,
    /// Milliseconds from receipt to each step.
    delays_ms: Delays,
    /// What the pipeline made of the request's images: the calibrated
    /// image, its zero point and the candidates of the error circle.
    analyses: Vec<ImageAnalysis>,
}

#[derive(Debug, Serialize)]
struct ImageAnalysis {
    path: String,
    date_obs: DateTime<Utc>,
    filter: String,
    sources: usize,
    zero_point: Option<f64>,
    candidates: Vec<ferros_pipeline::photometry::Candidate>,
    notes: Vec<String>,
}

/// The analyses of a request's images, newest first (at most 500).
async fn analyses(db: &ferros_db::Db, request: i64) -> CliResult<Vec<ImageAnalysis>> {
    let mut out = Vec::new();
    for (_, img) in db.analysed_images(request, 500).await? {
        let Some(text) = &img.analysis else { continue };
        let a: ferros_pipeline::Analysis = serde_json::from_str(text).map_err(|e| {
            CliError::Failure(anyhow::anyhow!("{}: the stored analysis cannot be read: {e}", img.path))
        })?;
        out.push(ImageAnalysis {
            path: img.path,
            date_obs: img.date_obs,
            filter: img.filter,
            sources: a.sources.len(),
            zero_point: a.photometry.map(|z| z.zero_point),
            candidates: a.candidates,
            notes: a.notes,
        });
    }
    Ok(out)
}

fn show_analyses(analyses: &[ImageAnalysis]) {
    if analyses.is_empty() {
        return;
    }
    say!("  analysis   {} image(s) reduced (exchange/FSC/TO has each)", analyses.len());
    for a in analyses {
        let zp = a.zero_point.map(|z| format!("zero point {z:.2}")).unwrap_or_else(|| "no zero point".into());
        say!(
            "    {}  {} {}: {} source(s), {zp}, {} candidate(s)",
            a.date_obs.format("%H:%M:%S"),
            a.path,
            a.filter,
            a.sources,
            a.candidates.len()
        );
        for c in &a.candidates {
            let mag = c
                .mag
                .map_or_else(|| "-".to_owned(), |m| format!("{m:.2} +/- {:.2}", c.mag_err.unwrap_or(0.0)));
            say!(
                "      candidate RA {:.5} Dec {:+.5}  mag {mag}  {:.1}\" from the centre: {}",
                c.ra,
                c.dec,
                c.offset_arcsec,
                c.why
            );
        }
    }
}

#[derive(Debug, Serialize)]
struct Delays {
    parsed: Option<i64>,
    stored: i64,
    planned: Option<i64>,
    slew_commanded: Option<i64>,
    first_exposure: Option<i64>,
}

impl<'a> Timeline<'a> {
    fn of(a: &'a AlertRecord) -> Self {
        let after = |t: DateTime<Utc>| (t - a.received_at).num_milliseconds();
        Timeline {
            alert: a,
            delays_ms: Delays {
                parsed: a.parsed_at.map(after),
                stored: after(a.stored_at),
                planned: a.planned_at.map(after),
                slew_commanded: a.slew_at.map(after),
                first_exposure: a.exposure_at.map(after),
            },
            analyses: Vec::new(),
        }
    }
}

fn show(a: &AlertRecord) -> CliResult {
    say!("alert {}  {}", a.id, a.ivorn.as_deref().unwrap_or("(no ivorn: the document could not be read)"));
    say!("  from       {}", a.source);
    if let Some(role) = &a.role {
        say!("  notice     {} ({role})", title(a));
    }
    if let Some(t) = a.trigger_at {
        say!("  trigger    {}", t.format("%Y-%m-%d %H:%M:%S%.3f UTC"));
    }
    if let (Some(ra), Some(dec)) = (a.ra, a.dec) {
        let err = a.error_deg.map(|e| format!(" +/- {e:.4} deg")).unwrap_or_default();
        say!("  position   RA {ra:.4} Dec {dec:+.4} (J2000){err}");
    }
    say!("  decision   {}: {}", a.outcome, a.reason);
    if let Some(s) = &a.strategy {
        say!("  strategy   {s}");
    }
    if let Some(r) = a.request_id {
        say!("  request    {r} ({} image(s) archived)", a.images);
    }
    if let Some(s) = a.same_as {
        say!("  same burst as alert {s}");
    }
    if a.duplicates > 0 {
        say!("  copies     {} more received, not acted on", a.duplicates);
    }
    let t = Timeline::of(a).delays_ms;
    let step = |name: &str, at: Option<DateTime<Utc>>, ms: Option<i64>| match (at, ms) {
        (Some(at), Some(ms)) => say!("  {name:<16} {}  (+{ms} ms)", at.format("%H:%M:%S%.3f")),
        _ => say!("  {name:<16} -"),
    };
    say!("  timeline");
    step("received", Some(a.received_at), Some(0));
    step("parsed", a.parsed_at, t.parsed);
    step("stored", Some(a.stored_at), Some(t.stored));
    step("planned", a.planned_at, t.planned);
    step("slew commanded", a.slew_at, t.slew_commanded);
    step("first exposure", a.exposure_at, t.first_exposure);
    Ok(())
}
