//! Running a sequence: checks, slew, albums in parallel, its end.

use super::*;

/// The outcome of an album or a job part.
pub(super) type Part = Result<(), AgentError>;

impl Kit {
    pub(super) async fn run_sequence(
        &self,
        id: SequenceId,
        stop: watch::Receiver<Stop>,
    ) -> Result<(), AgentError> {
        let db = &self.db;
        let Some((_, rid)) = db.sequence_request(id).await? else {
            return Err(AgentError::Missing(format!("sequence {id} is gone")));
        };
        let request =
            db.request(rid).await?.ok_or_else(|| AgentError::Missing("the request is gone".into()))?;
        let seq = request
            .sequences
            .iter()
            .find(|s| s.id == id)
            .ok_or_else(|| AgentError::Missing("the sequence is gone".into()))?
            .clone();
        let block = seq.spec.block().get();
        // A sequence is started up to `lead_s` before its planned start; one
        // whose target rises only at that start waits for it (else the planner
        // would place it again at the same time, and so on for ever).
        if let Some(tsp) = seq.tsp {
            let now = JulianDate::from_datetime(self.clock.now())?;
            if tsp.days() > now.days()
                && !self.up_between(&seq, now.days(), now.days() + block / 86_400.0)
                && self.up_between(&seq, tsp.days(), tsp.days() + block / 86_400.0)
            {
                let wait =
                    Duration::from_secs_f64(((tsp.days() - now.days()) * 86_400.0).clamp(0.0, 3_600.0));
                let mut stop = stop.clone();
                tokio::select! {
                    biased;
                    _ = stop.wait_for(|s| *s != Stop::Go) => return Ok(()),
                    () = self.clock.sleep(wait) => {}
                }
            }
        }
        let now = self.clock.now();
        let start = JulianDate::from_datetime(now)?;
        // What the observatory cannot do at all is given up, with the reason.
        if let Some(why) = self.cannot_do(&seq).await {
            db.give_up_sequence(id, &why, now).await?;
            self.ctx.record("executor", LogLevel::Warn, format!("sequence {id} is UNPLANNABLE: {why}")).await;
            self.ctx.bus.publish(Event::Sequence { at: now, id: id.0, state: format!("UNPLANNABLE: {why}") });
            return Ok(());
        }
        // A plan made before a pause (weather, a device) may be stale: if the
        // target is no longer up for the whole block, the planner places it again.
        let end = start.days() + block / 86_400.0;
        let down = !self.up_between(&seq, start.days(), end);
        if down || end > seq.spec.jd2.days() {
            let why =
                if down { "its target is not up now" } else { "it can no longer end within its window" };
            db.replan_sequence(id, why, now).await?;
            self.ctx.bus.publish(Event::Sequence { at: now, id: id.0, state: format!("replanned: {why}") });
            return Ok(());
        }
        let end = JulianDate::new(start.days() + block / 86_400.0)?;
        db.start_sequence(id, start, end, now).await?;
        self.ctx
            .record("executor", LogLevel::Info, format!("sequence {id} \"{}\" started", seq.spec.name))
            .await;
        self.ctx.bus.publish(Event::Sequence { at: now, id: id.0, state: "EXECUTING".into() });
        // The executor never runs past the block the planner gave (its length
        // from now, within jd2: checked above).
        let deadline = now + TimeDelta::milliseconds((block * 1000.0).round() as i64);
        // No image begins that would end after the block; one that outlasts
        // it all the same (a readout or a disk slower than asked, a device
        // that hangs) is stopped at the block's end: the cameras are aborted
        // and the images taken are archived (their storing is a task of its own).
        let left = (deadline - self.clock.now()).to_std().unwrap_or_default();
        let outcome = tokio::select! {
            biased;
            r = self.sequence_body(&request, &seq, stop.clone(), deadline) => r,
            () = self.clock.sleep(left) => {
                for ch in [Detector::Vis, Detector::Nir].into_iter().filter_map(|d| self.channel(d)) {
                    let c = &ch.camera;
                    let _ = bounded(c.name(), "abort", self.timeout, c.abort()).await;
                }
                self.log(
                    LogLevel::Warn,
                    format!("sequence {id}: its block ended at {}: stopped there", deadline.format("%H:%M:%S")),
                )
                .await;
                Ok(())
            }
        };
        let now = self.clock.now();
        // A failure (not a stop: weather, an alert, an operator) met before,
        // the same: retrying would fail again; given up below.
        let again = {
            let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
            match &outcome {
                // A stop, or a device out of service, is not the sequence's failure.
                Err(e) if !matches!(e, AgentError::Stopped(_) | AgentError::Faulty { .. }) => {
                    let why = e.to_string();
                    let twice = failures.get(&id) == Some(&why);
                    failures.insert(id, why);
                    twice
                }
                _ => {
                    failures.remove(&id);
                    false
                }
            }
        };
        let (end, state) = match outcome {
            Ok(()) => {
                let charge = (now - seq_start(start)).num_milliseconds() as f64 / 1000.0;
                let tep = JulianDate::from_datetime(now)?;
                (SequenceEnd::Executed { tep, charge_s: charge }, "EXECUTED".to_owned())
            }
            Err(why) if again => {
                let why = format!("it failed twice the same way: {why}");
                (SequenceEnd::GivenUp { reason: why.clone() }, format!("UNPLANNABLE: {why}"))
            }
            Err(why) => (SequenceEnd::GivenBack { reason: why.to_string() }, format!("given back: {why}")),
        };
        let changed = db.finish_sequence(id, &end, now).await?;
        let state = if changed { state } else { "cancelled".to_owned() };
        if again {
            self.failures.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
        }
        self.ctx.record("executor", LogLevel::Info, format!("sequence {id}: {state}")).await;
        self.ctx.bus.publish(Event::Sequence { at: now, id: id.0, state });
        // A request with nothing left to do has its folder completed.
        if let Ok(Some(r)) = db.request(rid).await {
            let statuses: Vec<_> = r.sequences.iter().map(|s| s.status).collect();
            if RequestStatus::derive(r.strategy, &statuses).is_final() {
                self.request_folder(r.kind.code(), rid, false).await?;
            }
        }
        Ok(())
    }

    /// Whether the target stays above its lowest altitude from `a` to `b` (JD).
    pub(super) fn up_between(&self, seq: &ferros_domain::Sequence, a: f64, b: f64) -> bool {
        let (Some(c), site) = (seq.spec.coordinates, &self.site) else { return true };
        let floor =
            crate::planning::altitude_floor(seq.spec.constraints.min_altitude, self.settings.site.horizon);
        let steps = ((b - a) * 86_400.0 / 600.0).ceil().max(1.0) as u32;
        (0..=steps).all(|i| {
            let t = a + (b - a) * f64::from(i) / f64::from(steps);
            JulianDate::new(t)
                .ok()
                .and_then(|jd| ferros_astro::Frame::new(site, jd).ok())
                .is_none_or(|f| f.star(c).alt >= floor)
        })
    }

    /// Why the observatory can never run `seq` (a filter its wheel lacks), if so.
    pub(super) async fn cannot_do(&self, seq: &ferros_domain::Sequence) -> Option<String> {
        for album in &seq.albums {
            let Some(ch) = self.channel(album.spec.detector) else { continue };
            // The wheel's filters, when it tells them.
            let mut names = match &ch.wheel {
                Some(w) => bounded(w.name(), "state", self.timeout, w.state())
                    .await
                    .map(|s| s.value.names)
                    .unwrap_or_default(),
                None => Vec::new(),
            };
            let caps = ch.camera.capabilities();
            for p in &album.plans {
                if let Some(w) = p.spec.window
                    && (u64::from(w.x) + u64::from(w.width) > u64::from(caps.width)
                        || u64::from(w.y) + u64::from(w.height) > u64::from(caps.height))
                {
                    return Some(format!(
                        "plan \"{}\": window {},{} {}x{} is outside the {}x{} {} camera",
                        p.spec.name,
                        w.x,
                        w.y,
                        w.width,
                        w.height,
                        caps.width,
                        caps.height,
                        album.spec.detector
                    ));
                }
                // The wheel's own names, with the configured aliases.
                let wheel = ferros_domain::Wheel {
                    names,
                    aliases: self.obs.wheels.of(album.spec.detector).aliases.clone(),
                };
                if let Some(why) = wheel.lacks(&p.spec.filter) {
                    return Some(format!("album \"{}\" ({}): {why}", album.spec.name, album.spec.detector));
                }
                names = wheel.names;
            }
        }
        None
    }

    pub(super) async fn sequence_body(
        &self,
        request: &Request,
        seq: &ferros_domain::Sequence,
        mut stop: watch::Receiver<Stop>,
        deadline: DateTime<Utc>,
    ) -> Result<(), AgentError> {
        let radec = seq.spec.coordinates.map(|c| (c.ra.degrees(), c.dec.degrees()));
        let is_alert = request.kind == ferros_domain::RequestKind::Alert;
        if let Some((ra, dec)) = radec {
            let r = tokio::select! {
                biased;
                _ = stop.wait_for(|s| *s != Stop::Go) => None,
                r = self.point(ra, dec, is_alert.then_some(seq.id)) => Some(r),
            };
            r.ok_or_else(|| stop_reason(&stop))?.map_err(AgentError::part("pointing"))?;
        }
        let r = tokio::select! {
            biased;
            _ = stop.wait_for(|s| *s != Stop::Go) => None,
            r = self.dome_open() => Some(r),
        };
        r.ok_or_else(|| stop_reason(&stop))?.map_err(AgentError::part("dome"))?;
        let dir = self.request_folder(request.kind.code(), request.id, true).await?;
        let dir = self.archive.sequence_dir(&dir, seq.id.0)?;
        let total: f64 = seq
            .albums
            .iter()
            .flat_map(|a| a.plans.iter())
            .map(|p| f64::from(p.spec.nb_images))
            .sum::<f64>()
            .max(1.0);
        let done = Arc::new(std::sync::atomic::AtomicU32::new(0));
        // Exposures share the pointing (read); a dithering move waits for them all (write).
        let pointing = Arc::new(RwLock::new(radec));
        let mut albums = tokio::task::JoinSet::new();
        for album in &seq.albums {
            let Some(ch) = self.channel(album.spec.detector) else {
                if album.spec.detector == Detector::Vis {
                    return Err(AgentError::Missing("no VIS camera".into()));
                }
                self.log(LogLevel::Warn, format!("album {}: no NIR camera here; skipped", album.id)).await;
                continue;
            };
            // A faulty camera: the VIS one holds the sequence back, the NIR one is left out.
            if !self.camera_usable(ch.detector).await {
                if ch.detector == Detector::Vis {
                    let why = self.faulty_reason(Detector::Vis);
                    return Err(AgentError::Faulty { device: ch.camera.name().to_owned(), why });
                }
                self.log(
                    LogLevel::Warn,
                    format!("album {}: {} is faulty; skipped", album.id, ch.camera.name()),
                )
                .await;
                continue;
            }
            // The NIR camera is not blocking: one that does not answer is left out.
            if ch.detector == Detector::Nir
                && let Err(e) = bounded(ch.camera.name(), "state", self.timeout, ch.camera.state()).await
            {
                self.log(LogLevel::Warn, format!("album {}: {e}; the sequence goes on without it", album.id))
                    .await;
                continue;
            }
            let detector = ch.detector;
            let kit = self.clone();
            let album = album.clone();
            let (dir, stop, done, pointing) = (dir.clone(), stop.clone(), done.clone(), pointing.clone());
            let object = seq.spec.target.clone().unwrap_or_else(|| seq.spec.name.clone());
            let observer = request.owner.clone();
            let (rid, sid) = (request.id, seq.id);
            let alert = request.kind == ferros_domain::RequestKind::Alert;
            albums.spawn(async move {
                let mut stop = stop;
                let run = async {
                    kit.settle(&ch).await;
                    for plan in &album.plans {
                        let p = &plan.spec;
                        kit.select_filter(&ch, &p.filter).await.map_err(AgentError::part("filter"))?;
                        let exposure = Exposure {
                            duration: p.exposure.get(),
                            frame: FrameType::Light,
                            binning: p.binning,
                            window: p.window.map(|w| (w.x, w.y, w.width, w.height)),
                        };
                        let readout = kit.settings.executor.readouts().of(detector, p.binning);
                        for i in 0..p.nb_images {
                            // An image that would end after the block is not begun:
                            // the plan ends with what it has, and says so.
                            let needs = TimeDelta::milliseconds(
                                ((p.exposure.get() + readout) * 1000.0).round() as i64,
                            );
                            if kit.clock.now() + needs > deadline {
                                kit.log(
                                    LogLevel::Warn,
                                    format!(
                                        "sequence {sid}, plan \"{}\": {i} of {} images taken; its block ends at {}",
                                        p.name,
                                        p.nb_images,
                                        deadline.format("%H:%M:%S")
                                    ),
                                )
                                .await;
                                return Ok(());
                            }
                            if p.dithering > 0.0 && i > 0 {
                                let mut at = pointing.write().await;
                                if *stop.borrow() != Stop::Go {
                                    return Err(stop_reason(&stop));
                                }
                                if let Some((ra0, dec0)) = radec {
                                    let (dx, dy) = dither_offset(i, p.dithering, dec0);
                                    let target =
                                        ((ra0 + dx).rem_euclid(360.0), (dec0 + dy).clamp(-90.0, 90.0));
                                    let moved = tokio::select! {
                                        biased;
                                        _ = stop.wait_for(|s| *s != Stop::Go) => None,
                                        r = kit.point(target.0, target.1, None) => Some(r),
                                    };
                                    moved
                                        .ok_or_else(|| stop_reason(&stop))?
                                        .map_err(AgentError::part("dithering"))?;
                                    *at = Some(target);
                                }
                            }
                            let at = pointing.read().await;
                            let shot = Shot {
                                dir: &dir,
                                prefix: &format!("seq{}_plan{}_{:03}", sid.0, plan.id.0, i + 1),
                                kind: ImageKind::Light,
                                object: &object,
                                observer: &observer,
                                filter: &p.filter,
                                radec: *at,
                                request: Some(rid),
                                sequence: Some(sid),
                                album: Some(album.id),
                                plan: Some(plan.id),
                                alert,
                            };
                            if alert && i == 0 {
                                kit.stamp_alert(sid, ferros_db::AlertStep::FirstExposure).await;
                            }
                            let taken = kit.expose(&ch, &exposure, &mut stop, shot).await?;
                            drop(at);
                            if taken.is_none() {
                                return Err(stop_reason(&stop));
                            }
                            let n = done.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                            kit.db
                                .record_progress(sid, plan.id, i64::from(i + 1), f64::from(n) / total)
                                .await?;
                            if *stop.borrow() != Stop::Go {
                                return Err(stop_reason(&stop));
                            }
                        }
                    }
                    Ok(())
                };
                let r: Part = run.await;
                (detector, album.id, r, *stop.borrow() == Stop::Go)
            });
        }
        let mut result: Part = Ok(());
        while let Some(r) = albums.join_next().await {
            let (detector, album, r) = match r {
                Ok((d, a, r, going)) => (d, Some((a, going)), r),
                Err(source) => {
                    (Detector::Vis, None, Err(AgentError::Task { what: "an album's task", source }))
                }
            };
            match (r, album) {
                (Ok(()), _) => {}
                // A NIR failure that is not a stop: noted, the VIS album decides.
                (Err(e), Some((a, true))) if detector == Detector::Nir => {
                    self.log(LogLevel::Warn, format!("album {a}: {e}; the sequence goes on without it"))
                        .await;
                }
                (Err(e), _) if result.is_ok() => result = Err(e),
                (Err(_), _) => {}
            }
        }
        result
    }

    /// Opens (`active`) or completes a request's folder; the Image rows follow the rename.
    pub(super) async fn request_folder(
        &self,
        kind: &str,
        request: RequestId,
        active: bool,
    ) -> Result<PathBuf, AgentError> {
        let name = format!("{kind}_{}", request.0);
        let (done, open) = (format!("produced/{name}/"), format!("produced/{name}_active/"));
        let dir = if active {
            self.archive.begin_request(kind, request.0)?
        } else {
            self.archive.finish_request(kind, request.0)?
        };
        let (from, to) = if active { (done, open) } else { (open, done) };
        self.db.move_image_paths(&from, &to).await?;
        Ok(dir)
    }
}
