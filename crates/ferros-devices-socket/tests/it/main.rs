//! The PLC over TCP: the seeds' rain scenario through the simulator server,
//! either side starting first, and misbehaving peers.

#![allow(clippy::unwrap_used, reason = "a test fails by panicking")]

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use ferros_clock::Clock;
use ferros_devices::{DeviceError, WeatherSource, WeatherStatus};
use ferros_devices_sim::{Scenario, SimPlc};
use ferros_devices_socket::{Backoff, SocketPlc, serve_plc, wire};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

mod devices;

const SPEED: f64 = 10.0;

fn clock() -> Clock {
    Clock::simulated(Utc::now(), SPEED).unwrap()
}

fn backoff() -> Backoff {
    Backoff { first: Duration::from_millis(50), max: Duration::from_millis(200) }
}

fn rain_scenario() -> Scenario {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/scenarios/rain.json"))
            .unwrap();
    Scenario::parse(&text).unwrap()
}

async fn start_server(
    listener: TcpListener,
    clock: Clock,
    scenario: Scenario,
) -> tokio::sync::oneshot::Sender<()> {
    let plc = Arc::new(SimPlc::new("plc-sim", clock, Duration::from_secs(1), scenario).unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve_plc(listener, Arc::new(move |t| plc.says(t)), clock, async {
        let _ = stopped.await;
    }));
    stop
}

fn rain(s: &WeatherStatus) -> f64 {
    s.sensors.iter().find(|x| x.name == "WXT520").unwrap().value("RainRate").unwrap().as_f64().unwrap()
}

#[tokio::test]
async fn the_rain_scenario_reaches_a_ferros_client() {
    let c = clock();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let _stop = start_server(listener, c, rain_scenario()).await;
    let client = SocketPlc::new("plc", &addr, c, Duration::from_secs(2), backoff());
    let mut rained = false;
    let mut dried = false;
    // One simulated second per iteration: 12 s of simulated time.
    for _ in 0..48 {
        let s = client.status().await.unwrap().value;
        assert_eq!(s.sensors.len(), 5);
        if rain(&s) > 0.0 {
            rained = true;
        } else if rained {
            dried = true;
        }
        c.sleep(Duration::from_millis(250)).await;
    }
    assert!(rained && dried, "it rained from iteration 3 and stopped at 7");
}

#[tokio::test]
async fn the_client_may_start_first_and_reconnects() {
    let c = clock();
    let probe = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = probe.local_addr().unwrap().to_string();
    drop(probe);
    let client = SocketPlc::new("plc", &addr, c, Duration::from_secs(1), backoff());
    let e = client.status().await.unwrap_err();
    assert!(e.to_string().contains("cannot connect to"), "{e}");
    let e = client.status().await.unwrap_err();
    assert!(e.to_string().contains("next attempt in"), "backing off: {e}");
    let listener = TcpListener::bind(&addr).await.unwrap();
    let stop = start_server(listener, c, Scenario { iterations: 0, changes: vec![] }).await;
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert!(client.status().await.is_ok());
    // The server goes away and comes back: the client follows.
    stop.send(()).unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let _ = client.status().await;
    let listener = TcpListener::bind(&addr).await.unwrap();
    let _stop = start_server(listener, c, Scenario { iterations: 0, changes: vec![] }).await;
    let mut back = false;
    for _ in 0..20 {
        if client.status().await.is_ok() {
            back = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(back, "reconnected");
}

/// A peer that answers every request with `reply` (then maybe closes).
async fn fake_peer(reply: &'static [u8], close: bool) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 1024];
                loop {
                    use tokio::io::AsyncReadExt;
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(_) => {}
                    }
                    if !reply.is_empty() {
                        let _ = s.write_all(reply).await;
                    }
                    if close {
                        return;
                    }
                }
            });
        }
    });
    addr
}

async fn error_from(reply: &'static [u8], close: bool) -> DeviceError {
    let addr = fake_peer(reply, close).await;
    let client = SocketPlc::new("plc", &addr, clock(), Duration::from_millis(300), backoff());
    client.status().await.unwrap_err()
}

#[tokio::test]
async fn misbehaving_peers_give_clear_errors() {
    let e = error_from(b"this is not json\n", false).await;
    assert!(e.to_string().starts_with("plc: communication failed: STATUS: unreadable answer"), "{e}");
    let e = error_from(b"[{\"name\": \"STATUS\", \"device\": [", true).await;
    assert_eq!(
        e.to_string(),
        "plc: communication failed: STATUS: connection closed in the middle of a message"
    );
    let e = error_from(b"", false).await;
    assert!(matches!(e, DeviceError::Timeout { .. }), "a peer that hangs: {e}");
    let e = error_from(b"{\"name\": \"STATUS\"}\n", false).await;
    assert!(e.to_string().contains("bad STATUS: the answer is not a JSON list"), "{e}");
    let e = error_from(b"[{\"name\": \"STATUS\", \"device\": [{\"name\": \"WXT520\", \"type\": \"meteo\", \"valid\": \"maybe\", \"values\": []}]}]\n", false).await;
    assert!(e.to_string().contains("STATUS.device[0]: valid = \"maybe\""), "{e}");
    let e = error_from(b"[{\"name\": \"STATUS\", \"device\": [{\"name\": \"X\", \"type\": \"meteo\", \"valid\": \"yes\", \"values\": [{\"name\": \"RainRate\", \"value\": [1], \"unit\": \"mm/h\"}]}]}]\n", false).await;
    assert!(e.to_string().contains("values[0].value: not a number or a string"), "{e}");
}

#[tokio::test]
async fn the_simulator_goes_silent_and_sends_garbage_when_told() {
    // One iteration a (real) second, to leave room for the client's timeouts.
    let c = Clock::simulated(Utc::now(), 1.0).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let scenario = Scenario::parse(
        r#"[10, {"time": 2, "plcSimulator": {"silent": true}}, {"time": 4, "plcSimulator": {"silent": false}},
            {"time": 5, "plcSimulator": {"garbage": true}}, {"time": 7, "plcSimulator": {"garbage": false}}]"#,
    )
    .unwrap();
    let _stop = start_server(listener, c, scenario).await;
    let start = c.now();
    let until = |secs: f64| {
        let left = secs - (c.now() - start).num_milliseconds() as f64 / 1000.0;
        c.sleep(Duration::from_secs_f64(left.max(0.0)))
    };
    let client = SocketPlc::new("plc", &addr, c, Duration::from_millis(300), backoff());
    assert!(client.status().await.is_ok());
    until(1.5).await; // iteration 2: silent
    assert!(matches!(client.status().await.unwrap_err(), DeviceError::Timeout { .. }));
    until(4.5).await; // iteration 5: garbage
    let e = client.status().await.unwrap_err();
    assert!(e.to_string().contains("unreadable"), "{e}");
    until(7.5).await; // iteration 8: answers again
    tokio::time::sleep(Duration::from_millis(60)).await;
    assert!(client.status().await.is_ok());
}

#[test]
fn status_round_trips_through_the_wire_format() {
    let plc = ferros_devices_sim::PlcModel::default();
    let s = WeatherStatus {
        mode: ferros_devices::PlcMode::Manual,
        measured_at: Some(chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap()),
        sensors: plc.sensors,
        alarms: vec!["intrusion".into()],
    };
    let v = wire::encode_status(&s, Utc::now());
    assert_eq!(v[0]["device"][2]["valid"], "yes");
    assert_eq!(wire::decode_status(&v).unwrap(), s);
    // The seeds' own answer decodes (no mode: AUTO).
    let seed = r#"[{"name": "STATUS", "from": "Beckhoff", "version_firmware": "20170809", "site": "OSM-Mexico", "date": "2017-03-03T13:45:00", "device": [{"name": "DRD11", "type": "meteo", "serial_number": "RET6789", "valid": "yes", "values": [{"name": "analog", "value": 2.345, "unit": "V", "comment": "3V=Dry <2.5V=Rain"}, {"name": "digital", "value": 1, "unit": "bool", "comment": "1=Dry 0=Rain"}]}]}]"#;
    let d = wire::decode_status(&serde_json::from_str(seed).unwrap()).unwrap();
    assert_eq!(d.sensors[0].value("analog").unwrap().as_f64(), Some(2.345));
    assert_eq!(d.mode, ferros_devices::PlcMode::Auto);
}

/// The conformance suite on the socket PLC and its simulator server.
mod conformance {
    use super::*;
    use ferros_devices::conformance;
    use ferros_devices_socket::PlcHandler;

    #[tokio::test]
    async fn weather() {
        let c = clock();
        let plc = Arc::new(
            SimPlc::new("plc-sim", c, Duration::from_secs(1), Scenario { iterations: 0, changes: vec![] })
                .unwrap(),
        );
        let server =
            devices::Server::start(Arc::new(PlcHandler { source: Arc::new(move |t| plc.says(t)), clock: c }))
                .await;
        let client = SocketPlc::new("plc", &server.addr, c, Duration::from_millis(300), backoff());
        conformance::weather_story(&client).await.unwrap();
        // A fresh client for the link story, so the cut is seen on connecting.
        let client = SocketPlc::new("plc", &server.addr, c, Duration::from_millis(300), backoff());
        conformance::link_story(&server, Duration::from_secs(2), || async {
            client.status().await.map(|_| ())
        })
        .await
        .unwrap();
    }
}
