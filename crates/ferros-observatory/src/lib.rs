//! The observatory as configured: for each device role (telescope, dome,
//! cameras, filter wheels, PLC) the driver named in `[devices]`, built and
//! ready, with the in-process simulators kept at hand for the simulated
//! night. Agents take their devices from here and never know the driver.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use ferros_astro::Site;
use ferros_clock::Clock;
use ferros_config::{DEVICE_ROLES, Settings};
use ferros_devices::{
    Camera, DeviceError, DeviceResult, Dome, FilterWheel, Mount, Stamped, WeatherSource, bounded,
};
use ferros_devices_alpaca::{
    AlpacaCamera, AlpacaDome, AlpacaFilterWheel, AlpacaMount, AlpacaWeather, Endpoint,
};
use ferros_devices_indi::{IndiCamera, IndiClient, IndiDome, IndiFilterWheel, IndiMount, IndiWeather};
use ferros_devices_sim::{
    CameraConfig, DomeConfig, MountConfig, Scenario, SimCamera, SimDome, SimFilterWheel, SimMount, SimPlc,
};
use ferros_devices_socket::{
    Backoff, Connection, SocketCamera, SocketConfig, SocketDome, SocketFilterWheel, SocketMount, SocketPlc,
};
use serde::Serialize;

/// Filters of the simulated cameras' wheels.
pub const VIS_FILTERS: [&str; 10] = ["g", "r", "i", "z", "y", "B", "V", "R", "I", "Ha"];
pub const NIR_FILTERS: [&str; 4] = ["Y", "J", "H", "Ks"];

/// Where one role's device is and how Ferros talks to it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Slot {
    pub role: &'static str,
    /// `sim`, `socket`, `indi`, `alpaca` or `none`.
    pub driver: String,
    pub address: Option<String>,
    /// INDI device name or Alpaca device number.
    pub device: Option<String>,
}

/// The in-process simulators, when the `sim` driver is used (for scenarios,
/// transients and fault injection).
#[derive(Debug, Default, Clone)]
pub struct Simulators {
    pub mount: Option<Arc<SimMount>>,
    pub dome: Option<Arc<SimDome>>,
    pub camera_vis: Option<Arc<SimCamera>>,
    pub camera_nir: Option<Arc<SimCamera>>,
    pub filter_vis: Option<Arc<SimFilterWheel>>,
    pub filter_nir: Option<Arc<SimFilterWheel>>,
    pub plc: Option<Arc<SimPlc>>,
}

/// The devices of the observatory; a role the observatory lacks is `None`.
#[derive(Clone)]
pub struct Observatory {
    pub slots: Vec<Slot>,
    pub mount: Option<Arc<dyn Mount>>,
    pub dome: Option<Arc<dyn Dome>>,
    pub camera_vis: Option<Arc<dyn Camera>>,
    pub camera_nir: Option<Arc<dyn Camera>>,
    pub filter_vis: Option<Arc<dyn FilterWheel>>,
    pub filter_nir: Option<Arc<dyn FilterWheel>>,
    pub weather: Option<Arc<dyn WeatherSource>>,
    pub sim: Simulators,
    pub timeout: Duration,
}

impl std::fmt::Debug for Observatory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Observatory").field("slots", &self.slots).finish_non_exhaustive()
    }
}

/// The simulated site's mount, dome, cameras and PLC, wired together (the
/// dome follows the mount, the cameras see where the mount points); the PLC
/// plays `scenario`, one iteration every `plc_period`.
pub fn simulators(
    settings: &Settings,
    clock: Clock,
    scenario: Scenario,
    plc_period: Duration,
) -> Result<Simulators, String> {
    simulators_seeded(settings, clock, scenario, plc_period, None)
}

/// [`simulators`] whose randomness comes from `seed`: the cameras' noise and
/// defects, the weather sensors' noise (none without a seed).
pub fn simulators_seeded(
    settings: &Settings,
    clock: Clock,
    scenario: Scenario,
    plc_period: Duration,
    seed: Option<u64>,
) -> Result<Simulators, String> {
    // Each camera's own seed, distinct per camera.
    let camera_seed = |n: u64| seed.map_or(n, |s| s.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(n));
    let s = &settings.site;
    let site = Site::new(s.latitude, s.longitude, s.elevation).map_err(|e| format!("site: {e}"))?;
    let mount = Arc::new(SimMount::new(
        "telescope",
        site,
        clock,
        MountConfig { horizon: s.horizon.min(10.0), ..MountConfig::default() },
    ));
    let as_mount: Arc<dyn Mount> = mount.clone();
    let dome = Arc::new(SimDome::new("dome", clock, DomeConfig::default(), Some(as_mount.clone())));
    let vis_config = CameraConfig { seed: camera_seed(1), ..CameraConfig::default() };
    let vis = Arc::new(SimCamera::new("camera_vis", clock, vis_config, Some(as_mount.clone())));
    let nir_config = CameraConfig {
        width: 512,
        height: 512,
        pixel_scale: 1.2,
        readout: 2.0,
        dark_current: 5.0,
        sky: 200.0,
        seed: camera_seed(2),
        ..CameraConfig::default()
    };
    let nir = Arc::new(SimCamera::new("camera_nir", clock, nir_config, Some(as_mount)));
    let names = |f: &[&str]| f.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>();
    let filter_vis = Arc::new(SimFilterWheel::new("filter_vis", clock, names(&VIS_FILTERS), 2.0));
    let filter_nir = Arc::new(SimFilterWheel::new("filter_nir", clock, names(&NIR_FILTERS), 3.0));
    let plc = SimPlc::new("plc", clock, plc_period, scenario)?;
    let plc = Arc::new(match seed {
        Some(s) => plc.with_noise(s),
        None => plc,
    });
    Ok(Simulators {
        mount: Some(mount),
        dome: Some(dome),
        camera_vis: Some(vis),
        camera_nir: Some(nir),
        filter_vis: Some(filter_vis),
        filter_nir: Some(filter_nir),
        plc: Some(plc),
    })
}

/// The socket section of each role in `socket_config.ini` (filter wheels are on their camera's port).
fn socket_section(role: &str) -> &'static str {
    match role {
        "telescope" => "Telescope",
        "dome" => "Dome",
        "camera_vis" | "filter_vis" => "CameraVIS",
        "camera_nir" | "filter_nir" => "CameraNIR",
        _ => "PLC",
    }
}

/// The INDI simulators' device names, Ferros's defaults (none for the NIR
/// camera and wheel: they are not fitted unless named).
fn indi_default(role: &str) -> Option<&'static str> {
    match role {
        "telescope" => Some("Telescope Simulator"),
        "dome" => Some("Dome Simulator"),
        "camera_vis" => Some("CCD Simulator"),
        "filter_vis" => Some("Filter Simulator"),
        "plc" => Some("Weather Simulator"),
        _ => None,
    }
}

/// Alpaca device numbers by default: the first of each type; the NIR camera
/// and wheel only when configured (a second camera is not a given).
fn alpaca_default(role: &str) -> Option<&'static str> {
    (!role.ends_with("_nir")).then_some("0")
}

/// The socket ports in force: `devices.socket_config` when set, else the defaults.
pub fn socket_ports(settings: &Settings) -> Result<SocketConfig, String> {
    match &settings.devices.socket_config {
        None => Ok(SocketConfig::default()),
        Some(path) => read_socket_config(path),
    }
}

fn read_socket_config(path: &Path) -> Result<SocketConfig, String> {
    let shown = path.display();
    let text = std::fs::read_to_string(path).map_err(|e| format!("{shown}: cannot read: {e}"))?;
    SocketConfig::parse(&text).map_err(|e| format!("{shown}: {e}"))
}

/// Each role's driver, address and device name, from the settings.
pub fn slots(settings: &Settings) -> Result<Vec<Slot>, String> {
    let d = &settings.devices;
    let ports = socket_ports(settings)?;
    DEVICE_ROLES
        .iter()
        .map(|&role| {
            let own = d.role(role).cloned().unwrap_or_default();
            let driver = d.driver_of(role).to_owned();
            let slot = match driver.as_str() {
                "sim" | "none" => Slot { role, driver, address: None, device: None },
                "socket" => {
                    let address =
                        own.address.or_else(|| ports.address(socket_section(role)).map(str::to_owned));
                    Slot { role, driver, address, device: None }
                }
                "indi" => match own.device.or_else(|| indi_default(role).map(str::to_owned)) {
                    Some(name) => Slot {
                        role,
                        driver,
                        address: Some(own.address.unwrap_or_else(|| d.indi.clone())),
                        device: Some(name),
                    },
                    None => Slot { role, driver: "none".into(), address: None, device: None },
                },
                _ => match own.device.or_else(|| alpaca_default(role).map(str::to_owned)) {
                    Some(number) => Slot {
                        role,
                        driver,
                        address: Some(own.address.unwrap_or_else(|| d.alpaca.clone())),
                        device: Some(number),
                    },
                    None => Slot { role, driver: "none".into(), address: None, device: None },
                },
            };
            Ok(slot)
        })
        .collect()
}

impl Observatory {
    /// An observatory of simulators only, every role in-process (a simulated night).
    pub fn of_simulators(sim: Simulators, timeout: Duration) -> Observatory {
        let slot = |role| Slot { role, driver: "sim".into(), address: None, device: None };
        Observatory {
            slots: DEVICE_ROLES.iter().map(|&r| slot(r)).collect(),
            mount: sim.mount.clone().map(|d| d as Arc<dyn Mount>),
            dome: sim.dome.clone().map(|d| d as Arc<dyn Dome>),
            camera_vis: sim.camera_vis.clone().map(|d| d as Arc<dyn Camera>),
            camera_nir: sim.camera_nir.clone().map(|d| d as Arc<dyn Camera>),
            filter_vis: sim.filter_vis.clone().map(|d| d as Arc<dyn FilterWheel>),
            filter_nir: sim.filter_nir.clone().map(|d| d as Arc<dyn FilterWheel>),
            weather: sim.plc.clone().map(|d| d as Arc<dyn WeatherSource>),
            sim,
            timeout,
        }
    }

    /// Builds every configured device; the PLC simulator (if used) plays
    /// `scenario`. Must run inside the Tokio runtime (INDI keeps a task per server).
    pub fn build(settings: &Settings, clock: Clock, scenario: Scenario) -> Result<Observatory, String> {
        Self::build_with(settings, clock, scenario, Duration::from_secs(1))
    }

    /// [`Observatory::build`], the simulated PLC taking `plc_period` (clock time) per scenario iteration.
    pub fn build_with(
        settings: &Settings,
        clock: Clock,
        scenario: Scenario,
        plc_period: Duration,
    ) -> Result<Observatory, String> {
        let slots = slots(settings)?;
        let timeout = Duration::from_secs_f64(settings.devices.timeout_s);
        let s = &settings.site;
        let site = Site::new(s.latitude, s.longitude, s.elevation).map_err(|e| format!("site: {e}"))?;
        let sim = if slots.iter().any(|x| x.driver == "sim") {
            simulators(settings, clock, scenario, plc_period)?
        } else {
            Simulators::default()
        };
        let mut indi: HashMap<String, Arc<IndiClient>> = HashMap::new();
        let mut obs = Observatory {
            slots: slots.clone(),
            mount: None,
            dome: None,
            camera_vis: None,
            camera_nir: None,
            filter_vis: None,
            filter_nir: None,
            weather: None,
            sim: Simulators::default(),
            timeout,
        };
        for slot in &slots {
            let role = slot.role;
            let addr = slot.address.clone().unwrap_or_default();
            let device = slot.device.clone().unwrap_or_default();
            let conn = || Connection::new(role, &addr, timeout, Backoff::default());
            let mut client = || {
                indi.entry(addr.clone())
                    .or_insert_with(|| {
                        IndiClient::start(&addr, timeout, ferros_devices_indi::Backoff::default())
                    })
                    .clone()
            };
            let number = || device.parse::<u32>().unwrap_or(0);
            let ep = |kind: &'static str| Endpoint::new(role, &addr, kind, number(), timeout);
            match (role, slot.driver.as_str()) {
                (_, "none") => {}
                ("telescope", "sim") => obs.mount = sim.mount.clone().map(|m| m as Arc<dyn Mount>),
                ("telescope", "socket") => obs.mount = Some(Arc::new(SocketMount::new(conn(), clock))),
                ("telescope", "indi") => {
                    obs.mount = Some(Arc::new(IndiMount::new(client(), &device, role, clock, Some(site))))
                }
                ("telescope", _) => obs.mount = Some(Arc::new(AlpacaMount::new(ep("telescope"), clock))),
                ("dome", "sim") => obs.dome = sim.dome.clone().map(|d| d as Arc<dyn Dome>),
                ("dome", "socket") => obs.dome = Some(Arc::new(SocketDome::new(conn(), clock))),
                ("dome", "indi") => obs.dome = Some(Arc::new(IndiDome::new(client(), &device, role, clock))),
                ("dome", _) => obs.dome = Some(Arc::new(AlpacaDome::new(ep("dome"), clock))),
                ("camera_vis" | "camera_nir", driver) => {
                    let cam: Arc<dyn Camera> = match driver {
                        "sim" if role == "camera_vis" => sim.camera_vis.clone().ok_or("no VIS simulator")?,
                        "sim" => sim.camera_nir.clone().ok_or("no NIR simulator")?,
                        "socket" => Arc::new(SocketCamera::new(conn(), clock)),
                        "indi" => Arc::new(IndiCamera::new(client(), &device, role, clock)),
                        _ => Arc::new(AlpacaCamera::new(ep("camera"), clock)),
                    };
                    if role == "camera_vis" {
                        obs.camera_vis = Some(cam);
                    } else {
                        obs.camera_nir = Some(cam);
                    }
                }
                ("filter_vis" | "filter_nir", driver) => {
                    let wheel: Arc<dyn FilterWheel> = match driver {
                        "sim" if role == "filter_vis" => {
                            sim.filter_vis.clone().ok_or("no VIS wheel simulator")?
                        }
                        "sim" => sim.filter_nir.clone().ok_or("no NIR wheel simulator")?,
                        "socket" => Arc::new(SocketFilterWheel::new(conn(), clock)),
                        "indi" => Arc::new(IndiFilterWheel::new(client(), &device, role, clock)),
                        _ => Arc::new(AlpacaFilterWheel::new(ep("filterwheel"), clock)),
                    };
                    if role == "filter_vis" {
                        obs.filter_vis = Some(wheel);
                    } else {
                        obs.filter_nir = Some(wheel);
                    }
                }
                (_, "sim") => obs.weather = sim.plc.clone().map(|p| p as Arc<dyn WeatherSource>),
                (_, "socket") => {
                    obs.weather =
                        Some(Arc::new(SocketPlc::new(role, &addr, clock, timeout, Backoff::default())))
                }
                (_, "indi") => obs.weather = Some(Arc::new(IndiWeather::new(client(), &device, role, clock))),
                (_, _) => {
                    let safety = Endpoint::new("safetymonitor", &addr, "safetymonitor", number(), timeout);
                    obs.weather =
                        Some(Arc::new(AlpacaWeather::new(ep("observingconditions"), Some(safety), clock)))
                }
            }
        }
        obs.sim = sim;
        Ok(obs)
    }

    /// Reads every device once (each bounded by the device timeout).
    pub async fn status(&self) -> Vec<Report> {
        let mut out = Vec::new();
        for slot in &self.slots {
            let read = self.read(slot.role).await;
            let (ok, at, state, error) = match read {
                None => (true, None, None, None),
                Some(Ok((at, v))) => (true, Some(at), Some(v), None),
                Some(Err(e)) => (false, None, None, Some(e.to_string())),
            };
            out.push(Report { slot: slot.clone(), ok, at, state, error });
        }
        out
    }

    async fn read(&self, role: &str) -> Option<DeviceResult<(DateTime<Utc>, serde_json::Value)>> {
        fn json<T: Serialize>(
            r: DeviceResult<Stamped<T>>,
        ) -> DeviceResult<(DateTime<Utc>, serde_json::Value)> {
            let s = r?;
            let v = serde_json::to_value(&s.value).map_err(|e| DeviceError::comm("status", e.to_string()))?;
            Ok((s.at, v))
        }
        let t = self.timeout;
        Some(match role {
            "telescope" => json(bounded(role, "state", t, self.mount.as_ref()?.state()).await),
            "dome" => json(bounded(role, "state", t, self.dome.as_ref()?.state()).await),
            "camera_vis" => json(bounded(role, "state", t, self.camera_vis.as_ref()?.state()).await),
            "camera_nir" => json(bounded(role, "state", t, self.camera_nir.as_ref()?.state()).await),
            "filter_vis" => json(bounded(role, "state", t, self.filter_vis.as_ref()?.state()).await),
            "filter_nir" => json(bounded(role, "state", t, self.filter_nir.as_ref()?.state()).await),
            _ => json(bounded(role, "status", t, self.weather.as_ref()?.status()).await),
        })
    }
}

/// One device's live status.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    #[serde(flatten)]
    pub slot: Slot,
    /// Answered (or not fitted).
    pub ok: bool,
    /// When the state was read (Ferros clock).
    pub at: Option<DateTime<Utc>>,
    pub state: Option<serde_json::Value>,
    pub error: Option<String>,
}
