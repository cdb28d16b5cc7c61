//! The one path every intake feeds: a notice's bytes are read, decided on
//! (`ferros-alerts`), and stored with what the decision does to requests
//! and the intake's read position, in one transaction; then the other
//! agents hear of it on the bus (the planner replans, the executor
//! pre-empts, the majordome opens). One notice at a time.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use ferros_alerts::{Action, BuildContext, Facts, Known, Outcome, Rules, Sky, Strategies};
use ferros_config::Settings;
use ferros_db::{AlertEffect, AlertStep, AlertStored, Db, IntakePosition, NewAlert, NewUser};
use ferros_domain::{
    Coordinates, LogLevel, NewProgram, Period, Priority, Profile, Quota, Readouts, RequestId, Seconds, Wheels,
};
use ferros_limits::{MAX_STRATEGIES, MAX_STRATEGY_BYTES, MAX_VOEVENT_BYTES};
use ferros_voevent::VoEvent;

use crate::AgentError;
use crate::runtime::{AgentContext, Event};

/// What the log and the records call the alert manager.
pub const ALERTS: &str = "alerts";

/// The variable that makes the desk stop before storing (tests of crashes).
pub const PAUSE_BEFORE_STORE: &str = "FERROS_ALERT_PAUSE_BEFORE_STORE";

/// Bytes of a refused document kept with its reason.
const REFUSED_EXCERPT: usize = 2048;

/// What became of one notice.
#[derive(Debug, Clone, PartialEq)]
pub struct Receipt {
    /// The alert stored (or the one it repeats).
    pub alert: i64,
    pub outcome: Outcome,
    pub reason: String,
    pub request: Option<RequestId>,
    /// The same ivorn was stored already: counted, not acted on again.
    pub duplicate: bool,
}

/// The alert manager's settings and strategies; cheap to clone.
#[derive(Debug, Clone)]
pub struct AlertDesk {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    strategies: Strategies,
    sky: Sky,
    program: String,
    owner: String,
    readouts: Readouts,
    field_of_view_deg: f64,
    accept_tests: bool,
    same_burst_s: f64,
    /// `FERROS_ALERT_PAUSE_BEFORE_STORE` set: the first notice read waits
    /// forever before its transaction, so that a test can kill the process
    /// between a notice's receipt and its storing.
    pause_before_store: bool,
    /// One notice at a time: a decision reads what the one before stored.
    /// True once the program and account of alert requests exist.
    gate: tokio::sync::Mutex<bool>,
}

impl AlertDesk {
    /// The desk with the built-in strategies and those of the strategies
    /// folder (a file named like a built-in one replaces it), each filter
    /// checked against the wheels.
    pub fn new(
        settings: &Settings,
        site: ferros_astro::Site,
        wheels: &Wheels,
    ) -> Result<AlertDesk, AgentError> {
        let files = strategy_files(settings)?;
        let strategies = Strategies::load(
            ferros_alerts::BUILTIN.iter().copied().chain(files.iter().map(|(n, t)| (n.as_str(), t.as_str()))),
            wheels,
        )
        .map_err(|e| AgentError::Missing(e.to_string()))?;
        let a = &settings.alerts;
        Ok(AlertDesk {
            inner: Arc::new(Inner {
                strategies,
                sky: Sky { site, night_altitude: settings.site.night_sun_altitude },
                program: a.program.clone(),
                owner: a.owner.clone(),
                readouts: settings.executor.readouts(),
                field_of_view_deg: a.field_of_view_deg,
                accept_tests: a.accept_tests,
                same_burst_s: a.same_burst_s,
                pause_before_store: std::env::var_os(PAUSE_BEFORE_STORE).is_some(),
                gate: tokio::sync::Mutex::new(false),
            }),
        })
    }

    pub fn strategies(&self) -> &Strategies {
        &self.inner.strategies
    }

    /// Creates the alert program (priority 0) and the account alert requests
    /// belong to (no password: nobody logs in as it), when missing.
    pub async fn prepare(&self, db: &Db, now: DateTime<Utc>) -> Result<(), AgentError> {
        let i = &self.inner;
        if db.program_by_name(&i.program).await?.is_none() {
            let p = NewProgram {
                name: i.program.clone(),
                description: "Alert follow-up (created by the alert manager)".to_owned(),
                period: Period::containing(now.date_naive()),
                priority: Priority::ALERT,
                // Alerts are followed whatever the quota: none is granted.
                quota: Quota::Time(Seconds::ZERO),
            };
            match db.create_program(&p, None, now).await {
                Ok(_) => {}
                // Created meanwhile by another process.
                Err(_) if db.program_by_name(&i.program).await?.is_some() => {}
                Err(e) => return Err(e.into()),
            }
        }
        if db.user_by_name(&i.owner).await?.is_none() {
            let u = NewUser {
                username: i.owner.clone(),
                email: String::new(),
                password_hash: "!".to_owned(),
                profiles: [Profile::Superoperator].into(),
                programs: vec![i.program.clone()],
            };
            match db.create_user(&u, now).await {
                Ok(_) => {}
                Err(_) if db.user_by_name(&i.owner).await?.is_some() => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Takes one notice: reads it, decides, stores it with its effect and
    /// `position` (the intake's read position after it) in one transaction,
    /// and tells the other agents. A document that is no notice is stored
    /// as refused, with the reason; only a failing database is an error
    /// (nothing is stored then, and the position does not move).
    pub async fn receive(
        &self,
        ctx: &AgentContext,
        bytes: &[u8],
        source: &str,
        received_at: DateTime<Utc>,
        position: Option<IntakePosition>,
    ) -> Result<Receipt, AgentError> {
        let mut prepared = self.inner.gate.lock().await;
        if !*prepared {
            self.prepare(&ctx.db, ctx.clock.now()).await?;
            *prepared = true;
        }
        let mut row = blank(source, received_at);
        let read = read(bytes);
        let parsed_at = ctx.clock.now();
        let (event, facts) = match read {
            Ok(pair) => pair,
            Err((reason, ivorn)) => {
                row.reason = reason;
                row.ivorn = ivorn;
                row.xml = excerpt(bytes);
                return self
                    .store(ctx, &row, &AlertEffect::Nothing, position.as_ref(), Outcome::Refused)
                    .await;
            }
        };
        row.parsed_at = Some(parsed_at);
        row.xml = String::from_utf8_lossy(bytes).replace('\0', "\u{fffd}");
        fill(&mut row, &facts);
        // A copy of a stored notice is only counted: no decision is made twice.
        if ctx.db.alert_id_by_ivorn(&facts.ivorn).await?.is_some() {
            return self.store(ctx, &row, &AlertEffect::Nothing, position.as_ref(), Outcome::Ignored).await;
        }
        let window = TimeDelta::milliseconds((self.inner.same_burst_s * 1000.0) as i64);
        let around = facts.trigger.unwrap_or(received_at);
        let related = ctx
            .db
            .alerts_related(facts.burst.as_deref(), &facts.cited, around - window, around + window)
            .await?;
        let known: Vec<Known> = related.into_iter().map(known).collect();
        let decision = ferros_alerts::decide(&event, &facts, &known, &self.rules(ctx.clock.now()));
        row.outcome = decision.outcome.code().to_owned();
        row.reason = decision.reason.clone();
        row.strategy = decision.strategy.clone();
        row.same_as = decision.same_as;
        if self.inner.pause_before_store {
            eprintln!(
                "alerts: {} received and decided ({}); paused before storing it",
                facts.ivorn,
                decision.outcome.code()
            );
            std::future::pending::<()>().await;
        }
        let owner = self.inner.owner.clone();
        let effect = match &decision.action {
            Action::Ignore => AlertEffect::Nothing,
            Action::Create(tree) => AlertEffect::Create { tree, owner: &owner },
            Action::Update { request, tree } => AlertEffect::Update { request: *request, tree },
            Action::Cancel { requests, .. } => AlertEffect::Cancel { requests },
        };
        self.store(ctx, &row, &effect, position.as_ref(), decision.outcome).await
    }

    /// Records what an intake could not even hand over as a document (a
    /// message cut short, one too long to read), with the reason.
    pub async fn refuse(
        &self,
        ctx: &AgentContext,
        source: &str,
        received_at: DateTime<Utc>,
        reason: String,
        bytes: &[u8],
    ) -> Result<Receipt, AgentError> {
        let _one = self.inner.gate.lock().await;
        let mut row = blank(source, received_at);
        row.reason = reason;
        row.xml = excerpt(bytes);
        self.store(ctx, &row, &AlertEffect::Nothing, None, Outcome::Refused).await
    }

    fn rules(&self, now: DateTime<Utc>) -> Rules<'_> {
        let i = &self.inner;
        Rules {
            strategies: &i.strategies,
            sky: &i.sky,
            build: BuildContext {
                now,
                program: &i.program,
                readouts: i.readouts,
                field_of_view_deg: i.field_of_view_deg,
            },
            accept_tests: i.accept_tests,
            same_burst_s: i.same_burst_s,
        }
    }

    async fn store(
        &self,
        ctx: &AgentContext,
        row: &NewAlert,
        effect: &AlertEffect<'_>,
        position: Option<&IntakePosition>,
        outcome: Outcome,
    ) -> Result<Receipt, AgentError> {
        let stored = ctx.db.store_alert(row, effect, position, ctx.clock.now()).await?;
        let now = ctx.clock.now();
        let receipt = match stored {
            AlertStored::Duplicate { id } => Receipt {
                alert: id,
                outcome: Outcome::Ignored,
                reason: format!("a copy of alert {id} (same ivorn): counted, not acted on again"),
                request: None,
                duplicate: true,
            },
            AlertStored::New { id, request } => {
                ctx.db.stamp_alert(id, AlertStep::Stored, now).await?;
                Receipt { alert: id, outcome, reason: row.reason.clone(), request, duplicate: false }
            }
        };
        if receipt.duplicate {
            tracing::debug!(
                "{ALERTS}: {} from {}: {}",
                row.ivorn.as_deref().unwrap_or("?"),
                row.source,
                receipt.reason
            );
            return Ok(receipt);
        }
        let who = row.ivorn.as_deref().unwrap_or("a document");
        let request = receipt.request.map(|r| format!(" (request {r})")).unwrap_or_default();
        let level = if outcome == Outcome::Refused { LogLevel::Warn } else { LogLevel::Info };
        let message = format!(
            "alert {} {} from {}: {}{request}: {}",
            receipt.alert,
            who,
            row.source,
            outcome.code(),
            receipt.reason
        );
        ctx.record(ALERTS, level, message).await;
        ctx.bus.publish(Event::Alert {
            at: now,
            id: receipt.alert,
            outcome: outcome.code().to_owned(),
            request: receipt.request.map(|r| r.0),
            summary: format!("{who}: {}", receipt.reason),
        });
        Ok(receipt)
    }

    /// Follows an alert with another strategy: its request rebuilt in place
    /// (or created), as if the notice had come now.
    pub async fn restrategize(
        &self,
        ctx: &AgentContext,
        id: i64,
        strategy: &str,
    ) -> Result<Receipt, AgentError> {
        let _one = self.inner.gate.lock().await;
        let rec = ctx
            .db
            .alert(id)
            .await?
            .ok_or_else(|| AgentError::Missing(format!("alert {id} does not exist")))?;
        let s = self.inner.strategies.get(strategy).ok_or_else(|| {
            let names: Vec<&str> = self.inner.strategies.all().iter().map(|s| s.name.as_str()).collect();
            AgentError::Missing(format!("no strategy \"{strategy}\" (strategies: {})", names.join(", ")))
        })?;
        let xml = ctx.db.alert_xml(id).await?.unwrap_or_default();
        let (_, facts) = read(xml.as_bytes()).map_err(|(why, _)| {
            AgentError::Missing(format!("alert {id} was refused ({why}): it has nothing to follow"))
        })?;
        let centre = facts
            .position
            .ok_or_else(|| AgentError::Missing(format!("alert {id} has no position: nothing to point at")))?;
        let open = match rec.request_id {
            Some(r) => {
                ctx.db.request(RequestId(r)).await?.map(|q| q.sequences.iter().any(|s| !s.status.is_final()))
            }
            None => None,
        };
        let now = ctx.clock.now();
        let rules = self.rules(now);
        let owner = self.inner.owner.clone();
        let tree = ferros_alerts::build(s, &facts, centre, &rules.build);
        let reason = match &tree {
            Ok(_) => format!("strategy changed to {}: request rebuilt", s.name),
            Err(ferros_alerts::NotBuilt::TooLarge(why) | ferros_alerts::NotBuilt::Invalid(why)) => {
                format!("strategy changed to {}: {why}", s.name)
            }
        };
        let cancel_one: [RequestId; 1];
        let effect = match (&tree, rec.request_id.map(RequestId), open == Some(true)) {
            (Ok(t), Some(r), true) => AlertEffect::Update { request: r, tree: t },
            (Ok(t), _, _) => AlertEffect::Create { tree: t, owner: &owner },
            (Err(_), Some(r), true) => {
                cancel_one = [r];
                AlertEffect::Cancel { requests: &cancel_one }
            }
            (Err(_), _, _) => AlertEffect::Nothing,
        };
        let request = ctx.db.restrategize_alert(id, &effect, &s.name, &reason, now).await?;
        let outcome = match effect {
            AlertEffect::Create { .. } => Outcome::Created,
            AlertEffect::Update { .. } => Outcome::Updated,
            _ => Outcome::Skipped,
        };
        ctx.log(ALERTS, LogLevel::Info, format!("alert {id}: {reason}")).await;
        ctx.bus.publish(Event::Alert {
            at: now,
            id,
            outcome: outcome.code().to_owned(),
            request: request.map(|r| r.0),
            summary: reason.clone(),
        });
        Ok(Receipt { alert: id, outcome, reason, request, duplicate: false })
    }
}

/// Reads a notice: its event and facts, or why not (with its ivorn when it has one).
fn read(bytes: &[u8]) -> Result<(VoEvent, Facts), (String, Option<String>)> {
    if bytes.len() > MAX_VOEVENT_BYTES {
        return Err((
            format!("{} bytes: more than the {MAX_VOEVENT_BYTES} a notice may have", bytes.len()),
            None,
        ));
    }
    let text = std::str::from_utf8(bytes).map_err(|e| (format!("not UTF-8 text: {e}"), None))?;
    let event = ferros_voevent::parse(text).map_err(|e| (format!("not a VOEvent: {e}"), None))?;
    let facts = Facts::of(&event).map_err(|e| (e.to_string(), Some(event.ivorn.clone())))?;
    Ok((event, facts))
}

/// A refused notice from `source`, to be filled in.
fn blank(source: &str, received_at: DateTime<Utc>) -> NewAlert {
    NewAlert {
        ivorn: None,
        source: source.chars().take(200).collect(),
        role: None,
        mission: String::new(),
        instrument: None,
        burst: None,
        same_as: None,
        trigger_at: None,
        issued_at: None,
        position: None,
        error_deg: None,
        strategy: None,
        outcome: Outcome::Refused.code().to_owned(),
        reason: String::new(),
        xml: String::new(),
        received_at,
        parsed_at: None,
    }
}

fn excerpt(bytes: &[u8]) -> String {
    String::from_utf8_lossy(&bytes[..bytes.len().min(REFUSED_EXCERPT)]).replace('\0', "\u{fffd}")
}

fn fill(row: &mut NewAlert, f: &Facts) {
    row.ivorn = Some(f.ivorn.clone());
    row.role = Some(format!("{:?}", f.role).to_ascii_lowercase());
    row.mission = f.mission.clone();
    row.instrument = f.instrument.clone();
    row.burst = f.burst.clone();
    row.trigger_at = f.trigger;
    row.issued_at = f.issued;
    row.position = f.position.map(|c| (c.ra.degrees(), c.dec.degrees()));
    row.error_deg = f.error_deg;
}

fn known(r: ferros_db::AlertRelated) -> Known {
    Known {
        id: r.id,
        ivorn: r.ivorn,
        mission: r.mission,
        burst: r.burst,
        same_as: r.same_as,
        trigger: r.trigger_at,
        position: r.position.and_then(|(ra, dec)| Coordinates::new(ra, dec).ok()),
        error_deg: r.error_deg,
        request: r.request,
        open: r.open,
    }
}

/// The strategy files of the strategies folder, name and text.
fn strategy_files(settings: &Settings) -> Result<Vec<(String, String)>, AgentError> {
    let Some(dir) = settings.strategies_dir() else { return Ok(Vec::new()) };
    let io = |what: String| move |source| AgentError::Io { what, source };
    let mut files = Vec::new();
    let entries = std::fs::read_dir(&dir).map_err(io(format!("strategies folder {}", dir.display())))?;
    for entry in entries {
        let entry = entry.map_err(io(format!("strategies folder {}", dir.display())))?;
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("toml") {
            continue;
        }
        if files.len() >= MAX_STRATEGIES {
            return Err(AgentError::Missing(format!(
                "strategies folder {}: more than {MAX_STRATEGIES} strategy files",
                dir.display()
            )));
        }
        let len = entry.metadata().map_err(io(path.display().to_string()))?.len();
        if len > MAX_STRATEGY_BYTES {
            return Err(AgentError::Missing(format!(
                "strategy {}: {len} bytes, more than {MAX_STRATEGY_BYTES}",
                path.display()
            )));
        }
        let text = std::fs::read_to_string(&path).map_err(io(path.display().to_string()))?;
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        files.push((name, text));
    }
    files.sort();
    Ok(files)
}
