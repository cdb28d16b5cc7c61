//! The command line, as clap types. Global options apply to every command.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "ferros", version, about = "Ferros, a robotic observatory control system")]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalOpts,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalOpts {
    /// Settings file (default: ./ferros.toml when present).
    #[arg(long, global = true, env = "FERROS_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Database URL: sqlite://PATH or postgres://USER@HOST/DB (default: SQLite in the data directory).
    #[arg(long = "db", global = true, env = "FERROS_DATABASE_URL", value_name = "URL")]
    pub database_url: Option<String>,
    /// Data directory: archive and default database (default: ./var).
    #[arg(long, global = true, env = "FERROS_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Run on simulated time starting at this UTC instant (e.g. 2026-11-22T18:00:00Z).
    #[arg(long, global = true, env = "FERROS_TIME", value_name = "ISO8601")]
    pub time: Option<String>,
    /// Speed of simulated time (simulated seconds per real second).
    #[arg(long, global = true, env = "FERROS_SPEED", value_name = "N")]
    pub speed: Option<f64>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Open the database and serve the web interface until Ctrl-C.
    Start(StartArgs),
    /// Observation requests: import, export, list, show, submit, cancel.
    #[command(subcommand)]
    Request(RequestCmd),
    /// Alerts (VOEvent notices): inject, list, show, change strategy.
    #[command(subcommand)]
    Alert(AlertCmd),
    /// Scientific programs.
    #[command(subcommand)]
    Program(ProgramCmd),
    /// Users and their profiles.
    #[command(subcommand)]
    User(UserCmd),
    /// Planning: plan a night, show the current schedule and its history.
    #[command(subcommand)]
    Schedule(ScheduleCmd),
    /// Ephemerides: night events, target visibility, alt/az (see --time for the instant).
    #[command(subcommand)]
    Astro(AstroCmd),
    /// Device simulators speaking the PyROS socket protocol.
    Sim(SimArgs),
    /// The configured devices: their drivers and live state.
    #[command(subcommand)]
    Device(DeviceCmd),
    /// Run one agent alone (ferros start runs them all).
    Agent(AgentArgs),
    /// Observatory control: the majordome's state (`status`), or a command given to it.
    Control(ControlArgs),
    /// Environment monitoring: the latest synthesis and the history of a quantity.
    #[command(subcommand)]
    Env(EnvCmd),
    /// The data reduction pipeline: one image by hand.
    #[command(subcommand)]
    Pipeline(PipelineCmd),
    /// Copy the database (while Ferros runs) and the configuration into a new folder.
    Backup {
        /// A new or empty folder.
        dir: std::path::PathBuf,
    },
    /// Load a backup into an empty database (a fresh data folder), and the
    /// configuration where Ferros reads it when none is there.
    Restore {
        /// A folder written by `ferros backup`.
        dir: std::path::PathBuf,
    },
    /// Benchmarks that print their figures.
    #[command(subcommand)]
    Bench(BenchCmd),
    /// A whole night of the whole system on a virtual clock, with a report.
    SimulateNight(SimulateArgs),
    /// Many random nights with faults, on all cores; the safety invariants checked on each.
    Campaign(CampaignArgs),
}

#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// The date the night starts (YYYY-MM-DD).
    #[arg(long)]
    pub date: String,
    /// A folder of request files (*.xml), submitted at the start (alerts an hour into the night).
    #[arg(long, value_name = "DIR")]
    pub requests: Option<PathBuf>,
    /// A PLC scenario (docs/devices.md); its iterations are spread over the night.
    #[arg(long, value_name = "FILE.json")]
    pub scenario: Option<PathBuf>,
    /// A folder of VOEvent notices (*.xml) delivered during the night by a VTP
    /// broker: at their own Who/Date shifted so the first comes an hour into
    /// the night, or at the minutes after the night's start that its
    /// schedule.json gives ({"FILE.xml": 90, ...}).
    #[arg(long, value_name = "DIR")]
    pub alerts: Option<PathBuf>,
    /// Random weather drawn from the seed, as a campaign's night has (instead of --scenario).
    #[arg(long, conflicts_with = "scenario")]
    pub random_weather: bool,
    /// The seed of the weather's and the cameras' noise (and of the faults with --faults).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Add random faults drawn from the seed: device hangs and silences, agents killed.
    #[arg(long)]
    pub faults: bool,
    /// Pace the night for someone watching: simulated seconds per real second
    /// (default: as fast as the machine can; the outcome is the same).
    #[arg(long, value_name = "N")]
    pub speed: Option<f64>,
    /// Where to write the report (JSON); default: standard output.
    #[arg(long, value_name = "FILE.json")]
    pub report: Option<PathBuf>,
    /// The folder of the night's database and archive (new or empty; default: a new temporary folder).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Print only the summary, not each event.
    /// The data reduction pipeline: every image ("all", as `ferros start`
    /// runs it), the alerts' only ("alerts"), or none ("off").
    #[arg(long, value_name = "WHICH", default_value = "all", value_parser = ["all", "alerts", "off"])]
    pub pipeline: String,
    #[arg(long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct CampaignArgs {
    /// How many random nights.
    #[arg(long, default_value_t = 100)]
    pub nights: u64,
    /// Night i has seed S + i; `simulate-night --seed S+i --faults --random-weather --requests examples/requests` replays it.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The date of the nights (YYYY-MM-DD).
    #[arg(long, default_value = "2026-11-22")]
    pub date: String,
    /// A folder of request files (*.xml); default: the examples shipped with Ferros.
    #[arg(long, value_name = "DIR")]
    pub requests: Option<PathBuf>,
    /// Nights run at once (default: one per core).
    #[arg(long, value_name = "N")]
    pub workers: Option<usize>,
    /// Where the nights run; those that break an invariant are kept (default: a new temporary folder).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// The whole outcome as JSON on standard output.
    #[arg(long)]
    pub json: bool,
}

/// The site, when not the configured one.
#[derive(Debug, Args)]
pub struct SiteArgs {
    /// Latitude, degrees north (default: the configured site).
    #[arg(long, allow_negative_numbers = true)]
    pub lat: Option<f64>,
    /// Longitude, degrees east.
    #[arg(long, allow_negative_numbers = true)]
    pub lon: Option<f64>,
    /// Elevation, metres.
    #[arg(long, allow_negative_numbers = true)]
    pub elev: Option<f64>,
}

#[derive(Debug, Subcommand)]
pub enum PipelineCmd {
    /// Reduce one FITS image: background, sources (x, y in the FITS
    /// convention, the first pixel's centre being 1,1), fluxes, the WCS
    /// solved and the zero point; as a table, or JSON with --json.
    Run {
        file: PathBuf,
        /// Radius of the circular aperture of `flux`, pixels (default: the
        /// configuration's, 5).
        #[arg(long, value_name = "PX")]
        aperture: Option<f64>,
        /// Detection threshold in noise sigmas (default: the configuration's, 1.5).
        #[arg(long, value_name = "SIGMAS")]
        threshold: Option<f64>,
        /// Sources only: no astrometric solution, no zero point (without,
        /// an image whose header has a WCS is solved with the configured
        /// solver and catalogue, and its sources get magnitudes).
        #[arg(long)]
        no_solve: bool,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum AstroCmd {
    /// Sun and Moon events of the night of a date (local noon to local noon).
    Night {
        /// The date the night starts (default: today, UTC).
        #[arg(long)]
        date: Option<String>,
        #[command(flatten)]
        site: SiteArgs,
        #[arg(long)]
        json: bool,
    },
    /// Rise, set, transit and visibility windows of a J2000 position for a night.
    Target {
        /// Right ascension, degrees (J2000).
        #[arg(long, allow_negative_numbers = true)]
        ra: f64,
        /// Declination, degrees (J2000).
        #[arg(long, allow_negative_numbers = true)]
        dec: f64,
        #[arg(long)]
        date: Option<String>,
        #[command(flatten)]
        site: SiteArgs,
        /// Minimum altitude for the windows, degrees (default 0).
        #[arg(long, allow_negative_numbers = true)]
        min_alt: Option<f64>,
        #[arg(long)]
        max_airmass: Option<f64>,
        /// Minimum distance to the Moon, degrees.
        #[arg(long)]
        min_moon_sep: Option<f64>,
        /// Altitude of rise and set, degrees (default 0).
        #[arg(long, allow_negative_numbers = true, default_value_t = 0.0)]
        horizon: f64,
        #[arg(long)]
        json: bool,
    },
    /// Altitude, azimuth, airmass and hour angle of a J2000 position at --time (default: now).
    Altaz {
        #[arg(long, allow_negative_numbers = true)]
        ra: f64,
        #[arg(long, allow_negative_numbers = true)]
        dec: f64,
        #[command(flatten)]
        site: SiteArgs,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ScheduleCmd {
    /// Plan the submitted sequences of a night and store the schedule, or plan
    /// the sequences of a JSON file and store nothing.
    Plan {
        /// The night, by the date it starts (default: the current night).
        #[arg(long, conflicts_with = "input")]
        night: Option<String>,
        /// Plan the sequences of this file instead of the database's.
        #[arg(long, value_name = "FILE.json")]
        input: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// The current schedule (the latest one).
    Show {
        #[arg(long)]
        json: bool,
    },
    /// The schedules made so far, newest first.
    History {
        #[arg(long, default_value_t = 20)]
        limit: i64,
        #[arg(long)]
        json: bool,
    },
}

/// Which simulator server to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SimDevice {
    /// The PLC: answers {"command": [{"name": "STATUS"}]} with the seeds' STATUS JSON.
    Plc,
    /// The mount (port 5000).
    Telescope,
    /// The dome (port 5004).
    Dome,
    /// The visible camera and its filter wheel (port 5001).
    CameraVis,
    /// The infrared camera and its filter wheel (port 5002).
    CameraNir,
    /// All five, sharing one simulated sky: the dome follows the mount, the cameras see where it points.
    All,
}

#[derive(Debug, Args)]
pub struct SimArgs {
    pub device: SimDevice,
    /// A PLC scenario in the seeds' format (see docs/devices.md).
    #[arg(long, value_name = "FILE.json")]
    pub scenario: Option<PathBuf>,
    /// Address to listen on, for one device (default: its section of devices.socket_config, else its
    /// default port: Telescope 5000, CameraVIS 5001, CameraNIR 5002, PLC 5003, Dome 5004).
    #[arg(long, value_name = "ADDR")]
    pub bind: Option<String>,
    /// Seconds of the Ferros clock per iteration of the PLC loop.
    #[arg(long, default_value_t = 1.0)]
    pub period: f64,
}

#[derive(Debug, Subcommand)]
pub enum DeviceCmd {
    /// Reads every configured device once and prints its driver, address and state.
    Status {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum BenchCmd {
    /// The environment history: a year of generated readings in SQLite, then
    /// the queries of the plots (a night, a month, a year).
    History {
        /// Days of history.
        #[arg(long, default_value_t = 365)]
        days: u32,
        /// Quantities recorded every reading.
        #[arg(long, default_value_t = 12)]
        quantities: u32,
        /// Seconds between readings.
        #[arg(long, default_value_t = 2.0)]
        period: f64,
    },
    /// Notices through the whole path (VTP over loopback, parsed, stored,
    /// replanned, the running sequence pre-empted, the simulated mount's slew
    /// commanded): p50, p99 and max of each step.
    Alert {
        #[arg(long, default_value_t = 1000)]
        count: u32,
    },
    /// The pipeline on a simulated frame (4096 x 4096 by default) of the
    /// configured catalogue's stars: calibration, extraction, astrometric
    /// refinement, each timed over runs, beside SExtractor on the same frame
    /// when `source-extractor` is installed.
    Pipeline {
        /// The frame's side, pixels.
        #[arg(long, default_value_t = 4096)]
        size: u32,
        /// Timed runs of each step (the median is shown).
        #[arg(long, default_value_t = 5)]
        runs: u32,
    },
    /// Visibility windows of many targets for one night, on one core.
    Astro {
        #[arg(long, default_value_t = 10_000)]
        targets: usize,
    },
    /// Plan a random, realistic night of N sequences (seeded), on one core.
    Scheduler {
        #[arg(long, default_value_t = 10_000)]
        sequences: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Also write the night (sequences, windows, plan) as JSON, for comparisons.
        #[arg(long, value_name = "FILE.json")]
        export: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
pub struct StartArgs {
    /// Address of the web server (default 127.0.0.1:8000).
    #[arg(long, env = "FERROS_BIND", value_name = "ADDR")]
    pub bind: Option<SocketAddr>,
    /// A scenario for the simulated PLC (seed format, docs/devices.md).
    #[arg(long, value_name = "FILE.json")]
    pub scenario: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ControlArgs {
    /// status, lock, unlock, go-remote, go-scheduler, stop-observing, plc-bypass, stop-plc-bypass,
    /// night-ack, or device (in REMOTE: device telescope slew RA DEC, device dome open...)
    pub what: String,
    /// For `device`: the device and what it must do (docs/majordome.md).
    #[arg(allow_negative_numbers = true)]
    pub args: Vec<String>,
    /// The user giving the command (their profiles decide whether they may).
    #[arg(long = "as", value_name = "USER")]
    pub actor: Option<String>,
    /// Seconds to wait for the majordome's answer.
    #[arg(long, default_value_t = 15.0)]
    pub wait: f64,
    #[arg(long)]
    pub json: bool,
}

/// The agents that can run alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AgentName {
    /// Environment monitoring.
    Env,
    /// The conductor: modes, safety actions on the devices.
    Majordome,
    /// The device status list for the GIC (exchange/GIC/TO), every 6 s.
    Gic,
    /// Replans the night whenever something changes.
    Planner,
    /// Runs the schedule and the calibrations on the devices.
    Executor,
    /// The alert manager: the watched folder, VTP brokers, Kafka topics.
    Alerts,
    /// The data reduction pipeline: each new image, as soon as it is archived.
    Pipeline,
}

#[derive(Debug, Args)]
pub struct AgentArgs {
    pub name: AgentName,
    /// A scenario for the simulated PLC.
    #[arg(long, value_name = "FILE.json")]
    pub scenario: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum EnvCmd {
    /// The latest synthesis: SAFE or UNSAFE, why, and every quantity.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// A quantity's readings over a period (raw, 1-minute or 10-minute points, by length).
    History {
        /// rain, wind, humidity, temperature, clouds, daylight...
        quantity: String,
        /// Start (ISO 8601, UTC).
        #[arg(long)]
        since: String,
        /// End (ISO 8601, UTC; default now).
        #[arg(long)]
        until: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum AlertCmd {
    /// Hand a VOEvent file to the alert manager, as if it came from a broker,
    /// and print the decision.
    Inject {
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// List the alerts, newest first (a page of 50 before --before).
    List {
        #[arg(long, value_name = "ID")]
        before: Option<i64>,
        #[arg(long)]
        json: bool,
    },
    /// Show one alert: the notice's facts, the decision, its timeline.
    Show {
        id: i64,
        #[arg(long)]
        json: bool,
    },
    /// Follow an alert with another strategy (its request is rebuilt).
    Strategy { id: i64, name: String },
    /// List the strategies in use.
    Strategies,
}

#[derive(Debug, Subcommand)]
pub enum RequestCmd {
    /// Validate a request XML file and store it.
    Import {
        file: PathBuf,
        /// Owner of the request (default: admin).
        #[arg(long, value_name = "NAME")]
        user: Option<String>,
        /// Submit its sequences for planning at once (TOBEPLANNED).
        #[arg(long)]
        submit: bool,
        #[arg(long)]
        json: bool,
    },
    /// Print a stored request as XML.
    Export { id: i64 },
    /// List the requests.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show one request with its sequences, albums and plans.
    Show {
        id: i64,
        #[arg(long)]
        json: bool,
    },
    /// Submit a request's sequences for planning.
    Submit { id: i64 },
    /// Cancel a request's unfinished sequences.
    Cancel { id: i64 },
}

#[derive(Debug, Subcommand)]
pub enum ProgramCmd {
    /// Create a scientific program. Without a quota it gets what is left of
    /// its period (said at creation).
    Add {
        name: String,
        /// Priority 0..=100, lower is more urgent (default: grade B = 20).
        #[arg(long, conflicts_with = "grade", allow_negative_numbers = true)]
        priority: Option<i32>,
        /// TAC grade A, B or C (priority 10, 20, 30).
        #[arg(long)]
        grade: Option<String>,
        #[command(flatten)]
        quota: QuotaArgs,
        /// Period, e.g. 2026B (default: the current one).
        #[arg(long)]
        period: Option<String>,
        #[arg(long, default_value = "")]
        description: String,
    },
    /// Change a program's priority, quota, description or PI.
    Edit {
        name: String,
        #[arg(long, conflicts_with = "grade", allow_negative_numbers = true)]
        priority: Option<i32>,
        #[arg(long)]
        grade: Option<String>,
        #[command(flatten)]
        quota: QuotaArgs,
        #[arg(long)]
        description: Option<String>,
        /// The program's PI (SP-PI), a user name.
        #[arg(long, value_name = "USER")]
        pi: Option<String>,
    },
    /// List the scientific programs.
    List {
        #[arg(long)]
        json: bool,
    },
    /// A program's quota in practice: used and asked, in total and per member.
    Show {
        name: String,
        #[arg(long)]
        json: bool,
    },
}

/// A quota: a share of the period's night time or a number of hours.
#[derive(Debug, Clone, Copy, Args)]
pub struct QuotaArgs {
    /// Observing time granted, percent of the period's night time.
    #[arg(long, value_name = "P", conflicts_with = "quota_hours", allow_negative_numbers = true)]
    pub quota_percent: Option<f64>,
    /// Observing time granted for the period, hours.
    #[arg(long, value_name = "H", allow_negative_numbers = true)]
    pub quota_hours: Option<f64>,
}

#[derive(Debug, Subcommand)]
pub enum UserCmd {
    /// Create a user. A random password is printed once unless --password-stdin is given.
    Add {
        name: String,
        /// Profile(s): visitor, tac, observer, engineer (IE/IS), operator, superoperator, pi, sysadmin.
        #[arg(long = "profile", required = true, value_delimiter = ',')]
        profiles: Vec<String>,
        /// Program(s) the user belongs to.
        #[arg(long = "program", value_name = "SP", value_delimiter = ',')]
        programs: Vec<String>,
        #[arg(long, default_value = "")]
        email: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List the users.
    List {
        #[arg(long)]
        json: bool,
    },
}
