//! The environment synthesis (ENV, docs/environment.md): the readings of the
//! weather and site sensors turned into one synthesis per quantity — a value,
//! what it means and a safety decision ("rain = 5 mm/h; it rains hard;
//! unsafe") — and a global SAFE/UNSAFE status with hysteresis.
//!
//! Redundant sensors of a quantity are ranked: the first valid one in the
//! order of trust gives the value, the others are the fallback; a sensor far
//! from the others is flagged as suspect; any valid sensor reading unsafe makes
//! the quantity unsafe (safety first). Data older than the stale delay counts
//! as missing, and missing is unsafe. The status turns UNSAFE at once and SAFE
//! again only after conditions stayed good for the safe delay.
//!
//! Pure: the caller gives the readings, the Sun's altitude and the time.

use chrono::{DateTime, Utc};
use ferros_devices::{DomeState, PlcMode, Reading, Stamped, WeatherStatus};
use ferros_domain::{Decision, GlobalStatus, QuantitySynthesis, Watch};
use serde::{Deserialize, Serialize};

/// The limits beyond which the observatory is unsafe, and the delays.
#[derive(Debug, Clone, PartialEq)]
pub struct Thresholds {
    pub max_rain_rate: f64,
    pub max_wind_speed: f64,
    pub max_humidity: f64,
    pub max_sky_minus_ambient: f64,
    pub max_cloud_cover: f64,
    pub max_sun_altitude: f64,
    /// Seconds after which a reading is stale.
    pub stale_after: f64,
    /// Seconds conditions must stay good before SAFE again.
    pub safe_delay: f64,
    /// Quantities that must be measured: without a sensor giving one, it is
    /// unsafe. Others no sensor gives are "not measured here".
    pub required: Vec<String>,
}

/// What the synthesis is made from, at `now`.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    pub now: DateTime<Utc>,
    /// The last status read from the weather source, if any.
    pub status: Option<&'a Stamped<WeatherStatus>>,
    /// Why the last attempt to read it failed, when it did.
    pub failure: Option<&'a str>,
    /// The Sun's altitude at the site, degrees.
    pub sun_altitude: Option<f64>,
    /// The dome, when the synthesis should show it.
    pub dome: Option<&'a Stamped<DomeState>>,
}

/// Weather quantities, then site ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Group {
    Weather,
    Site,
}

/// The whole synthesis at one instant.
/// The site quantity saying the PLC's safety status is bypassed (value 1).
pub const PLC_BYPASS: &str = "plc_bypass";
/// The site quantity saying the night ACK button was pressed (value 1).
pub const NIGHT_ACK: &str = "night_ack";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Synthesis {
    pub global_status: GlobalStatus,
    pub reasons: Vec<String>,
    pub updated: DateTime<Utc>,
    pub weather: Watch,
    pub site: Watch,
}

impl Synthesis {
    pub fn quantities(&self) -> impl Iterator<Item = &QuantitySynthesis> {
        self.weather.quantities.iter().chain(&self.site.quantities)
    }

    pub fn quantity(&self, name: &str) -> Option<&QuantitySynthesis> {
        self.quantities().find(|q| q.name == name)
    }
}

/// Keeps the status between syntheses (the hysteresis).
#[derive(Debug, Clone)]
pub struct Synthesizer {
    thresholds: Thresholds,
    /// Sensor names in order of trust.
    trust: Vec<String>,
    status: GlobalStatus,
    /// Since when every quantity has been safe.
    good_since: Option<DateTime<Utc>>,
}

/// A value of one sensor for one quantity.
#[derive(Debug, Clone)]
struct Source {
    sensor: String,
    value: f64,
}

fn secs(d: chrono::TimeDelta) -> f64 {
    d.num_milliseconds() as f64 / 1000.0
}

impl Synthesizer {
    /// Starts UNSAFE: conditions must be seen good for the safe delay first.
    pub fn new(thresholds: Thresholds, trust: Vec<String>) -> Self {
        Self { thresholds, trust, status: GlobalStatus::Unsafe, good_since: None }
    }

    pub fn status(&self) -> GlobalStatus {
        self.status
    }

    /// The synthesis of `inputs`, moving the status on.
    pub fn step(&mut self, inputs: &Inputs<'_>) -> Synthesis {
        let now = inputs.now;
        let (weather_q, site_q) = self.quantities(inputs);
        let bad: Vec<String> = weather_q
            .iter()
            .chain(&site_q)
            .filter(|q| q.decision != Decision::Safe)
            .map(|q| format!("{}: {}", q.name, q.interpretation))
            .collect();
        let mut reasons = bad.clone();
        if bad.is_empty() {
            let since = *self.good_since.get_or_insert(now);
            let good_for = secs(now - since);
            if self.status == GlobalStatus::Unsafe && good_for < self.thresholds.safe_delay {
                reasons.push(format!(
                    "conditions good for {good_for:.0} s of the {:.0} s needed before SAFE",
                    self.thresholds.safe_delay
                ));
            } else {
                self.status = GlobalStatus::Safe;
            }
        } else {
            self.good_since = None;
            self.status = GlobalStatus::Unsafe;
        }
        let watch = |quantities: Vec<QuantitySynthesis>| {
            let reasons: Vec<String> = quantities
                .iter()
                .filter(|q| q.decision != Decision::Safe)
                .map(|q| format!("{}: {}", q.name, q.interpretation))
                .collect();
            let global_status = if reasons.is_empty() { GlobalStatus::Safe } else { GlobalStatus::Unsafe };
            Watch { global_status, reasons, updated: now, quantities }
        };
        Synthesis {
            global_status: self.status,
            reasons,
            updated: now,
            weather: watch(weather_q),
            site: watch(site_q),
        }
    }

    /// Valid sensors giving `value_names` (in that order of preference within a
    /// sensor), ranked by trust.
    fn sources(&self, status: &WeatherStatus, value_names: &[&str]) -> Vec<Source> {
        let rank = |name: &str| self.trust.iter().position(|t| t == name).unwrap_or(self.trust.len());
        let mut found: Vec<(usize, usize, Source)> = status
            .sensors
            .iter()
            .enumerate()
            .filter(|(_, s)| s.valid)
            .filter_map(|(i, s)| {
                let value = value_names.iter().find_map(|n| s.value(n).and_then(Reading::as_f64))?;
                value.is_finite().then(|| (rank(&s.name), i, Source { sensor: s.name.clone(), value }))
            })
            .collect();
        found.sort_by_key(|(r, i, _)| (*r, *i));
        found.into_iter().map(|(_, _, s)| s).collect()
    }

    fn quantities(&self, inp: &Inputs<'_>) -> (Vec<QuantitySynthesis>, Vec<QuantitySynthesis>) {
        let t = &self.thresholds;
        let fresh = inp.status.filter(|s| secs(inp.now - s.at) <= t.stale_after);
        let measured_at = inp.status.map(|s| s.at);
        let age = inp.status.map(|s| secs(inp.now - s.at));
        // Why a quantity has no value: no data at all, stale data, or no sensor.
        let missing = |what: &str| -> String {
            match (inp.status, fresh) {
                (None, _) => match inp.failure {
                    Some(f) => format!("no data from the weather source yet ({f})"),
                    None => "no data from the weather source yet".into(),
                },
                (Some(_), None) => format!(
                    "data {:.0} s old (stale after {:.0} s){}",
                    age.unwrap_or_default(),
                    t.stale_after,
                    inp.failure.map(|f| format!(": {f}")).unwrap_or_default()
                ),
                (Some(_), Some(_)) => format!("no valid sensor gives the {what}"),
            }
        };
        let mut weather = Vec::new();
        let mut site = Vec::new();
        let q = |name: &str, unit: &str| QuantitySynthesis {
            name: name.into(),
            value: None,
            unit: unit.into(),
            interpretation: String::new(),
            decision: Decision::Unknown,
            sensor: None,
            suspects: Vec::new(),
            measured_at,
        };

        // A measured quantity: ranked sources, suspects, the decision from the
        // primary and from any other source that reads unsafe.
        let measured = |name: &str,
                        unit: &str,
                        names: &[&str],
                        tolerance: f64,
                        safety: Option<&dyn Fn(f64) -> bool>,
                        say: &dyn Fn(f64) -> String| {
            let mut out = q(name, unit);
            let Some(status) = fresh else {
                out.interpretation = missing(name);
                if safety.is_none() {
                    out.decision = Decision::Safe;
                    out.interpretation = format!("unknown ({})", out.interpretation);
                }
                return out;
            };
            let sources = self.sources(&status.value, names);
            let Some(primary) = sources.first() else {
                out.interpretation = missing(name);
                if safety.is_some() && !self.required(name) && !self.any_sensor_gives(&status.value, names) {
                    out.decision = Decision::Safe;
                    out.interpretation = "not measured here".into();
                } else if safety.is_none() {
                    out.decision = Decision::Safe;
                    out.interpretation = format!("unknown ({})", out.interpretation);
                }
                return out;
            };
            out.value = Some(primary.value);
            out.sensor = Some(primary.sensor.clone());
            out.suspects = suspects(&sources, tolerance);
            out.interpretation = say(primary.value);
            out.decision = Decision::Safe;
            if let Some(unsafe_at) = safety {
                if unsafe_at(primary.value) {
                    out.decision = Decision::Unsafe;
                } else if let Some(other) = sources[1..].iter().find(|s| unsafe_at(s.value)) {
                    out.decision = Decision::Unsafe;
                    out.interpretation = format!(
                        "{} but {} reads {:.1} {unit}",
                        out.interpretation, other.sensor, other.value
                    );
                }
            }
            if !out.suspects.is_empty() {
                out.interpretation =
                    format!("{} ({} disagrees)", out.interpretation, out.suspects.join(", "));
            }
            out
        };

        // Rain: rates first; a rain detector (DRD11's digital output: 1 dry, 0 rain) as fallback.
        let mut rain = measured("rain", "mm/h", &["RainRate"], 1.0, Some(&|v| v > t.max_rain_rate), &|v| {
            if v <= 0.0 {
                "it does not rain".into()
            } else if v < 2.0 {
                format!("light rain ({v:.1} mm/h)")
            } else if v < 10.0 {
                format!("it rains ({v:.1} mm/h)")
            } else {
                format!("it rains hard ({v:.1} mm/h)")
            }
        });
        if let Some(status) = fresh {
            let detectors = self.sources(&status.value, &["digital"]);
            let wet: Vec<&Source> = detectors.iter().filter(|d| d.value < 0.5).collect();
            let raining = rain.decision == Decision::Unsafe;
            match (rain.value, wet.first()) {
                (None, Some(d)) => {
                    rain.value = Some(1.0);
                    rain.sensor = Some(d.sensor.clone());
                    rain.interpretation = format!("rain detected by {}", d.sensor);
                    rain.decision = Decision::Unsafe;
                }
                (None, None) if !detectors.is_empty() => {
                    rain.value = Some(0.0);
                    rain.sensor = Some(detectors[0].sensor.clone());
                    rain.interpretation = format!("dry, says {}", detectors[0].sensor);
                    rain.decision = Decision::Safe;
                }
                (Some(_), Some(d)) if !raining => {
                    rain.decision = Decision::Unsafe;
                    rain.interpretation = format!("{} but {} detects rain", rain.interpretation, d.sensor);
                }
                (Some(_), _) => {
                    // The detectors that disagree with the rates are suspects.
                    for d in &detectors {
                        if (d.value < 0.5) != raining && !rain.suspects.contains(&d.sensor) {
                            rain.suspects.push(d.sensor.clone());
                            rain.interpretation = format!("{} ({} disagrees)", rain.interpretation, d.sensor);
                        }
                    }
                }
                _ => {}
            }
        }
        weather.push(rain);
        weather.push(measured("wind", "m/s", &["WindSpeed"], 5.0, Some(&|v| v > t.max_wind_speed), &|v| {
            let word = if v < 5.0 {
                "calm"
            } else if v < 10.0 {
                "breezy"
            } else if v <= t.max_wind_speed {
                "windy"
            } else {
                "too windy"
            };
            format!("{word} ({v:.1} m/s)")
        }));
        weather.push(measured("wind_gust", "m/s", &["WindGust"], 8.0, None, &|v| {
            format!("gusts of {v:.1} m/s")
        }));
        weather.push(measured("wind_direction", "deg", &["WindDir"], 45.0, None, &|v| {
            format!("from the {}", cardinal(v))
        }));
        weather.push(measured(
            "humidity",
            "%",
            &["OutsideHumidity"],
            15.0,
            Some(&|v| v > t.max_humidity),
            &|v| {
                if v > t.max_humidity { format!("too humid ({v:.0} %)") } else { format!("{v:.0} %") }
            },
        ));
        weather.push(measured("temperature", "C", &["OutsideTemp"], 3.0, None, &|v| {
            format!("{v:.1} C outside")
        }));
        weather.push(measured("pressure", "mbar", &["Pressure"], 5.0, None, &|v| format!("{v:.1} mbar")));
        weather
            .push(measured("dew_point", "C", &["DewPoint"], 3.0, None, &|v| format!("dew point {v:.1} C")));
        weather.push(self.clouds(fresh, &missing, &q));
        let mut daylight = q("daylight", "deg");
        match inp.sun_altitude {
            Some(alt) => {
                daylight.value = Some(alt);
                daylight.sensor = Some("ephemeris".into());
                daylight.measured_at = Some(inp.now);
                if alt > t.max_sun_altitude {
                    // The altitude is the value; the reason stays the same all day.
                    daylight.interpretation = format!("the Sun is above {} deg", t.max_sun_altitude);
                    daylight.decision = Decision::Unsafe;
                } else {
                    daylight.interpretation =
                        format!("dark enough: the Sun is {:.1} deg below the horizon", -alt);
                    daylight.decision = Decision::Safe;
                }
            }
            None => daylight.interpretation = "the Sun's altitude is unknown".into(),
        }
        weather.push(daylight);

        // Site: the link, the PLC's mode, alarms, a safety monitor, the dome.
        let mut link = q("plc_link", "s");
        link.value = age;
        link.sensor = inp.status.map(|_| "weather source".to_owned());
        if fresh.is_some() {
            link.decision = Decision::Safe;
            link.interpretation = match inp.failure {
                Some(f) => {
                    format!("last reading {:.0} s old; last attempt failed: {f}", age.unwrap_or_default())
                }
                None => format!("answering (reading {:.0} s old)", age.unwrap_or_default()),
            };
        } else {
            link.interpretation = missing("link");
        }
        site.push(link);
        let mut mode = q("plc_mode", "");
        if let Some(s) = fresh {
            let (word, decision) = match s.value.mode {
                PlcMode::Auto => ("AUTO: Ferros may command the observatory", Decision::Safe),
                PlcMode::Manual => ("MANUAL: someone commands the observatory by hand", Decision::Unsafe),
                PlcMode::Unknown => ("unknown mode", Decision::Unsafe),
            };
            mode.interpretation = word.into();
            mode.decision = decision;
            mode.sensor = Some("PLC".into());
        } else {
            mode.interpretation = missing("mode");
        }
        site.push(mode);
        // What the PLC reports of the operator's bypass and of the control
        // room's night ACK button: facts for the majordome, never a reason
        // to be unsafe.
        if let Some(s) = fresh {
            let fact = |name: &str, on: bool, yes: &str, no: &str| {
                let mut x = q(name, "");
                x.value = Some(if on { 1.0 } else { 0.0 });
                x.sensor = Some("PLC".into());
                x.interpretation = if on { yes } else { no }.into();
                x.decision = Decision::Safe;
                x
            };
            site.push(fact(PLC_BYPASS, s.value.bypass, "safety status bypassed", "not bypassed"));
            site.push(fact(NIGHT_ACK, s.value.night_ack, "night ACK button pressed", "no night ACK"));
        }
        let alarms: Vec<String> = fresh.map(|s| s.value.alarms.clone()).unwrap_or_default();
        let has = |a: &str| alarms.iter().any(|x| x == a);
        // (the alarm that sets it, the quantity's name)
        let alarm = |key: &str, name: &str, on: &str, off: &str, unsafe_when_on: bool| {
            let mut x = q(name, "");
            if fresh.is_none() {
                x.interpretation = missing(name);
                return x;
            }
            let active = has(key);
            x.value = Some(if active { 1.0 } else { 0.0 });
            x.sensor = Some("PLC".into());
            x.interpretation = if active { on } else { off }.into();
            x.decision = if active && unsafe_when_on { Decision::Unsafe } else { Decision::Safe };
            x
        };
        site.push(alarm("intrusion", "intrusion", "intrusion detected", "no intrusion", true));
        site.push(alarm(
            "emergency_stop",
            "emergency_stop",
            "emergency stop pressed",
            "no emergency stop",
            true,
        ));
        let mut ups = alarm("ups_low_battery", "ups", "UPS battery low: shut down", "UPS on mains", true);
        if fresh.is_some() && !has("ups_low_battery") && has("ups_on_battery") {
            ups.interpretation = "UPS on battery (mains lost)".into();
        }
        site.push(ups);
        site.push(alarm("door_open", "doors", "a door is open", "doors closed", false));
        site.push(alarm("lights_on", "lights", "lights on", "lights off", false));
        let known =
            ["intrusion", "emergency_stop", "ups_low_battery", "ups_on_battery", "door_open", "lights_on"];
        let other: Vec<&String> = alarms.iter().filter(|a| !known.contains(&a.as_str())).collect();
        if !other.is_empty() {
            let mut x = q("alarms", "");
            x.value = Some(other.len() as f64);
            x.sensor = Some("weather source".into());
            x.interpretation =
                format!("active: {}", other.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "));
            x.decision = Decision::Unsafe;
            site.push(x);
        }
        if let Some(s) = fresh {
            for monitor in self.sources(&s.value, &["IsSafe"]) {
                let mut x = q("safety_monitor", "");
                x.value = Some(monitor.value);
                x.interpretation = if monitor.value >= 0.5 { "says safe" } else { "says unsafe" }.to_owned();
                x.decision = if monitor.value >= 0.5 { Decision::Safe } else { Decision::Unsafe };
                x.sensor = Some(monitor.sensor);
                site.push(x);
            }
        }
        if let Some(d) = inp.dome {
            let mut dome = q("dome", "deg");
            dome.value = Some(d.value.azimuth);
            dome.sensor = Some("dome".into());
            dome.measured_at = Some(d.at);
            dome.decision = Decision::Safe;
            dome.interpretation = if d.value.slewing {
                format!("turning (azimuth {:.0})", d.value.azimuth)
            } else {
                format!("azimuth {:.0}", d.value.azimuth)
            };
            site.push(dome);
            let mut shutter = q("shutter", "");
            shutter.sensor = Some("dome".into());
            shutter.measured_at = Some(d.at);
            shutter.decision = Decision::Safe;
            shutter.interpretation = format!("{:?}", d.value.shutter).to_lowercase();
            site.push(shutter);
        }
        (weather, site)
    }

    /// Clouds: sky minus ambient temperature (an infrared sensor and an
    /// outside thermometer), else a cloud cover.
    fn clouds(
        &self,
        fresh: Option<&Stamped<WeatherStatus>>,
        missing: &dyn Fn(&str) -> String,
        q: &dyn Fn(&str, &str) -> QuantitySynthesis,
    ) -> QuantitySynthesis {
        let t = &self.thresholds;
        let mut out = q("clouds", "C");
        let Some(status) = fresh else {
            out.interpretation = missing("clouds");
            return out;
        };
        let sky = self.sources(&status.value, &["SkyTemperature"]);
        let ambient = self.sources(&status.value, &["OutsideTemp"]);
        if let (Some(s), Some(a)) = (sky.first(), ambient.first()) {
            let d = s.value - a.value;
            out.value = Some(d);
            out.sensor = Some(s.sensor.clone());
            out.suspects = suspects(&sky, 10.0);
            out.decision = if d > t.max_sky_minus_ambient { Decision::Unsafe } else { Decision::Safe };
            out.interpretation = if d <= t.max_sky_minus_ambient - 5.0 {
                format!("clear (sky {d:.1} C below ambient)")
            } else if d <= t.max_sky_minus_ambient {
                format!("a few clouds (sky {:.1} C below ambient)", -d)
            } else {
                format!("cloudy (sky only {:.1} C below ambient)", -d)
            };
            return out;
        }
        let cover = self.sources(&status.value, &["CloudCover"]);
        if let Some(c) = cover.first() {
            out.unit = "%".into();
            out.value = Some(c.value);
            out.sensor = Some(c.sensor.clone());
            out.decision = if c.value > t.max_cloud_cover { Decision::Unsafe } else { Decision::Safe };
            out.interpretation = format!("{:.0} % cloud cover", c.value);
            return out;
        }
        out.interpretation = missing("clouds");
        if !self.required("clouds")
            && !self.any_sensor_gives(&status.value, &["SkyTemperature", "CloudCover"])
        {
            out.decision = Decision::Safe;
            out.interpretation = "not measured here".into();
        }
        out
    }

    fn required(&self, quantity: &str) -> bool {
        self.thresholds.required.iter().any(|r| r == quantity)
    }

    /// Whether any sensor, valid or not, reports one of these values.
    fn any_sensor_gives(&self, status: &WeatherStatus, names: &[&str]) -> bool {
        status.sensors.iter().any(|s| names.iter().any(|n| s.value(n).is_some()))
    }
}

/// Sensors more than `tolerance` from the median of all of them (with two,
/// both when they differ by more than twice the tolerance: which is wrong is
/// not known).
fn suspects(sources: &[Source], tolerance: f64) -> Vec<String> {
    if sources.len() < 2 {
        return Vec::new();
    }
    let mut values: Vec<f64> = sources.iter().map(|s| s.value).collect();
    values.sort_by(f64::total_cmp);
    let n = values.len();
    let median = if n % 2 == 1 { values[n / 2] } else { (values[n / 2 - 1] + values[n / 2]) / 2.0 };
    sources.iter().filter(|s| (s.value - median).abs() > tolerance).map(|s| s.sensor.clone()).collect()
}

/// N, NE, E... for a direction in degrees.
pub fn cardinal(deg: f64) -> &'static str {
    const NAMES: [&str; 8] = ["N", "NE", "E", "SE", "S", "SW", "W", "NW"];
    NAMES[((deg.rem_euclid(360.0) + 22.5) / 45.0) as usize % 8]
}
