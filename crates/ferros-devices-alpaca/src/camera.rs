//! Alpaca cameras: exposures, readout through ImageBytes (JSON as fallback), cooler.

use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ferros_clock::Clock;
use ferros_devices::{
    Camera, CameraActivity, CameraCapabilities, CameraState, DeviceError, DeviceResult, Exposure, Frame,
    FrameType, Stamped,
};

use crate::client::Endpoint;
use crate::image_bytes;

#[derive(Debug)]
struct Shot {
    exposure: Exposure,
    started: DateTime<Utc>,
    /// Its image was read: the camera is idle again for Ferros.
    read: bool,
}

#[derive(Debug)]
pub struct AlpacaCamera {
    ep: Endpoint,
    clock: Clock,
    caps: Mutex<CameraCapabilities>,
    shot: Mutex<Option<Shot>>,
}

impl AlpacaCamera {
    pub fn new(ep: Endpoint, clock: Clock) -> Self {
        let caps = CameraCapabilities { width: 0, height: 0, max_binning: 1, cooler: false, subframe: true };
        Self { ep, clock, caps: Mutex::new(caps), shot: Mutex::new(None) }
    }

    fn shot(&self) -> std::sync::MutexGuard<'_, Option<Shot>> {
        self.shot.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A property the camera may not implement.
    async fn optional<T>(&self, r: DeviceResult<T>) -> DeviceResult<Option<T>> {
        match r {
            Ok(v) => Ok(Some(v)),
            Err(DeviceError::NotSupported { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

#[async_trait]
impl Camera for AlpacaCamera {
    fn name(&self) -> &str {
        self.ep.name()
    }

    fn capabilities(&self) -> CameraCapabilities {
        *self.caps.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn state(&self) -> DeviceResult<Stamped<CameraState>> {
        let e = &self.ep;
        let (connected, state, ready, width, height, maxbin, can_cool) = tokio::try_join!(
            e.get_bool("connected"),
            e.get_i64("camerastate"),
            e.get_bool("imageready"),
            e.get_i64("cameraxsize"),
            e.get_i64("cameraysize"),
            e.get_i64("maxbinx"),
            e.get_bool("cansetccdtemperature"),
        )?;
        let progress = self.optional(e.get_i64("percentcompleted").await).await?;
        let temperature = self.optional(e.get_f64("ccdtemperature").await).await?;
        let cooler_on = self.optional(e.get_bool("cooleron").await).await?.unwrap_or(false);
        let setpoint =
            if can_cool { self.optional(e.get_f64("setccdtemperature").await).await? } else { None };
        *self.caps.lock().unwrap_or_else(|e| e.into_inner()) = CameraCapabilities {
            width: u32::try_from(width).unwrap_or(0),
            height: u32::try_from(height).unwrap_or(0),
            max_binning: u8::try_from(maxbin).unwrap_or(1),
            cooler: can_cool,
            subframe: true,
        };
        let read = self.shot().as_ref().is_none_or(|s| s.read);
        let activity = match state {
            1 | 2 => CameraActivity::Exposing,
            3 | 4 => CameraActivity::Reading,
            5 => CameraActivity::Error,
            _ if ready && !read => CameraActivity::Ready,
            _ => CameraActivity::Idle,
        };
        let value = CameraState {
            connected,
            initialized: connected,
            activity,
            progress: progress.map_or(0.0, |p| p as f64 / 100.0),
            ccd_temperature: temperature.unwrap_or(f64::NAN),
            cooler_on,
            cooler_setpoint: if cooler_on { setpoint } else { None },
            failure: (state == 5).then(|| "the camera reports an error".to_owned()),
            last_maintenance: None,
        };
        Ok(Stamped { at: self.clock.now(), value })
    }

    async fn expose(&self, exposure: &Exposure) -> DeviceResult<()> {
        let e = &self.ep;
        let bin = u32::from(exposure.binning.max(1));
        let caps = self.capabilities();
        let (x, y, w, h) = exposure.window.unwrap_or((0, 0, caps.width, caps.height));
        e.put("binx", &[("BinX", bin.to_string())]).await?;
        e.put("biny", &[("BinY", bin.to_string())]).await?;
        e.put("startx", &[("StartX", (x / bin).to_string())]).await?;
        e.put("starty", &[("StartY", (y / bin).to_string())]).await?;
        if w > 0 && h > 0 {
            e.put("numx", &[("NumX", (w / bin).to_string())]).await?;
            e.put("numy", &[("NumY", (h / bin).to_string())]).await?;
        }
        let light = matches!(exposure.frame, FrameType::Light | FrameType::Flat);
        let started = self.clock.now();
        e.put("startexposure", &[("Duration", exposure.duration.to_string()), ("Light", light.to_string())])
            .await?;
        *self.shot() = Some(Shot { exposure: exposure.clone(), started, read: false });
        Ok(())
    }

    async fn abort(&self) -> DeviceResult<()> {
        self.ep.put("abortexposure", &[]).await?;
        if let Some(s) = self.shot().as_mut() {
            s.read = true;
        }
        Ok(())
    }

    async fn image(&self) -> DeviceResult<Frame> {
        let (exposure, started) = match self.shot().as_ref() {
            Some(s) if !s.read => (s.exposure.clone(), s.started),
            _ => return Err(DeviceError::busy(self.ep.name(), "no exposure to read")),
        };
        let e = &self.ep;
        e.ensure_connected().await?;
        let limit = Duration::from_secs(120);
        let response = e
            .http()
            .get(e.url("imagearray"))
            .timeout(limit)
            .header(reqwest::header::ACCEPT, "application/imagebytes")
            .query(&e.query())
            .send()
            .await
            .map_err(|x| e.lose(e.http_error("imagearray", &x)))?;
        let status = response.status();
        let bytes_form = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.starts_with("application/imagebytes"));
        let body = response.bytes().await.map_err(|x| e.lose(e.http_error("imagearray", &x)))?;
        if !status.is_success() {
            return Err(e.lose(DeviceError::comm(e.name(), format!("imagearray: HTTP {status}"))));
        }
        let image = if bytes_form {
            image_bytes::parse(&body)
        } else {
            let o = e.answer("imagearray", &body)?;
            image_bytes::from_json(o.get("Value").unwrap_or(&serde_json::Value::Null))
        }
        .map_err(|m| e.lose(DeviceError::comm(e.name(), format!("imagearray: {m}"))))?;
        if let Some(s) = self.shot().as_mut() {
            s.read = true;
        }
        Ok(Frame { width: image.width, height: image.height, pixels: image.pixels, exposure, started })
    }

    async fn set_cooler(&self, setpoint: Option<f64>) -> DeviceResult<()> {
        match setpoint {
            Some(t) => {
                self.ep.put("setccdtemperature", &[("SetCCDTemperature", t.to_string())]).await?;
                self.ep.put("cooleron", &[("CoolerOn", "true".into())]).await
            }
            None => self.ep.put("cooleron", &[("CoolerOn", "false".into())]).await,
        }
    }
}
