//! The majordome on the simulated observatory: rain while the dome is open
//! closes it and parks the mount within the reaction time.

use std::sync::Arc;
use std::time::Duration;

use ferros_agents::{Agent, EnvAgent, Factory, MajordomeAgent};
use ferros_clock::Clock;
use ferros_devices::Shutter;
use ferros_devices_sim::Scenario;
use ferros_observatory::Observatory;

use super::{Harness, safe, settings, start_time};

/// ENV (reading the dome too, if `dome`) and the majordome, on `obs`.
fn env_and_majordome(s: &ferros_config::Settings, obs: &Observatory, dome: bool) -> [Factory; 2] {
    let env: Factory = {
        let (s, w, d) = (s.clone(), obs.weather.clone().unwrap(), obs.dome.clone().filter(|_| dome));
        let obs = obs.clone();
        Arc::new(move || Box::new(EnvAgent::new(&s, obs.site, w.clone(), d.clone())) as Box<dyn Agent>)
    };
    let majordome: Factory = {
        let (s, o) = (s.clone(), obs.clone());
        Arc::new(move || Box::new(MajordomeAgent::new(&s, o.clone())) as Box<dyn Agent>)
    };
    [env, majordome]
}

#[tokio::test(start_paused = true)]
async fn rain_closes_the_dome_and_parks_the_mount_in_time() {
    let c = Clock::virtual_from(start_time());
    let mut s = settings();
    s.agents.majordome_period_s = 2.0;
    s.weather.safe_delay_s = 4.0;
    // Rain from the PLC's 100th second.
    let scenario = Scenario::parse(
        r#"[200, {"time": 100, "plcSimulator": {"device_name": "WXT520", "value_name": "RainRate", "value": 8.0}}]"#,
    )
    .unwrap();
    let obs = Observatory::build(&s, c, scenario).unwrap();
    let (dome, mount) = (obs.dome.clone().unwrap(), obs.mount.clone().unwrap());
    let motions = obs.sim.mount.as_ref().unwrap().motions.clone();
    motions.start_recording();
    let [env, majordome] = env_and_majordome(&s, &obs, true);
    let h = Harness::start(vec![env, majordome], c).await;
    h.until(60.0, "safe", safe).await;
    // An observer opens and points, as the executor will.
    dome.open().await.unwrap();
    mount.unpark().await.unwrap();
    mount.slew_altaz(60.0, 150.0).await.unwrap();
    let rain_at = start_time() + chrono::TimeDelta::seconds(100);
    // Until the rain the dome opens (a minute) and stays open.
    let mut opened = false;
    while c.now() < rain_at {
        let shutter = dome.state().await.unwrap().value.shutter;
        assert_ne!(shutter, Shutter::Closed, "closed before the rain");
        opened |= shutter == Shutter::Opened;
        c.sleep(Duration::from_millis(400)).await;
    }
    assert!(opened, "the dome had opened before the rain");
    // The dome starts closing within an ENV period, a majordome period and a little.
    let mut closing_at = None;
    let deadline = c.now() + chrono::TimeDelta::seconds(200);
    loop {
        let d = dome.state().await.unwrap().value;
        let m = mount.state().await.unwrap().value;
        if closing_at.is_none() && d.shutter != Shutter::Opened {
            closing_at = Some(c.now());
        }
        if d.shutter == Shutter::Closed && m.parked && !m.slewing {
            break;
        }
        assert!(c.now() < deadline, "not secured: {d:?} {m:?}");
        c.sleep(Duration::from_millis(400)).await;
    }
    // One park: a park in progress is progress, never aborted and sent again
    // at the next tick (a real mount slower than a tick would never park).
    let slews: Vec<_> =
        motions.recorded().into_iter().filter(|m| m.what == "slew" && m.start >= rain_at).collect();
    assert_eq!(slews.len(), 1, "{slews:?}");
    let reaction = (closing_at.unwrap() - rain_at).num_milliseconds() as f64 / 1000.0;
    println!("reaction to rain: {reaction:.1} s of clock (ENV period 2 s, majordome period 2 s)");
    assert!(reaction <= 2.0 + 2.0 + 1.5, "the dome started closing {reaction} s after the rain");
    let logs = h.db.recent_logs(100).await.unwrap();
    assert!(
        logs.iter().any(|l| l.source == "majordome" && l.message == "SCHEDULER (ready) -> CLOSING"),
        "{logs:?}"
    );
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_lock_outlives_a_restart_of_the_majordome() {
    let c = Clock::virtual_from(start_time());
    let s = settings();
    let obs = Observatory::build(&s, c, Scenario { iterations: 0, changes: vec![] }).unwrap();
    let [env, majordome] = env_and_majordome(&s, &obs, false);
    let h = Harness::start(vec![env, majordome], c).await;
    let state = async || {
        let (_, body) = h.db.majordome_state().await.unwrap().unwrap_or_default();
        serde_json::from_str::<serde_json::Value>(&body).unwrap_or_default()
    };
    // Safe, secured, in the scheduler's standby or ready: lock it (LOCK is
    // offered only when SAFE).
    let deadline = c.now() + chrono::TimeDelta::seconds(100);
    while !(state().await["mode"].as_str().unwrap_or_default().starts_with("SCHEDULER")
        && state().await["safe"] == true)
    {
        assert!(c.now() < deadline, "{}", state().await);
        c.sleep(Duration::from_secs(1)).await;
    }
    let u = ferros_db::NewUser {
        username: "olga".into(),
        email: String::new(),
        password_hash: "x".into(),
        profiles: [ferros_domain::Profile::Operator].into(),
        programs: vec![],
    };
    h.db.create_user(&u, c.now()).await.unwrap();
    let id = h.db.submit_command("olga", "lock", c.now()).await.unwrap();
    while h.db.control_command(id).await.unwrap().unwrap().state == "pending" {
        c.sleep(Duration::from_secs(1)).await;
    }
    let lock = h.db.control_command(id).await.unwrap().unwrap();
    assert_eq!(lock.state, "accepted", "{}", lock.reason);
    // The state stored before the answer already says LOCKED.
    assert_eq!(state().await["locked"], true, "{}", state().await);
    while state().await["mode"] != "STANDBY" {
        assert!(c.now() < deadline, "{}", state().await);
        c.sleep(Duration::from_secs(1)).await;
    }
    h.handle.kill("majordome").await;
    let logs_deadline = c.now() + chrono::TimeDelta::seconds(100);
    loop {
        let logs = h.db.recent_logs(50).await.unwrap();
        if logs.iter().any(|l| l.message == "the observatory was locked: it stays locked") {
            break;
        }
        assert!(c.now() < logs_deadline, "{logs:?}");
        c.sleep(Duration::from_secs(1)).await;
    }
    c.sleep(Duration::from_secs(6)).await;
    let v = state().await;
    assert_eq!((v["mode"].as_str(), v["locked"].as_bool()), (Some("STANDBY"), Some(true)), "{v}");
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn the_device_status_list_is_published_for_the_gic() {
    let c = Clock::virtual_from(start_time());
    let s = settings();
    let obs = Observatory::build(&s, c, Scenario { iterations: 0, changes: vec![] }).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let archive = ferros_archive::Archive::open(dir.path()).unwrap();
    let gic: Factory = {
        let (o, a) = (obs.clone(), archive.clone());
        Arc::new(move || {
            Box::new(ferros_agents::GicPublisher::new(o.clone(), a.clone(), Duration::from_secs(6)))
                as Box<dyn Agent>
        })
    };
    let h = Harness::start(vec![gic], c).await;
    let file = archive.exchange("GIC", "TO").join(ferros_agents::DEVICE_STATUS_FILE);
    let deadline = c.now() + chrono::TimeDelta::seconds(100);
    let mut dates = std::collections::BTreeSet::new();
    while dates.len() < 2 {
        if let Ok(text) = std::fs::read_to_string(&file) {
            let v: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert_eq!(v["devices"].as_array().unwrap().len(), 7);
            assert_eq!(v["devices"][1]["state"]["shutter"], "closed");
            dates.insert(v["date"].as_str().unwrap().to_owned());
        }
        assert!(c.now() < deadline, "not replaced every 6 s: {dates:?}");
        c.sleep(Duration::from_secs(1)).await;
    }
    assert!(!archive.exchange("GIC", "TO").join("device_status.json.tmp").exists());
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn devices_are_commanded_by_hand_in_remote() {
    let c = Clock::virtual_from(start_time());
    let s = settings();
    let obs = Observatory::build(&s, c, Scenario { iterations: 0, changes: vec![] }).unwrap();
    let dome = obs.dome.clone().unwrap();
    let [env, majordome] = env_and_majordome(&s, &obs, false);
    let h = Harness::start(vec![env, majordome], c).await;
    h.until(60.0, "safe", safe).await;
    for (name, profile) in
        [("ivan", ferros_domain::Profile::Engineer), ("oscar", ferros_domain::Profile::Observer)]
    {
        let u = ferros_db::NewUser {
            username: name.into(),
            email: String::new(),
            password_hash: "x".into(),
            profiles: [profile].into(),
            programs: vec![],
        };
        h.db.create_user(&u, c.now()).await.unwrap();
    }
    let answer = async |who: &str, what: &str| {
        let id = h.db.submit_command(who, what, c.now()).await.unwrap();
        let deadline = c.now() + chrono::TimeDelta::seconds(100);
        loop {
            let cmd = h.db.control_command(id).await.unwrap().unwrap();
            if cmd.state != "pending" {
                return (cmd.state, cmd.reason);
            }
            assert!(c.now() < deadline, "{what}: no answer");
            c.sleep(Duration::from_millis(600)).await;
        }
    };
    let (state, why) = answer("ivan", "device dome open").await;
    assert_eq!(state, "refused");
    assert!(why.contains("only in REMOTE"), "{why}");
    // A command left pending for long (its giver interrupted) is not carried out late.
    let old =
        h.db.submit_command("ivan", "go_remote", c.now() - chrono::TimeDelta::minutes(10)).await.unwrap();
    while h.db.control_command(old).await.unwrap().unwrap().state == "pending" {
        c.sleep(Duration::from_millis(600)).await;
    }
    let stale = h.db.control_command(old).await.unwrap().unwrap();
    assert_eq!(stale.state, "refused");
    assert!(
        stale.reason.starts_with("expired: given at") && stale.reason.contains("s ago), more than the 120 s"),
        "{}",
        stale.reason
    );
    assert_eq!(answer("ivan", "go_remote").await.0, "accepted");
    let (state, why) = answer("oscar", "device dome open").await;
    assert!(state == "refused" && why.contains("engineers and operators"), "{why}");
    let (state, why) = answer("ivan", "device telescope slew 400 0").await;
    assert!(state == "refused" && why.contains("must be a number in 0..360"), "{why}");
    assert_eq!(answer("ivan", "device dome open").await, ("accepted".to_owned(), String::new()));
    c.sleep(Duration::from_secs(4)).await;
    assert_ne!(dome.state().await.unwrap().value.shutter, Shutter::Closed, "the dome opens");
    assert_eq!(answer("ivan", "device filter_vis select V").await.0, "accepted");
    let (state, why) = answer("ivan", "device filter_nir select Q").await;
    assert!(state == "refused" && why.contains("Q"), "{why}");
    assert_eq!(answer("ivan", "device dome close").await.0, "accepted");
    h.stop().await;
}

/// A mount that stops answering leaves the majordome knowing neither where
/// it is nor (the dome following it) where the dome is: that is not secured.
/// UNSAFE then still closes the dome, which needs no mount to close. (The
/// majordome once counted devices that did not answer as secured and kept
/// the dome open until the mount answered again.)
#[tokio::test(start_paused = true)]
async fn a_silent_mount_does_not_keep_the_dome_open_when_unsafe() {
    let c = Clock::virtual_from(start_time());
    let mut s = settings();
    s.agents.majordome_period_s = 2.0;
    s.weather.safe_delay_s = 4.0;
    let scenario = Scenario::parse(
        r#"[400, {"time": 200, "plcSimulator": {"device_name": "WXT520", "value_name": "RainRate", "value": 8.0}}]"#,
    )
    .unwrap();
    let obs = Observatory::build(&s, c, scenario).unwrap();
    let (dome, mount) = (obs.dome.clone().unwrap(), obs.mount.clone().unwrap());
    let inside = obs.sim.dome.clone().unwrap();
    let [env, majordome] = env_and_majordome(&s, &obs, true);
    let h = Harness::start(vec![env, majordome], c).await;
    h.until(60.0, "safe", safe).await;
    dome.open().await.unwrap();
    mount.unpark().await.unwrap();
    mount.slew_altaz(60.0, 150.0).await.unwrap();
    dome.set_slaved(true).await.unwrap();
    c.sleep(Duration::from_secs(90)).await;
    assert_eq!(inside.shutter(), Shutter::Opened);
    obs.sim.mount.as_ref().unwrap().faults.set(ferros_devices_sim::Fault::Unreachable);
    let rain_at = start_time() + chrono::TimeDelta::seconds(200);
    while c.now() < rain_at {
        c.sleep(Duration::from_secs(1)).await;
    }
    // Closing within an ENV period, a majordome period and a little; closed a minute later.
    c.sleep(Duration::from_secs(6)).await;
    assert_ne!(inside.shutter(), Shutter::Opened, "the dome is still open 6 s after the rain");
    c.sleep(Duration::from_secs(70)).await;
    assert_eq!(inside.shutter(), Shutter::Closed);
    let logs = h.db.recent_logs(200).await.unwrap();
    assert!(logs.iter().any(|l| l.source == "majordome" && l.message.ends_with("-> CLOSING")), "{logs:?}");
    h.stop().await;
}

/// The PLC bypass of the control page reaches the simulated PLC, which
/// confirms it in its status; a PLC that ignores it ends in "PLC KO" and
/// the bypass is undone. The night ACK comes from the PLC's button.
#[tokio::test(start_paused = true)]
async fn the_bypass_reaches_the_plc_and_the_night_ack_comes_from_its_button() {
    let c = Clock::virtual_from(start_time());
    let mut s = settings();
    s.agents.majordome_period_s = 2.0;
    let scenario = Scenario::parse(
        r#"[400,
            {"time": 1, "plcSimulator": {"device_name": "WXT520", "value_name": "RainRate", "value": 8.0}},
            {"time": 5, "plcSimulator": {"ack": true}},
            {"time": 200, "plcSimulator": {"refuse_bypass": true}}]"#,
    )
    .unwrap();
    let obs = Observatory::build(&s, c, scenario).unwrap();
    let plc = obs.sim.plc.clone().unwrap();
    let [env, majordome] = env_and_majordome(&s, &obs, false);
    let h = Harness::start(vec![env, majordome], c).await;
    let state = async || {
        let (_, body) = h.db.majordome_state().await.unwrap().unwrap_or_default();
        serde_json::from_str::<serde_json::Value>(&body).unwrap_or_default()
    };
    let until = async |what: &str, ok: &dyn Fn(&serde_json::Value) -> bool| {
        let deadline = c.now() + chrono::TimeDelta::seconds(100);
        loop {
            let v = state().await;
            if ok(&v) {
                return v;
            }
            assert!(c.now() < deadline, "{what}: {v}");
            c.sleep(Duration::from_secs(1)).await;
        }
    };
    let v = until("unsafe, secured, acknowledged", &|v| {
        v["env"] == "UNSAFE" && v["mode"] == "SCHEDULER (standby)" && v["night_ack"].is_string()
    })
    .await;
    assert_eq!(v["bypass"], "off");
    let logs = h.db.recent_logs(100).await.unwrap();
    assert!(logs.iter().any(|l| l.message.ends_with("given at the PLC")), "{logs:?}");
    let u = ferros_db::NewUser {
        username: "olga".into(),
        email: String::new(),
        password_hash: "x".into(),
        profiles: [ferros_domain::Profile::Operator].into(),
        programs: vec![],
    };
    h.db.create_user(&u, c.now()).await.unwrap();
    let answer = async |what: &str| {
        let id = h.db.submit_command("olga", what, c.now()).await.unwrap();
        loop {
            let cmd = h.db.control_command(id).await.unwrap().unwrap();
            if cmd.state != "pending" {
                return (cmd.state, cmd.reason);
            }
            c.sleep(Duration::from_millis(500)).await;
        }
    };
    assert_eq!(answer("plc_bypass").await.0, "accepted");
    let v = until("bypass confirmed", &|v| v["bypass"] == "on").await;
    assert_eq!((v["safe"].as_bool(), v["env"].as_str()), (Some(true), Some("UNSAFE")), "{v}");
    assert!(plc.model(c.now()).bypass, "the simulated PLC holds the bypass");
    let logs = h.db.recent_logs(100).await.unwrap();
    assert!(logs.iter().any(|l| l.message.starts_with("the PLC confirmed the bypass after")), "{logs:?}");
    assert_eq!(answer("stop_plc_bypass").await.0, "accepted");
    until("bypass off", &|v| v["bypass"] == "off" && v["safe"] == false).await;
    assert!(!plc.model(c.now()).bypass);
    // From the PLC's 200th second it ignores the bypass: undone after 30 s.
    let refusing = start_time() + chrono::TimeDelta::seconds(205);
    c.sleep((refusing - c.now()).to_std().unwrap_or_default()).await;
    assert_eq!(answer("plc_bypass").await.0, "accepted");
    until("bypass asked", &|v| v["bypass"].get("pending").is_some()).await;
    until("bypass undone", &|v| v["bypass"] == "off").await;
    let logs = h.db.recent_logs(100).await.unwrap();
    assert!(
        logs.iter().any(|l| l.message == "PLC KO: the bypass was not confirmed within 30 s; undone"),
        "{logs:?}"
    );
    h.stop().await;
}
