//! The PLC: the seeds' rain scenario through the simulator server over TCP;
//! then, on the in-process network and the virtual clock (each result the
//! same on a loaded machine), either side starting first, silences, garbage
//! and misbehaving peers.

#![allow(clippy::unwrap_used, reason = "a test fails by panicking")]

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use ferros_clock::Clock;
use ferros_devices::{DeviceError, WeatherSource, WeatherStatus};
use ferros_devices_sim::{Scenario, SimPlc};
use ferros_devices_socket::{Backoff, Listener, Network, SocketPlc, serve_plc, wire};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

mod devices;

/// The virtual clock of a test on a paused runtime (`start_paused`).
fn clock() -> Clock {
    Clock::virtual_from(Utc.with_ymd_and_hms(2026, 11, 23, 6, 0, 0).unwrap())
}

/// A PLC client on the in-process network `net`.
fn plc_client(net: &Network, addr: &str, timeout: Duration) -> SocketPlc {
    SocketPlc::new("plc", addr, clock(), timeout, backoff()).with_network(net.clone())
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
    listener: impl Into<Listener> + Send + 'static,
    clock: Clock,
    scenario: Scenario,
) -> tokio::sync::oneshot::Sender<()> {
    let plc = Arc::new(SimPlc::new("plc-sim", clock, Duration::from_secs(1), scenario).unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve_plc(listener, plc.clone(), clock, async {
        let _ = stopped.await;
    }));
    stop
}

fn rain(s: &WeatherStatus) -> f64 {
    s.sensors.iter().find(|x| x.name == "WXT520").unwrap().value("RainRate").unwrap().as_f64().unwrap()
}

/// Over real TCP: the one place where the network is the machine's.
#[tokio::test]
async fn the_rain_scenario_reaches_a_ferros_client() {
    let c = Clock::simulated(Utc::now(), 10.0).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let _stop = start_server(listener, c, rain_scenario()).await;
    // A limit no answer over the loopback comes near, however busy the machine.
    let client = SocketPlc::new("plc", &addr, c, Duration::from_secs(60), backoff());
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

#[tokio::test(start_paused = true)]
async fn the_client_may_start_first_and_reconnects() {
    let (c, net) = (clock(), Network::memory());
    let addr = "plc:5003";
    let client = plc_client(&net, addr, Duration::from_secs(1));
    let e = client.status().await.unwrap_err();
    assert!(e.to_string().contains("cannot connect to plc:5003: connection refused"), "{e}");
    let e = client.status().await.unwrap_err();
    assert!(e.to_string().contains("next attempt in"), "backing off: {e}");
    let quiet = || Scenario { iterations: 0, changes: vec![] };
    let stop = start_server(net.bind(addr).await.unwrap(), c, quiet()).await;
    // The first backoff is 50 ms of the clock, to the millisecond.
    c.sleep(Duration::from_millis(49)).await;
    assert!(
        client.status().await.unwrap_err().to_string().contains("next attempt in"),
        "not before the backoff"
    );
    c.sleep(Duration::from_millis(1)).await;
    assert!(client.status().await.is_ok(), "connected once the backoff is over");
    // The server goes away and comes back: the client follows.
    stop.send(()).unwrap();
    c.sleep(Duration::from_millis(1)).await;
    assert!(client.status().await.is_err(), "the server is gone");
    let _stop = start_server(net.bind(addr).await.unwrap(), c, quiet()).await;
    assert!(client.status().await.unwrap_err().to_string().contains("next attempt in"), "still backing off");
    c.sleep(Duration::from_millis(50)).await;
    assert!(client.status().await.is_ok(), "reconnected");
}

/// A peer on `net` that answers every request with `reply` (then maybe closes).
async fn fake_peer(net: &Network, reply: &'static [u8], close: bool) -> String {
    let mut listener = net.bind("peer:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
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
    let net = Network::memory();
    let addr = fake_peer(&net, reply, close).await;
    plc_client(&net, &addr, Duration::from_millis(300)).status().await.unwrap_err()
}

#[tokio::test(start_paused = true)]
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

#[tokio::test(start_paused = true)]
async fn the_simulator_goes_silent_and_sends_garbage_when_told() {
    let (c, net) = (clock(), Network::memory());
    let listener = net.bind("plc:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
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
    let client = plc_client(&net, &addr, Duration::from_millis(300));
    assert!(client.status().await.is_ok());
    until(1.5).await; // iteration 2: silent
    assert!(matches!(client.status().await.unwrap_err(), DeviceError::Timeout { .. }));
    until(3.5).await; // iteration 4: answers again
    assert!(client.status().await.is_ok());
    until(4.5).await; // iteration 5: garbage
    let e = client.status().await.unwrap_err();
    assert!(e.to_string().contains("unreadable"), "{e}");
    until(7.5).await; // iteration 8: answers again, once the backoff is over
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
        bypass: true,
        night_ack: true,
    };
    let mut v = wire::encode_status(&s, Utc::now());
    assert_eq!(v[0]["device"][2]["valid"], "yes");
    assert_eq!((&v[0]["bypass"], &v[0]["ack"]), (&serde_json::json!(1), &serde_json::json!(1)));
    assert_eq!(wire::decode_status(&v).unwrap(), s);
    v[0]["bypass"] = serde_json::json!("yes");
    let e = wire::decode_status(&v).unwrap_err().to_string();
    assert!(e.contains("STATUS.bypass") && e.contains("not 0 or 1"), "{e}");
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

    #[tokio::test(start_paused = true)]
    async fn weather() {
        let (c, net) = (clock(), Network::memory());
        let plc = Arc::new(
            SimPlc::new("plc-sim", c, Duration::from_secs(1), Scenario { iterations: 0, changes: vec![] })
                .unwrap(),
        );
        let handler = Arc::new(PlcHandler { source: plc.clone(), clock: c });
        let server = devices::Server::start(&net, handler).await;
        let client = plc_client(&net, &server.addr, Duration::from_millis(300));
        conformance::weather_story(&client).await.unwrap();
        // The bypass reaches the PLC, which reports it.
        assert!(!client.status().await.unwrap().value.bypass);
        client.set_bypass(true).await.unwrap();
        assert!(client.status().await.unwrap().value.bypass);
        client.set_bypass(false).await.unwrap();
        assert!(!client.status().await.unwrap().value.bypass);
        // A BYPASS without a 0 or 1 is refused, saying what is wrong.
        use ferros_devices_socket::{Handler, Reply};
        let handler = PlcHandler { source: plc.clone(), clock: c };
        for bad in [serde_json::json!(7), serde_json::json!("on"), serde_json::Value::Null] {
            let Reply::Json(answer) =
                handler.answer(&serde_json::json!({"command": [{"name": "BYPASS", "value": bad}]})).await
            else {
                panic!("no answer to a bad BYPASS");
            };
            assert_eq!(answer[0]["error"], "bad_request", "{answer}");
            assert!(answer[0]["message"].as_str().unwrap().contains("must be 0 or 1"), "{answer}");
        }
        assert!(!client.status().await.unwrap().value.bypass);
        // A fresh client for the link story, so the cut is seen on connecting.
        let client = plc_client(&net, &server.addr, Duration::from_millis(300));
        conformance::link_story(&server, Duration::from_secs(2), || async {
            client.status().await.map(|_| ())
        })
        .await
        .unwrap();
    }
}

/// Whatever a peer sends, the stream reader and the STATUS decoder answer, never panic.
mod fuzz {
    use ferros_devices_socket::stream::JsonReader;
    use proptest::prelude::*;

    use super::*;

    fn read_all(bytes: &[u8]) {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        rt.block_on(async {
            let mut r = JsonReader::with_limit(4096);
            let mut input = bytes;
            for _ in 0..100 {
                match r.next(&mut input).await {
                    Ok(v) => {
                        let _ = wire::decode_status(&v);
                        let _ = wire::command_names(&v);
                    }
                    Err(_) => break,
                }
            }
        });
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1_000))]
        #[test]
        fn any_bytes_read_without_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            read_all(&bytes);
        }

        #[test]
        fn a_damaged_status_reads_without_panic(edits in proptest::collection::vec((0usize..4000, any::<u8>()), 1..8)) {
            let status = ferros_devices_sim::PlcModel::default();
            let s = WeatherStatus {
                mode: ferros_devices::PlcMode::Auto,
                measured_at: None,
                sensors: status.sensors,
                alarms: vec![],
                bypass: false,
                night_ack: false,
            };
            let mut b = wire::encode_status(&s, Utc::now()).to_string().into_bytes();
            let n = b.len();
            for (at, x) in edits {
                b[at % n] = x;
            }
            read_all(&b);
        }
    }
}
