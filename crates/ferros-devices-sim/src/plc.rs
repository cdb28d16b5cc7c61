//! A simulated PLC (the seeds' Beckhoff): the weather and calibration sensors of
//! seed 000 (WXT520, DRD11, VantagePro, MLX90614, flat lamps), a mode and
//! alarms, driven by a scenario file in the seeds' format.
//!
//! A scenario is `[N, {"time": i, "plcSimulator": {...}}, ...]`: N iterations of
//! the PLC loop (one every `period` of the Ferros clock); at iteration `i` the
//! change is applied, and after N iterations the state stays as it is. Changes:
//! - `{"device_name", "value_name", "value"}` (the seeds'): set a sensor value;
//! - `{"device_name", "valid": true|false}`: mark a sensor valid or not;
//! - `{"mode": "AUTO"|"MANUAL"}`: the PLC mode;
//! - `{"alarm": "NAME", "active": true|false}`: raise or clear an alarm
//!   (`intrusion`, `emergency_stop`, `ups_on_battery`...);
//! - `{"silent": true|false}`: stop answering / answer again;
//! - `{"garbage": true|false}`: answer with unreadable data;
//! - `{"ack": true|false}`: the night ACK button of the control room lit
//!   (pressed) or out;
//! - `{"refuse_bypass": true|false}`: ignore (or again take) the bypass
//!   commands, as a faulty PLC would.
//!
//! The bypass itself is commanded (`set_bypass`), and the status says it.

use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ferros_clock::Clock;
use ferros_devices::{
    DeviceError, DeviceResult, PlcMode, Reading, Sensor, SensorValue, ServedPlc, Stamped, WeatherSource,
    WeatherStatus,
};
use serde_json::Value;

use crate::fault::Faults;

/// The most iterations a scenario may ask for (a million: a night of 1 s
/// iterations is 50,000), and the most changes it may list.
pub const MAX_ITERATIONS: u64 = ferros_limits::MAX_SCENARIO_ITERATIONS;
pub const MAX_CHANGES: usize = ferros_limits::MAX_SCENARIO_CHANGES;

/// What is wrong with a scenario: where (the item of the list, or the
/// change in time order) and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScenarioError {
    #[error("not JSON: {0}")]
    NotJson(String),
    #[error("a scenario is a JSON list: [N, {{\"time\": i, ...}}, ...]")]
    NotAList,
    /// Item `at` of the list (0: the number of iterations).
    #[error("[{at}]: {what}")]
    Item { at: usize, what: String },
    /// The `n`-th change (1-based, time order) does not fit the PLC's model.
    #[error("change {n}: {what}")]
    Change { n: usize, what: ModelError },
}

/// A change that names what the simulated PLC does not have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    #[error("no sensor {0}")]
    NoSensor(String),
    #[error("sensor {device} has no value {value}")]
    NoValue { device: String, value: String },
}

/// One change of a scenario, at an iteration.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    Value { device: String, value: String, reading: Reading },
    Valid { device: String, valid: bool },
    Mode(PlcMode),
    Alarm { name: String, active: bool },
    Silent(bool),
    Garbage(bool),
    Ack(bool),
    RefuseBypass(bool),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    pub iterations: u64,
    /// `(iteration, change)`, in file order.
    pub changes: Vec<(u64, Change)>,
}

impl Scenario {
    /// Reads a scenario, reporting the first problem with its index in the list.
    pub fn parse(text: &str) -> Result<Scenario, ScenarioError> {
        let doc: Value = serde_json::from_str(text).map_err(|e| ScenarioError::NotJson(e.to_string()))?;
        let items = doc.as_array().ok_or(ScenarioError::NotAList)?;
        let iterations = items.first().and_then(Value::as_u64).ok_or_else(|| ScenarioError::Item {
            at: 0,
            what: "the first item must be the number of iterations (an integer >= 0)".into(),
        })?;
        if iterations > MAX_ITERATIONS {
            return Err(ScenarioError::Item {
                at: 0,
                what: format!("{iterations} iterations: at most {MAX_ITERATIONS}"),
            });
        }
        if items.len() > MAX_CHANGES + 1 {
            return Err(ScenarioError::Item {
                at: MAX_CHANGES + 1,
                what: format!("{} changes: at most {MAX_CHANGES}", items.len() - 1),
            });
        }
        let mut changes = Vec::new();
        for (i, item) in items.iter().enumerate().skip(1) {
            let at = |m: &str| ScenarioError::Item { at: i, what: m.to_owned() };
            let obj =
                item.as_object().ok_or_else(|| at("expected {\"time\": i, \"plcSimulator\": {...}}"))?;
            let time = obj
                .get("time")
                .and_then(Value::as_u64)
                .ok_or_else(|| at("\"time\" must be an integer >= 0"))?;
            // Other simulators' events (userSimulator...) share the seeds' files.
            let Some(plc) = obj.get("plcSimulator") else { continue };
            changes.push((time, Self::change(plc).map_err(|m| at(&m))?));
        }
        changes.sort_by_key(|(t, _)| *t);
        Ok(Scenario { iterations, changes })
    }

    fn change(v: &Value) -> Result<Change, String> {
        let o = v.as_object().ok_or("\"plcSimulator\" must be an object")?;
        let text = |k: &str| o.get(k).and_then(Value::as_str).map(str::to_owned);
        let flag =
            |k: &str| o.get(k).and_then(Value::as_bool).ok_or(format!("\"{k}\" must be true or false"));
        if let Some(device) = text("device_name") {
            if o.contains_key("valid") {
                return Ok(Change::Valid { device, valid: flag("valid")? });
            }
            let value = text("value_name").ok_or("\"value_name\" is missing")?;
            let reading = match o.get("value") {
                Some(Value::Number(n)) => Reading::Number(n.as_f64().ok_or("\"value\" is not a number")?),
                Some(Value::String(s)) => Reading::Text(s.clone()),
                _ => return Err("\"value\" must be a number or a string".into()),
            };
            return Ok(Change::Value { device, value, reading });
        }
        if let Some(mode) = text("mode") {
            return match mode.to_ascii_uppercase().as_str() {
                "AUTO" => Ok(Change::Mode(PlcMode::Auto)),
                "MANUAL" => Ok(Change::Mode(PlcMode::Manual)),
                _ => Err(format!("mode \"{mode}\" (expected AUTO or MANUAL)")),
            };
        }
        if let Some(name) = text("alarm") {
            return Ok(Change::Alarm { name, active: flag("active")? });
        }
        if o.contains_key("silent") {
            return Ok(Change::Silent(flag("silent")?));
        }
        if o.contains_key("garbage") {
            return Ok(Change::Garbage(flag("garbage")?));
        }
        if o.contains_key("ack") {
            return Ok(Change::Ack(flag("ack")?));
        }
        if o.contains_key("refuse_bypass") {
            return Ok(Change::RefuseBypass(flag("refuse_bypass")?));
        }
        Err("unknown change (expected device_name, mode, alarm, silent, garbage, ack or refuse_bypass)"
            .into())
    }
}

/// The PLC's state as the seeds show it.
#[derive(Debug, Clone, PartialEq)]
pub struct PlcModel {
    pub mode: PlcMode,
    pub sensors: Vec<Sensor>,
    pub alarms: Vec<String>,
    pub silent: bool,
    pub garbage: bool,
    /// The safety status is bypassed.
    pub bypass: bool,
    /// The night ACK button is lit.
    pub night_ack: bool,
    /// Bypass commands are ignored.
    pub refuse_bypass: bool,
}

fn value(name: &str, v: Reading, unit: &str, comment: &str) -> SensorValue {
    SensorValue { name: name.into(), value: v, unit: unit.into(), comment: comment.into() }
}

fn n(v: f64) -> Reading {
    Reading::Number(v)
}

impl Default for PlcModel {
    /// Good weather, every sensor of seed 000's example, mode AUTO.
    fn default() -> Self {
        let sensor = |name: &str, kind: &str, serial: &str, values| Sensor {
            name: name.into(),
            kind: kind.into(),
            serial_number: serial.into(),
            valid: true,
            values,
        };
        PlcModel {
            mode: PlcMode::Auto,
            alarms: Vec::new(),
            silent: false,
            garbage: false,
            bypass: false,
            night_ack: false,
            refuse_bypass: false,
            sensors: vec![
                sensor(
                    "WXT520",
                    "meteo",
                    "14656423",
                    vec![
                        value("OutsideTemp", n(12.12), "Celcius", ""),
                        value("OutsideHumidity", n(64.1), "percent", ""),
                        value("Pressure", n(769.2), "mbar", "At site elevation"),
                        value("RainRate", n(0.0), "mm/h", ""),
                        value("WindSpeed", n(3.1), "m/s", ""),
                        value("WindDir", n(202.3), "deg", "(N=0, E=90)"),
                        value("DewPoint", n(8.3), "deg", ""),
                    ],
                ),
                sensor(
                    "DRD11",
                    "meteo",
                    "RET6789",
                    vec![
                        value("analog", n(3.0), "V", "3V=Dry <2.5V=Rain"),
                        value("digital", n(1.0), "bool", "1=Dry 0=Rain"),
                    ],
                ),
                sensor(
                    "VantagePro",
                    "meteo",
                    "ERTRY2344324",
                    vec![
                        value("OutsideTemp", n(12.45), "Celcius", ""),
                        value("InsideTemp", n(20.28), "Celcius", ""),
                        value("OutsideHumidity", n(65.3), "percent", ""),
                        value("InsideHumidity", n(45.6), "percent", ""),
                        value("Pressure", n(768.7), "mbar", "At site elevation"),
                        value("RainRate", n(0.0), "mm/h", ""),
                        value("WindSpeed", n(2.8), "m/s", ""),
                        value("WindDir", n(207.0), "deg", "(N=0, E=90)"),
                        value("WindDirCardinal", Reading::Text("SW".into()), "string", ""),
                        value("DewPoint", n(8.5), "deg", ""),
                    ],
                ),
                sensor(
                    "MLX90614-1",
                    "meteo",
                    "Unknown",
                    vec![
                        value("SensorTemperature", n(23.56), "Celcius", ""),
                        value("SkyTemperature", n(-15.67), "Celcius", "Clear<-10 VeryCloudy>4"),
                    ],
                ),
                sensor(
                    "LAMP_FLAT_CAGIRE",
                    "calib",
                    "REF_3434",
                    vec![
                        value("status", Reading::Text("off".into()), "string", "on or off"),
                        value("current", n(0.0), "Ampere", ""),
                    ],
                ),
            ],
        }
    }
}

impl PlcModel {
    /// Applies a change; a change naming an unknown sensor or value is refused.
    pub fn apply(&mut self, change: &Change) -> Result<(), ModelError> {
        match change {
            Change::Value { device, value, reading } => {
                let s = self.sensor(device)?;
                match s.values.iter_mut().find(|v| &v.name == value) {
                    Some(v) => v.value = reading.clone(),
                    None => {
                        return Err(ModelError::NoValue { device: device.clone(), value: value.clone() });
                    }
                }
            }
            Change::Valid { device, valid } => self.sensor(device)?.valid = *valid,
            Change::Mode(m) => self.mode = *m,
            Change::Alarm { name, active } => {
                self.alarms.retain(|a| a != name);
                if *active {
                    self.alarms.push(name.clone());
                }
            }
            Change::Silent(on) => self.silent = *on,
            Change::Garbage(on) => self.garbage = *on,
            Change::Ack(on) => self.night_ack = *on,
            Change::RefuseBypass(on) => self.refuse_bypass = *on,
        }
        Ok(())
    }

    /// What the PLC reports.
    fn status(self, now: DateTime<Utc>) -> WeatherStatus {
        WeatherStatus {
            mode: self.mode,
            measured_at: Some(now),
            sensors: self.sensors,
            alarms: self.alarms,
            bypass: self.bypass,
            night_ack: self.night_ack,
        }
    }

    fn sensor(&mut self, name: &str) -> Result<&mut Sensor, ModelError> {
        self.sensors.iter_mut().find(|s| s.name == name).ok_or_else(|| ModelError::NoSensor(name.to_owned()))
    }
}

#[derive(Debug)]
struct Inner {
    model: PlcModel,
    /// Changes applied so far (the scenario's first ones).
    applied: usize,
}

/// The simulated PLC: plays its scenario on the Ferros clock.
#[derive(Debug)]
pub struct SimPlc {
    name: String,
    clock: Clock,
    started: DateTime<Utc>,
    period: Duration,
    scenario: Scenario,
    inner: Mutex<Inner>,
    /// Seed of the sensors' noise; none: the values are exact.
    noise: Option<u64>,
    pub faults: Faults,
}

/// How much a reading wanders, by its name: a weather station is never still.
fn noise_amplitude(value: &str) -> f64 {
    match value {
        "SkyTemperature" => 0.8,
        v if v.contains("Temp") || v == "DewPoint" => 0.3,
        v if v.contains("Humidity") => 1.5,
        "Pressure" => 0.4,
        "WindSpeed" => 0.8,
        "WindDir" => 10.0,
        _ => 0.0,
    }
}

impl SimPlc {
    /// Checks that every change of the scenario applies to the model, then starts it now.
    pub fn new(
        name: &str,
        clock: Clock,
        period: Duration,
        scenario: Scenario,
    ) -> Result<Self, ScenarioError> {
        let mut probe = PlcModel::default();
        for (i, (_, c)) in scenario.changes.iter().enumerate() {
            probe.apply(c).map_err(|what| ScenarioError::Change { n: i + 1, what })?;
        }
        Ok(Self {
            name: name.to_owned(),
            started: clock.now(),
            clock,
            period,
            scenario,
            inner: Mutex::new(Inner { model: PlcModel::default(), applied: 0 }),
            noise: None,
            faults: Faults::default(),
        })
    }

    /// The weather sensors' values wander a little around the scenario's,
    /// drawn from `seed` and the time (a new draw every 10 s of clock): the
    /// same seed gives the same readings, another seed other ones. Rain is
    /// as the scenario says.
    pub fn with_noise(mut self, seed: u64) -> Self {
        self.noise = Some(seed);
        self
    }

    fn add_noise(&self, model: &mut PlcModel, now: DateTime<Utc>) {
        let Some(seed) = self.noise else { return };
        let draw = now.timestamp().div_euclid(10) as u64;
        for (i, sensor) in model.sensors.iter_mut().enumerate().filter(|(_, s)| s.kind == "meteo") {
            for (j, v) in sensor.values.iter_mut().enumerate() {
                let Reading::Number(x) = &mut v.value else { continue };
                let h = crate::camera::hash(&[seed, i as u64, j as u64, draw]);
                // Uniform in -1..1.
                let u = (h >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0;
                match v.name.as_str() {
                    "WindSpeed" => *x = (*x + noise_amplitude(&v.name) * u).max(0.0),
                    "WindDir" => *x = (*x + noise_amplitude(&v.name) * u).rem_euclid(360.0),
                    name => *x += noise_amplitude(name) * u,
                }
            }
        }
    }

    /// The PLC loop's iteration at `now`, counted from 1 and capped at the scenario's N.
    pub fn iteration(&self, now: DateTime<Utc>) -> u64 {
        let elapsed = (now - self.started).to_std().unwrap_or_default();
        let i = (elapsed.as_secs_f64() / self.period.as_secs_f64()).floor() as u64 + 1;
        i.min(self.scenario.iterations.max(1))
    }

    /// The model at `now`, with every change due applied.
    /// What it answers a STATUS request with at `now`.
    pub fn says(&self, now: DateTime<Utc>) -> ferros_devices::PlcSays {
        let m = self.model(now);
        if m.silent {
            ferros_devices::PlcSays::Silent
        } else if m.garbage {
            ferros_devices::PlcSays::Garbage
        } else {
            ferros_devices::PlcSays::Status(m.status(now))
        }
    }

    pub fn model(&self, now: DateTime<Utc>) -> PlcModel {
        let iteration = self.iteration(now);
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        while let Some((at, change)) = self.scenario.changes.get(inner.applied) {
            if *at > iteration {
                break;
            }
            // Checked in `new`.
            let _ = inner.model.apply(change);
            inner.applied += 1;
        }
        inner.model.clone()
    }
}

#[async_trait]
impl WeatherSource for SimPlc {
    fn name(&self) -> &str {
        &self.name
    }

    async fn status(&self) -> DeviceResult<Stamped<WeatherStatus>> {
        self.faults.check(&self.name).await?;
        let now = self.clock.now();
        let mut model = self.model(now);
        self.add_noise(&mut model, now);
        if model.silent {
            return Err(DeviceError::comm(&self.name, "not answering"));
        }
        if model.garbage {
            return Err(DeviceError::comm(&self.name, "unreadable status"));
        }
        Ok(Stamped { at: now, value: model.status(now) })
    }

    async fn set_bypass(&self, on: bool) -> DeviceResult<()> {
        self.faults.check(&self.name).await?;
        let model = self.model(self.clock.now());
        if model.silent || model.garbage {
            return Err(DeviceError::comm(&self.name, "not answering"));
        }
        ServedPlc::set_bypass(self, on);
        Ok(())
    }
}

impl ServedPlc for SimPlc {
    fn says(&self, now: DateTime<Utc>) -> ferros_devices::PlcSays {
        SimPlc::says(self, now)
    }

    /// Takes the bypass, unless the scenario says to ignore it.
    fn set_bypass(&self, on: bool) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if !inner.model.refuse_bypass {
            inner.model.bypass = on;
        }
    }
}
