//! `ferros bench alert`: notices pushed through the whole path, as in a
//! night: a VOEvent Transport Protocol broker (this command, on loopback TCP)
//! sends each notice to Ferros's subscriber, which reads it, decides, stores
//! it (SQLite, in a fresh folder) and tells the agents; the planner replans,
//! the executor pre-empts the running sequence and commands the simulated
//! mount's slew. All the agents run, on simulated devices, from a dark hour
//! at the configured site at real speed. Each alert is retracted once its
//! slew is commanded, so that the next one finds the telescope busy with
//! routine work again. Prints the figures; asserts nothing.

use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use ferros_agents::alerts::{frame, read_frame};
use ferros_agents::{AgentContext, Bus, Event, Supervisor};
use ferros_clock::Clock;
use ferros_db::Db;
use ferros_devices_sim::Scenario;
use ferros_observatory::Observatory;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

use crate::context::Context;
use crate::error::{CliError, CliResult};
use crate::output::say;

/// A dark hour at the default site (San Pedro Martir), targets near the zenith.
const DARK: &str = "2026-03-01T11:30:00Z";

/// The notice sent, a real SVOM ECLAIRs notice with its ivorn, burst, trigger
/// time and position replaced for each alert.
const TEMPLATE: &str = include_str!("../../../ferros-voevent/tests/data/svom_eclairs/eclairs_301.xml");

fn failure(e: impl std::fmt::Display) -> CliError {
    CliError::Failure(anyhow::anyhow!("{e}"))
}

fn notice(i: u32, now: DateTime<Utc>) -> (String, String) {
    let ivorn = format!("ivo://org.svom/fsc#bench{i:06}_eclairs-wakeup");
    let ra = 205.0 + f64::from(i % 20) * 0.5;
    let dec = 28.0 + f64::from(i % 9) * 0.5;
    let trigger = (now - TimeDelta::seconds(30)).format("%Y-%m-%dT%H:%M:%S%.6f").to_string();
    let text = TEMPLATE
        .replace("ivo://org.svom/fsc#sb26022802_eclairs-wakeup", &ivorn)
        .replace("value=\"sb26022802\"", &format!("value=\"bench{i:06}\""))
        .replace("<ISOTime>2026-02-28T20:55:34.629000</ISOTime>", &format!("<ISOTime>{trigger}</ISOTime>"))
        .replace("<C1>237.8312</C1>", &format!("<C1>{ra:.4}</C1>"))
        .replace("<C2>26.3060</C2>", &format!("<C2>{dec:.4}</C2>"))
        .replace("<Error2Radius>0.1251</Error2Radius>", "<Error2Radius>0.0500</Error2Radius>");
    (ivorn, text)
}

fn retraction(i: u32, of: &str) -> String {
    format!(
        "<?xml version=\"1.0\"?><voe:VOEvent xmlns:voe=\"http://www.ivoa.net/xml/VOEvent/v2.0\" role=\"observation\" version=\"2.0\" \
         ivorn=\"ivo://org.svom/fsc#bench{i:06}_retraction\"><Who><AuthorIVORN>ivo://org.svom/fsc</AuthorIVORN></Who>\
         <What><Param name=\"Burst_Id\" value=\"bench{i:06}\"/></What>\
         <Citations><EventIVORN cite=\"retraction\">{of}</EventIVORN></Citations></voe:VOEvent>"
    )
}

/// A routine request that keeps the telescope busy all night near the
/// zenith: what each alert pre-empts.
async fn routine(db: &Db, settings: &ferros_config::Settings, now: DateTime<Utc>) -> CliResult {
    use ferros_domain::{JulianDate, NewProgram, Period, Priority, Profile, Seconds};
    let p = NewProgram {
        name: "BENCH".into(),
        description: "routine work for the alert bench".into(),
        period: Period::containing(now.date_naive()),
        priority: Priority::new(20).map_err(failure)?,
        quota: ferros_domain::Quota::Time(Seconds::from_hours("quota", 100.0).map_err(failure)?),
    };
    db.create_program(&p, None, now).await?;
    let user = ferros_db::NewUser {
        username: "bench".into(),
        email: String::new(),
        password_hash: "!".into(),
        profiles: [Profile::Observer].into(),
        programs: vec!["BENCH".into()],
    };
    db.create_user(&user, now).await?;
    let xml = r#"<request name="all night" scientific_program="BENCH" target_type="field" relative="1">
  <sequence name="zenith field" ra="212.0" dec="31.0" jd1="0" jd2="28800" overhead="60">
    <album name="vis" detector="VIS"><plan name="r" filter="r" exposure="10" nb_images="1500"/></album>
  </sequence>
</request>"#;
    let opts = ferros_request_xml::ReadOptions {
        now: JulianDate::from_datetime(now).map_err(failure)?,
        limits: settings.import,
        readouts: settings.executor.readouts(),
        wheels: ferros_observatory::wheels(settings),
    };
    let imported = ferros_request_xml::read_request(xml, &opts).map_err(|p| {
        failure(format!(
            "the routine request: {}",
            p.iter().map(|x| x.to_string()).collect::<Vec<_>>().join("; ")
        ))
    })?;
    db.create_request(&imported.request, "bench", true, now).await?;
    Ok(())
}

#[derive(Default)]
struct Samples {
    network: Vec<f64>,
    parse: Vec<f64>,
    store: Vec<f64>,
    slew: Vec<f64>,
    planned: Vec<f64>,
    total: Vec<f64>,
}

fn ms(a: DateTime<Utc>, b: DateTime<Utc>) -> f64 {
    (b - a).num_microseconds().unwrap_or(i64::MAX) as f64 / 1000.0
}

fn line(name: &str, v: &mut [f64]) {
    if v.is_empty() {
        say!("  {name:<40} -");
        return;
    }
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v[((v.len() as f64 - 1.0) * q).round() as usize];
    say!("  {name:<40} p50 {:>8.2}  p99 {:>8.2}  max {:>8.2}", at(0.5), at(0.99), v[v.len() - 1]);
}

pub async fn run(ctx: &Context, count: u32) -> CliResult {
    let dir = tempfile::tempdir().map_err(failure)?;
    let listener = TcpListener::bind("127.0.0.1:0").await.map_err(failure)?;
    let broker = listener.local_addr().map_err(failure)?.to_string();
    let mut settings = ctx.settings.clone();
    settings.data_dir = dir.path().to_owned();
    settings.database_url = String::new();
    settings.weather.safe_delay_s = 1.0;
    settings.alerts.vtp = vec![broker.clone()];
    settings.alerts.kafka.clear();
    settings.alerts.watch_dir = Some(dir.path().join("voevents"));
    let start: DateTime<Utc> = DARK.parse().map_err(failure)?;
    let clock = Clock::simulated(start, 1.0).map_err(failure)?;
    let obs = Observatory::build(&settings, clock, Scenario { iterations: 0, changes: Vec::new() })
        .map_err(CliError::input)?;
    let db = Db::connect(&settings.database_url()).await?;
    routine(&db, &settings, clock.now()).await?;
    let bus = Bus::default();
    let mut events = bus.subscribe();
    let actx = AgentContext::new(db.clone(), clock, bus);
    let archive = ferros_archive::Archive::open(&dir.path().join("archive")).map_err(failure)?;
    let mut supervisor = Supervisor::new(actx.clone(), Duration::from_secs(60));
    for f in ferros_agents::factories(&settings, &actx, &obs, &archive, None).map_err(CliError::input)? {
        supervisor.add(f);
    }
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(supervisor.run(async {
        let _ = stopped.await;
    }));
    say!(
        "Ferros on simulated devices from {DARK}, SQLite in {}, a VTP broker on {broker}",
        dir.path().display()
    );
    let (mut conn, _) = tokio::time::timeout(Duration::from_secs(30), listener.accept())
        .await
        .map_err(|_| failure("the alert manager did not subscribe within 30 s"))?
        .map_err(failure)?;
    let mut samples = Samples::default();
    let started = Instant::now();
    // The first alert opens the observatory (the dome takes a minute): not counted.
    for i in 0..=count {
        let sent = clock.now();
        let (ivorn, text) = notice(i, sent);
        conn.write_all(&frame(text.as_bytes())).await.map_err(failure)?;
        let ack = read_frame(&mut conn).await;
        if !matches!(&ack, ferros_agents::alerts::Incoming::Message(m) if String::from_utf8_lossy(m).contains("role=\"ack\""))
        {
            return Err(failure(format!("alert {i}: no ack: {ack:?}")));
        }
        let id = db.alert_id_by_ivorn(&ivorn).await?.ok_or_else(|| failure(format!("{ivorn} not stored")))?;
        let limit = Instant::now() + Duration::from_secs(if i == 0 { 300 } else { 60 });
        let rec = loop {
            let a = db.alert(id).await?.ok_or_else(|| failure("alert vanished"))?;
            if a.slew_at.is_some() {
                break a;
            }
            if Instant::now() > limit {
                return Err(failure(format!("alert {i} ({}): no slew commanded: {}", a.outcome, a.reason)));
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        };
        if i > 0 {
            let received = rec.received_at;
            samples.network.push(ms(sent, received));
            if let Some(p) = rec.parsed_at {
                samples.parse.push(ms(received, p));
                samples.store.push(ms(p, rec.stored_at));
            }
            if let Some(s) = rec.slew_at {
                samples.slew.push(ms(rec.stored_at, s));
                samples.total.push(ms(sent, s));
            }
            if let Some(p) = rec.planned_at {
                samples.planned.push(ms(rec.stored_at, p));
            }
        }
        // Retracted: the executor stops it and goes back to routine work.
        let request = rec.request_id.unwrap_or_default();
        conn.write_all(&frame(retraction(i, &ivorn).as_bytes())).await.map_err(failure)?;
        let _ = read_frame(&mut conn).await;
        let limit = tokio::time::Instant::now() + Duration::from_secs(60);
        let sequences: Vec<i64> = db
            .request(ferros_domain::RequestId(request))
            .await?
            .map(|r| r.sequences.iter().map(|s| s.id.0).collect())
            .unwrap_or_default();
        loop {
            match tokio::time::timeout_at(limit, events.recv()).await {
                Ok(Ok(Event::Sequence { id, state, .. }))
                    if sequences.contains(&id) && state != "EXECUTING" =>
                {
                    break;
                }
                Ok(Ok(_)) | Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => {}
                Ok(Err(e)) => return Err(failure(e)),
                Err(_) => return Err(failure(format!("alert {i}: its sequence did not stop within 60 s"))),
            }
        }
        if i > 0 && i % 100 == 0 {
            say!("  {i} alerts ({:.0} s)", started.elapsed().as_secs_f64());
        }
    }
    let _ = stop.send(());
    let _ = running.await;
    db.close().await;
    say!("{count} alerts, VTP over loopback TCP -> slew command at the simulated mount (milliseconds):");
    line("intake to slew command", &mut samples.total);
    line("  network and framing", &mut samples.network);
    line("  parsed", &mut samples.parse);
    line("  decided and stored (one commit)", &mut samples.store);
    line("  stored to slew command", &mut samples.slew);
    line("stored to planned", &mut samples.planned);
    Ok(())
}
