//! Typed settings. Defaults work out of the box; a `ferros.toml` file overrides
//! them, and `FERROS_*` environment variables override the file
//! (`FERROS_SITE__LATITUDE=31.04` sets `site.latitude`). Command-line flags, applied
//! by the caller, come last.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use thiserror::Error;

pub use ferros_limits::{ImportLimits, MAX_CALL_S, MAX_DAYS, MAX_READOUT_S, MAX_SECONDS, MAX_WHEEL_NAMES};

/// A number as a person typed it: `1e300`, not three hundred digits.
pub fn shown(v: f64) -> String {
    if v.is_finite() && v.abs() < 1e15 { v.to_string() } else { format!("{v:e}") }
}

/// The file read when no `--config` is given, if it exists.
pub const DEFAULT_CONFIG_FILE: &str = "ferros.toml";

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("config file {0}: not found")]
    Missing(PathBuf),
    #[error("configuration: {0}")]
    Invalid(String),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Where the archive and the default SQLite database live.
    pub data_dir: PathBuf,
    /// `sqlite://path.db` or `postgres://...`; empty: `sqlite://<data_dir>/ferros.db`.
    pub database_url: String,
    /// Address of the web server.
    pub bind: SocketAddr,
    pub site: Site,
    pub devices: Devices,
    pub agents: Agents,
    pub weather: Weather,
    pub history: History,
    pub executor: Executor,
    /// What a request may hold (text lengths, counts), checked at import.
    pub import: ImportLimits,
    pub alerts: Alerts,
    pub web: Web,
    /// The cameras' optics and detectors (for image headers, the cooler and the simulators).
    pub detectors: Detectors,
    pub pipeline: Pipeline,
    pub mail: Mail,
    pub proposals: Proposals,
}

/// Proposals for the coming periods.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Proposals {
    /// Proposals for a period are taken, changed and withdrawn until this
    /// many days before it starts (the TAC then votes).
    pub deadline_days: u32,
}

impl Default for Proposals {
    fn default() -> Self {
        Self { deadline_days: 30 }
    }
}

/// Mail to users (accounts, programs): through an SMTP relay when
/// `smtp_host` is set, else written as files into the outbox folder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Mail {
    /// The SMTP relay (plain SMTP, e.g. the site's mail server on
    /// localhost); empty: no SMTP, mails go to `outbox`.
    pub smtp_host: String,
    pub smtp_port: u16,
    /// The sender of Ferros's mails.
    pub from: String,
    /// Where mails are written without SMTP, or when the relay fails;
    /// relative to `data_dir`.
    pub outbox: PathBuf,
    /// The address users reach the web server at, for the links in mails.
    pub base_url: String,
    /// Seconds an SMTP exchange may take.
    pub timeout_s: f64,
    /// Hours an activation link lasts.
    pub activation_hours: f64,
    /// Hours a password reset link lasts.
    pub reset_hours: f64,
}

impl Default for Mail {
    fn default() -> Self {
        Self {
            smtp_host: String::new(),
            smtp_port: 25,
            from: "ferros@localhost".to_owned(),
            outbox: PathBuf::from("outbox"),
            base_url: "http://127.0.0.1:8000".to_owned(),
            timeout_s: 10.0,
            activation_hours: 72.0,
            reset_hours: 1.0,
        }
    }
}

impl Mail {
    /// The outbox folder, under `data_dir` unless absolute.
    pub fn outbox_dir(&self, data_dir: &Path) -> PathBuf {
        data_dir.join(&self.outbox)
    }
}

/// The VIS and NIR cameras' optics and detectors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Detectors {
    pub vis: DetectorOptics,
    pub nir: DetectorOptics,
}

impl Default for Detectors {
    fn default() -> Self {
        Self {
            vis: DetectorOptics::default(),
            nir: DetectorOptics {
                pixel_scale: 1.2,
                gain: 2.0,
                read_noise: 12.0,
                cooler_setpoint: Some(-40.0),
                ..DetectorOptics::default()
            },
        }
    }
}

/// One camera: plate scale and orientation (the nominal WCS written into
/// every sky image's header, which the pipeline refines), detector gain,
/// read noise and saturation, and the cooler's set point for the night.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DetectorOptics {
    /// Arcseconds per unbinned pixel.
    pub pixel_scale: f64,
    /// The image's north, degrees east of its +y axis.
    pub rotation_deg: f64,
    /// Electrons per count.
    pub gain: f64,
    /// Electrons.
    pub read_noise: f64,
    /// Counts at and above which a pixel is saturated.
    pub saturation: f64,
    /// Degrees C through the night (cooled at sunset, warmed in the morning
    /// once the calibrations are taken); none: the cooler is left alone.
    pub cooler_setpoint: Option<f64>,
    /// The temperature is settled within this many degrees of the set point.
    pub cooler_tolerance: f64,
    /// A science frame waits at most this long for the temperature to
    /// settle, seconds; then it goes on, and the log says so.
    pub cooler_settle_s: f64,
}

impl Default for DetectorOptics {
    fn default() -> Self {
        Self {
            pixel_scale: 1.5,
            rotation_deg: 0.0,
            gain: 1.5,
            read_noise: 7.5,
            saturation: 65_535.0,
            cooler_setpoint: Some(-60.0),
            cooler_tolerance: 1.0,
            cooler_settle_s: 1_800.0,
        }
    }
}

impl Detectors {
    pub fn of(&self, detector: ferros_domain::Detector) -> &DetectorOptics {
        match detector {
            ferros_domain::Detector::Vis => &self.vis,
            ferros_domain::Detector::Nir => &self.nir,
        }
    }
}

/// The data reduction pipeline (docs/pipeline.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Pipeline {
    /// Reduce each new image as soon as it is archived.
    pub enabled: bool,
    /// Which sky images: "all", or "alerts" (an alert's only; the others
    /// are marked skipped). Calibration frames always make their masters.
    pub images: String,
    /// The star catalogue: an astrometry.net index file or folder (Debian's
    /// `astrometry-data-tycho2-*`), or a star list (`ra dec mag` lines).
    /// None: the Tycho-2 index folder `/usr/share/astrometry` if it is
    /// there, else the synthetic sky of the simulators.
    pub catalogue: Option<PathBuf>,
    /// Radius of the circular aperture of `flux`, pixels.
    pub aperture_px: f64,
    /// Detection threshold, in noise sigmas.
    pub threshold: f64,
    /// Background mesh, pixels.
    pub mesh_px: u32,
    /// Sources and catalogue stars are the same within this, arcseconds.
    pub match_radius_arcsec: f64,
    /// The astrometric solver: "ferros" (refines the header's pointing
    /// against the catalogue) or "astrometry.net" (`solve-field`, blind).
    pub solver: String,
    /// The `solve-field` program, and its index folder.
    pub solve_field: String,
    pub index_dir: PathBuf,
    /// The longest `solve-field` may take on one image, seconds.
    pub solve_timeout_s: f64,
    /// Frames per master (bias, dark, flat) at least.
    pub master_min_frames: u32,
    /// A master dark serves frames within this many degrees of its temperature.
    pub dark_temperature_tolerance: f64,
}

impl Default for Pipeline {
    fn default() -> Self {
        Self {
            enabled: true,
            images: "all".into(),
            catalogue: None,
            aperture_px: 5.0,
            threshold: 1.5,
            mesh_px: 64,
            match_radius_arcsec: 3.0,
            solver: "ferros".into(),
            solve_field: "solve-field".into(),
            index_dir: PathBuf::from("/usr/share/astrometry"),
            solve_timeout_s: 120.0,
            master_min_frames: 3,
            dark_temperature_tolerance: 2.0,
        }
    }
}

impl Pipeline {
    /// The catalogue in force: the configured one, else Debian's Tycho-2
    /// index folder when it is there, else none (the synthetic sky).
    pub fn catalogue_path(&self) -> Option<PathBuf> {
        self.catalogue.clone().or_else(|| {
            let debian = PathBuf::from("/usr/share/astrometry");
            debian.join("index-tycho2-07.littleendian.fits").exists().then_some(debian)
        })
    }
}

/// The web server's accounts and pages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Web {
    /// How long a login lasts, hours.
    pub session_hours: f64,
    /// Failed logins allowed per user name and per address in `login_window_s`.
    pub login_failures: u32,
    pub login_window_s: f64,
    /// Mark the session cookie `Secure` (Ferros behind an HTTPS proxy).
    pub secure_cookies: bool,
    /// Webcam image addresses (http or https) shown on the Webcams page.
    pub webcams: Vec<String>,
}

impl Default for Web {
    fn default() -> Self {
        Self {
            session_hours: 12.0,
            login_failures: 5,
            login_window_s: 300.0,
            secure_cookies: false,
            webcams: vec![],
        }
    }
}

/// Webcams on the Webcams page at most.
pub const MAX_WEBCAMS: usize = 16;

impl Default for Settings {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./var"),
            database_url: String::new(),
            bind: SocketAddr::from(([127, 0, 0, 1], 8000)),
            site: Site::default(),
            devices: Devices::default(),
            agents: Agents::default(),
            weather: Weather::default(),
            history: History::default(),
            executor: Executor::default(),
            import: ImportLimits::DEFAULT,
            alerts: Alerts::default(),
            web: Web::default(),
            detectors: Detectors::default(),
            pipeline: Pipeline::default(),
            mail: Mail::default(),
            proposals: Proposals::default(),
        }
    }
}

/// The observatory's place on Earth (default: COLIBRI at San Pedro Martir).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Site {
    pub name: String,
    /// Degrees, north positive.
    pub latitude: f64,
    /// Degrees, east positive.
    pub longitude: f64,
    /// Metres above sea level.
    pub elevation: f64,
    /// Lowest altitude the telescope may point at, degrees.
    pub horizon: f64,
    /// The night is when the sun is below this altitude, degrees.
    pub night_sun_altitude: f64,
}

impl Default for Site {
    fn default() -> Self {
        Self {
            name: "San Pedro Martir (COLIBRI)".to_owned(),
            latitude: 31.0439,
            longitude: -115.4637,
            elevation: 2790.0,
            horizon: 20.0,
            night_sun_altitude: -12.0,
        }
    }
}

/// Which drivers talk to the devices, and where they are.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Devices {
    /// Every device's driver unless it names its own: `sim` (in-process
    /// simulators), `socket` (PyROS JSON over TCP), `indi`, `alpaca`.
    pub driver: Driver,
    /// Longest a device call may take, seconds.
    pub timeout_s: f64,
    /// The INDI server of the devices on `indi` that give no address.
    pub indi: String,
    /// The Alpaca server of the devices on `alpaca` that give no address.
    pub alpaca: String,
    /// A `socket_config.ini` (the seeds' format) giving the socket devices'
    /// addresses; a device's own `address` wins over it.
    pub socket_config: Option<PathBuf>,
    pub telescope: Device,
    pub dome: Device,
    pub camera_vis: Device,
    pub camera_nir: Device,
    pub filter_vis: Device,
    pub filter_nir: Device,
    /// The weather and site source (the PLC; INDI weather; Alpaca
    /// ObservingConditions with the SafetyMonitor of the same number).
    pub plc: Device,
}

impl Default for Devices {
    fn default() -> Self {
        Self {
            driver: Driver::Sim,
            timeout_s: 5.0,
            indi: "127.0.0.1:7624".to_owned(),
            alpaca: "http://127.0.0.1:11111".to_owned(),
            socket_config: None,
            telescope: Device::default(),
            dome: Device::default(),
            camera_vis: Device::default(),
            camera_nir: Device::default(),
            filter_vis: Device::default(),
            filter_nir: Device::default(),
            plc: Device::default(),
        }
    }
}

/// A device's place in the observatory, as named in `[devices.<role>]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Telescope,
    Dome,
    CameraVis,
    CameraNir,
    FilterVis,
    FilterNir,
    /// The weather and site source.
    Plc,
}

impl Role {
    pub const ALL: [Role; 7] = [
        Role::Telescope,
        Role::Dome,
        Role::CameraVis,
        Role::CameraNir,
        Role::FilterVis,
        Role::FilterNir,
        Role::Plc,
    ];

    /// The name in the configuration and in messages (`camera_vis`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Telescope => "telescope",
            Role::Dome => "dome",
            Role::CameraVis => "camera_vis",
            Role::CameraNir => "camera_nir",
            Role::FilterVis => "filter_vis",
            Role::FilterNir => "filter_nir",
            Role::Plc => "plc",
        }
    }

    /// The role named `name`, if any.
    pub fn parse(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == name)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How Ferros talks to a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Driver {
    /// In-process simulators.
    Sim,
    /// PyROS JSON over TCP.
    Socket,
    Indi,
    Alpaca,
    /// The observatory has no such device (a role's own driver only).
    None,
}

impl Driver {
    pub fn as_str(self) -> &'static str {
        match self {
            Driver::Sim => "sim",
            Driver::Socket => "socket",
            Driver::Indi => "indi",
            Driver::Alpaca => "alpaca",
            Driver::None => "none",
        }
    }
}

impl std::fmt::Display for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Devices {
    pub fn role(&self, role: Role) -> &Device {
        match role {
            Role::Telescope => &self.telescope,
            Role::Dome => &self.dome,
            Role::CameraVis => &self.camera_vis,
            Role::CameraNir => &self.camera_nir,
            Role::FilterVis => &self.filter_vis,
            Role::FilterNir => &self.filter_nir,
            Role::Plc => &self.plc,
        }
    }

    /// The driver a device uses: its own, else `devices.driver`.
    pub fn driver_of(&self, role: Role) -> Driver {
        self.role(role).driver.unwrap_or(self.driver)
    }
}

/// One device's driver and address; what is not given comes from `[devices]`
/// and the driver's defaults (docs/configuration.md).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Device {
    pub driver: Option<Driver>,
    /// `host:port` (socket, indi) or a URL (alpaca).
    pub address: Option<String>,
    /// The INDI device name, or the Alpaca device number.
    #[serde(deserialize_with = "name_or_number")]
    pub device: Option<String>,
    /// A filter wheel's slot names, for the check of requests at import
    /// (empty: the simulated wheel's with the sim driver, else checked
    /// when the night begins).
    pub filters: Vec<String>,
    /// A filter wheel's aliases: a request's name for a filter to the slot's
    /// (`r = "Red"`).
    pub aliases: std::collections::BTreeMap<String, String>,
}

/// A device is named by text (INDI) or by number (Alpaca, `device = 1`).
fn name_or_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum NameOrNumber {
        Name(String),
        Number(u64),
    }
    Ok(Option::<NameOrNumber>::deserialize(d)?.map(|v| match v {
        NameOrNumber::Name(s) => s,
        NameOrNumber::Number(n) => n.to_string(),
    }))
}

/// How long the environment's series are kept, days: raw readings, 1-minute
/// and 10-minute buckets; and how often a raw reading is kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct History {
    pub raw_days: f64,
    pub minute_days: f64,
    pub ten_minute_days: f64,
    /// A raw reading is stored at most this often (seconds; ENV reads every
    /// `agents.env_period_s`), and with every change of status or reasons.
    pub raw_every_s: f64,
}

impl Default for History {
    fn default() -> Self {
        Self { raw_days: 2.0, minute_days: 90.0, ten_minute_days: 3650.0, raw_every_s: 10.0 }
    }
}

/// How often each agent works, seconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Agents {
    pub env_period_s: f64,
    pub majordome_period_s: f64,
    /// How often the planner looks for changes made elsewhere (a request
    /// submitted from another process); the agents' own news wakes it at once.
    pub planner_period_s: f64,
    pub heartbeat_timeout_s: f64,
    /// Time allowed from UNSAFE to exposures stopped and the dome closing, seconds.
    pub reaction_s: f64,
}

impl Default for Agents {
    fn default() -> Self {
        Self {
            env_period_s: 2.0,
            majordome_period_s: 5.0,
            planner_period_s: 10.0,
            heartbeat_timeout_s: 30.0,
            reaction_s: 30.0,
        }
    }
}

/// What an alert does to the sequence being executed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Preemption {
    /// Abort the exposures at once.
    Abort,
    /// Let the current exposures end (and be archived), then stop.
    EndOfExposure,
}

/// How sequences are executed and the night is run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Executor {
    /// How often the executor looks at the database for what changed
    /// elsewhere (a cancellation, an alert, the next sequence due), seconds;
    /// the other agents' news (a mode, UNSAFE, a new schedule, an alert, the end of its
    /// own job) wakes it at once.
    pub period_s: f64,
    /// A planned sequence may start this early, seconds.
    pub lead_s: f64,
    pub preemption: Preemption,
    /// Time allowed for a slew, the dome or a filter change, seconds (clock time).
    pub motion_timeout_s: f64,
    /// Time allowed beyond an exposure for its readout, seconds.
    pub readout_timeout_s: f64,
    /// The mount's settling after a slew or a dithering move, seconds.
    pub settle_s: f64,
    /// The dome's slit is on the mount when their azimuths differ by at most
    /// this, degrees: no sky exposure begins before.
    pub dome_tolerance_deg: f64,
    /// Each camera's full-frame readout, seconds (binned n x n: divided by
    /// n squared). A plan's duration must budget it for every image: the
    /// importer checks it, and the executor ends a plan at its block's end.
    pub readout_vis_s: f64,
    pub readout_nir_s: f64,
    /// Twilight flats per filter each evening (0: none).
    pub flats_per_filter: u32,
    /// Flat exposure, seconds; taken with the Sun between `flats_sun_altitude` and the night altitude.
    pub flat_exposure_s: f64,
    pub flats_sun_altitude: f64,
    /// Filters of the flats (VIS wheel, then NIR wheel); empty: none.
    pub flat_filters_vis: Vec<String>,
    pub flat_filters_nir: Vec<String>,
    /// Bias frames per camera each morning.
    pub biases: u32,
    /// Dark exposures per camera each morning, seconds.
    pub darks_s: Vec<f64>,
    /// Darks of each exposure (a master dark combines them).
    pub darks_per_exposure: u32,
}

impl Executor {
    /// The cameras' readouts, as the importer and the executor count them.
    pub fn readouts(&self) -> ferros_domain::Readouts {
        ferros_domain::Readouts { vis: self.readout_vis_s, nir: self.readout_nir_s }
    }
}

impl Default for Executor {
    fn default() -> Self {
        Self {
            period_s: 5.0,
            lead_s: 120.0,
            preemption: Preemption::Abort,
            motion_timeout_s: 300.0,
            readout_timeout_s: 120.0,
            settle_s: 1.0,
            dome_tolerance_deg: 3.0,
            readout_vis_s: 5.0,
            readout_nir_s: 2.0,
            flats_per_filter: 3,
            flat_exposure_s: 5.0,
            flats_sun_altitude: -3.0,
            flat_filters_vis: ["g", "r", "i"].map(String::from).to_vec(),
            flat_filters_nir: ["J", "H"].map(String::from).to_vec(),
            biases: 5,
            darks_s: vec![60.0, 300.0],
            darks_per_exposure: 3,
        }
    }
}

/// The alert manager: where notices come from and how they are followed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Alerts {
    /// The program alert requests are charged to (created, priority 0, if missing).
    pub program: String,
    /// The account alert requests belong to (created, without a password, if missing).
    pub owner: String,
    /// Whether notices of role "test" are followed (by the `test` strategy).
    pub accept_tests: bool,
    /// Triggers of two missions this close, seconds, at compatible positions,
    /// are one burst.
    pub same_burst_s: f64,
    /// The field of view both cameras share, degrees: an error circle wider
    /// is tiled or skipped, as its strategy says.
    pub field_of_view_deg: f64,
    /// A folder of strategy files (`*.toml`) beside the built-in ones; empty:
    /// `<data_dir>/strategies` when it exists.
    pub strategies_dir: Option<PathBuf>,
    /// The watched folder: each `*.xml` put there is taken as a notice, then
    /// moved to `done/` or `refused/` beside it; empty: `<data_dir>/voevents`.
    pub watch_dir: Option<PathBuf>,
    /// VOEvent Transport Protocol brokers to subscribe to (`host:port`).
    pub vtp: Vec<String>,
    /// The IVORN Ferros answers a broker's iamalive with.
    pub vtp_ivorn: String,
    /// Kafka bootstrap brokers (`host:port`); none: no Kafka intake.
    pub kafka: Vec<String>,
    /// The topics read, each partition from where Ferros last stopped (kept
    /// in the database with the alerts), else from the topic's end.
    pub kafka_topics: Vec<String>,
    /// Where a partition never read before starts: "latest" or "earliest".
    pub kafka_start: KafkaStart,
}

/// Where a Kafka partition never read before is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KafkaStart {
    /// Only what is produced from now on.
    Latest,
    /// Everything the broker still holds.
    Earliest,
}

impl Default for Alerts {
    fn default() -> Self {
        Self {
            program: "GRB".to_owned(),
            owner: "alert-manager".to_owned(),
            accept_tests: false,
            same_burst_s: 120.0,
            field_of_view_deg: 0.43,
            strategies_dir: None,
            watch_dir: None,
            vtp: Vec::new(),
            vtp_ivorn: "ivo://ferros/observatory".to_owned(),
            kafka: Vec::new(),
            kafka_topics: [
                "gcn.notices.svom.voevent.eclairs",
                "gcn.notices.svom.voevent.grm",
                "gcn.notices.svom.voevent.mxt",
                "gcn.classic.voevent.FERMI_GBM_FLT_POS",
                "gcn.classic.voevent.FERMI_GBM_GND_POS",
                "gcn.classic.voevent.FERMI_GBM_FIN_POS",
                "gcn.classic.voevent.SWIFT_BAT_GRB_POS_ACK",
            ]
            .map(String::from)
            .to_vec(),
            kafka_start: KafkaStart::Latest,
        }
    }
}

impl Settings {
    /// The watched alert folder.
    pub fn alert_watch_dir(&self) -> PathBuf {
        self.alerts.watch_dir.clone().unwrap_or_else(|| self.data_dir.join("voevents"))
    }

    /// The folder of strategy files, if there is one.
    pub fn strategies_dir(&self) -> Option<PathBuf> {
        match &self.alerts.strategies_dir {
            Some(d) => Some(d.clone()),
            None => Some(self.data_dir.join("strategies")).filter(|d| d.is_dir()),
        }
    }
}

/// Limits beyond which the observatory is UNSAFE.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Weather {
    /// Rain rate above which it rains, mm/h.
    pub max_rain_rate: f64,
    /// Wind speed, m/s.
    pub max_wind_speed: f64,
    /// Relative humidity, %.
    pub max_humidity: f64,
    /// Sky minus ambient temperature above which it is cloudy, degrees C.
    pub max_sky_minus_ambient: f64,
    /// Sensor data older than this is stale (and unsafe), seconds.
    pub stale_after_s: f64,
    /// Time conditions must stay good before SAFE again (hysteresis), seconds.
    pub safe_delay_s: f64,
    /// Cloud cover above which it is cloudy (sources giving a cover), %.
    pub max_cloud_cover: f64,
    /// Sun altitude above which it is daylight (unsafe to open), degrees.
    pub max_sun_altitude: f64,
    /// Quantities that must be measured: one no sensor gives is unsafe. The
    /// others, when no sensor gives them, are "not measured here".
    pub required: Vec<String>,
    /// Sensors in order of trust: for each quantity the first valid and fresh
    /// one gives the value; sensors not listed come after, in the PLC's order.
    pub sensors: Vec<String>,
}

impl Default for Weather {
    fn default() -> Self {
        Self {
            max_rain_rate: 0.0,
            max_wind_speed: 15.0,
            max_humidity: 90.0,
            max_sky_minus_ambient: -20.0,
            stale_after_s: 30.0,
            safe_delay_s: 300.0,
            max_cloud_cover: 50.0,
            max_sun_altitude: 0.0,
            required: ["rain", "wind", "humidity", "clouds"].map(String::from).to_vec(),
            sensors: ["WXT520", "VantagePro", "DRD11", "MLX90614-1"].map(String::from).to_vec(),
        }
    }
}

impl Settings {
    /// Defaults, then the file (`path`, else `./ferros.toml` when present), then
    /// the environment.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load_from(path, Env::prefixed("FERROS_"))
    }

    fn load_from(path: Option<&Path>, env: Env) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        match path {
            Some(p) if !p.is_file() => return Err(ConfigError::Missing(p.to_owned())),
            Some(p) => figment = figment.merge(Toml::file_exact(p)),
            None if Path::new(DEFAULT_CONFIG_FILE).is_file() => {
                figment = figment.merge(Toml::file_exact(DEFAULT_CONFIG_FILE))
            }
            None => {}
        }
        // Only the variables that name a setting: FERROS_CONFIG, FERROS_LOG and
        // test switches are read elsewhere.
        const SECTIONS: [&str; 11] = [
            "data_dir",
            "database_url",
            "bind",
            "site",
            "devices",
            "agents",
            "weather",
            "history",
            "executor",
            "import",
            "alerts",
        ];
        let env = env
            .filter(|k| {
                let first = k.as_str().split("__").next().unwrap_or_default();
                SECTIONS.contains(&first.to_ascii_lowercase().as_str())
            })
            .split("__");
        let settings: Settings =
            figment.merge(env).extract().map_err(|e| ConfigError::Invalid(e.to_string()))?;
        settings.validate()?;
        Ok(settings)
    }

    fn validate_alerts(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, why: String| Err(ConfigError::Invalid(format!("alerts.{key}: {why}")));
        let a = &self.alerts;
        for (key, v) in [("program", &a.program), ("owner", &a.owner)] {
            if v.trim().is_empty() || v.chars().count() > 64 {
                return bad(key, format!("\"{v}\" must be 1 to 64 characters"));
            }
        }
        if ferros_domain::validate_username(&a.owner).is_err() {
            return bad(
                "owner",
                format!("\"{}\" is not a user name (letters, digits, '.', '_', '-', '@')", a.owner),
            );
        }
        if !(a.same_burst_s.is_finite() && (0.0..=86_400.0).contains(&a.same_burst_s)) {
            return bad("same_burst_s", format!("{} must be 0 to 86400 seconds", shown(a.same_burst_s)));
        }
        let f = a.field_of_view_deg;
        if !(f.is_finite() && f > 0.0 && f <= 10.0) {
            return bad("field_of_view_deg", format!("{} must be > 0 and at most 10 degrees", shown(f)));
        }
        if a.vtp.len() > 16 || a.kafka.len() > 16 {
            return bad("vtp", "at most 16 brokers of each kind".to_owned());
        }
        if a.kafka_topics.len() > ferros_limits::MAX_KAFKA_TOPICS {
            return bad("kafka_topics", format!("at most {} topics", ferros_limits::MAX_KAFKA_TOPICS));
        }
        for (key, addr) in a.vtp.iter().map(|x| ("vtp", x)).chain(a.kafka.iter().map(|x| ("kafka", x))) {
            let ok = addr
                .rsplit_once(':')
                .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok_and(|p| p > 0));
            if !ok {
                return bad(key, format!("\"{addr}\" is not host:port"));
            }
        }
        for t in &a.kafka_topics {
            let ok = (1..=249).contains(&t.len())
                && t.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
            if !ok {
                return bad("kafka_topics", format!("\"{t}\" is not a Kafka topic name"));
            }
        }
        if a.vtp_ivorn.len() > 256 || !a.vtp_ivorn.starts_with("ivo://") {
            return bad("vtp_ivorn", format!("\"{}\" must be an ivo:// IVORN", a.vtp_ivorn));
        }
        Ok(())
    }

    fn validate_web(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, why: String| Err(ConfigError::Invalid(format!("web.{key}: {why}")));
        let w = &self.web;
        if !(w.session_hours.is_finite() && w.session_hours >= 0.1 && w.session_hours <= 24.0 * 30.0) {
            return bad("session_hours", format!("{} must be 0.1 to 720 hours", shown(w.session_hours)));
        }
        if !(1..=1000).contains(&w.login_failures) {
            return bad("login_failures", format!("{} must be 1 to 1000", w.login_failures));
        }
        if !(w.login_window_s.is_finite() && (1.0..=86_400.0).contains(&w.login_window_s)) {
            return bad("login_window_s", format!("{} must be 1 to 86400 seconds", shown(w.login_window_s)));
        }
        if w.webcams.len() > MAX_WEBCAMS {
            return bad("webcams", format!("at most {MAX_WEBCAMS} webcams"));
        }
        for u in &w.webcams {
            let ok = (u.starts_with("http://") || u.starts_with("https://"))
                && u.len() <= 500
                && !u.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, '"' | '<' | '>'));
            if !ok {
                return bad(
                    "webcams",
                    format!("\"{u}\" is not an http(s) address of at most 500 characters"),
                );
            }
        }
        Ok(())
    }

    fn validate_mail(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, why: String| Err(ConfigError::Invalid(format!("mail.{key}: {why}")));
        let m = &self.mail;
        let plain = |s: &str| !s.chars().any(|c| c.is_whitespace() || c.is_control());
        if m.smtp_host.len() > 253 || !plain(&m.smtp_host) {
            return bad("smtp_host", format!("\"{}\" is not a host name", m.smtp_host));
        }
        if m.smtp_port == 0 {
            return bad("smtp_port", "0 is not a port".to_owned());
        }
        let at = m.from.find('@');
        if m.from.len() > 254 || !plain(&m.from) || at.is_none_or(|i| i == 0 || i + 1 == m.from.len()) {
            return bad("from", format!("\"{}\" is not an e-mail address", m.from));
        }
        let ok_url = (m.base_url.starts_with("http://") || m.base_url.starts_with("https://"))
            && m.base_url.len() <= 500
            && plain(&m.base_url)
            && !m.base_url.contains(['"', '<', '>']);
        if !ok_url {
            return bad(
                "base_url",
                format!("\"{}\" is not an http(s) address of at most 500 characters", m.base_url),
            );
        }
        for (k, v, hi) in [
            ("timeout_s", m.timeout_s, 300.0),
            ("activation_hours", m.activation_hours, 24.0 * 30.0),
            ("reset_hours", m.reset_hours, 24.0 * 7.0),
        ] {
            if !(v.is_finite() && v > 0.0 && v <= hi) {
                return bad(k, format!("{} must be above 0 and at most {hi}", shown(v)));
            }
        }
        Ok(())
    }

    fn validate_pipeline(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, why: String| Err(ConfigError::Invalid(format!("{key}: {why}")));
        for (name, d) in [("vis", &self.detectors.vis), ("nir", &self.detectors.nir)] {
            let key = |k: &str| format!("detectors.{name}.{k}");
            for (k, v, lo, hi, unit) in [
                ("pixel_scale", d.pixel_scale, 0.01, 100.0, "arcseconds"),
                ("rotation_deg", d.rotation_deg, -360.0, 360.0, "degrees"),
                ("gain", d.gain, 0.01, 1000.0, "electrons per count"),
                ("read_noise", d.read_noise, 0.0, 10_000.0, "electrons"),
                ("saturation", d.saturation, 1.0, 1e9, "counts"),
                ("cooler_tolerance", d.cooler_tolerance, 0.05, 20.0, "degrees"),
                ("cooler_settle_s", d.cooler_settle_s, 0.0, MAX_SECONDS, "seconds"),
            ] {
                if !(v.is_finite() && (lo..=hi).contains(&v)) {
                    return bad(&key(k), format!("{} must be {lo} to {hi} {unit}", shown(v)));
                }
            }
            if let Some(t) = d.cooler_setpoint
                && !(t.is_finite() && (-100.0..=30.0).contains(&t))
            {
                return bad(&key("cooler_setpoint"), format!("{} must be -100 to 30 C", shown(t)));
            }
        }
        let p = &self.pipeline;
        for (k, v, lo, hi) in [
            ("aperture_px", p.aperture_px, 0.5, 100.0),
            ("threshold", p.threshold, 0.5, 1000.0),
            ("match_radius_arcsec", p.match_radius_arcsec, 0.01, 60.0),
            ("solve_timeout_s", p.solve_timeout_s, 1.0, 3600.0),
            ("dark_temperature_tolerance", p.dark_temperature_tolerance, 0.1, 50.0),
        ] {
            if !(v.is_finite() && (lo..=hi).contains(&v)) {
                return bad(&format!("pipeline.{k}"), format!("{} must be {lo} to {hi}", shown(v)));
            }
        }
        if !(8..=1024).contains(&p.mesh_px) {
            return bad("pipeline.mesh_px", format!("{} must be 8 to 1024 pixels", p.mesh_px));
        }
        if !(1..=ferros_limits::MAX_MASTER_FRAMES as u32).contains(&p.master_min_frames) {
            return bad(
                "pipeline.master_min_frames",
                format!("{} must be 1 to {}", p.master_min_frames, ferros_limits::MAX_MASTER_FRAMES),
            );
        }
        if !["all", "alerts"].contains(&p.images.as_str()) {
            return bad("pipeline.images", format!("\"{}\": \"all\" or \"alerts\"", p.images));
        }
        if !["ferros", "astrometry.net"].contains(&p.solver.as_str()) {
            return bad("pipeline.solver", format!("\"{}\": \"ferros\" or \"astrometry.net\"", p.solver));
        }
        if p.solve_field.trim().is_empty() || p.solve_field.len() > 500 {
            return bad("pipeline.solve_field", "a program name of 1 to 500 characters".into());
        }
        Ok(())
    }

    /// Checks the ranges serde cannot.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, why: &str| Err(ConfigError::Invalid(format!("{key}: {why}")));
        self.validate_alerts()?;
        self.validate_web()?;
        self.validate_mail()?;
        if self.proposals.deadline_days > 180 {
            return bad("proposals.deadline_days", "must be 0 to 180 days (a period is six months)");
        }
        self.validate_pipeline()?;
        let s = &self.site;
        if s.name.trim().is_empty() || s.name.chars().count() > 68 {
            return bad("site.name", "must be 1 to 68 characters (it goes into every image's header)");
        }
        if let Some((at, c, why)) = ferros_domain::text::first_forbidden(&s.name) {
            return bad("site.name", &format!("character {} at {at} is {why}", c.escape_unicode()));
        }
        if !(-90.0..=90.0).contains(&s.latitude) {
            return bad("site.latitude", &format!("{} is outside -90..90 degrees", s.latitude));
        }
        if !(-180.0..=180.0).contains(&s.longitude) {
            return bad("site.longitude", &format!("{} is outside -180..180 degrees", s.longitude));
        }
        if !(-500.0..=9000.0).contains(&s.elevation) {
            return bad("site.elevation", &format!("{} m is not an elevation on Earth", s.elevation));
        }
        if !(0.0..90.0).contains(&s.horizon) {
            return bad("site.horizon", &format!("{} is outside 0..90 degrees", s.horizon));
        }
        if !(-90.0..=0.0).contains(&s.night_sun_altitude) {
            return bad(
                "site.night_sun_altitude",
                &format!("{} is outside -90..0 degrees", s.night_sun_altitude),
            );
        }
        if self.devices.driver == Driver::None {
            return bad("devices.driver", "\"none\" is for one device only (devices.<role>.driver)");
        }
        for role in Role::ALL {
            let d = self.devices.role(role);
            if self.devices.driver_of(role) == Driver::Alpaca
                && let Some(n) = &d.device
                && n.parse::<u32>().is_err()
            {
                return bad(
                    &format!("devices.{role}.device"),
                    &format!("\"{n}\" is not an Alpaca device number"),
                );
            }
        }
        for role in Role::ALL {
            let d = self.devices.role(role);
            let wheel = matches!(role, Role::FilterVis | Role::FilterNir);
            let named = !d.filters.is_empty() || !d.aliases.is_empty();
            if named && !wheel {
                return bad(&format!("devices.{role}"), "filters and aliases are for filter wheels only");
            }
            if d.filters.len() > MAX_WHEEL_NAMES || d.aliases.len() > MAX_WHEEL_NAMES {
                return bad(
                    &format!("devices.{role}"),
                    &format!("at most {MAX_WHEEL_NAMES} filters and aliases"),
                );
            }
            for (key, name) in d
                .filters
                .iter()
                .map(|n| ("filters", n))
                .chain(d.aliases.iter().flat_map(|(a, n)| [("aliases", a), ("aliases", n)]))
            {
                if name.trim().is_empty() || name.chars().count() > 68 {
                    return bad(
                        &format!("devices.{role}.{key}"),
                        &format!("\"{name}\" must be 1 to 68 characters"),
                    );
                }
                if let Some((at, c, why)) = ferros_domain::text::first_forbidden(name) {
                    return bad(
                        &format!("devices.{role}.{key}"),
                        &format!("character {} at {at} is {why}", c.escape_unicode()),
                    );
                }
            }
            if let Some((alias, slot)) =
                d.aliases.iter().find(|(_, n)| !d.filters.is_empty() && !d.filters.contains(n))
            {
                return bad(
                    &format!("devices.{role}.aliases"),
                    &format!("{alias} = \"{slot}\": no such filter in devices.{role}.filters"),
                );
            }
        }
        // Durations have an upper bound too: a day (an hour for a device
        // call), ten years of history; beyond, they are typing errors, and
        // 1e300 seconds is no duration a clock can hold.
        let t = self.devices.timeout_s;
        if !(t.is_finite() && t > 0.0 && t <= MAX_CALL_S) {
            let t = shown(t);
            return bad("devices.timeout_s", &format!("{t} must be > 0 and at most {MAX_CALL_S} seconds"));
        }
        let a = &self.agents;
        for (key, v) in [
            ("agents.env_period_s", a.env_period_s),
            ("agents.majordome_period_s", a.majordome_period_s),
            ("agents.planner_period_s", a.planner_period_s),
            ("agents.heartbeat_timeout_s", a.heartbeat_timeout_s),
            ("agents.reaction_s", a.reaction_s),
            ("weather.stale_after_s", self.weather.stale_after_s),
            ("executor.period_s", self.executor.period_s),
            ("executor.motion_timeout_s", self.executor.motion_timeout_s),
            ("executor.readout_timeout_s", self.executor.readout_timeout_s),
        ] {
            if !(v.is_finite() && v > 0.0 && v <= MAX_SECONDS) {
                return bad(key, &format!("{} must be > 0 and at most {MAX_SECONDS} seconds", shown(v)));
            }
        }
        let h = &self.history;
        for (key, v) in [
            ("history.raw_days", h.raw_days),
            ("history.minute_days", h.minute_days),
            ("history.ten_minute_days", h.ten_minute_days),
        ] {
            if !(v.is_finite() && v > 0.0 && v <= MAX_DAYS) {
                return bad(key, &format!("{} must be > 0 and at most {MAX_DAYS} days", shown(v)));
            }
        }
        if !(h.raw_every_s.is_finite() && (0.0..=3600.0).contains(&h.raw_every_s)) {
            return bad("history.raw_every_s", &format!("{} must be 0..3600 seconds", h.raw_every_s));
        }
        let x = &self.executor;
        for (key, v) in [("executor.lead_s", x.lead_s), ("executor.flat_exposure_s", x.flat_exposure_s)]
            .into_iter()
            .chain(x.darks_s.iter().map(|d| ("executor.darks_s", *d)))
        {
            if !(v.is_finite() && (0.0..=MAX_SECONDS).contains(&v)) {
                return bad(key, &format!("{} must be 0 to {MAX_SECONDS} seconds", shown(v)));
            }
        }
        for (key, v) in [
            ("executor.biases", x.biases),
            ("executor.darks_per_exposure", x.darks_per_exposure),
            ("executor.flats_per_filter", x.flats_per_filter),
        ] {
            if v as usize > ferros_limits::MAX_MASTER_FRAMES {
                return bad(key, &format!("{v} frames: at most {}", ferros_limits::MAX_MASTER_FRAMES));
            }
        }
        if x.darks_s.len() > 32 {
            return bad("executor.darks_s", "at most 32 dark exposures");
        }
        if !(-18.0..=0.0).contains(&x.flats_sun_altitude) {
            return bad("executor.flats_sun_altitude", "must be between -18 and 0 degrees");
        }
        for (key, v) in
            [("executor.readout_vis_s", x.readout_vis_s), ("executor.readout_nir_s", x.readout_nir_s)]
        {
            if !(v.is_finite() && (0.0..=MAX_READOUT_S).contains(&v)) {
                return bad(key, &format!("{} must be 0 to {MAX_READOUT_S} seconds", shown(v)));
            }
        }
        if !(x.settle_s.is_finite() && (0.0..=60.0).contains(&x.settle_s)) {
            return bad("executor.settle_s", &format!("{} must be 0 to 60 seconds", shown(x.settle_s)));
        }
        let tol = x.dome_tolerance_deg;
        if !(tol.is_finite() && tol > 0.0 && tol <= 180.0) {
            return bad(
                "executor.dome_tolerance_deg",
                &format!("{} must be > 0 and at most 180 degrees", shown(tol)),
            );
        }
        if let Some((key, v, most)) = self.import.beyond_ceiling() {
            return bad(&format!("import.{key}"), &format!("{v} must be 1 to {most}"));
        }
        let d = self.weather.safe_delay_s;
        if !(d.is_finite() && (0.0..=MAX_SECONDS).contains(&d)) {
            return bad("weather.safe_delay_s", &format!("{} must be 0 to {MAX_SECONDS} seconds", shown(d)));
        }
        Ok(())
    }

    /// The database URL in force: the configured one, or the SQLite file in the data directory.
    pub fn database_url(&self) -> String {
        if self.database_url.trim().is_empty() {
            format!("sqlite://{}", self.data_dir.join("ferros.db").display())
        } else {
            self.database_url.clone()
        }
    }
}

#[cfg(test)]
#[allow(clippy::result_large_err, reason = "figment::Jail's own error type")]
mod tests {
    use super::*;

    #[test]
    fn defaults_work_and_point_at_the_data_dir() {
        figment::Jail::expect_with(|_jail| {
            let s = Settings::load(None).map_err(|e| e.to_string())?;
            assert_eq!(s, Settings::default());
            assert_eq!(s.database_url(), "sqlite://./var/ferros.db");
            assert_eq!(s.bind.to_string(), "127.0.0.1:8000");
            Ok(())
        });
    }

    #[test]
    fn file_then_environment_override_defaults() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "site.toml",
                "data_dir = \"/srv/ferros\"\n[site]\nname = \"OHP\"\nlatitude = 43.93\n[weather]\nmax_wind_speed = 12.5\n",
            )?;
            jail.set_env("FERROS_SITE__LATITUDE", "44.0");
            jail.set_env("FERROS_BIND", "0.0.0.0:9000");
            jail.set_env("FERROS_CONFIG", "ignored.toml");
            let s = Settings::load(Some(Path::new("site.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(s.site.name, "OHP");
            assert_eq!(s.site.latitude, 44.0);
            assert_eq!(s.weather.max_wind_speed, 12.5);
            assert_eq!(s.bind.port(), 9000);
            assert_eq!(s.database_url(), "sqlite:///srv/ferros/ferros.db");
            Ok(())
        });
    }

    #[test]
    fn bad_settings_name_the_key() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("a.toml", "[site]\nlatitud = 3\n")?;
            let e = Settings::load(Some(Path::new("a.toml"))).unwrap_err().to_string();
            assert!(e.contains("latitud"), "{e}");
            jail.create_file("b.toml", "[site]\nlatitude = 95\n")?;
            let e = Settings::load(Some(Path::new("b.toml"))).unwrap_err().to_string();
            assert!(e.contains("site.latitude") && e.contains("95"), "{e}");
            jail.create_file("c.toml", "bind = \"nowhere\"\n")?;
            let e = Settings::load(Some(Path::new("c.toml"))).unwrap_err().to_string();
            assert!(e.contains("bind"), "{e}");
            let e = Settings::load(Some(Path::new("missing.toml"))).unwrap_err().to_string();
            assert!(e.contains("missing.toml") && e.contains("not found"), "{e}");
            jail.set_env("FERROS_AGENTS__ENV_PERIOD_S", "0");
            let e = Settings::load(None).unwrap_err().to_string();
            assert!(e.contains("agents.env_period_s"), "{e}");
            jail.set_env("FERROS_AGENTS__ENV_PERIOD_S", "2");
            jail.set_env("FERROS_HISTORY__RAW_EVERY_S", "-1");
            let e = Settings::load(None).unwrap_err().to_string();
            assert!(e.contains("history.raw_every_s") && e.contains("0..3600"), "{e}");
            Ok(())
        });
    }

    #[test]
    fn each_device_names_its_driver_address_and_device() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "d.toml",
                "[devices]\ndriver = \"indi\"\n[devices.camera_vis]\ndriver = \"alpaca\"\ndevice = 2\n\
                 [devices.telescope]\naddress = \"10.0.0.5:7624\"\ndevice = \"LX200\"\n",
            )?;
            jail.set_env("FERROS_DEVICES__PLC__DRIVER", "socket");
            jail.set_env("FERROS_DEVICES__PLC__DEVICE", "7");
            let s = Settings::load(Some(Path::new("d.toml"))).map_err(|e| e.to_string())?;
            let d = &s.devices;
            assert_eq!(
                (d.driver_of(Role::Telescope), d.driver_of(Role::CameraVis), d.driver_of(Role::Plc)),
                (Driver::Indi, Driver::Alpaca, Driver::Socket)
            );
            assert_eq!(d.camera_vis.device.as_deref(), Some("2"));
            assert_eq!(d.plc.device.as_deref(), Some("7"));
            assert_eq!(d.telescope.address.as_deref(), Some("10.0.0.5:7624"));
            assert_eq!(d.driver_of(Role::Dome), Driver::Indi);
            jail.create_file("e.toml", "[devices.dome]\nspeed = 3\n")?;
            let e = Settings::load(Some(Path::new("e.toml"))).unwrap_err().to_string();
            assert!(e.contains("speed"), "{e}");
            jail.create_file("f.toml", "[devices]\ntimeout_s = 0\n")?;
            let e = Settings::load(Some(Path::new("f.toml"))).unwrap_err().to_string();
            assert!(e.contains("devices.timeout_s"), "{e}");
            jail.create_file("n.toml", "[site]\nname = \"Pic\\nfake\"\n")?;
            let e = Settings::load(Some(Path::new("n.toml"))).unwrap_err().to_string();
            assert!(e.contains("site.name: character \\u{a} at 4 is a control"), "{e}");
            // Values no clock can hold are refused, naming the key.
            for (file, key) in [
                ("[devices]\ntimeout_s = 1e300\n", "devices.timeout_s"),
                ("[agents]\nheartbeat_timeout_s = 1e300\n", "agents.heartbeat_timeout_s"),
                ("[history]\nraw_days = 1e300\n", "history.raw_days"),
                ("[weather]\nsafe_delay_s = 1e300\n", "weather.safe_delay_s"),
                ("[executor]\ndarks_s = [10, 1e300]\n", "executor.darks_s"),
                ("[executor]\nreadout_vis_s = -1\n", "executor.readout_vis_s"),
                ("[import]\nmax_images = 1000000\n", "import.max_images"),
                ("[import]\nmax_sequences = 0\n", "import.max_sequences"),
                ("[web]\nsession_hours = 1e300\n", "web.session_hours"),
                ("[web]\nlogin_failures = 0\n", "web.login_failures"),
                ("[web]\nlogin_window_s = -5\n", "web.login_window_s"),
                ("[web]\nwebcams = [\"javascript:alert(1)\"]\n", "web.webcams: \"javascript:alert(1)\""),
                ("[mail]\nfrom = \"nobody\"\n", "mail.from: \"nobody\""),
                ("[proposals]\ndeadline_days = 200\n", "proposals.deadline_days"),
                ("[mail]\nbase_url = \"ftp://x\"\n", "mail.base_url"),
                ("[mail]\nreset_hours = 0\n", "mail.reset_hours"),
                ("[mail]\nsmtp_host = \"a b\"\n", "mail.smtp_host"),
                ("[web]\nwebcams = [\"http://x/a\\\"onerror=\"]\n", "web.webcams"),
                (
                    "[devices.camera_vis]\naliases = { r = \"Red\" }\n",
                    "devices.camera_vis: filters and aliases are for filter wheels only",
                ),
                (
                    "[devices.filter_vis]\nfilters = [\"Red\"]\naliases = { g = \"Green\" }\n",
                    "devices.filter_vis.aliases: g = \"Green\": no such filter",
                ),
                (
                    "[devices.filter_nir]\nfilters = [\"J\\u202e\"]\n",
                    "devices.filter_nir.filters: character \\u{202e} at 2",
                ),
            ] {
                jail.create_file("g.toml", file)?;
                let e = Settings::load(Some(Path::new("g.toml"))).unwrap_err().to_string();
                assert!(e.contains(key), "{e}");
            }
            Ok(())
        });
    }
}
