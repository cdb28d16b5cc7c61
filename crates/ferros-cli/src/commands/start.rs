//! `ferros start`: open and migrate the database, make sure an administrator
//! exists, say where everything is, and serve until Ctrl-C or SIGTERM.

use crate::output::say;
use std::collections::BTreeSet;

use anyhow::Context as _;
use ferros_clock::Clock;
use ferros_db::{Db, NewUser};
use ferros_domain::{LogEntry, LogLevel, Profile};
use ferros_web::AppState;

use crate::cli::StartArgs;
use crate::context::Context;
use crate::error::{CliError, CliResult};

use super::common::shutdown_signal;

pub async fn run(ctx: &Context, args: StartArgs) -> CliResult {
    let signal = shutdown_signal();
    let settings = &ctx.settings;
    let bind = args.bind.unwrap_or(settings.bind);
    std::fs::create_dir_all(&settings.data_dir)
        .with_context(|| format!("cannot create the data directory {}", settings.data_dir.display()))?;
    let obs = super::agents::observatory(ctx, args.scenario.as_deref())?;
    let db = ctx.open_db().await?;
    ensure_admin(ctx, &db).await?;
    // The other commands read the time of this instance from here.
    let instance_clock = ctx.clock.is_simulated().then(|| ferros_db::InstanceClock {
        clock_at: ctx.clock.now(),
        real_at: Clock::real().now(),
        speed: ctx.clock.speed(),
    });
    db.set_instance_clock(instance_clock).await?;
    let listener =
        tokio::net::TcpListener::bind(bind).await.with_context(|| format!("cannot listen on {bind}"))?;
    let addr = listener.local_addr().map_err(anyhow::Error::from)?;

    say!("Ferros {} at {}", env!("CARGO_PKG_VERSION"), settings.site.name);
    match &ctx.config_file {
        Some(f) => say!("  config     {}", f.display()),
        None => say!("  config     built-in defaults (no ferros.toml)"),
    }
    say!("  data       {}", settings.data_dir.display());
    say!("  archive    {}", settings.data_dir.join("archive").display());
    say!("  database   {}", ferros_db::redact_url(&settings.database_url()));
    if ctx.clock.is_simulated() {
        say!(
            "  clock      simulated, {} UTC at x{}",
            ctx.clock.now().format("%Y-%m-%d %H:%M:%S"),
            ctx.clock.speed()
        );
    } else {
        say!("  clock      real time (UTC)");
    }
    say!("  web        http://{addr}/  (health: http://{addr}/healthz)");
    let drivers: Vec<String> = obs.slots.iter().map(|s| format!("{} {}", s.role, s.driver)).collect();
    say!("  devices    {}", drivers.join(", "));
    say!(
        "  agents     env (every {} s), majordome (every {} s), planner and executor (every {} s), gic (every 6 s)",
        settings.agents.env_period_s,
        settings.agents.majordome_period_s,
        settings.executor.period_s
    );
    let mut intakes = vec![format!("folder {}", settings.alert_watch_dir().display())];
    intakes.extend(settings.alerts.vtp.iter().map(|b| format!("VTP {b}")));
    if !settings.alerts.kafka.is_empty() {
        intakes.push(format!(
            "Kafka {} ({} topics)",
            settings.alerts.kafka.join(","),
            settings.alerts.kafka_topics.len()
        ));
    }
    say!("  alerts     {}", intakes.join(", "));
    say!("Press Ctrl-C to stop.");

    log(&db, ctx, LogLevel::Info, format!("Ferros started, serving http://{addr}/")).await;
    let import = ferros_request_xml::ReadOptions {
        now: ferros_domain::JulianDate::from_datetime(ctx.clock.now()).map_err(anyhow::Error::from)?,
        limits: settings.import,
        readouts: settings.executor.readouts(),
        wheels: ferros_observatory::wheels(settings),
    };
    // The Config page shows the settings in effect, the database's password hidden.
    let mut shown = settings.clone();
    shown.database_url = ferros_db::redact_url(&settings.database_url);
    let config_text =
        toml::to_string_pretty(&shown).unwrap_or_else(|e| format!("(cannot show the settings: {e})"));
    let web_settings = ferros_web::WebSettings {
        session_hours: settings.web.session_hours,
        login_failures: settings.web.login_failures as usize,
        login_window_s: settings.web.login_window_s.round() as i64,
        secure_cookies: settings.web.secure_cookies,
        webcams: settings.web.webcams.clone(),
        config_text,
        device_status_file: Some(
            settings
                .data_dir
                .join("archive")
                .join("exchange")
                .join("GIC")
                .join("TO")
                .join("device_status.json"),
        ),
        archive_root: Some(settings.data_dir.join("archive")),
        sky: Some(ferros_web::SkySettings {
            site: ferros_astro::Site::new(
                settings.site.latitude,
                settings.site.longitude,
                settings.site.elevation,
            )
            .map_err(anyhow::Error::from)?,
            night_altitude: settings.site.night_sun_altitude,
            horizon: settings.site.horizon,
        }),
        mail: Some(mail_settings(settings)?),
        proposal_deadline_days: settings.proposals.deadline_days,
    };
    let state =
        AppState::with_settings(db.clone(), ctx.clock, settings.site.name.clone(), import, web_settings);
    // One Ctrl-C stops both the web server and the agents.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let agents = {
        let mut stopped = stopped.clone();
        super::agents::run_agents(ctx, &db, &obs, None, async move {
            let _ = stopped.wait_for(|s| *s).await;
        })
    };
    let web = ferros_web::serve(listener, state, async move {
        signal.await;
        let _ = stop.send(true);
    });
    let (web, agents) = tokio::join!(web, agents);
    web.context("the web server failed")?;
    agents?;
    db.set_instance_clock(None).await?;
    log(&db, ctx, LogLevel::Info, "Ferros stopped".to_owned()).await;
    db.close().await;
    say!("Ferros stopped.");
    Ok(())
}

/// The first start creates an administrator with a random password, printed once.
async fn ensure_admin(ctx: &Context, db: &Db) -> CliResult {
    if db.count_users_with_profile(Profile::Sysadmin).await? > 0 {
        return Ok(());
    }
    let pw = ferros_auth::generate_password();
    let admin = NewUser {
        username: "admin".to_owned(),
        email: String::new(),
        password_hash: ferros_auth::hash(&pw).map_err(anyhow::Error::from)?,
        profiles: BTreeSet::from([Profile::Sysadmin]),
        programs: Vec::new(),
    };
    db.create_user(&admin, ctx.clock.now()).await.map_err(|e| match e {
        ferros_db::DbError::Conflict(_) => CliError::input(
            "no user has the sysadmin profile and the name \"admin\" is taken: add one with ferros user add NAME --profile sysadmin",
        ),
        other => other.into(),
    })?;
    say!("Created the administrator account \"admin\" with password: {pw}");
    say!("(shown only this once; keep it somewhere safe)");
    log(db, ctx, LogLevel::Info, "administrator account \"admin\" created".to_owned()).await;
    Ok(())
}

async fn log(db: &Db, ctx: &Context, level: LogLevel, message: String) {
    let entry = LogEntry { at: ctx.clock.now(), source: "ferros".to_owned(), level, message };
    if let Err(e) = db.log(&entry).await {
        tracing::warn!("cannot write to the log table: {e}");
    }
}

/// The web server's mail: the `[mail]` settings, the outbox under the data folder.
fn mail_settings(settings: &ferros_config::Settings) -> anyhow::Result<ferros_web::MailSettings> {
    let m = &settings.mail;
    let mailer = ferros_mail::Mailer::new(m, &settings.data_dir)?;
    let hours = |h: f64| chrono::TimeDelta::seconds((h * 3600.0).round() as i64);
    Ok(ferros_web::MailSettings {
        mailer: std::sync::Arc::new(mailer),
        base_url: m.base_url.clone(),
        activation: hours(m.activation_hours),
        reset: hours(m.reset_hours),
    })
}
