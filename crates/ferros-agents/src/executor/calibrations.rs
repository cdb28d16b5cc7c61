//! Twilight flats, and the morning's bias and darks.

use super::*;

impl Kit {
    /// Twilight flats: the telescope at the anti-solar point 75 degrees up, N per filter.
    pub(super) async fn run_flats(&self, mut stop: watch::Receiver<Stop>) -> Result<(), AgentError> {
        let now = self.clock.now();
        self.log(LogLevel::Info, "twilight flats").await;
        if let Some(m) = &self.obs.mount {
            let jd = JulianDate::from_datetime(now)?;
            let frame = ferros_astro::Frame::new(&self.site, jd)?;
            let az = (frame.sun().horizontal.az + 180.0).rem_euclid(360.0);
            let t = self.timeout;
            let unparked = tokio::select! {
                biased;
                _ = stop.wait_for(|s| *s != Stop::Go) => None,
                r = self.until(m.name(), "unpark", self.motion_limit(), || bounded(m.name(), "state", t, m.state()), |s| !s.value.parked) => Some(r),
            };
            unparked.ok_or_else(|| stop_reason(&stop))??;
            bounded(m.name(), "slew", t, m.slew_altaz(75.0, az)).await?;
        }
        let r = tokio::select! {
            biased;
            _ = stop.wait_for(|s| *s != Stop::Go) => None,
            r = self.dome_open() => Some(r),
        };
        r.ok_or_else(|| stop_reason(&stop))?.map_err(AgentError::part("dome"))?;
        let night = crate::planning::night_of(JulianDate::from_datetime(now)?, self.settings.site.longitude);
        let dir = self.calibration_dir(night)?;
        // Only what is missing (a run stopped halfway goes on where it stopped).
        let wanted = flats_wanted(&self.db, &self.settings, &self.site, now).await;
        let mut parts = tokio::task::JoinSet::new();
        for det in [Detector::Vis, Detector::Nir] {
            let Some(ch) = self.channel(det) else { continue };
            let filters: Vec<(String, u32)> =
                wanted.iter().filter(|w| w.0 == det).map(|(_, f, n)| (f.clone(), *n)).collect();
            if filters.is_empty() {
                continue;
            }
            let (kit, dir, stop) = (self.clone(), dir.clone(), stop.clone());
            parts.spawn(async move {
                let mut stop = stop;
                let e = &kit.settings.executor;
                let exposure = Exposure {
                    duration: e.flat_exposure_s,
                    frame: FrameType::Flat,
                    binning: 1,
                    window: None,
                };
                for (f, missing) in &filters {
                    kit.select_filter(&ch, f).await.map_err(AgentError::part(format!("filter {f}")))?;
                    let first = e.flats_per_filter - missing;
                    for i in first..e.flats_per_filter {
                        let prefix = format!("flat_{f}_{:02}", i + 1);
                        let shot = calibration_shot(&dir, &prefix, ImageKind::Flat, f);
                        if kit.expose(&ch, &exposure, &mut stop, shot).await?.is_none() {
                            return Err(stop_reason(&stop));
                        }
                    }
                }
                Ok(())
            });
        }
        join_parts(parts).await
    }

    /// Bias and darks, dome closed, every camera in parallel.
    pub(super) async fn run_calibrations(&self, stop: watch::Receiver<Stop>) -> Result<(), AgentError> {
        let x = &self.settings.executor;
        let now = self.clock.now();
        self.log(LogLevel::Info, "bias and darks").await;
        let night = crate::planning::night_of(JulianDate::from_datetime(now)?, self.settings.site.longitude);
        let dir = self.calibration_dir(night)?;
        let mut parts = tokio::task::JoinSet::new();
        for det in [Detector::Vis, Detector::Nir] {
            let Some(ch) = self.channel(det) else { continue };
            let (kit, dir, stop) = (self.clone(), dir.clone(), stop.clone());
            let frames: Vec<(FrameType, f64)> =
                std::iter::repeat_n((FrameType::Bias, 0.0), x.biases as usize)
                    .chain(x.darks_s.iter().flat_map(|d| {
                        std::iter::repeat_n((FrameType::Dark, *d), x.darks_per_exposure as usize)
                    }))
                    .collect();
            parts.spawn(async move {
                let mut stop = stop;
                for (i, (frame, duration)) in frames.into_iter().enumerate() {
                    let kind = if frame == FrameType::Bias { ImageKind::Bias } else { ImageKind::Dark };
                    let prefix = format!("{}_{:02}", kind.code(), i + 1);
                    let shot = calibration_shot(&dir, &prefix, kind, "dark");
                    let exposure = Exposure { duration, frame, binning: 1, window: None };
                    if kit.expose(&ch, &exposure, &mut stop, shot).await?.is_none() {
                        return Err(stop_reason(&stop));
                    }
                }
                Ok(())
            });
        }
        join_parts(parts).await
    }

    pub(super) fn calibration_dir(&self, night: NaiveDate) -> Result<PathBuf, AgentError> {
        let d = self.archive.produced().join("calibrations").join(night.to_string());
        std::fs::create_dir_all(&d)
            .map_err(|source| AgentError::Io { what: format!("cannot create {}", d.display()), source })?;
        Ok(d)
    }
}

pub(super) fn calibration_shot<'a>(
    dir: &'a std::path::Path,
    prefix: &'a str,
    kind: ImageKind,
    filter: &'a str,
) -> Shot<'a> {
    Shot {
        dir,
        prefix,
        kind,
        object: kind.code(),
        observer: "Ferros",
        filter,
        radec: None,
        request: None,
        sequence: None,
        album: None,
        plan: None,
        alert: false,
    }
}
