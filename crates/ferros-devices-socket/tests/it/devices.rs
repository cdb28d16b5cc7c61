//! The socket drivers of the mount, dome, cameras and filter wheels against
//! their simulator servers (the conformance suite) and against misbehaving
//! peers, on the in-process network and the virtual clock.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{TimeZone, Utc};
use ferros_astro::Site;
use ferros_clock::Clock;
use ferros_devices::conformance::{self, Link};
use ferros_devices::{Camera, DeviceError, Dome, FilterWheel, Mount};
use ferros_devices_sim::{
    CameraConfig, DomeConfig, MountConfig, SimCamera, SimDome, SimFilterWheel, SimMount,
};
use ferros_devices_socket::{
    Backoff, CameraHandler, Connection, DomeHandler, Handler, MountHandler, Network, SocketCamera,
    SocketDome, SocketFilterWheel, SocketMount, serve,
};
use tokio::sync::Mutex;

/// The virtual clock of a test on a paused runtime.
fn clock() -> Clock {
    Clock::virtual_from(Utc.with_ymd_and_hms(2026, 11, 23, 6, 0, 0).unwrap())
}

fn backoff() -> Backoff {
    Backoff { first: Duration::from_millis(50), max: Duration::from_millis(200) }
}

fn connection(net: &Network, name: &str, addr: &str) -> Connection {
    Connection::new(name, addr, Duration::from_secs(2), backoff()).with_network(net.clone())
}

/// A server on a fixed port that the test stops and starts again.
pub(crate) struct Server {
    pub(crate) addr: String,
    net: Network,
    handler: Arc<dyn Handler>,
    stop: Mutex<Option<tokio::sync::oneshot::Sender<()>>>,
}

impl Server {
    pub(crate) async fn start(net: &Network, handler: Arc<dyn Handler>) -> Server {
        let listener = net.bind("device:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let s = Server { addr, net: net.clone(), handler, stop: Mutex::new(None) };
        s.run(listener).await;
        s
    }

    async fn run(&self, listener: ferros_devices_socket::Listener) {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(serve(listener, self.handler.clone(), async {
            let _ = stopped.await;
        }));
        *self.stop.lock().await = Some(stop);
    }
}

#[async_trait]
impl Link for Server {
    async fn cut(&self) {
        if let Some(stop) = self.stop.lock().await.take() {
            let _ = stop.send(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    async fn restore(&self) {
        let listener = self.net.bind(&self.addr).await.unwrap();
        self.run(listener).await;
    }
}

fn spm() -> Site {
    Site::new(31.0439, -115.4637, 2790.0).unwrap()
}

#[tokio::test(start_paused = true)]
async fn mount_conformance() {
    let (c, net) = (clock(), Network::memory());
    let sim: Arc<dyn Mount> = Arc::new(SimMount::new("sim", spm(), c, MountConfig::default()));
    let server = Server::start(&net, Arc::new(MountHandler(sim))).await;
    let m = SocketMount::new(connection(&net, "telescope", &server.addr), c);
    conformance::mount_story(&m, &c).await.unwrap();
    conformance::link_story(&server, Duration::from_secs(3), || async { m.state().await.map(|_| ()) })
        .await
        .unwrap();
}

#[tokio::test(start_paused = true)]
async fn dome_conformance() {
    let (c, net) = (clock(), Network::memory());
    let sim: Arc<dyn Dome> = Arc::new(SimDome::new("sim", c, DomeConfig::default(), None));
    let server = Server::start(&net, Arc::new(DomeHandler(sim))).await;
    let d = SocketDome::new(connection(&net, "dome", &server.addr), c);
    conformance::dome_story(&d, &c).await.unwrap();
    conformance::link_story(&server, Duration::from_secs(3), || async { d.state().await.map(|_| ()) })
        .await
        .unwrap();
}

fn camera_server_handler(c: Clock) -> Arc<dyn Handler> {
    let config = CameraConfig { width: 320, height: 200, ..CameraConfig::default() };
    let camera: Arc<dyn Camera> = Arc::new(SimCamera::new("sim", c, config, None));
    let wheel: Arc<dyn FilterWheel> =
        Arc::new(SimFilterWheel::new("sim wheel", c, ["g", "r", "i", "z"].map(String::from).to_vec(), 2.0));
    Arc::new(CameraHandler { camera, wheel: Some(wheel) })
}

#[tokio::test(start_paused = true)]
async fn camera_and_filter_wheel_conformance() {
    let (c, net) = (clock(), Network::memory());
    let server = Server::start(&net, camera_server_handler(c)).await;
    let cam = SocketCamera::new(connection(&net, "camera-vis", &server.addr), c);
    conformance::camera_story(&cam, &c).await.unwrap();
    assert_eq!((cam.capabilities().width, cam.capabilities().height), (320, 200));
    let wheel = SocketFilterWheel::new(connection(&net, "filter-vis", &server.addr), c);
    conformance::filter_wheel_story(&wheel, &c).await.unwrap();
    conformance::link_story(&server, Duration::from_secs(3), || async { cam.state().await.map(|_| ()) })
        .await
        .unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_full_frame_crosses_the_socket_intact() {
    let (c, net) = (clock(), Network::memory());
    let config = CameraConfig::default();
    let camera: Arc<dyn Camera> = Arc::new(SimCamera::new("sim", c, config, None));
    let server = Server::start(&net, Arc::new(CameraHandler { camera, wheel: None })).await;
    let cam = SocketCamera::new(connection(&net, "camera-vis", &server.addr), c);
    let dark = ferros_devices::Exposure {
        duration: 1.0,
        frame: ferros_devices::FrameType::Dark,
        binning: 1,
        window: None,
    };
    cam.expose(&dark).await.unwrap();
    ferros_devices::wait_for(
        &c,
        "cam",
        "readout",
        Duration::from_secs(1),
        Duration::from_secs(60),
        async || cam.state().await,
        |s| s.value.activity == ferros_devices::CameraActivity::Ready,
    )
    .await
    .unwrap();
    let remote = cam.image().await.unwrap();
    assert_eq!((remote.width, remote.height, remote.pixels.len()), (1024, 1024, 1024 * 1024));
    assert_eq!(remote.exposure, dark);
    let mean = remote.pixels.iter().map(|&p| f64::from(p)).sum::<f64>() / remote.pixels.len() as f64;
    assert!((mean - config.bias).abs() < 50.0, "a dark frame near the bias level: {mean}");
    let spread =
        remote.pixels.iter().filter(|&&p| f64::from(p) > config.bias + 5.0 * config.read_noise).count();
    assert!(spread > 0, "hot pixels and noise made it through");
    // Without a wheel, filter commands are refused as such.
    let wheel = SocketFilterWheel::new(connection(&net, "filter-vis", &server.addr), c);
    assert!(matches!(wheel.select(1).await.unwrap_err(), DeviceError::NotSupported { .. }));
}

#[tokio::test(start_paused = true)]
async fn device_errors_cross_the_socket_with_their_kind() {
    let (c, net) = (clock(), Network::memory());
    let sim: Arc<dyn Mount> =
        Arc::new(SimMount::new("sim", spm(), c, MountConfig { horizon: 10.0, ..MountConfig::default() }));
    let server = Server::start(&net, Arc::new(MountHandler(sim))).await;
    let m = SocketMount::new(connection(&net, "telescope", &server.addr), c);
    m.unpark().await.unwrap();
    let e = m.slew_altaz(5.0, 100.0).await.unwrap_err();
    assert!(matches!(e, DeviceError::Limit { .. }), "{e}");
    assert!(e.to_string().starts_with("telescope: "), "{e}");
    // The connection stays up after a refused command.
    assert!(m.state().await.is_ok());
}

/// A peer on `net` answering every request with `reply`.
async fn fake_peer(net: &Network, reply: &'static [u8]) -> String {
    let mut listener = net.bind("peer:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let mut buf = [0u8; 1024];
                while let Ok(n) = s.read(&mut buf).await
                    && n > 0
                {
                    if !reply.is_empty() {
                        let _ = s.write_all(reply).await;
                    }
                }
            });
        }
    });
    addr
}

async fn mount_error(reply: &'static [u8]) -> String {
    let net = Network::memory();
    let addr = fake_peer(&net, reply).await;
    let conn = Connection::new("telescope", &addr, Duration::from_millis(300), backoff()).with_network(net);
    let m = SocketMount::new(conn, clock());
    m.state().await.unwrap_err().to_string()
}

#[tokio::test(start_paused = true)]
async fn misbehaving_peers_give_clear_errors() {
    let e = mount_error(b"<xml>not json</xml>\n").await;
    assert!(e.contains("STATUS: unreadable answer"), "{e}");
    let e = mount_error(b"[{\"name\": \"STATUS\", \"connected\": tr").await;
    assert!(e.contains("did not answer"), "truncated, then nothing: {e}");
    let e = mount_error(b"").await;
    assert!(e.contains("did not answer within 0.3 s (STATUS)"), "{e}");
    let e = mount_error(b"[{\"name\": \"GOSSIP\"}]\n").await;
    assert!(e.contains("answer to STATUS has no STATUS object (got [\"GOSSIP\"])"), "{e}");
    let e = mount_error(b"[{\"name\": \"STATUS\", \"connected\": \"yes\"}]\n").await;
    assert!(e.contains("bad STATUS.capabilities") || e.contains("bad STATUS: connected"), "{e}");
    let e = mount_error(
        b"[{\"name\": \"STATUS\", \"capabilities\": {\"slew_altaz\": true, \"park\": true, \"home\": true, \"tracking\": true}, \"connected\": \"yes\"}]\n",
    )
    .await;
    assert!(e.contains("bad STATUS: connected: invalid type: string \"yes\", expected a boolean"), "{e}");
    let e = mount_error(
        b"[{\"name\": \"ERROR\", \"error\": \"not_supported\", \"message\": \"unknown command STATUS\"}]\n",
    )
    .await;
    assert_eq!(e, "telescope cannot unknown command STATUS");
}

#[tokio::test(start_paused = true)]
async fn a_bad_image_is_refused_and_the_link_reopened() {
    let net = Network::memory();
    let addr = fake_peer(&net, b"[{\"name\": \"IMAGE\", \"width\": 2, \"height\": 2, \"started\": \"2026-11-22T00:00:00Z\", \"exposure\": {\"duration\": 1.0, \"frame\": \"dark\", \"binning\": 1, \"window\": null}, \"encoding\": \"u16le+base64\", \"pixels\": \"AAAA\"}]\n").await;
    let conn = Connection::new("cam", &addr, Duration::from_millis(300), backoff()).with_network(net);
    let cam = SocketCamera::new(conn, clock());
    let e = cam.image().await.unwrap_err().to_string();
    assert!(e.contains("IMAGE.pixels: 3 bytes for a 2x2 image (expected 8)"), "{e}");
    let e = cam.image().await.unwrap_err().to_string();
    assert!(e.contains("next attempt in"), "{e}");
}

#[tokio::test(start_paused = true)]
async fn the_server_refuses_malformed_commands() {
    let (c, net) = (clock(), Network::memory());
    let sim: Arc<dyn Dome> = Arc::new(SimDome::new("sim", c, DomeConfig::default(), None));
    let server = Server::start(&net, Arc::new(DomeHandler(sim))).await;
    let conn = connection(&net, "dome", &server.addr);
    let ask = async |req: serde_json::Value| conn.exchange("test", &req).await.unwrap().to_string();
    let r = ask(serde_json::json!({"command": [{"name": "SLEW_AZIMUTH", "azimuth": "north"}]})).await;
    assert!(
        r.contains("bad_request")
            && r.contains("SLEW_AZIMUTH: \\\"azimuth\\\" is \\\"north\\\", not a number"),
        "{r}"
    );
    let r = ask(serde_json::json!({"order": "open"})).await;
    assert!(r.contains("expected {\\\"command\\\""), "{r}");
    let r = ask(serde_json::json!({"command": [{"name": "FLY"}]})).await;
    assert!(r.contains("not_supported") && r.contains("unknown command FLY"), "{r}");
    // A camera asked for windows near u32::MAX refuses them; its server lives on.
    let camera = Server::start(&net, camera_server_handler(c)).await;
    let conn = connection(&net, "camera", &camera.addr);
    for window in [[1_u64, 1, 4_294_967_295, 4_294_967_295], [1, 0, 4_294_967_295, 1]] {
        let expose = serde_json::json!({"command": [{"name": "EXPOSE", "duration": 1.0, "frame": "bias",
            "binning": 1, "window": window}]});
        let r = conn.exchange("test", &expose).await.unwrap().to_string();
        assert!(r.contains("limit") && r.contains("outside 320x200"), "{r}");
    }
    let status = serde_json::json!({"command": [{"name": "STATUS"}]});
    assert!(conn.exchange("test", &status).await.unwrap().to_string().contains("\"STATUS\""));
}
