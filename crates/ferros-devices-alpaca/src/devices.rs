//! Alpaca telescope, dome, filter wheel, and ObservingConditions with
//! SafetyMonitor as one weather source.

use std::sync::Mutex;

use async_trait::async_trait;
use ferros_clock::Clock;
use ferros_devices::{
    DeviceError, DeviceResult, Dome, DomeCapabilities, DomeState, FilterWheel, FilterWheelState, Mount,
    MountCapabilities, MountState, PlcMode, Reading, Sensor, SensorValue, Shutter, Stamped, WeatherSource,
    WeatherStatus,
};

use crate::client::Endpoint;

fn remember<C: Copy>(cell: &Mutex<C>, c: C) {
    *cell.lock().unwrap_or_else(|e| e.into_inner()) = c;
}

fn recall<C: Copy>(cell: &Mutex<C>) -> C {
    *cell.lock().unwrap_or_else(|e| e.into_inner())
}

/// `Ok(None)` for a property the device does not implement.
fn optional<T>(r: DeviceResult<T>) -> DeviceResult<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(DeviceError::NotSupported { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// An Alpaca Telescope. RA travels in hours, Ferros keeps degrees.
#[derive(Debug)]
pub struct AlpacaMount {
    ep: Endpoint,
    clock: Clock,
    caps: Mutex<MountCapabilities>,
}

impl AlpacaMount {
    pub fn new(ep: Endpoint, clock: Clock) -> Self {
        let caps = MountCapabilities { slew_altaz: true, park: true, home: true, tracking: true };
        Self { ep, clock, caps: Mutex::new(caps) }
    }
}

#[async_trait]
impl Mount for AlpacaMount {
    fn name(&self) -> &str {
        self.ep.name()
    }
    fn capabilities(&self) -> MountCapabilities {
        recall(&self.caps)
    }
    async fn state(&self) -> DeviceResult<Stamped<MountState>> {
        let e = &self.ep;
        let (connected, slewing, parked, home, tracking, ra, dec, alt, az, lst) = tokio::try_join!(
            e.get_bool("connected"),
            e.get_bool("slewing"),
            e.get_bool("atpark"),
            e.get_bool("athome"),
            e.get_bool("tracking"),
            e.get_f64("rightascension"),
            e.get_f64("declination"),
            e.get_f64("altitude"),
            e.get_f64("azimuth"),
            e.get_f64("siderealtime"),
        )?;
        let (altaz, park, find_home, set_tracking) = tokio::try_join!(
            e.get_bool("canslewaltazasync"),
            e.get_bool("canpark"),
            e.get_bool("canfindhome"),
            e.get_bool("cansettracking"),
        )?;
        remember(
            &self.caps,
            MountCapabilities { slew_altaz: altaz, park, home: find_home, tracking: set_tracking },
        );
        let value = MountState {
            connected,
            slewing,
            homing: slewing && home,
            parked,
            tracking,
            stop_sensor: false,
            at_flat_position: false,
            last_connection: None,
            last_maintenance: None,
            ra: (ra * 15.0).rem_euclid(360.0),
            dec,
            ha: (lst - ra + 36.0).rem_euclid(24.0) - 12.0,
            alt,
            az,
        };
        Ok(Stamped { at: self.clock.now(), value })
    }
    async fn slew_radec(&self, ra: f64, dec: f64) -> DeviceResult<()> {
        if self.capabilities().tracking {
            self.ep.put("tracking", &[("Tracking", "true".into())]).await?;
        }
        let ra_hours = ra.rem_euclid(360.0) / 15.0;
        self.ep
            .put(
                "slewtocoordinatesasync",
                &[("RightAscension", ra_hours.to_string()), ("Declination", dec.to_string())],
            )
            .await
    }
    async fn slew_altaz(&self, alt: f64, az: f64) -> DeviceResult<()> {
        if self.capabilities().tracking {
            self.ep.put("tracking", &[("Tracking", "false".into())]).await?;
        }
        self.ep
            .put(
                "slewtoaltazasync",
                &[("Azimuth", az.rem_euclid(360.0).to_string()), ("Altitude", alt.to_string())],
            )
            .await
    }
    async fn set_tracking(&self, on: bool) -> DeviceResult<()> {
        self.ep.put("tracking", &[("Tracking", on.to_string())]).await
    }
    async fn stop(&self) -> DeviceResult<()> {
        self.ep.put("abortslew", &[]).await?;
        if self.capabilities().tracking {
            self.ep.put("tracking", &[("Tracking", "false".into())]).await?;
        }
        Ok(())
    }
    async fn abort(&self) -> DeviceResult<()> {
        self.ep.put("abortslew", &[]).await
    }
    async fn park(&self) -> DeviceResult<()> {
        self.ep.put("park", &[]).await
    }
    async fn unpark(&self) -> DeviceResult<()> {
        self.ep.put("unpark", &[]).await
    }
    async fn home(&self) -> DeviceResult<()> {
        self.ep.put("findhome", &[]).await
    }
}

/// An Alpaca Dome.
#[derive(Debug)]
pub struct AlpacaDome {
    ep: Endpoint,
    clock: Clock,
    caps: Mutex<DomeCapabilities>,
}

impl AlpacaDome {
    pub fn new(ep: Endpoint, clock: Clock) -> Self {
        let caps = DomeCapabilities { azimuth: true, slave: true, home: true };
        Self { ep, clock, caps: Mutex::new(caps) }
    }
}

#[async_trait]
impl Dome for AlpacaDome {
    fn name(&self) -> &str {
        self.ep.name()
    }
    fn capabilities(&self) -> DomeCapabilities {
        recall(&self.caps)
    }
    async fn state(&self) -> DeviceResult<Stamped<DomeState>> {
        let e = &self.ep;
        let (connected, shutter, slewing, can_az, can_slave, can_home) = tokio::try_join!(
            e.get_bool("connected"),
            e.get_i64("shutterstatus"),
            e.get_bool("slewing"),
            e.get_bool("cansetazimuth"),
            e.get_bool("canslave"),
            e.get_bool("canfindhome"),
        )?;
        remember(&self.caps, DomeCapabilities { azimuth: can_az, slave: can_slave, home: can_home });
        let azimuth = if can_az { optional(e.get_f64("azimuth").await)?.unwrap_or(0.0) } else { 0.0 };
        let slaved = if can_slave { optional(e.get_bool("slaved").await)?.unwrap_or(false) } else { false };
        let shutter = match shutter {
            0 => Shutter::Opened,
            1 => Shutter::Closed,
            2 | 3 => Shutter::Intermediate,
            _ => Shutter::Unknown,
        };
        let value = DomeState { connected, homing: false, slewing, azimuth, shutter, slaved };
        Ok(Stamped { at: self.clock.now(), value })
    }
    async fn open(&self) -> DeviceResult<()> {
        self.ep.put("openshutter", &[]).await
    }
    async fn close(&self) -> DeviceResult<()> {
        self.ep.put("closeshutter", &[]).await
    }
    async fn slew_azimuth(&self, azimuth: f64) -> DeviceResult<()> {
        self.ep.put("slewtoazimuth", &[("Azimuth", azimuth.rem_euclid(360.0).to_string())]).await
    }
    async fn set_slaved(&self, on: bool) -> DeviceResult<()> {
        self.ep.put("slaved", &[("Slaved", on.to_string())]).await
    }
    async fn abort(&self) -> DeviceResult<()> {
        self.ep.put("abortslew", &[]).await
    }
    async fn home(&self) -> DeviceResult<()> {
        self.ep.put("findhome", &[]).await
    }
}

/// An Alpaca FilterWheel (position -1 while moving).
#[derive(Debug)]
pub struct AlpacaFilterWheel {
    ep: Endpoint,
    clock: Clock,
}

impl AlpacaFilterWheel {
    pub fn new(ep: Endpoint, clock: Clock) -> Self {
        Self { ep, clock }
    }
}

#[async_trait]
impl FilterWheel for AlpacaFilterWheel {
    fn name(&self) -> &str {
        self.ep.name()
    }
    async fn state(&self) -> DeviceResult<Stamped<FilterWheelState>> {
        let (connected, names, position) = tokio::try_join!(
            self.ep.get_bool("connected"),
            self.ep.get_strings("names"),
            self.ep.get_i64("position")
        )?;
        let position = usize::try_from(position).ok();
        let value =
            FilterWheelState { connected, homing: false, moving: position.is_none(), position, names };
        Ok(Stamped { at: self.clock.now(), value })
    }
    async fn select(&self, position: usize) -> DeviceResult<()> {
        self.ep.put("position", &[("Position", position.to_string())]).await
    }
    async fn select_filter(&self, name: &str) -> DeviceResult<()> {
        let names = self.ep.get_strings("names").await?;
        let slot = ferros_devices::slot_of(self.ep.name(), &names, name)?;
        self.select(slot).await
    }
    async fn home(&self) -> DeviceResult<()> {
        self.select(0).await
    }
}

/// ObservingConditions (and a SafetyMonitor, when there is one) as a weather source.
/// Values carry the names the PLC's sensors use, so the ENV agent reads both alike.
#[derive(Debug)]
pub struct AlpacaWeather {
    conditions: Endpoint,
    safety: Option<Endpoint>,
    clock: Clock,
}

/// Alpaca property, Ferros value name, unit.
const CONDITIONS: [(&str, &str, &str); 13] = [
    ("temperature", "OutsideTemp", "Celcius"),
    ("humidity", "OutsideHumidity", "percent"),
    ("pressure", "Pressure", "mbar"),
    ("rainrate", "RainRate", "mm/h"),
    ("windspeed", "WindSpeed", "m/s"),
    ("windgust", "WindGust", "m/s"),
    ("winddirection", "WindDir", "deg"),
    ("dewpoint", "DewPoint", "deg"),
    ("skytemperature", "SkyTemperature", "Celcius"),
    ("cloudcover", "CloudCover", "percent"),
    ("skybrightness", "SkyBrightness", "lux"),
    ("skyquality", "SkyQuality", "mag/arcsec2"),
    ("starfwhm", "StarFWHM", "arcsec"),
];

impl AlpacaWeather {
    pub fn new(conditions: Endpoint, safety: Option<Endpoint>, clock: Clock) -> Self {
        Self { conditions, safety, clock }
    }
}

#[async_trait]
impl WeatherSource for AlpacaWeather {
    fn name(&self) -> &str {
        self.conditions.name()
    }
    async fn status(&self) -> DeviceResult<Stamped<WeatherStatus>> {
        let mut values = Vec::new();
        for (property, name, unit) in CONDITIONS {
            if let Some(v) = optional(self.conditions.get_f64(property).await)? {
                values.push(SensorValue {
                    name: name.into(),
                    value: Reading::Number(v),
                    unit: unit.into(),
                    comment: String::new(),
                });
            }
        }
        let mut sensors = vec![Sensor {
            name: "ObservingConditions".into(),
            kind: "meteo".into(),
            serial_number: String::new(),
            valid: true,
            values,
        }];
        if let Some(s) = &self.safety
            && let Some(safe) = optional(s.get_bool("issafe").await)?
        {
            sensors.push(Sensor {
                name: "SafetyMonitor".into(),
                kind: "site".into(),
                serial_number: String::new(),
                valid: true,
                values: vec![SensorValue {
                    name: "IsSafe".into(),
                    value: Reading::Number(if safe { 1.0 } else { 0.0 }),
                    unit: "bool".into(),
                    comment: "1=safe 0=unsafe".into(),
                }],
            });
        }
        let value = WeatherStatus {
            mode: PlcMode::Auto,
            measured_at: None,
            sensors,
            alarms: Vec::new(),
            bypass: false,
            night_ack: false,
        };
        Ok(Stamped { at: self.clock.now(), value })
    }
}
