//! One exposure: taken, read out, archived as FITS with its header and its row.

use super::*;

impl Kit {
    /// One exposure, archived under `dir` as `name`; `None` when stopped before its end.
    pub(super) async fn expose(
        &self,
        ch: &Channel,
        exposure: &Exposure,
        stop: &mut watch::Receiver<Stop>,
        shot: Shot<'_>,
    ) -> Result<Option<PathBuf>, AgentError> {
        if matches!(*stop.borrow(), Stop::Now(_) | Stop::AfterExposure(_)) {
            return Ok(None);
        }
        let c = &ch.camera;
        let t = self.timeout;
        let started = self.clock.now();
        if let Err(e) = bounded(c.name(), "expose", t, c.expose(exposure)).await {
            return Err(self.device_failed(ch, e).await);
        }
        let limit = Duration::from_secs_f64(exposure.duration + self.settings.executor.readout_timeout_s);
        let wait = self.until(
            c.name(),
            "exposure",
            limit,
            || bounded(c.name(), "state", t, c.state()),
            |s| {
                matches!(
                    s.value.activity,
                    CameraActivity::Ready | CameraActivity::Idle | CameraActivity::Error
                )
            },
        );
        let sky = matches!(exposure.frame, FrameType::Light | FrameType::Flat);
        let outcome = tokio::select! {
            biased;
            _ = stop.wait_for(|s| matches!(s, Stop::Now(_))) => None,
            r = wait => Some(r),
        };
        let ended = self.clock.now();
        let state = match outcome {
            None => {
                let _ = bounded(c.name(), "abort", t, c.abort()).await;
                self.ctx.bus.publish(Event::Exposure {
                    camera: c.name().to_owned(),
                    start: started,
                    end: self.clock.now(),
                    sky,
                    completed: false,
                });
                return Ok(None);
            }
            Some(Ok(s)) => s,
            Some(Err(e)) => return Err(self.device_failed(ch, e).await),
        };
        self.ctx.bus.publish(Event::Exposure {
            camera: c.name().to_owned(),
            start: started,
            end: ended,
            sky,
            completed: state.value.activity == CameraActivity::Ready,
        });
        if state.value.activity != CameraActivity::Ready {
            let e = AgentError::Exposure { camera: c.name().to_owned(), activity: state.value.activity };
            return Err(self.camera_failed(ch, e).await);
        }
        let frame = match bounded(c.name(), "image", t, c.image()).await {
            Ok(f) => f,
            Err(e) => return Err(self.device_failed(ch, e).await),
        };
        self.camera_ok(ch.detector);
        let info = self.image_info(ch, &shot, state.value.ccd_temperature).await;
        let header = image_header(&frame, &info);
        let name = format!(
            "{}_{}_{}",
            shot.prefix,
            ch.detector.code().to_ascii_lowercase(),
            frame.started.format("%Y%m%dT%H%M%S%3f")
        );
        let started = frame.started;
        let mut image = Image {
            path: String::new(),
            kind: shot.kind,
            request_id: shot.request,
            sequence_id: shot.sequence,
            album_id: shot.album,
            plan_id: shot.plan,
            detector: ch.detector,
            date_obs: started,
            exposure_s: exposure.duration,
            filter: shot.filter.to_owned(),
            headers: header.as_text(),
            calibration: CalibrationLevel::Raw,
            analysis: None,
        };
        // An image taken is archived whole, file and row, even if the job is
        // stopped meanwhile: the storing is a task of its own. Rendering and
        // syncing the file is blocking work, kept off the async workers so
        // that the other agents (safety first) never wait on the disk.
        let (archive, db, dir, alert, clock, bus) = (
            self.archive.clone(),
            self.db.clone(),
            shot.dir.to_path_buf(),
            shot.alert,
            self.clock,
            self.ctx.bus.clone(),
        );
        let store = tokio::spawn(async move {
            let file = archive.clone();
            let bytes = frame.pixels.len() * 2;
            let path = clock
                .offload(move || file.write_image(&dir, &name, frame, &info))
                .await
                .map_err(|source| AgentError::Offload { what: "writing the image", source })??;
            // A slow disk (a simulated night's fault) holds the camera's next frame.
            let slow = archive.delay_of(bytes);
            if !slow.is_zero() {
                clock.sleep(slow).await;
            }
            image.path = path.strip_prefix(archive.root()).unwrap_or(&path).to_string_lossy().into_owned();
            db.insert_image(&image).await?;
            bus.publish(Event::Archived { at: clock.now(), path: image.path.clone() });
            if alert {
                archive.link_fsc(&path)?;
            }
            Ok::<_, AgentError>(path)
        });
        let path =
            match store.await.map_err(|source| AgentError::Task { what: "storing the image", source })? {
                Ok(path) => path,
                // The disk (full, gone): the archive is out of service, not the sequence at fault.
                Err(e @ AgentError::Archive(ArchiveError::Io { .. } | ArchiveError::WriterGone)) => {
                    return Err(self.archive_failed(e).await);
                }
                Err(e) => return Err(e),
            };
        self.archive_ok();
        Ok(Some(path))
    }

    /// A camera call failed: what the request asked that the camera cannot
    /// do (a limit, an unsupported mode) is the request's fault; anything
    /// else puts the camera out of service.
    async fn device_failed(&self, ch: &Channel, e: DeviceError) -> AgentError {
        match e {
            DeviceError::Limit { .. } | DeviceError::NotSupported { .. } => AgentError::Device(e),
            e => self.camera_failed(ch, AgentError::Device(e)).await,
        }
    }

    pub(super) async fn image_info(&self, ch: &Channel, shot: &Shot<'_>, ccd: f64) -> ImageInfo {
        let s = &self.settings.site;
        let (mut ra, mut dec, mut airmass) = (shot.radec.map(|p| p.0), shot.radec.map(|p| p.1), None);
        if shot.kind == ImageKind::Light
            && let (Some((r, d)), site) = (shot.radec, &self.site)
            && let Ok(jd) = JulianDate::from_datetime(self.clock.now())
            && let Ok(frame) = ferros_astro::Frame::new(site, jd)
            && let Ok(c) = ferros_domain::Coordinates::new(r, d)
        {
            airmass = frame.star(c).airmass();
        }
        if !matches!(shot.kind, ImageKind::Light) {
            (ra, dec) = (None, None);
        }
        ImageInfo {
            object: shot.object.to_owned(),
            telescope: s.name.clone(),
            instrument: match ch.detector {
                Detector::Vis => "DDRAGO".into(),
                Detector::Nir => "CAGIRE".into(),
            },
            observer: shot.observer.to_owned(),
            filter: shot.filter.to_owned(),
            ra,
            dec,
            airmass,
            ccd_temperature: Some(ccd),
            request_id: shot.request.map(|r| r.0),
            sequence_id: shot.sequence.map(|r| r.0),
            album_id: shot.album.map(|r| r.0),
            plan_id: shot.plan.map(|r| r.0),
            site_name: s.name.clone(),
            latitude: s.latitude,
            longitude: s.longitude,
            elevation: s.elevation,
            optics: {
                let o = self.settings.detectors.of(ch.detector);
                let caps = ch.camera.capabilities();
                Some(ferros_archive::Optics {
                    width: caps.width,
                    height: caps.height,
                    pixel_scale: o.pixel_scale,
                    rotation_deg: o.rotation_deg,
                    gain: o.gain,
                    read_noise: o.read_noise,
                    saturation: o.saturation,
                })
            },
        }
    }
}

/// What an image is of (for its name, header and row).
#[derive(Clone, Copy)]
pub(super) struct Shot<'a> {
    pub(super) dir: &'a std::path::Path,
    pub(super) prefix: &'a str,
    pub(super) kind: ImageKind,
    pub(super) object: &'a str,
    pub(super) observer: &'a str,
    pub(super) filter: &'a str,
    pub(super) radec: Option<(f64, f64)>,
    pub(super) request: Option<RequestId>,
    pub(super) sequence: Option<SequenceId>,
    pub(super) album: Option<ferros_domain::AlbumId>,
    pub(super) plan: Option<ferros_domain::PlanId>,
    /// Alert data: linked into `exchange/FSC/TO` for the French Science Center.
    pub(super) alert: bool,
}
