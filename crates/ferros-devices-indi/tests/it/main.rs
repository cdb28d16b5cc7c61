//! The INDI drivers: the XML reader, misbehaving servers, and (when
//! FERROS_TEST_INDI_ADDR names an `indiserver` running the simulators) the
//! conformance suite against Debian's indi-bin.

#![allow(clippy::unwrap_used, reason = "a test fails by panicking")]

use std::sync::Arc;
use std::time::Duration;

use chrono::TimeZone;
use ferros_clock::Clock;
use ferros_devices::net::Network;
use ferros_devices::{Camera, DeviceError, Mount, WeatherSource};
use ferros_devices_indi::xml::{
    Kind, Message, MessageReader, PropState, Value, ValueError, XmlError, number,
};
use ferros_devices_indi::{
    Backoff, IndiCamera, IndiClient, IndiDome, IndiFilterWheel, IndiMount, IndiWeather,
};
use tokio::io::AsyncWriteExt;

async fn read_all(xml: &str) -> Result<Vec<Message>, XmlError> {
    let mut r = MessageReader::new(xml.as_bytes());
    let mut out = Vec::new();
    while let Some(m) = r.next().await? {
        out.push(m);
    }
    Ok(out)
}

#[tokio::test]
async fn the_reader_takes_indi_messages() {
    let xml = r#"<?xml version="1.0"?>
<defNumberVector device="Telescope Simulator" name="EQUATORIAL_EOD_COORD" state="Idle" perm="rw">
  <defNumber name="RA" format="%010.6m">12:30:00</defNumber>
  <defNumber name="DEC">-45.5</defNumber>
</defNumberVector>
<setSwitchVector device="Dome Simulator" name="DOME_SHUTTER" state="Busy" message="Shutter is opening &amp; moving">
  <oneSwitch name="SHUTTER_OPEN">On</oneSwitch><oneSwitch name="SHUTTER_CLOSE">Off</oneSwitch>
</setSwitchVector>
<setBLOBVector device="CCD Simulator" name="CCD1" state="Ok"><oneBLOB name="CCD1" size="3" format=".fits">AAEC</oneBLOB></setBLOBVector>
<message device="CCD Simulator" message="hello"/>
<delProperty device="CCD Simulator" name="CCD1"/>
<pingRequest uid="1"/>"#;
    let m = read_all(xml).await.unwrap();
    assert_eq!(m.len(), 6);
    let Message::Vector { define: true, kind: Kind::Number, elements, .. } = &m[0] else {
        panic!("{:?}", m[0])
    };
    assert_eq!(elements["RA"], Value::Number(12.5));
    assert_eq!(elements["DEC"], Value::Number(-45.5));
    let Message::Vector { state, message, .. } = &m[1] else { panic!() };
    assert_eq!((*state, message.as_deref()), (Some(PropState::Busy), Some("Shutter is opening & moving")));
    let Message::Vector { elements, .. } = &m[2] else { panic!() };
    assert_eq!(elements["CCD1"], Value::Blob { format: ".fits".into(), data: vec![0, 1, 2] });
    assert!(matches!(&m[5], Message::Other(t) if t == "pingRequest"));
    assert_eq!(number("-12:30:36").unwrap(), -12.51);
    assert_eq!(number("12:xx"), Err(ValueError::NotANumber("12:xx".into())));
    assert!(number("NaN").is_err());
}

#[tokio::test]
async fn the_reader_says_what_is_wrong() {
    let e = read_all("this is not XML").await.unwrap_err().to_string();
    assert!(e.contains("text outside any element: \"this is not XML\""), "{e}");
    let e = read_all(r#"<setNumberVector device="T" name="EQ"><oneNumber name="RA">1"#).await.unwrap_err();
    assert_eq!(e, XmlError::ClosedIn("setNumberVector".into()));
    let e = e.to_string();
    assert_eq!(e, "connection closed in the middle of <setNumberVector>");
    let e = read_all(
        r#"<setNumberVector device="T" name="EQ"><oneNumber name="RA">north</oneNumber></setNumberVector>"#,
    )
    .await
    .unwrap_err()
    .to_string();
    assert_eq!(e, "<setNumberVector device=\"T\" name=\"EQ\">: RA: \"north\" is not a number");
    let e = read_all(
        r#"<setSwitchVector device="T" name="S"><oneSwitch name="A">Maybe</oneSwitch></setSwitchVector>"#,
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(e.ends_with("A: switch value \"Maybe\" is not On or Off"), "{e}");
    let e = read_all(r#"<setNumberVector device="T" name="EQ" state="Fine"></setNumberVector>"#)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.ends_with("state \"Fine\" is not Idle, Ok, Busy or Alert"), "{e}");
    let e =
        read_all(r#"<setNumberVector device="T" name="EQ"></setTextVector>"#).await.unwrap_err().to_string();
    assert!(e.starts_with("malformed XML"), "{e}");
    let e = read_all(r#"<setBLOBVector device="C" name="CCD1"><oneBLOB name="CCD1" size="3" format=".fits">!!!</oneBLOB></setBLOBVector>"#)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("BLOB is not base64"), "{e}");
}

/// A message that never ends takes no more than its limit: the reader fails
/// with the limit, the client then drops the connection.
#[tokio::test]
async fn a_message_longer_than_the_limit_is_refused() {
    let endless = format!(r#"<setTextVector device="T" name="N"><oneText name="A">{}"#, "x".repeat(100_000));
    let mut r = MessageReader::with_limit(endless.as_bytes(), 10_000);
    let e = r.next().await.unwrap_err().to_string();
    assert!(e.contains("in the middle of <setTextVector>: a message of more than 10000 bytes"), "{e}");
    // Each message has the limit to itself: many short ones are read whole.
    let short = r#"<setTextVector device="T" name="N"><oneText name="A">hello</oneText></setTextVector>"#;
    let stream = short.repeat(1_000);
    let mut r = MessageReader::with_limit(stream.as_bytes(), 200);
    let mut n = 0;
    while r.next().await.unwrap().is_some() {
        n += 1;
    }
    assert_eq!(n, 1_000);
}

/// A server on `net` that sends `script` to each client, then keeps the connection open.
async fn fake_server(net: &Network, script: &'static str) -> String {
    fake_server_then(net, script, false).await
}

/// A server on `net` that sends `script` to each client, then closes the connection when `close`.
async fn fake_server_then(net: &Network, script: &'static str, close: bool) -> String {
    let mut listener = net.bind("indi:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let _ = s.write_all(script.as_bytes()).await;
                if close {
                    return;
                }
                let mut buf = [0u8; 4096];
                use tokio::io::AsyncReadExt;
                while let Ok(n) = s.read(&mut buf).await
                    && n > 0
                {}
            });
        }
    });
    addr
}

const TELESCOPE: &str = r#"<defSwitchVector device="Scope" name="CONNECTION" state="Ok" perm="rw" rule="OneOfMany"><defSwitch name="CONNECT">On</defSwitch><defSwitch name="DISCONNECT">Off</defSwitch></defSwitchVector>
<defNumberVector device="Scope" name="GEOGRAPHIC_COORD" state="Ok" perm="rw"><defNumber name="LAT">31</defNumber><defNumber name="LONG">245</defNumber><defNumber name="ELEV">2800</defNumber></defNumberVector>
"#;

fn client(net: &Network, addr: &str) -> Arc<IndiClient> {
    let backoff = Backoff { first: Duration::from_millis(50), max: Duration::from_millis(200) };
    IndiClient::start_on(net.clone(), addr, Duration::from_millis(500), backoff)
}

/// The virtual clock of a test on a paused runtime.
fn clock() -> Clock {
    Clock::virtual_from(chrono::Utc.with_ymd_and_hms(2026, 11, 23, 6, 0, 0).unwrap())
}

#[tokio::test(start_paused = true)]
async fn misbehaving_servers_give_clear_errors() {
    let (c, net) = (clock(), Network::memory());
    // A device without the property a mount needs.
    let m = IndiMount::new(client(&net, &fake_server(&net, TELESCOPE).await), "Scope", "telescope", c, None);
    let e = m.state().await.unwrap_err();
    assert!(matches!(e, DeviceError::NotSupported { .. }), "{e}");
    assert!(e.to_string().contains("EQUATORIAL_EOD_COORD (the INDI device has no such property)"), "{e}");
    // A device that is not there at all.
    let m = IndiMount::new(client(&net, &fake_server(&net, TELESCOPE).await), "Other", "telescope", c, None);
    let e = m.state().await.unwrap_err().to_string();
    assert!(e.contains("no INDI device named \"Other\""), "{e}");
    // Garbage, truncated XML, a value of the wrong type: the link is dropped and retried.
    for (script, close, expected) in [
        ("garbage that is not XML\n<message message=\"hello\"/>", false, "text outside any element"),
        (
            "<defNumberVector device=\"Scope\" name=\"EQUATORIAL_EOD_COORD\"><defNumber name=\"RA\">1",
            true,
            "the middle of <defNumberVector>",
        ),
        (
            "<defNumberVector device=\"Scope\" name=\"EQUATORIAL_EOD_COORD\"><defNumber name=\"RA\">one</defNumber></defNumberVector>",
            false,
            "RA: \"one\" is not a number",
        ),
    ] {
        let addr = fake_server_then(&net, script, close).await;
        let m = IndiMount::new(client(&net, &addr), "Scope", "telescope", c, None);
        tokio::time::sleep(Duration::from_millis(100)).await;
        // Down, or up again and waiting for the next bad message: either way the error says why.
        let e = m.state().await.unwrap_err();
        assert!(matches!(e, DeviceError::Comm { .. }), "{e}");
        let text = e.to_string();
        assert!(text.contains(&format!("from {addr}")) && text.contains(expected), "{text}");
    }
    // A server that accepts and says nothing.
    let m = IndiMount::new(client(&net, &fake_server(&net, "").await), "Scope", "telescope", c, None);
    let e = m.state().await.unwrap_err().to_string();
    assert!(e.contains("no INDI device named \"Scope\""), "{e}");
    // Nobody listening.
    let m = IndiMount::new(client(&net, "nobody:7624"), "Scope", "telescope", c, None);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let e = m.state().await.unwrap_err().to_string();
    assert!(e.contains("cannot connect to nobody:7624: connection refused"), "{e}");
}

#[tokio::test(start_paused = true)]
async fn a_server_that_stops_answering_is_dropped() {
    // It answers its first client, then never a word (to the probe either).
    let net = Network::memory();
    let mut listener = net.bind("indi:7624").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut first = true;
        while let Ok((mut s, _)) = listener.accept().await {
            if std::mem::take(&mut first) {
                let _ = s.write_all(TELESCOPE.as_bytes()).await;
            }
            tokio::spawn(async move {
                use tokio::io::AsyncReadExt;
                let mut buf = [0u8; 4096];
                while let Ok(n) = s.read(&mut buf).await
                    && n > 0
                {}
            });
        }
    });
    let m = IndiMount::new(client(&net, &addr), "Scope", "telescope", clock(), None);
    assert!(matches!(m.state().await.unwrap_err(), DeviceError::NotSupported { .. }), "answering at first");
    // Silent for the whole timeout (0.5 s), even to the probe: the link is declared dead.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let e = m.state().await.unwrap_err().to_string();
    assert!(e.contains("no answer from") && e.contains("for 0.5 s"), "{e}");
}

#[tokio::test(start_paused = true)]
async fn a_command_without_answer_times_out() {
    let script = r#"<defSwitchVector device="Scope" name="CONNECTION" state="Ok"><defSwitch name="CONNECT">On</defSwitch></defSwitchVector>
<defSwitchVector device="Scope" name="TELESCOPE_PARK" state="Ok"><defSwitch name="PARK">On</defSwitch><defSwitch name="UNPARK">Off</defSwitch></defSwitchVector>
"#;
    let net = Network::memory();
    let m =
        IndiMount::new(client(&net, &fake_server(&net, script).await), "Scope", "telescope", clock(), None);
    let e = m.unpark().await.unwrap_err();
    assert!(matches!(e, DeviceError::Timeout { .. }), "{e}");
}

/// The conformance suite against indiserver and the indi-bin simulators (run by CI).
mod simulators {
    use super::*;
    use ferros_astro::Site;
    use ferros_devices::conformance::{self, Relay};

    fn server() -> Option<String> {
        std::env::var("FERROS_TEST_INDI_ADDR").ok().filter(|a| !a.is_empty())
    }

    fn connect(addr: &str) -> Arc<IndiClient> {
        IndiClient::start(
            addr,
            Duration::from_secs(10),
            Backoff { first: Duration::from_millis(100), max: Duration::from_secs(1) },
        )
    }

    #[tokio::test]
    async fn telescope() {
        let Some(addr) = server() else { return };
        let c = Clock::Real;
        let site = Site::new(31.0439, -115.4637, 2790.0).unwrap();
        let m = IndiMount::new(connect(&addr), "Telescope Simulator", "telescope", c, Some(site));
        conformance::mount_story(&m, &c).await.unwrap();
        let s = m.state().await.unwrap().value;
        assert!(s.parked);
        let relay = Relay::start(&addr).await.unwrap();
        let m = IndiMount::new(connect(&relay.addr), "Telescope Simulator", "telescope", c, None);
        conformance::link_story(&relay, Duration::from_secs(12), || async { m.state().await.map(|_| ()) })
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn dome() {
        let Some(addr) = server() else { return };
        let c = Clock::Real;
        conformance::dome_story(&IndiDome::new(connect(&addr), "Dome Simulator", "dome", c), &c)
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn ccd() {
        let Some(addr) = server() else { return };
        let c = Clock::Real;
        let cam = IndiCamera::new(connect(&addr), "CCD Simulator", "camera", c);
        conformance::camera_story(&cam, &c).await.unwrap();
        assert!(cam.capabilities().width > 0);
    }

    #[tokio::test]
    async fn filter_wheel() {
        let Some(addr) = server() else { return };
        let c = Clock::Real;
        let w = IndiFilterWheel::new(connect(&addr), "Filter Simulator", "filter wheel", c);
        conformance::filter_wheel_story(&w, &c).await.unwrap();
    }

    #[tokio::test]
    async fn weather() {
        let Some(addr) = server() else { return };
        let w = IndiWeather::new(connect(&addr), "Weather Simulator", "weather", Clock::Real);
        // The simulator publishes its parameters a moment after connecting.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        let s = loop {
            match w.status().await {
                Ok(s) if !s.value.sensors[0].values.is_empty() => break s.value,
                Ok(_) | Err(_) if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                other => panic!("no weather from the simulator: {other:?}"),
            }
        };
        let names: Vec<&str> = s.sensors[0].values.iter().map(|v| v.name.as_str()).collect();
        assert!(names.contains(&"RainRate") && names.contains(&"WindSpeed"), "{names:?}");
        conformance::weather_story(&w).await.unwrap();
    }
}

/// Whatever a server sends, the reader gives messages or an error, never panics.
mod fuzz {
    use proptest::prelude::*;

    use super::*;

    const SAMPLE: &str = r#"<defNumberVector device="T" name="EQ" state="Ok"><defNumber name="RA">12:30:00</defNumber></defNumberVector><setBLOBVector device="C" name="CCD1"><oneBLOB name="CCD1" size="3" format=".fits">AAEC</oneBLOB></setBLOBVector><delProperty device="T"/>"#;

    fn read_all(bytes: &[u8]) {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        rt.block_on(async {
            let mut r = MessageReader::with_limit(bytes, 4096);
            for _ in 0..100 {
                if !matches!(r.next().await, Ok(Some(_))) {
                    break;
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
        fn a_damaged_stream_reads_without_panic(edits in proptest::collection::vec((0usize..400, any::<u8>()), 1..8)) {
            let mut b = SAMPLE.as_bytes().to_vec();
            let n = b.len();
            for (at, x) in edits {
                b[at % n] = x;
            }
            read_all(&b);
        }
    }
}
