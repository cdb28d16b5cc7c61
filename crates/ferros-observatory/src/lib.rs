//! The observatory as configured: for each device role (telescope, dome,
//! cameras, filter wheels, PLC) the driver named in `[devices]`, built and
//! ready, with the in-process simulators kept at hand for the simulated
//! night. Agents take their devices from here and never know the driver.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use ferros_astro::{AstroError, Site};
use ferros_clock::Clock;
use ferros_config::{Driver, Role, Settings};
use ferros_devices::{
    Camera, CameraState, DeviceResult, Dome, DomeState, FilterWheel, FilterWheelState, Mount, MountState,
    Stamped, WeatherSource, WeatherStatus, bounded,
};
use ferros_devices_alpaca::{
    AlpacaCamera, AlpacaDome, AlpacaFilterWheel, AlpacaMount, AlpacaWeather, Endpoint,
};
use ferros_devices_indi::{IndiCamera, IndiClient, IndiDome, IndiFilterWheel, IndiMount, IndiWeather};
use ferros_devices_sim::{
    CameraConfig, DomeConfig, MountConfig, Scenario, ScenarioError, SimCamera, SimDome, SimFilterWheel,
    SimMount, SimPlc,
};
use ferros_devices_socket::{
    Backoff, Connection, PortsError, SocketCamera, SocketConfig, SocketDome, SocketFilterWheel, SocketMount,
    SocketPlc,
};
use ferros_domain::{Wheel, Wheels};
use serde::Serialize;

/// Filters of the simulated cameras' wheels.
pub const VIS_FILTERS: [&str; 10] = ["g", "r", "i", "z", "y", "B", "V", "R", "I", "Ha"];
pub const NIR_FILTERS: [&str; 4] = ["Y", "J", "H", "Ks"];

/// Why the observatory cannot be built as configured.
#[derive(Debug, thiserror::Error)]
pub enum ObservatoryError {
    #[error("site: {0}")]
    Site(#[from] AstroError),
    #[error("{}: cannot read: {source}", path.display())]
    SocketConfigUnreadable { path: PathBuf, source: std::io::Error },
    #[error("{}: {source}", path.display())]
    SocketConfig { path: PathBuf, source: PortsError },
    /// The PLC simulator's scenario names what its model lacks.
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    /// The simulated cameras' star catalogue cannot be read.
    #[error("pipeline.catalogue: {0}")]
    Catalogue(String),
}

/// The validated place of the observatory, from `[site]`: built once and
/// handed to those who compute the sky.
pub fn site(settings: &Settings) -> Result<Site, AstroError> {
    let s = &settings.site;
    Site::new(s.latitude, s.longitude, s.elevation)
}

/// Where one role's device is and how Ferros talks to it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Slot {
    pub role: Role,
    /// `none` when the observatory has no such device.
    pub driver: Driver,
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
    /// The validated site the mount and the sky computations use.
    pub site: Site,
    pub mount: Option<Arc<dyn Mount>>,
    pub dome: Option<Arc<dyn Dome>>,
    pub camera_vis: Option<Arc<dyn Camera>>,
    pub camera_nir: Option<Arc<dyn Camera>>,
    pub filter_vis: Option<Arc<dyn FilterWheel>>,
    pub filter_nir: Option<Arc<dyn FilterWheel>>,
    pub weather: Option<Arc<dyn WeatherSource>>,
    pub sim: Simulators,
    pub timeout: Duration,
    /// What the filter wheels hold, and their aliases.
    pub wheels: Wheels,
}

/// The simulated wheels' filters, with the configured aliases (a simulated night).
pub fn simulated_wheels(settings: &Settings) -> Wheels {
    let wheel = |role: Role, sim: &[&str]| Wheel {
        names: sim.iter().map(|n| (*n).to_owned()).collect(),
        aliases: settings.devices.role(role).aliases.clone(),
    };
    Wheels { vis: wheel(Role::FilterVis, &VIS_FILTERS), nir: wheel(Role::FilterNir, &NIR_FILTERS) }
}

/// The filter wheels as configured: their slots' names (the configured ones,
/// else the simulated wheel's with the sim driver, else unknown before the
/// night) and their aliases.
pub fn wheels(settings: &Settings) -> Wheels {
    let wheel = |role: Role, sim: &[&str]| {
        let d = settings.devices.role(role);
        let names = if !d.filters.is_empty() {
            d.filters.clone()
        } else if settings.devices.driver_of(role) == Driver::Sim {
            sim.iter().map(|n| (*n).to_owned()).collect()
        } else {
            Vec::new()
        };
        Wheel { names, aliases: d.aliases.clone() }
    };
    Wheels { vis: wheel(Role::FilterVis, &VIS_FILTERS), nir: wheel(Role::FilterNir, &NIR_FILTERS) }
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
) -> Result<Simulators, ObservatoryError> {
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
) -> Result<Simulators, ObservatoryError> {
    // Each camera's own seed, distinct per camera.
    let camera_seed = |n: u64| seed.map_or(n, |s| s.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(n));
    let s = &settings.site;
    let site = site(settings)?;
    let mount = Arc::new(SimMount::new(
        "telescope",
        site,
        clock,
        MountConfig { horizon: s.horizon.min(10.0), ..MountConfig::default() },
    ));
    let as_mount: Arc<dyn Mount> = mount.clone();
    let dome = Arc::new(SimDome::new("dome", clock, DomeConfig::default(), Some(as_mount.clone())));
    // The cameras show the configured catalogue's stars through the
    // configured optics (shared by every simulated night of the process).
    let catalogue = match settings.pipeline.catalogue_path() {
        Some(path) => {
            ferros_catalog::shared(&path).map_err(|e| ObservatoryError::Catalogue(e.to_string()))?
        }
        None => std::sync::Arc::new(ferros_catalog::Catalogue::synthetic()),
    };
    let optics = |o: &ferros_config::DetectorOptics, base: CameraConfig| CameraConfig {
        pixel_scale: o.pixel_scale,
        gain: o.gain,
        read_noise: o.read_noise / o.gain,
        rotation: o.rotation_deg + base.rotation,
        ..base
    };
    let vis_config =
        optics(&settings.detectors.vis, CameraConfig { seed: camera_seed(1), ..CameraConfig::default() });
    let vis = Arc::new(
        SimCamera::new("camera_vis", clock, vis_config, Some(as_mount.clone()))
            .with_catalogue(catalogue.clone())
            .with_site(site),
    );
    let nir_config = optics(
        &settings.detectors.nir,
        CameraConfig {
            width: 512,
            height: 512,
            readout: 2.0,
            dark_current: 5.0,
            sky: 50.0,
            seed: camera_seed(2),
            ..CameraConfig::default()
        },
    );
    let nir = Arc::new(
        SimCamera::new("camera_nir", clock, nir_config, Some(as_mount))
            .with_catalogue(catalogue)
            .with_site(site),
    );
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
fn socket_section(role: Role) -> &'static str {
    match role {
        Role::Telescope => "Telescope",
        Role::Dome => "Dome",
        Role::CameraVis | Role::FilterVis => "CameraVIS",
        Role::CameraNir | Role::FilterNir => "CameraNIR",
        Role::Plc => "PLC",
    }
}

/// The INDI simulators' device names, Ferros's defaults (none for the NIR
/// camera and wheel: they are not fitted unless named).
fn indi_default(role: Role) -> Option<&'static str> {
    match role {
        Role::Telescope => Some("Telescope Simulator"),
        Role::Dome => Some("Dome Simulator"),
        Role::CameraVis => Some("CCD Simulator"),
        Role::FilterVis => Some("Filter Simulator"),
        Role::Plc => Some("Weather Simulator"),
        Role::CameraNir | Role::FilterNir => None,
    }
}

/// Alpaca device numbers by default: the first of each type; the NIR camera
/// and wheel only when configured (a second camera is not a given).
fn alpaca_default(role: Role) -> Option<&'static str> {
    match role {
        Role::CameraNir | Role::FilterNir => None,
        Role::Telescope | Role::Dome | Role::CameraVis | Role::FilterVis | Role::Plc => Some("0"),
    }
}

/// The socket ports in force: `devices.socket_config` when set, else the defaults.
pub fn socket_ports(settings: &Settings) -> Result<SocketConfig, ObservatoryError> {
    match &settings.devices.socket_config {
        None => Ok(SocketConfig::default()),
        Some(path) => read_socket_config(path),
    }
}

fn read_socket_config(path: &Path) -> Result<SocketConfig, ObservatoryError> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| ObservatoryError::SocketConfigUnreadable { path: path.to_owned(), source })?;
    SocketConfig::parse(&text)
        .map_err(|source| ObservatoryError::SocketConfig { path: path.to_owned(), source })
}

/// Each role's driver, address and device name, from the settings.
pub fn slots(settings: &Settings) -> Result<Vec<Slot>, ObservatoryError> {
    let d = &settings.devices;
    let ports = socket_ports(settings)?;
    let slot = |role: Role| {
        let own = d.role(role).clone();
        let none = Slot { role, driver: Driver::None, address: None, device: None };
        match d.driver_of(role) {
            driver @ (Driver::Sim | Driver::None) => Slot { driver, ..none },
            Driver::Socket => {
                let address = own.address.or_else(|| ports.address(socket_section(role)).map(str::to_owned));
                Slot { driver: Driver::Socket, address, ..none }
            }
            Driver::Indi => match own.device.or_else(|| indi_default(role).map(str::to_owned)) {
                Some(name) => Slot {
                    driver: Driver::Indi,
                    address: Some(own.address.unwrap_or_else(|| d.indi.clone())),
                    device: Some(name),
                    ..none
                },
                None => none,
            },
            Driver::Alpaca => match own.device.or_else(|| alpaca_default(role).map(str::to_owned)) {
                Some(number) => Slot {
                    driver: Driver::Alpaca,
                    address: Some(own.address.unwrap_or_else(|| d.alpaca.clone())),
                    device: Some(number),
                    ..none
                },
                None => none,
            },
        }
    };
    Ok(Role::ALL.into_iter().map(slot).collect())
}

impl Observatory {
    /// An observatory of simulators only, every role in-process (a simulated night).
    pub fn of_simulators(sim: Simulators, site: Site, timeout: Duration) -> Observatory {
        let slot = |role| Slot { role, driver: Driver::Sim, address: None, device: None };
        Observatory {
            slots: Role::ALL.into_iter().map(slot).collect(),
            site,
            mount: sim.mount.clone().map(|d| d as Arc<dyn Mount>),
            dome: sim.dome.clone().map(|d| d as Arc<dyn Dome>),
            camera_vis: sim.camera_vis.clone().map(|d| d as Arc<dyn Camera>),
            camera_nir: sim.camera_nir.clone().map(|d| d as Arc<dyn Camera>),
            filter_vis: sim.filter_vis.clone().map(|d| d as Arc<dyn FilterWheel>),
            filter_nir: sim.filter_nir.clone().map(|d| d as Arc<dyn FilterWheel>),
            weather: sim.plc.clone().map(|d| d as Arc<dyn WeatherSource>),
            sim,
            timeout,
            wheels: Wheels {
                vis: Wheel { names: VIS_FILTERS.map(String::from).to_vec(), aliases: Default::default() },
                nir: Wheel { names: NIR_FILTERS.map(String::from).to_vec(), aliases: Default::default() },
            },
        }
    }

    /// Builds every configured device; the PLC simulator (if used) plays
    /// `scenario`. Must run inside the Tokio runtime (INDI keeps a task per server).
    pub fn build(
        settings: &Settings,
        clock: Clock,
        scenario: Scenario,
    ) -> Result<Observatory, ObservatoryError> {
        Self::build_with(settings, clock, scenario, Duration::from_secs(1))
    }

    /// [`Observatory::build`], the simulated PLC taking `plc_period` (clock time) per scenario iteration.
    pub fn build_with(
        settings: &Settings,
        clock: Clock,
        scenario: Scenario,
        plc_period: Duration,
    ) -> Result<Observatory, ObservatoryError> {
        let slots = slots(settings)?;
        let timeout = Duration::from_secs_f64(settings.devices.timeout_s);
        let site = site(settings)?;
        let sim = if slots.iter().any(|x| x.driver == Driver::Sim) {
            simulators(settings, clock, scenario, plc_period)?
        } else {
            Simulators::default()
        };
        let mut indi: HashMap<String, Arc<IndiClient>> = HashMap::new();
        let mut obs = Observatory {
            slots: slots.clone(),
            site,
            mount: None,
            dome: None,
            camera_vis: None,
            camera_nir: None,
            filter_vis: None,
            filter_nir: None,
            weather: None,
            sim: Simulators::default(),
            timeout,
            wheels: wheels(settings),
        };
        for slot in &slots {
            let role = slot.role;
            let name = role.as_str();
            let addr = slot.address.clone().unwrap_or_default();
            let device = slot.device.clone().unwrap_or_default();
            let conn = || Connection::new(name, &addr, timeout, Backoff::default());
            let mut client = || {
                indi.entry(addr.clone())
                    .or_insert_with(|| {
                        IndiClient::start(&addr, timeout, ferros_devices_indi::Backoff::default())
                    })
                    .clone()
            };
            let number = || device.parse::<u32>().unwrap_or(0);
            let ep = |kind: &'static str| Endpoint::new(name, &addr, kind, number(), timeout);
            let camera = |sim_cam: &Option<Arc<SimCamera>>, client: &mut dyn FnMut() -> Arc<IndiClient>| {
                let cam: Option<Arc<dyn Camera>> = match slot.driver {
                    Driver::None => None,
                    Driver::Sim => sim_cam.clone().map(|c| c as Arc<dyn Camera>),
                    Driver::Socket => Some(Arc::new(SocketCamera::new(conn(), clock))),
                    Driver::Indi => Some(Arc::new(IndiCamera::new(client(), &device, name, clock))),
                    Driver::Alpaca => Some(Arc::new(AlpacaCamera::new(ep("camera"), clock))),
                };
                cam
            };
            let wheel = |sim_wheel: &Option<Arc<SimFilterWheel>>,
                         client: &mut dyn FnMut() -> Arc<IndiClient>| {
                let wheel: Option<Arc<dyn FilterWheel>> = match slot.driver {
                    Driver::None => None,
                    Driver::Sim => sim_wheel.clone().map(|w| w as Arc<dyn FilterWheel>),
                    Driver::Socket => Some(Arc::new(SocketFilterWheel::new(conn(), clock))),
                    Driver::Indi => Some(Arc::new(IndiFilterWheel::new(client(), &device, name, clock))),
                    Driver::Alpaca => Some(Arc::new(AlpacaFilterWheel::new(ep("filterwheel"), clock))),
                };
                wheel
            };
            match role {
                Role::Telescope => {
                    obs.mount = match slot.driver {
                        Driver::None => None,
                        Driver::Sim => sim.mount.clone().map(|m| m as Arc<dyn Mount>),
                        Driver::Socket => Some(Arc::new(SocketMount::new(conn(), clock))),
                        Driver::Indi => {
                            Some(Arc::new(IndiMount::new(client(), &device, name, clock, Some(site))))
                        }
                        Driver::Alpaca => Some(Arc::new(AlpacaMount::new(ep("telescope"), clock))),
                    }
                }
                Role::Dome => {
                    obs.dome = match slot.driver {
                        Driver::None => None,
                        Driver::Sim => sim.dome.clone().map(|d| d as Arc<dyn Dome>),
                        Driver::Socket => Some(Arc::new(SocketDome::new(conn(), clock))),
                        Driver::Indi => Some(Arc::new(IndiDome::new(client(), &device, name, clock))),
                        Driver::Alpaca => Some(Arc::new(AlpacaDome::new(ep("dome"), clock))),
                    }
                }
                Role::CameraVis => obs.camera_vis = camera(&sim.camera_vis, &mut client),
                Role::CameraNir => obs.camera_nir = camera(&sim.camera_nir, &mut client),
                Role::FilterVis => obs.filter_vis = wheel(&sim.filter_vis, &mut client),
                Role::FilterNir => obs.filter_nir = wheel(&sim.filter_nir, &mut client),
                Role::Plc => {
                    obs.weather = match slot.driver {
                        Driver::None => None,
                        Driver::Sim => sim.plc.clone().map(|p| p as Arc<dyn WeatherSource>),
                        Driver::Socket => {
                            Some(Arc::new(SocketPlc::new(name, &addr, clock, timeout, Backoff::default())))
                        }
                        Driver::Indi => Some(Arc::new(IndiWeather::new(client(), &device, name, clock))),
                        Driver::Alpaca => {
                            let safety =
                                Endpoint::new("safetymonitor", &addr, "safetymonitor", number(), timeout);
                            Some(Arc::new(AlpacaWeather::new(ep("observingconditions"), Some(safety), clock)))
                        }
                    }
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
            let (ok, at, state, error) = match self.read(slot.role).await {
                None => (true, None, None, None),
                Some(Ok(s)) => (true, Some(s.at), Some(s.value), None),
                Some(Err(e)) => (false, None, None, Some(e.to_string())),
            };
            out.push(Report { slot: slot.clone(), ok, at, state, error });
        }
        out
    }

    /// One device's state; `None` when the observatory has no such device.
    async fn read(&self, role: Role) -> Option<DeviceResult<Stamped<DeviceState>>> {
        fn as_state<T>(
            r: DeviceResult<Stamped<T>>,
            f: fn(T) -> DeviceState,
        ) -> DeviceResult<Stamped<DeviceState>> {
            r.map(|s| Stamped { at: s.at, value: f(s.value) })
        }
        let (t, name) = (self.timeout, role.as_str());
        Some(match role {
            Role::Telescope => {
                as_state(bounded(name, "state", t, self.mount.as_ref()?.state()).await, DeviceState::Mount)
            }
            Role::Dome => {
                as_state(bounded(name, "state", t, self.dome.as_ref()?.state()).await, DeviceState::Dome)
            }
            Role::CameraVis => as_state(
                bounded(name, "state", t, self.camera_vis.as_ref()?.state()).await,
                DeviceState::Camera,
            ),
            Role::CameraNir => as_state(
                bounded(name, "state", t, self.camera_nir.as_ref()?.state()).await,
                DeviceState::Camera,
            ),
            Role::FilterVis => as_state(
                bounded(name, "state", t, self.filter_vis.as_ref()?.state()).await,
                DeviceState::FilterWheel,
            ),
            Role::FilterNir => as_state(
                bounded(name, "state", t, self.filter_nir.as_ref()?.state()).await,
                DeviceState::FilterWheel,
            ),
            Role::Plc => as_state(
                bounded(name, "status", t, self.weather.as_ref()?.status()).await,
                DeviceState::Weather,
            ),
        })
    }
}

/// What a device says of itself, by kind (serialized as the state's own fields).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum DeviceState {
    Mount(MountState),
    Dome(DomeState),
    Camera(CameraState),
    FilterWheel(FilterWheelState),
    Weather(WeatherStatus),
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
    pub state: Option<DeviceState>,
    pub error: Option<String>,
}
