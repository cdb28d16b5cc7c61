//! The conformance suite: one story per device kind, the same for every driver
//! (simulators, PyROS sockets, INDI, Alpaca). Each driver's tests run these
//! stories against it; a story fails with what went wrong.
//!
//! The failure stories need the test to break and restore the link to the
//! device, which each driver does its own way: see [`Link`].

use std::time::Duration;

use async_trait::async_trait;
use ferros_clock::Clock;

use crate::{
    Camera, CameraActivity, DeviceError, Dome, Exposure, FilterWheel, FrameType, Mount, Shutter,
    WeatherSource, bounded, wait_for,
};

pub type Story = Result<(), String>;

fn fail(what: &str, e: impl std::fmt::Display) -> String {
    format!("{what}: {e}")
}

const POLL: Duration = Duration::from_secs(1);

/// A driver's way to cut and restore the link to its device.
#[async_trait]
pub trait Link: Send + Sync {
    /// From now on the device does not answer.
    async fn cut(&self);
    async fn restore(&self);
}

/// Connect, read the state, move, abort, park.
pub async fn mount_story(m: &dyn Mount, clock: &Clock) -> Story {
    let s = m.state().await.map_err(|e| fail("state", e))?.value;
    if !s.connected {
        return Err("state: not connected".into());
    }
    if s.parked {
        m.unpark().await.map_err(|e| fail("unpark", e))?;
    }
    m.slew_altaz(50.0, 120.0).await.map_err(|e| fail("slew_altaz", e))?;
    let done = wait_for(
        clock,
        m.name(),
        "slew",
        POLL,
        Duration::from_secs(300),
        async || m.state().await,
        |s| !s.value.slewing,
    )
    .await
    .map_err(|e| fail("slew", e))?
    .value;
    if (done.alt - 50.0).abs() > 0.5 || ((done.az - 120.0 + 540.0) % 360.0 - 180.0).abs() > 0.5 {
        return Err(format!("slew ended at alt {:.2} az {:.2}, not 50/120", done.alt, done.az));
    }
    m.slew_altaz(30.0, 300.0).await.map_err(|e| fail("second slew", e))?;
    m.abort().await.map_err(|e| fail("abort", e))?;
    let s = m.state().await.map_err(|e| fail("state after abort", e))?.value;
    if s.slewing {
        return Err("still slewing after abort".into());
    }
    if m.capabilities().park {
        m.park().await.map_err(|e| fail("park", e))?;
        wait_for(
            clock,
            m.name(),
            "park",
            POLL,
            Duration::from_secs(300),
            async || m.state().await,
            |s| s.value.parked,
        )
        .await
        .map_err(|e| fail("park", e))?;
    }
    Ok(())
}

/// Open and close the shutter, turn the slit.
pub async fn dome_story(d: &dyn Dome, clock: &Clock) -> Story {
    d.open().await.map_err(|e| fail("open", e))?;
    wait_for(
        clock,
        d.name(),
        "open",
        POLL,
        Duration::from_secs(300),
        async || d.state().await,
        |s| s.value.shutter == Shutter::Opened,
    )
    .await
    .map_err(|e| fail("open", e))?;
    if d.capabilities().azimuth {
        d.slew_azimuth(90.0).await.map_err(|e| fail("slew_azimuth", e))?;
        let s = wait_for(
            clock,
            d.name(),
            "rotate",
            POLL,
            Duration::from_secs(300),
            async || d.state().await,
            |s| !s.value.slewing,
        )
        .await
        .map_err(|e| fail("rotate", e))?;
        if (s.value.azimuth - 90.0).abs() > 1.0 {
            return Err(format!("dome at azimuth {}, not 90", s.value.azimuth));
        }
    }
    d.close().await.map_err(|e| fail("close", e))?;
    wait_for(
        clock,
        d.name(),
        "close",
        POLL,
        Duration::from_secs(300),
        async || d.state().await,
        |s| s.value.shutter == Shutter::Closed,
    )
    .await
    .map_err(|e| fail("close", e))?;
    Ok(())
}

/// Every filter in turn, by name.
pub async fn filter_wheel_story(w: &dyn FilterWheel, clock: &Clock) -> Story {
    let names = w.state().await.map_err(|e| fail("state", e))?.value.names;
    if names.is_empty() {
        return Err("no filter names".into());
    }
    for name in names.iter().rev() {
        w.select_filter(name).await.map_err(|e| fail("select_filter", e))?;
        let s = wait_for(
            clock,
            w.name(),
            "filter change",
            POLL,
            Duration::from_secs(120),
            async || w.state().await,
            |s| !s.value.moving,
        )
        .await
        .map_err(|e| fail("filter change", e))?;
        if s.value.filter() != Some(name.as_str()) {
            return Err(format!("asked for {name}, got {:?}", s.value.filter()));
        }
    }
    Ok(())
}

/// A bias frame read out; a light frame ended (read out, or in Error and
/// reset); an exposure aborted.
pub async fn camera_story(c: &dyn Camera, clock: &Clock) -> Story {
    // Drivers learn the capabilities from the device: connect first.
    let s = c.state().await.map_err(|e| fail("state", e))?.value;
    if !s.connected {
        return Err("state: not connected".into());
    }
    let caps = c.capabilities();
    let bias = Exposure { duration: 0.0, frame: FrameType::Bias, binning: 1, window: None };
    c.expose(&bias).await.map_err(|e| fail("expose", e))?;
    wait_for(
        clock,
        c.name(),
        "readout",
        POLL,
        Duration::from_secs(120),
        async || c.state().await,
        |s| s.value.activity == CameraActivity::Ready,
    )
    .await
    .map_err(|e| fail("readout", e))?;
    let frame = c.image().await.map_err(|e| fail("image", e))?;
    if (frame.width, frame.height) != (caps.width, caps.height)
        || frame.pixels.len() != (caps.width * caps.height) as usize
    {
        return Err(format!(
            "a {}x{} frame from a {}x{} camera",
            frame.width, frame.height, caps.width, caps.height
        ));
    }
    // A light frame ends, read out or in Error (alpaca-simulators' camera,
    // offline, cannot fetch its star catalogue); one in Error is reset by an
    // abort, after which the camera takes frames again.
    let light = Exposure { duration: 1.0, frame: FrameType::Light, binning: 1, window: None };
    c.expose(&light).await.map_err(|e| fail("expose a light frame", e))?;
    let ended = wait_for(
        clock,
        c.name(),
        "a light frame",
        POLL,
        Duration::from_secs(120),
        async || c.state().await,
        |s| matches!(s.value.activity, CameraActivity::Ready | CameraActivity::Error),
    )
    .await
    .map_err(|e| fail("a light frame", e))?;
    if ended.value.activity == CameraActivity::Ready {
        let frame = c.image().await.map_err(|e| fail("the light frame's image", e))?;
        if frame.pixels.len() != (caps.width * caps.height) as usize {
            return Err(format!("a light frame of {} pixels", frame.pixels.len()));
        }
    } else {
        c.abort().await.map_err(|e| fail("reset after a light frame in Error", e))?;
        wait_for(
            clock,
            c.name(),
            "idle after a reset",
            POLL,
            Duration::from_secs(30),
            async || c.state().await,
            |s| s.value.activity == CameraActivity::Idle,
        )
        .await
        .map_err(|e| fail("reset after a light frame in Error", e))?;
    }
    let long = Exposure { duration: 60.0, frame: FrameType::Dark, binning: 1, window: None };
    c.expose(&long).await.map_err(|e| fail("expose", e))?;
    c.abort().await.map_err(|e| fail("abort", e))?;
    let s = c.state().await.map_err(|e| fail("state after abort", e))?.value;
    if s.activity != CameraActivity::Idle {
        return Err(format!("{:?} after abort", s.activity));
    }
    Ok(())
}

/// A status with sensors.
pub async fn weather_story(w: &dyn WeatherSource) -> Story {
    let s = w.status().await.map_err(|e| fail("status", e))?.value;
    if s.sensors.is_empty() {
        return Err("no sensor".into());
    }
    Ok(())
}

/// With the link cut, a call ends in `Timeout` or `Comm` within `limit`
/// instead of hanging; once restored, the device answers again.
pub async fn link_story<F, Fut>(link: &dyn Link, limit: Duration, call: F) -> Story
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<(), DeviceError>>,
{
    call().await.map_err(|e| fail("before the cut", e))?;
    link.cut().await;
    match bounded("device", "call", limit, call()).await {
        Err(DeviceError::Timeout { .. } | DeviceError::Comm { .. }) => {}
        Err(e) => {
            return Err(format!("with the link cut: {e} (expected a timeout or a communication error)"));
        }
        Ok(()) => return Err("answered with the link cut".into()),
    }
    link.restore().await;
    for _ in 0..50 {
        if call().await.is_ok() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err("no answer after the link came back".into())
}

/// A TCP relay between a driver and its device, for the link story against
/// real peers (INDI servers, Alpaca servers): `cut` drops every connection
/// and refuses new ones, `restore` listens again on the same port.
#[derive(Debug)]
pub struct Relay {
    /// Where the driver connects (`127.0.0.1:port`).
    pub addr: String,
    target: String,
    task: tokio::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Relay {
    /// A relay to `target` (`host:port`) on a free local port.
    pub async fn start(target: &str) -> std::io::Result<Relay> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?.to_string();
        let relay = Relay { addr, target: target.to_owned(), task: tokio::sync::Mutex::new(None) };
        *relay.task.lock().await = Some(tokio::spawn(relay_loop(listener, relay.target.clone())));
        Ok(relay)
    }
}

async fn relay_loop(listener: tokio::net::TcpListener, target: String) {
    let mut pipes = tokio::task::JoinSet::new();
    while let Ok((mut inbound, _)) = listener.accept().await {
        let target = target.clone();
        pipes.spawn(async move {
            if let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await {
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            }
        });
    }
    // Dropping the set aborts every pipe.
}

#[async_trait]
impl Link for Relay {
    async fn cut(&self) {
        if let Some(task) = self.task.lock().await.take() {
            task.abort();
            let _ = task.await;
        }
        // Let the closed connections reach the driver, as they would on a real network.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    async fn restore(&self) {
        if let Ok(listener) = tokio::net::TcpListener::bind(&self.addr).await {
            *self.task.lock().await = Some(tokio::spawn(relay_loop(listener, self.target.clone())));
        }
    }
}
