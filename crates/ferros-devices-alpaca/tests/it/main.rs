//! The Alpaca drivers: ImageBytes, misbehaving servers, and (when
//! FERROS_TEST_ALPACA_URL names a running `alpaca-simulators`) the conformance
//! suite against the PyPI simulators.

#![allow(clippy::unwrap_used, reason = "a test fails by panicking")]

use std::time::Duration;

use axum::Router;
use axum::routing::{get, put};
use ferros_clock::Clock;
use ferros_devices::conformance;
use ferros_devices::{Camera, DeviceError, Mount, WeatherSource};
use ferros_devices_alpaca::image_bytes::{self, Image};
use ferros_devices_alpaca::{
    AlpacaCamera, AlpacaDome, AlpacaFilterWheel, AlpacaMount, AlpacaWeather, Endpoint,
};

#[test]
fn image_bytes_round_trip_and_errors() {
    let image = Image { width: 3, height: 2, pixels: vec![1, 2, 3, 4, 5, 65535] };
    let b = image_bytes::encode(&image);
    assert_eq!(b.len(), 44 + 12);
    assert_eq!(image_bytes::parse(&b).unwrap(), image);
    // x slowest on the wire: (0,0), (0,1), (1,0)...
    assert_eq!(&b[44..50], &[1, 0, 4, 0, 2, 0]);
    assert!(
        image_bytes::parse(&b[..20]).unwrap_err().to_string().contains("shorter than the 44-byte header")
    );
    assert!(image_bytes::parse(&b[..50]).unwrap_err().to_string().contains("6 bytes of pixels for 3x2"));
    let mut rank3 = b.clone();
    rank3[28] = 3;
    assert!(image_bytes::parse(&rank3).unwrap_err().to_string().contains("rank 3"));
    let mut failed = b[..44].to_vec();
    failed[4] = 0x07;
    failed[5] = 0x04;
    failed.extend_from_slice(b"not connected");
    assert_eq!(image_bytes::parse(&failed).unwrap_err().to_string(), "Alpaca error 0x407: not connected");
    let mut huge = b[..44].to_vec();
    huge[32..36].copy_from_slice(&i32::MAX.to_le_bytes());
    huge[36..40].copy_from_slice(&i32::MAX.to_le_bytes());
    huge[24] = 2;
    let e = image_bytes::parse(&huge).unwrap_err().to_string();
    assert!(e.contains("2147483647x2147483647"), "{e}");
    let json = serde_json::json!([[1, 4], [2, 5], [3, 65535]]);
    assert_eq!(image_bytes::from_json(&json).unwrap(), image);
    assert!(
        image_bytes::from_json(&serde_json::json!([[1, 4], [2]]))
            .unwrap_err()
            .to_string()
            .contains("Value[1] has 1")
    );
}

/// A server whose telescope answers `altitude` with `body`, or never when `hang`.
async fn fake_server(body: &'static str, status: u16, hang: bool) -> String {
    let ok = r#"{"ClientTransactionID":0,"ServerTransactionID":1,"ErrorNumber":0,"ErrorMessage":""}"#;
    let app = Router::new().route("/api/v1/telescope/0/connected", put(move || async move { ok })).route(
        "/api/v1/telescope/0/altitude",
        get(move || async move {
            if hang {
                std::future::pending::<()>().await;
            }
            (axum::http::StatusCode::from_u16(status).unwrap(), body)
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

/// A limit no answer over the loopback comes near, however busy the machine.
const PATIENT: Duration = Duration::from_secs(60);

async fn altitude_error(body: &'static str, status: u16, hang: bool) -> DeviceError {
    let base = fake_server(body, status, hang).await;
    // A server that never answers is timed out whatever the limit: a short one.
    let limit = if hang { Duration::from_millis(300) } else { PATIENT };
    let ep = Endpoint::new("telescope", &base, "telescope", 0, limit);
    ep.get_f64("altitude").await.unwrap_err()
}

#[tokio::test]
async fn misbehaving_servers_give_clear_errors() {
    let z = false;
    let e = altitude_error("<html>oops</html>", 200, z).await.to_string();
    assert!(e.starts_with("telescope: communication failed: altitude: unreadable answer"), "{e}");
    let e = altitude_error(r#"{"Value": 3"#, 200, z).await.to_string();
    assert!(e.contains("altitude: unreadable answer: EOF"), "truncated: {e}");
    let e = altitude_error(r#"{"Value": 45.0}"#, 200, z).await.to_string();
    assert!(e.contains("altitude: no ErrorNumber in the answer"), "{e}");
    let e = altitude_error(r#"{"ErrorNumber": 0, "ErrorMessage": "", "Value": "high"}"#, 200, z).await;
    assert_eq!(
        e.to_string(),
        "telescope: communication failed: altitude: Value is \"high\", expected a number"
    );
    let e = altitude_error(r#"{"ErrorNumber": 0, "ErrorMessage": ""}"#, 200, z).await.to_string();
    assert!(e.contains("altitude: no \"Value\" in the answer"), "{e}");
    let e = altitude_error(r#"{"ErrorNumber": 1024, "ErrorMessage": "no encoder"}"#, 200, z).await;
    assert!(matches!(e, DeviceError::NotSupported { .. }), "{e}");
    let e = altitude_error(r#"{"ErrorNumber": 1032, "ErrorMessage": "parked"}"#, 200, z).await;
    assert_eq!(e.to_string(), "telescope is busy: altitude: parked (Alpaca error 0x408)");
    let e = altitude_error("Device number 0 out of range", 400, z).await.to_string();
    assert!(e.contains("altitude refused as malformed (HTTP 400): Device number 0 out of range"), "{e}");
    let e = altitude_error("", 200, true).await;
    assert!(matches!(e, DeviceError::Timeout { .. }), "a server that hangs: {e}");
    let base = fake_server("", 200, z).await;
    let ep = Endpoint::new("telescope", &base, "telescope", 0, PATIENT);
    let e = ep.get_f64("azimuth").await.unwrap_err();
    assert!(matches!(e, DeviceError::NotSupported { .. }) && e.to_string().contains("404"), "{e}");
    let ep = Endpoint::new("telescope", "http://127.0.0.1:9", "telescope", 0, PATIENT);
    let e = ep.get_f64("altitude").await.unwrap_err().to_string();
    assert!(e.contains("cannot connect to http://127.0.0.1:9"), "{e}");
}

/// Twenty calls at once to a device not yet connected connect it once (it
/// logged "connected" twenty times).
#[tokio::test]
async fn concurrent_first_calls_connect_once() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};
    let puts = Arc::new(AtomicU32::new(0));
    let counted = puts.clone();
    let ok = r#"{"ClientTransactionID":0,"ServerTransactionID":1,"ErrorNumber":0,"ErrorMessage":""}"#;
    let value =
        r#"{"ClientTransactionID":0,"ServerTransactionID":1,"ErrorNumber":0,"ErrorMessage":"","Value":45.0}"#;
    let app = Router::new()
        .route(
            "/api/v1/telescope/0/connected",
            put(move || async move {
                counted.fetch_add(1, Ordering::SeqCst);
                ok
            }),
        )
        .route("/api/v1/telescope/0/altitude", get(move || async move { value }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let ep = Arc::new(Endpoint::new("telescope", &format!("http://{addr}"), "telescope", 0, PATIENT));
    let calls: Vec<_> = (0..20)
        .map(|_| {
            let ep = ep.clone();
            tokio::spawn(async move { ep.get_f64("altitude").await.unwrap() })
        })
        .collect();
    for c in calls {
        assert_eq!(c.await.unwrap(), 45.0);
    }
    assert_eq!(puts.load(Ordering::SeqCst), 1);
}

/// The conformance suite against `alpaca-simulators` (run by CI).
mod simulators {
    use super::*;
    use ferros_devices::conformance::Relay;

    fn server() -> Option<String> {
        std::env::var("FERROS_TEST_ALPACA_URL").ok().filter(|u| !u.is_empty())
    }

    fn ep(base: &str, kind: &'static str) -> Endpoint {
        Endpoint::new(kind, base, kind, 0, Duration::from_secs(10))
    }

    /// A relay in front of the server, and its URL.
    async fn relay(base: &str) -> (Relay, String) {
        let target = base.trim_start_matches("http://").trim_end_matches('/');
        let relay = Relay::start(target).await.unwrap();
        let url = format!("http://{}", relay.addr);
        (relay, url)
    }

    #[tokio::test]
    async fn telescope() {
        let Some(base) = server() else { return };
        let c = Clock::Real;
        let m = AlpacaMount::new(ep(&base, "telescope"), c);
        conformance::mount_story(&m, &c).await.unwrap();
        let (relay, url) = relay(&base).await;
        let m = AlpacaMount::new(Endpoint::new("telescope", &url, "telescope", 0, Duration::from_secs(1)), c);
        conformance::link_story(&relay, Duration::from_secs(3), || async { m.state().await.map(|_| ()) })
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn dome() {
        let Some(base) = server() else { return };
        let c = Clock::Real;
        conformance::dome_story(&AlpacaDome::new(ep(&base, "dome"), c), &c).await.unwrap();
    }

    #[tokio::test]
    async fn camera() {
        let Some(base) = server() else { return };
        let c = Clock::Real;
        let cam = AlpacaCamera::new(ep(&base, "camera"), c);
        conformance::camera_story(&cam, &c).await.unwrap();
        assert_eq!(cam.capabilities().width, 1024);
        let (relay, url) = relay(&base).await;
        let cam = AlpacaCamera::new(Endpoint::new("camera", &url, "camera", 0, Duration::from_secs(1)), c);
        conformance::link_story(&relay, Duration::from_secs(3), || async { cam.state().await.map(|_| ()) })
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn filter_wheel() {
        let Some(base) = server() else { return };
        let c = Clock::Real;
        conformance::filter_wheel_story(&AlpacaFilterWheel::new(ep(&base, "filterwheel"), c), &c)
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn observing_conditions_and_safety_monitor() {
        let Some(base) = server() else { return };
        let c = Clock::Real;
        let w = AlpacaWeather::new(ep(&base, "observingconditions"), Some(ep(&base, "safetymonitor")), c);
        conformance::weather_story(&w).await.unwrap();
        let s = w.status().await.unwrap().value;
        let conditions = &s.sensors[0];
        assert_eq!(conditions.value("RainRate").and_then(|r| r.as_f64()), Some(0.0));
        assert_eq!(conditions.value("OutsideHumidity").and_then(|r| r.as_f64()), Some(60.0));
        assert_eq!(s.sensors[1].value("IsSafe").and_then(|r| r.as_f64()), Some(1.0));
    }

    #[tokio::test]
    async fn a_missing_device_is_a_clear_error() {
        let Some(base) = server() else { return };
        let m = AlpacaMount::new(
            Endpoint::new("telescope 7", &base, "telescope", 7, Duration::from_secs(5)),
            Clock::Real,
        );
        let e = m.state().await.unwrap_err().to_string();
        assert!(e.starts_with("telescope 7"), "{e}");
    }
}

/// Whatever a server sends, an image reads or is refused, never panics.
mod fuzz {
    use ferros_devices_alpaca::image_bytes::{self, Image};
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]
        #[test]
        fn any_image_bytes_read_without_panic(
            header in proptest::collection::vec(any::<i32>(), 11),
            tail in proptest::collection::vec(any::<u8>(), 0..200),
        ) {
            let mut b: Vec<u8> = header.iter().flat_map(|v| v.to_le_bytes()).collect();
            b.extend(tail);
            let _ = image_bytes::parse(&b);
        }

        #[test]
        fn a_damaged_image_reads_without_panic(edits in proptest::collection::vec((0usize..60, any::<u8>()), 1..6)) {
            let mut b = image_bytes::encode(&Image { width: 2, height: 2, pixels: vec![1, 2, 3, 4] });
            for (at, x) in edits {
                if let Some(y) = b.get_mut(at) {
                    *y = x;
                }
            }
            let _ = image_bytes::parse(&b);
        }
    }
}
