//! The INDI devices, on the standard properties of the INDI library.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ferros_astro::Site;
use ferros_astro::equinox::{altaz, hadec, j2000_to_jnow, jnow_to_j2000, local_sidereal_time};
use ferros_clock::Clock;
use ferros_devices::{
    Camera, CameraActivity, CameraCapabilities, CameraState, DeviceError, DeviceResult, Dome,
    DomeCapabilities, DomeState, Exposure, FilterWheel, FilterWheelState, Frame, FrameType, Mount,
    MountCapabilities, MountState, PlcMode, Reading, Sensor, SensorValue, Shutter, Stamped, WeatherSource,
    WeatherStatus,
};
use ferros_domain::JulianDate;

use crate::client::{IndiClient, Property};
use crate::xml::{Kind, PropState, Value};

/// Geometry is computed on the device's time, the real UTC.
fn jd_now(device: &str) -> DeviceResult<JulianDate> {
    JulianDate::from_datetime(Utc::now()).map_err(|e| DeviceError::comm(device, e.to_string()))
}

fn astro(device: &str, e: ferros_astro::AstroError) -> DeviceError {
    DeviceError::comm(device, e.to_string())
}

/// Whether the device is connected; the client asks for it as soon as it sees
/// it disconnected, so this waits (up to the timeout) for that to happen.
async fn connected(c: &IndiClient, device: &str) -> DeviceResult<bool> {
    let on = |p: &Property| p.switch("CONNECT") == Some(true);
    if on(&c.property(device, "CONNECTION").await?) {
        return Ok(true);
    }
    match c.wait(device, "CONNECTION", c.timeout(), on).await {
        Ok(_) => {
            // A device defines most of its properties, and sets them (park,
            // sensor size), in a burst just after connecting: let it arrive.
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            Ok(true)
        }
        Err(DeviceError::Timeout { .. }) => Err(DeviceError::comm(
            device,
            format!(
                "the INDI device did not connect within {} s (CONNECTION is Off)",
                c.timeout().as_secs_f64()
            ),
        )),
        Err(e) => Err(e),
    }
}

/// An INDI telescope ("Telescope Simulator"). It speaks RA/Dec of date; Ferros
/// converts from and to J2000, and alt/az through the mount's site.
#[derive(Debug)]
pub struct IndiMount {
    client: Arc<IndiClient>,
    device: String,
    name: String,
    clock: Clock,
    /// Ferros's site, given to the mount when its own differs.
    site: Option<Site>,
}

impl IndiMount {
    pub fn new(client: Arc<IndiClient>, device: &str, name: &str, clock: Clock, site: Option<Site>) -> Self {
        client.want(device, false);
        Self { client, device: device.to_owned(), name: name.to_owned(), clock, site }
    }

    /// Latitude and east longitude the mount uses.
    async fn location(&self) -> DeviceResult<(f64, f64)> {
        let geo = self.client.property(&self.device, "GEOGRAPHIC_COORD").await?;
        let (lat, lon) = (geo.number("LAT").unwrap_or(0.0), geo.number("LONG").unwrap_or(0.0));
        if let Some(site) = &self.site {
            let east = site.longitude().rem_euclid(360.0);
            if (lat - site.latitude()).abs() > 1e-4 || (lon - east).abs() > 1e-4 {
                self.client
                    .send(
                        &self.device,
                        "GEOGRAPHIC_COORD",
                        Kind::Number,
                        &[
                            ("LAT", site.latitude().to_string()),
                            ("LONG", east.to_string()),
                            ("ELEV", site.elevation().to_string()),
                        ],
                    )
                    .await?;
                return Ok((site.latitude(), east));
            }
        }
        Ok((lat, lon))
    }

    /// Slews to RA/Dec of date (degrees), tracking there or not, and returns
    /// once the mount has taken the order: slewing, or already there (the
    /// device's periodic updates may answer before it has read the order).
    async fn goto(&self, mode: &str, ra: f64, dec: f64) -> DeviceResult<()> {
        // A parked INDI mount ignores gotos with only a log message.
        if self.client.get(&self.device, "TELESCOPE_PARK")?.is_some_and(|p| p.switch("PARK") == Some(true)) {
            return Err(DeviceError::busy(&self.name, "parked: unpark first"));
        }
        self.client.switch(&self.device, "ON_COORD_SET", mode).await?;
        let ra_h = ra / 15.0;
        let values = [("RA", ra_h.to_string()), ("DEC", dec.to_string())];
        self.client.send(&self.device, "EQUATORIAL_EOD_COORD", Kind::Number, &values).await?;
        let there = |p: &Property| {
            let dra = (p.number("RA").unwrap_or(f64::NAN) - ra_h + 36.0).rem_euclid(24.0) - 12.0;
            let ddec = p.number("DEC").unwrap_or(f64::NAN) - dec;
            // Not tracking, RA runs with the sky: a minute of it is 0.017 h.
            dra.abs() < 0.05 && ddec.abs() < 0.1
        };
        self.client
            .wait(&self.device, "EQUATORIAL_EOD_COORD", self.client.timeout(), |p| {
                p.state == PropState::Busy || p.state == PropState::Alert || there(p)
            })
            .await
            .and_then(|p| match p.state {
                PropState::Alert => Err(DeviceError::comm(
                    &self.name,
                    format!("slew refused: {}", p.message.unwrap_or_default()),
                )),
                _ => Ok(()),
            })
    }

    async fn wait_still(&self) -> DeviceResult<()> {
        self.client
            .wait(&self.device, "EQUATORIAL_EOD_COORD", self.client.timeout(), |p| p.state != PropState::Busy)
            .await
            .map(|_| ())
    }
}

#[async_trait]
impl Mount for IndiMount {
    fn name(&self) -> &str {
        &self.name
    }
    fn capabilities(&self) -> MountCapabilities {
        let has = |p: &str| self.client.has(&self.device, p);
        MountCapabilities {
            slew_altaz: true,
            park: has("TELESCOPE_PARK") || !has("CONNECTION"),
            home: has("TELESCOPE_HOME"),
            tracking: has("TELESCOPE_TRACK_STATE") || !has("CONNECTION"),
        }
    }
    async fn state(&self) -> DeviceResult<Stamped<MountState>> {
        let c = &self.client;
        let connected = connected(c, &self.device).await?;
        let eq = c.property(&self.device, "EQUATORIAL_EOD_COORD").await?;
        let (ra_h, dec) = match (eq.number("RA"), eq.number("DEC")) {
            (Some(r), Some(d)) => (r, d),
            _ => return Err(DeviceError::comm(&self.device, "EQUATORIAL_EOD_COORD without RA and DEC")),
        };
        let (lat, lon) = self.location().await?;
        let park = c.get(&self.device, "TELESCOPE_PARK")?;
        let parked =
            park.as_ref().is_some_and(|p| p.switch("PARK") == Some(true) && p.state != PropState::Busy);
        let tracking =
            c.get(&self.device, "TELESCOPE_TRACK_STATE")?.is_some_and(|p| p.switch("TRACK_ON") == Some(true));
        let jd = jd_now(&self.device)?;
        let lst = local_sidereal_time(jd, lon).map_err(|e| astro(&self.device, e))?;
        let ha = (lst - ra_h * 15.0 + 540.0).rem_euclid(360.0) - 180.0;
        let (alt, az) = altaz(ha, dec, lat);
        let (ra, dec2000) = jnow_to_j2000(ra_h * 15.0, dec, jd).map_err(|e| astro(&self.device, e))?;
        let value = MountState {
            connected,
            slewing: eq.state == PropState::Busy,
            homing: false,
            parked,
            tracking,
            stop_sensor: false,
            at_flat_position: false,
            last_connection: None,
            last_maintenance: None,
            ra,
            dec: dec2000,
            ha: ha / 15.0,
            alt,
            az,
        };
        Ok(Stamped { at: self.clock.now(), value })
    }
    async fn slew_radec(&self, ra: f64, dec: f64) -> DeviceResult<()> {
        let jd = jd_now(&self.device)?;
        let (ra, dec) = j2000_to_jnow(ra, dec, jd).map_err(|e| astro(&self.device, e))?;
        self.goto("TRACK", ra, dec).await
    }
    async fn slew_altaz(&self, alt: f64, az: f64) -> DeviceResult<()> {
        let (lat, lon) = self.location().await?;
        let (ha, dec) = hadec(alt, az, lat);
        let lst = local_sidereal_time(jd_now(&self.device)?, lon).map_err(|e| astro(&self.device, e))?;
        let ra = (lst - ha).rem_euclid(360.0);
        self.goto("SLEW", ra, dec).await
    }
    async fn set_tracking(&self, on: bool) -> DeviceResult<()> {
        let which = if on { "TRACK_ON" } else { "TRACK_OFF" };
        self.client.switch(&self.device, "TELESCOPE_TRACK_STATE", which).await.map(|_| ())
    }
    async fn stop(&self) -> DeviceResult<()> {
        self.abort().await?;
        if self.client.has(&self.device, "TELESCOPE_TRACK_STATE") {
            self.set_tracking(false).await?;
        }
        Ok(())
    }
    async fn abort(&self) -> DeviceResult<()> {
        self.client.switch(&self.device, "TELESCOPE_ABORT_MOTION", "ABORT").await?;
        self.wait_still().await
    }
    async fn park(&self) -> DeviceResult<()> {
        self.client.switch(&self.device, "TELESCOPE_PARK", "PARK").await.map(|_| ())
    }
    async fn unpark(&self) -> DeviceResult<()> {
        self.client.switch(&self.device, "TELESCOPE_PARK", "UNPARK").await.map(|_| ())
    }
    async fn home(&self) -> DeviceResult<()> {
        if !self.client.has(&self.device, "TELESCOPE_HOME") {
            return Err(DeviceError::not_supported(&self.name, "home (no TELESCOPE_HOME)"));
        }
        self.client.switch(&self.device, "TELESCOPE_HOME", "GO").await.map(|_| ())
    }
}

/// An INDI dome ("Dome Simulator").
#[derive(Debug)]
pub struct IndiDome {
    client: Arc<IndiClient>,
    device: String,
    name: String,
    clock: Clock,
}

impl IndiDome {
    pub fn new(client: Arc<IndiClient>, device: &str, name: &str, clock: Clock) -> Self {
        client.want(device, false);
        Self { client, device: device.to_owned(), name: name.to_owned(), clock }
    }
}

#[async_trait]
impl Dome for IndiDome {
    fn name(&self) -> &str {
        &self.name
    }
    fn capabilities(&self) -> DomeCapabilities {
        let has = |p: &str| self.client.has(&self.device, p);
        DomeCapabilities {
            azimuth: has("ABS_DOME_POSITION") || !has("CONNECTION"),
            slave: has("DOME_AUTOSYNC"),
            home: has("DOME_HOME"),
        }
    }
    async fn state(&self) -> DeviceResult<Stamped<DomeState>> {
        let c = &self.client;
        let connected = connected(c, &self.device).await?;
        let shutter = c.property(&self.device, "DOME_SHUTTER").await?;
        let shutter = match shutter.state {
            PropState::Busy => Shutter::Intermediate,
            PropState::Alert => Shutter::Unknown,
            _ => match (shutter.switch("SHUTTER_OPEN"), shutter.switch("SHUTTER_CLOSE")) {
                (Some(true), _) => Shutter::Opened,
                (_, Some(true)) => Shutter::Closed,
                _ => Shutter::Unknown,
            },
        };
        let position = c.get(&self.device, "ABS_DOME_POSITION")?;
        let slaved = c
            .get(&self.device, "DOME_AUTOSYNC")?
            .is_some_and(|p| p.switch("DOME_AUTOSYNC_ENABLE") == Some(true));
        let value = DomeState {
            connected,
            homing: false,
            slewing: position.as_ref().is_some_and(|p| p.state == PropState::Busy),
            azimuth: position.as_ref().and_then(|p| p.number("DOME_ABSOLUTE_POSITION")).unwrap_or(0.0),
            shutter,
            slaved,
        };
        Ok(Stamped { at: self.clock.now(), value })
    }
    async fn open(&self) -> DeviceResult<()> {
        self.client.switch(&self.device, "DOME_SHUTTER", "SHUTTER_OPEN").await.map(|_| ())
    }
    async fn close(&self) -> DeviceResult<()> {
        self.client.switch(&self.device, "DOME_SHUTTER", "SHUTTER_CLOSE").await.map(|_| ())
    }
    async fn slew_azimuth(&self, azimuth: f64) -> DeviceResult<()> {
        let v = [("DOME_ABSOLUTE_POSITION", azimuth.rem_euclid(360.0).to_string())];
        self.client.send(&self.device, "ABS_DOME_POSITION", Kind::Number, &v).await.map(|_| ())
    }
    async fn set_slaved(&self, on: bool) -> DeviceResult<()> {
        let which = if on { "DOME_AUTOSYNC_ENABLE" } else { "DOME_AUTOSYNC_DISABLE" };
        self.client.switch(&self.device, "DOME_AUTOSYNC", which).await.map(|_| ())
    }
    async fn abort(&self) -> DeviceResult<()> {
        self.client.switch(&self.device, "DOME_ABORT_MOTION", "ABORT").await.map(|_| ())
    }
    async fn home(&self) -> DeviceResult<()> {
        if !self.client.has(&self.device, "DOME_HOME") {
            return Err(DeviceError::not_supported(&self.name, "home (no DOME_HOME)"));
        }
        self.client.switch(&self.device, "DOME_HOME", "DOME_HOME_FIND").await.map(|_| ())
    }
}

#[derive(Debug, Clone)]
struct Shot {
    exposure: Exposure,
    started: DateTime<Utc>,
    /// CCD1's update count when the exposure started: a later one is its image.
    blob_before: u64,
    read: bool,
}

/// An INDI CCD ("CCD Simulator"); images arrive as FITS in the CCD1 BLOB.
#[derive(Debug)]
pub struct IndiCamera {
    client: Arc<IndiClient>,
    device: String,
    name: String,
    clock: Clock,
    shot: Mutex<Option<Shot>>,
}

impl IndiCamera {
    pub fn new(client: Arc<IndiClient>, device: &str, name: &str, clock: Clock) -> Self {
        client.want(device, true);
        Self { client, device: device.to_owned(), name: name.to_owned(), clock, shot: Mutex::new(None) }
    }

    fn shot(&self) -> std::sync::MutexGuard<'_, Option<Shot>> {
        self.shot.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn blob_generation(&self) -> u64 {
        self.client.with(&self.device, "CCD1", |p| p.generation).unwrap_or(0)
    }
}

#[async_trait]
impl Camera for IndiCamera {
    fn name(&self) -> &str {
        &self.name
    }
    fn capabilities(&self) -> CameraCapabilities {
        let info =
            self.client.with(&self.device, "CCD_INFO", |p| (p.number("CCD_MAX_X"), p.number("CCD_MAX_Y")));
        let (w, h) = info.unwrap_or((None, None));
        CameraCapabilities {
            width: w.unwrap_or(0.0) as u32,
            height: h.unwrap_or(0.0) as u32,
            max_binning: 4,
            cooler: self.client.has(&self.device, "CCD_COOLER")
                || self.client.has(&self.device, "CCD_TEMPERATURE"),
            subframe: self.client.has(&self.device, "CCD_FRAME"),
        }
    }
    async fn state(&self) -> DeviceResult<Stamped<CameraState>> {
        let c = &self.client;
        let connected = connected(c, &self.device).await?;
        let exposure = c.property(&self.device, "CCD_EXPOSURE").await?;
        // CCD_INFO is defined with zeros, then set to the sensor's size.
        c.wait(&self.device, "CCD_INFO", c.timeout(), |p| p.number("CCD_MAX_X").unwrap_or(0.0) > 0.0).await?;
        let temperature = c.get(&self.device, "CCD_TEMPERATURE")?;
        let cooler_on =
            c.get(&self.device, "CCD_COOLER")?.is_some_and(|p| p.switch("COOLER_ON") == Some(true));
        let blob_now = self.blob_generation();
        let shot = self.shot().clone();
        let remaining = exposure.number("CCD_EXPOSURE_VALUE").unwrap_or(0.0);
        let (activity, progress) = match (&shot, exposure.state) {
            (_, PropState::Alert) => (CameraActivity::Error, 0.0),
            (Some(s), _) if !s.read && blob_now > s.blob_before => (CameraActivity::Ready, 1.0),
            (Some(s), PropState::Busy) if !s.read => {
                let p = if s.exposure.duration > 0.0 { 1.0 - remaining / s.exposure.duration } else { 1.0 };
                if remaining > 0.0 {
                    (CameraActivity::Exposing, p.clamp(0.0, 1.0))
                } else {
                    (CameraActivity::Reading, 1.0)
                }
            }
            (Some(s), _) if !s.read => (CameraActivity::Reading, 1.0),
            _ => (CameraActivity::Idle, 0.0),
        };
        let value = CameraState {
            connected,
            initialized: connected,
            activity,
            progress,
            ccd_temperature: temperature
                .as_ref()
                .and_then(|p| p.number("CCD_TEMPERATURE_VALUE"))
                .unwrap_or(f64::NAN),
            cooler_on,
            cooler_setpoint: None,
            failure: (exposure.state == PropState::Alert)
                .then(|| exposure.message.clone().unwrap_or_default()),
            last_maintenance: None,
        };
        Ok(Stamped { at: self.clock.now(), value })
    }
    async fn expose(&self, e: &Exposure) -> DeviceResult<()> {
        let c = &self.client;
        let d = &self.device;
        let frame = match e.frame {
            FrameType::Light => "FRAME_LIGHT",
            FrameType::Dark => "FRAME_DARK",
            FrameType::Bias => "FRAME_BIAS",
            FrameType::Flat => "FRAME_FLAT",
        };
        c.switch(d, "CCD_FRAME_TYPE", frame).await?;
        let bin = e.binning.max(1).to_string();
        c.send(d, "CCD_BINNING", Kind::Number, &[("HOR_BIN", bin.clone()), ("VER_BIN", bin)]).await?;
        let caps = self.capabilities();
        let (x, y, w, h) = e.window.unwrap_or((0, 0, caps.width, caps.height));
        if caps.subframe && w > 0 && h > 0 {
            let v = [
                ("X", x.to_string()),
                ("Y", y.to_string()),
                ("WIDTH", w.to_string()),
                ("HEIGHT", h.to_string()),
            ];
            c.send(d, "CCD_FRAME", Kind::Number, &v).await?;
        }
        let blob_before = self.blob_generation();
        let started = self.clock.now();
        // INDI cameras take no zero-length exposure: a bias is their shortest.
        let seconds = e.duration.max(0.001);
        *self.shot() = Some(Shot { exposure: e.clone(), started, blob_before, read: false });
        match c.send(d, "CCD_EXPOSURE", Kind::Number, &[("CCD_EXPOSURE_VALUE", seconds.to_string())]).await {
            Ok(_) => Ok(()),
            Err(err) => {
                *self.shot() = None;
                Err(err)
            }
        }
    }
    async fn abort(&self) -> DeviceResult<()> {
        self.client.switch(&self.device, "CCD_ABORT_EXPOSURE", "ABORT").await?;
        if let Some(s) = self.shot().as_mut() {
            s.read = true;
        }
        Ok(())
    }
    async fn image(&self) -> DeviceResult<Frame> {
        let Some(shot) = self.shot().clone().filter(|s| !s.read) else {
            return Err(DeviceError::busy(&self.name, "no exposure to read"));
        };
        let blob = self
            .client
            .with(&self.device, "CCD1", |p| {
                if p.generation <= shot.blob_before {
                    return None;
                }
                p.elements.values().find_map(|v| match v {
                    Value::Blob { format, data } => Some((format.clone(), data.clone())),
                    _ => None,
                })
            })
            .flatten();
        let Some((format, data)) = blob else {
            return Err(DeviceError::busy(&self.name, "the image has not arrived yet"));
        };
        if format != ".fits" {
            return Err(DeviceError::not_supported(
                &self.name,
                format!("read images in {format} (set the camera to send uncompressed FITS)"),
            ));
        }
        let image =
            ferros_fits::read(&data).map_err(|e| DeviceError::comm(&self.name, format!("CCD1: {e}")))?;
        if let Some(s) = self.shot().as_mut() {
            s.read = true;
        }
        Ok(Frame {
            width: image.width,
            height: image.height,
            pixels: image.pixels,
            exposure: shot.exposure,
            started: shot.started,
        })
    }
    async fn set_cooler(&self, setpoint: Option<f64>) -> DeviceResult<()> {
        let c = &self.client;
        if let Some(t) = setpoint {
            c.send(
                &self.device,
                "CCD_TEMPERATURE",
                Kind::Number,
                &[("CCD_TEMPERATURE_VALUE", t.to_string())],
            )
            .await?;
        }
        if c.has(&self.device, "CCD_COOLER") {
            let which = if setpoint.is_some() { "COOLER_ON" } else { "COOLER_OFF" };
            c.switch(&self.device, "CCD_COOLER", which).await?;
        }
        Ok(())
    }
}

/// An INDI filter wheel ("Filter Simulator"); slots are numbered from 1 there.
#[derive(Debug)]
pub struct IndiFilterWheel {
    client: Arc<IndiClient>,
    device: String,
    name: String,
    clock: Clock,
}

impl IndiFilterWheel {
    pub fn new(client: Arc<IndiClient>, device: &str, name: &str, clock: Clock) -> Self {
        client.want(device, false);
        Self { client, device: device.to_owned(), name: name.to_owned(), clock }
    }

    async fn names(&self) -> DeviceResult<Vec<String>> {
        let p = self.client.property(&self.device, "FILTER_NAME").await?;
        let mut named: Vec<(usize, String)> = p
            .elements
            .iter()
            .filter_map(|(k, v)| {
                let slot = k.strip_prefix("FILTER_SLOT_NAME_")?.parse().ok()?;
                match v {
                    Value::Text(t) => Some((slot, t.clone())),
                    _ => None,
                }
            })
            .collect();
        named.sort();
        Ok(named.into_iter().map(|(_, n)| n).collect())
    }
}

#[async_trait]
impl FilterWheel for IndiFilterWheel {
    fn name(&self) -> &str {
        &self.name
    }
    async fn state(&self) -> DeviceResult<Stamped<FilterWheelState>> {
        let connected = connected(&self.client, &self.device).await?;
        let slot = self.client.property(&self.device, "FILTER_SLOT").await?;
        let names = self.names().await?;
        let moving = slot.state == PropState::Busy;
        let position = slot
            .number("FILTER_SLOT_VALUE")
            .filter(|_| !moving)
            .and_then(|v| (v.round() as i64 - 1).try_into().ok());
        let value = FilterWheelState { connected, homing: false, moving, position, names };
        Ok(Stamped { at: self.clock.now(), value })
    }
    async fn select(&self, position: usize) -> DeviceResult<()> {
        let n = self.names().await?.len();
        if position >= n {
            return Err(DeviceError::limit(
                &self.name,
                format!("slot {position} does not exist (0..{})", n.saturating_sub(1)),
            ));
        }
        let v = [("FILTER_SLOT_VALUE", (position + 1).to_string())];
        self.client.send(&self.device, "FILTER_SLOT", Kind::Number, &v).await.map(|_| ())
    }
    async fn select_filter(&self, name: &str) -> DeviceResult<()> {
        let names = self.names().await?;
        let slot = ferros_devices::slot_of(&self.name, &names, name)?;
        self.select(slot).await
    }
    async fn home(&self) -> DeviceResult<()> {
        self.select(0).await
    }
}

/// An INDI weather station ("Weather Simulator"): WEATHER_PARAMETERS as one
/// sensor, with the PLC's value names where there is one; parameters whose
/// WEATHER_STATUS light is Alert are alarms.
#[derive(Debug)]
pub struct IndiWeather {
    client: Arc<IndiClient>,
    device: String,
    name: String,
    clock: Clock,
}

impl IndiWeather {
    pub fn new(client: Arc<IndiClient>, device: &str, name: &str, clock: Clock) -> Self {
        client.want(device, false);
        Self { client, device: device.to_owned(), name: name.to_owned(), clock }
    }
}

/// INDI parameter, Ferros value name, unit, factor to that unit.
const PARAMETERS: [(&str, &str, &str, f64); 9] = [
    ("WEATHER_TEMPERATURE", "OutsideTemp", "Celcius", 1.0),
    ("WEATHER_HUMIDITY", "OutsideHumidity", "percent", 1.0),
    ("WEATHER_PRESSURE", "Pressure", "mbar", 1.0),
    ("WEATHER_RAIN_HOUR", "RainRate", "mm/h", 1.0),
    ("WEATHER_WIND_SPEED", "WindSpeed", "m/s", 1.0 / 3.6),
    ("WEATHER_WIND_GUST", "WindGust", "m/s", 1.0 / 3.6),
    ("WEATHER_DEWPOINT", "DewPoint", "deg", 1.0),
    ("WEATHER_SKY_TEMPERATURE", "SkyTemperature", "Celcius", 1.0),
    ("WEATHER_CLOUD_COVER", "CloudCover", "percent", 1.0),
];

fn parameter_value(name: &str, v: f64) -> SensorValue {
    match PARAMETERS.iter().find(|(p, ..)| *p == name) {
        Some((_, ferros, unit, factor)) => SensorValue {
            name: (*ferros).into(),
            value: Reading::Number(v * factor),
            unit: (*unit).into(),
            comment: format!("INDI {name}"),
        },
        None => SensorValue {
            name: name.into(),
            value: Reading::Number(v),
            unit: String::new(),
            comment: "INDI".into(),
        },
    }
}

#[async_trait]
impl WeatherSource for IndiWeather {
    fn name(&self) -> &str {
        &self.name
    }
    async fn status(&self) -> DeviceResult<Stamped<WeatherStatus>> {
        let c = &self.client;
        if !connected(c, &self.device).await? {
            return Err(DeviceError::comm(
                &self.name,
                format!("INDI device {} is not connected", self.device),
            ));
        }
        let params = c.property(&self.device, "WEATHER_PARAMETERS").await?;
        let values = params
            .elements
            .iter()
            .filter_map(|(k, v)| match v {
                Value::Number(n) => Some(parameter_value(k, *n)),
                _ => None,
            })
            .collect();
        let alarms = c
            .get(&self.device, "WEATHER_STATUS")?
            .map(|p: Property| {
                p.elements
                    .iter()
                    .filter(|(_, v)| **v == Value::Light(PropState::Alert))
                    .map(|(k, _)| k.clone())
                    .collect()
            })
            .unwrap_or_default();
        let sensor = Sensor {
            name: self.device.clone(),
            kind: "meteo".into(),
            serial_number: String::new(),
            valid: params.state != PropState::Idle || !params.elements.is_empty(),
            values,
        };
        let value = WeatherStatus {
            mode: PlcMode::Auto,
            measured_at: None,
            sensors: vec![sensor],
            alarms,
            bypass: false,
            night_ack: false,
        };
        Ok(Stamped { at: self.clock.now(), value })
    }
}
