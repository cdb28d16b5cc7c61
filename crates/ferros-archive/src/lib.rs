//! The archive on disk (docs/night.md):
//!
//! ```text
//! <root>/produced/<kind>_<request>_active/sequence_<id>/<image>.fits   while the request runs
//! <root>/produced/<kind>_<request>/...                                  once it is over
//! <root>/exchange/GIC/TO, GIC/FROM, FSC/TO                              for the partners
//! ```
//!
//! A file is written as `<name>.tmp`, synced, then renamed: a reader never
//! sees half an image, and a crash leaves only `*.tmp` files, which
//! [`Archive::recover`] removes from `produced/`. The GIC's status file,
//! replaced every few seconds, is renamed into place the same way but not
//! synced: a crash loses at most the latest status, which the next one
//! replaces. Files for the FSC are hard links to the images, not copies. A
//! simulated night's archive, thrown away after its report, is not synced
//! at all ([`Archive::unsynced`]), and its status file is overwritten in
//! place: a file renamed over another frees the old one's blocks, which a
//! file system mounted with `discard` hands back to the disk at once, a
//! disk request every few seconds of the night.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};

use chrono::{DateTime, SecondsFormat, Utc};
use ferros_devices::{Frame, FrameType};
use ferros_fits::Header;

/// The archive under one root directory.
#[derive(Debug, Clone)]
pub struct Archive {
    root: PathBuf,
    /// Images are synced before they are renamed into place.
    synced: bool,
    /// The files are written behind, in order, by a thread of their own.
    behind: Option<Arc<Behind>>,
    /// A disk fault a simulated night injects, shared by the clones.
    fault: Arc<Mutex<Option<DiskFault>>>,
}

/// What a simulated night's disk does wrong for a while.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DiskFault {
    /// Every write fails, as on a full disk.
    Full,
    /// Writes take time: `bytes_per_s` (the writer waits that long, on the
    /// Ferros clock, after each image: see [`Archive::delay_of`]).
    Slow { bytes_per_s: f64 },
}

/// A piece of file work for the writer thread.
type Job = Box<dyn FnOnce() -> Result<(), ArchiveError> + Send>;

/// The writer thread of an archive written behind: its queue, and the first
/// error it met (given by [`Archive::flush`]).
struct Behind {
    jobs: Mutex<mpsc::Sender<Job>>,
    failed: Arc<Mutex<Option<ArchiveError>>>,
}

impl std::fmt::Debug for Behind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Behind").finish_non_exhaustive()
    }
}

/// What goes into an image's header besides the frame itself.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageInfo {
    pub object: String,
    pub telescope: String,
    /// The camera: DDRAGO (VIS), CAGIRE (NIR)...
    pub instrument: String,
    pub observer: String,
    pub filter: String,
    /// J2000 pointing, degrees, when known.
    pub ra: Option<f64>,
    pub dec: Option<f64>,
    pub airmass: Option<f64>,
    pub ccd_temperature: Option<f64>,
    pub request_id: Option<i64>,
    pub sequence_id: Option<i64>,
    pub album_id: Option<i64>,
    pub plan_id: Option<i64>,
    pub site_name: String,
    pub latitude: f64,
    pub longitude: f64,
    pub elevation: f64,
    /// The camera's optics and detector, when known: a sky frame with a
    /// pointing gets its nominal WCS, and every frame GAIN, RDNOISE, SATURATE.
    pub optics: Option<Optics>,
}

/// A camera's optics and detector, for the header.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Optics {
    /// The full detector, unbinned pixels.
    pub width: u32,
    pub height: u32,
    /// Arcseconds per unbinned pixel.
    pub pixel_scale: f64,
    /// North, degrees east of +y.
    pub rotation_deg: f64,
    /// Electrons per count.
    pub gain: f64,
    /// Electrons.
    pub read_noise: f64,
    pub saturation: f64,
}

/// What the archive could not do, and on which file.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("{what} {}: {source}", path.display())]
    Io { what: &'static str, path: PathBuf, source: std::io::Error },
    #[error("{} exists already: not overwritten", .0.display())]
    Exists(PathBuf),
    #[error("{} has no file name", .0.display())]
    NoFileName(PathBuf),
    #[error("FITS: {0}")]
    Fits(#[from] ferros_fits::FitsError),
    #[error("the archive's writer thread is gone")]
    WriterGone,
    #[error("cannot start the archive's writer thread: {0}")]
    Writer(std::io::Error),
}

/// Writes `bytes` over the file at `path` in place (an unsynced archive's status file).
fn overwrite(path: &Path, bytes: &[u8]) -> Result<(), ArchiveError> {
    let mut f = fs::OpenOptions::new().write(true).open(path).map_err(|e| io("cannot open", path, e))?;
    f.write_all(bytes).and_then(|()| f.set_len(bytes.len() as u64)).map_err(|e| io("cannot write", path, e))
}

fn io(what: &'static str, path: &Path, source: std::io::Error) -> ArchiveError {
    ArchiveError::Io { what, path: path.to_owned(), source }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// What [`Archive::recover`] did: whole images put in place, the rest removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovered {
    pub completed: Vec<PathBuf>,
    pub removed: Vec<PathBuf>,
}

/// Syncs the folder holding `path`: a rename is durable only once its folder is.
fn sync_folder(path: &Path) {
    if let Some(dir) = path.parent()
        && let Ok(d) = fs::File::open(dir)
    {
        let _ = d.sync_all();
    }
}

/// Writes `bytes` at `path`: as `<path>.tmp`, synced when `sync`, renamed
/// into place; a status (`replace`) on an unsynced archive is overwritten in place.
fn write_file(path: &Path, bytes: &[u8], replace: bool, synced: bool) -> Result<(), ArchiveError> {
    if !replace && path.exists() {
        return Err(ArchiveError::Exists(path.to_owned()));
    }
    if replace && !synced && path.exists() {
        return overwrite(path, bytes);
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut f = fs::File::create(&tmp).map_err(|e| io("cannot create", &tmp, e))?;
    // What is kept is synced; what is replaced soon (a status) need not be.
    let written = f.write_all(bytes).and_then(|()| if replace || !synced { Ok(()) } else { f.sync_all() });
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(io("cannot write", &tmp, e));
    }
    fs::rename(&tmp, path).map_err(|e| io("cannot rename", &tmp, e))?;
    // What is kept is durable only once the folder holding its new name is.
    if synced && !replace {
        sync_folder(path);
    }
    Ok(())
}

impl Archive {
    /// Opens (creating its folders) the archive at `root`.
    pub fn open(root: &Path) -> Result<Archive, ArchiveError> {
        let a = Archive { root: root.to_owned(), synced: true, behind: None, fault: Arc::default() };
        for d in [a.produced(), a.exchange("GIC", "TO"), a.exchange("GIC", "FROM"), a.exchange("FSC", "TO")] {
            fs::create_dir_all(&d).map_err(|e| io("cannot create", &d, e))?;
        }
        Ok(a)
    }

    /// The same archive, its files not synced to the disk: for a simulated
    /// night, whose archive does not outlive its report.
    pub fn unsynced(mut self) -> Archive {
        self.synced = false;
        self
    }

    /// The same archive (unsynced), its files written behind by a thread of
    /// their own, in the order asked, while the caller goes on: a simulated
    /// night's, whose agents must not wait on the disk in real time. The
    /// paths are returned at once; an error of the writer is kept and given
    /// by [`Archive::flush`], which the night calls at its end. The thread
    /// first runs `setup` (where it should run).
    pub fn written_behind(mut self, setup: impl FnOnce() + Send + 'static) -> Result<Archive, ArchiveError> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let failed = Arc::new(Mutex::new(None));
        let first = failed.clone();
        std::thread::Builder::new()
            .name("archive-writer".into())
            .spawn(move || {
                setup();
                for job in queue {
                    if let Err(e) = job() {
                        lock(&first).get_or_insert(e);
                    }
                }
            })
            .map_err(ArchiveError::Writer)?;
        self.synced = false;
        self.behind = Some(Arc::new(Behind { jobs: Mutex::new(jobs), failed }));
        Ok(self)
    }

    /// Makes the disk fail (`Some`) or mends it (`None`): a simulated night's fault.
    pub fn set_fault(&self, fault: Option<DiskFault>) {
        *lock(&self.fault) = fault;
    }

    /// How long writing `bytes` takes on a slow disk (nothing otherwise),
    /// for the writer to wait on its clock.
    pub fn delay_of(&self, bytes: usize) -> std::time::Duration {
        match *lock(&self.fault) {
            Some(DiskFault::Slow { bytes_per_s }) if bytes_per_s > 0.0 => {
                std::time::Duration::from_secs_f64((bytes as f64 / bytes_per_s).min(3_600.0))
            }
            _ => std::time::Duration::ZERO,
        }
    }

    /// Whether the archive can write now: a small file written and removed
    /// (the disk full, simulated or real, says so).
    pub fn writable(&self) -> Result<(), ArchiveError> {
        let probe = self.root.join(".write_probe");
        self.check_space(&probe)?;
        fs::write(&probe, b"ferros").map_err(|e| io("cannot write", &probe, e))?;
        fs::remove_file(&probe).map_err(|e| io("cannot remove", &probe, e))
    }

    /// Refuses a write at once when the disk is full (the decision is the
    /// caller's, at the call: the same on any machine).
    fn check_space(&self, path: &Path) -> Result<(), ArchiveError> {
        if *lock(&self.fault) == Some(DiskFault::Full) {
            let full = std::io::Error::new(std::io::ErrorKind::StorageFull, "no space left on device");
            return Err(io("cannot write", path, full));
        }
        Ok(())
    }

    /// Runs `job` now, or queues it for the writer thread.
    fn run(
        &self,
        job: impl FnOnce() -> Result<(), ArchiveError> + Send + 'static,
    ) -> Result<(), ArchiveError> {
        match &self.behind {
            None => job(),
            Some(b) => lock(&b.jobs).send(Box::new(job)).map_err(|_| ArchiveError::WriterGone),
        }
    }

    /// Waits for the files written behind; the first error the writer met,
    /// if any. Nothing to wait for on an archive written in place.
    pub fn flush(&self) -> Result<(), ArchiveError> {
        let Some(b) = &self.behind else { return Ok(()) };
        let (done, finished) = mpsc::channel();
        self.run(move || {
            let _ = done.send(());
            Ok(())
        })?;
        finished.recv().map_err(|_| ArchiveError::WriterGone)?;
        lock(&b.failed).take().map_or(Ok(()), Err)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn produced(&self) -> PathBuf {
        self.root.join("produced")
    }

    /// `exchange/<partner>/<direction>`.
    pub fn exchange(&self, partner: &str, direction: &str) -> PathBuf {
        self.root.join("exchange").join(partner).join(direction)
    }

    fn request_name(kind: &str, request: i64) -> String {
        format!("{kind}_{request}")
    }

    /// The folder of a request being filled (`<kind>_<id>_active`), created,
    /// or moved back from its finished name if the request runs again.
    pub fn begin_request(&self, kind: &str, request: i64) -> Result<PathBuf, ArchiveError> {
        let name = Self::request_name(kind, request);
        let active = self.produced().join(format!("{name}_active"));
        let done = self.produced().join(&name);
        let dir = active.clone();
        self.run(move || {
            if !active.exists() {
                if done.exists() {
                    fs::rename(&done, &active).map_err(|e| io("cannot reopen", &done, e))?;
                } else {
                    fs::create_dir_all(&active).map_err(|e| io("cannot create", &active, e))?;
                }
            }
            Ok(())
        })?;
        Ok(dir)
    }

    /// A sequence's folder inside its request's (created).
    pub fn sequence_dir(&self, request_dir: &Path, sequence: i64) -> Result<PathBuf, ArchiveError> {
        let d = request_dir.join(format!("sequence_{sequence}"));
        let dir = d.clone();
        self.run(move || fs::create_dir_all(&d).map_err(|e| io("cannot create", &d, e)))?;
        Ok(dir)
    }

    /// Drops `_active`: the request's folder is complete.
    pub fn finish_request(&self, kind: &str, request: i64) -> Result<PathBuf, ArchiveError> {
        let name = Self::request_name(kind, request);
        let active = self.produced().join(format!("{name}_active"));
        let done = self.produced().join(&name);
        let dir = done.clone();
        self.run(move || {
            if active.exists() {
                fs::rename(&active, &done).map_err(|e| io("cannot finish", &active, e))?;
            }
            Ok(())
        })?;
        Ok(dir)
    }

    fn write(&self, path: &Path, bytes: Vec<u8>, replace: bool) -> Result<(), ArchiveError> {
        self.check_space(path)?;
        let (path, synced) = (path.to_owned(), self.synced);
        self.run(move || write_file(&path, &bytes, replace, synced))
    }

    /// Writes a frame as FITS with its full header into `dir`; returns the path.
    pub fn write_image(
        &self,
        dir: &Path,
        name: &str,
        frame: Frame,
        info: &ImageInfo,
    ) -> Result<PathBuf, ArchiveError> {
        let header = image_header(&frame, info);
        let path = dir.join(format!("{name}.fits"));
        self.check_space(&path)?;
        let (target, synced) = (path.clone(), self.synced);
        self.run(move || {
            let bytes = ferros_fits::write(frame.width, frame.height, &frame.pixels, &header)?;
            write_file(&target, &bytes, false, synced)
        })?;
        Ok(path)
    }

    /// Writes a file the pipeline made (a calibrated image, a master frame)
    /// at `path`, atomically; an existing one is replaced only if `replace`.
    pub fn write_product(&self, path: &Path, bytes: Vec<u8>, replace: bool) -> Result<(), ArchiveError> {
        if let Some(dir) = path.parent() {
            let d = dir.to_owned();
            self.run(move || fs::create_dir_all(&d).map_err(|e| io("cannot create", &d, e)))?;
        }
        self.write(path, bytes, replace)
    }

    /// The master calibration frames' folder.
    pub fn masters(&self) -> PathBuf {
        self.root.join("masters")
    }

    /// Replaces `exchange/FSC/TO/<name>` (an alert image's analysis) at once.
    pub fn publish_fsc(&self, name: &str, bytes: impl Into<Vec<u8>>) -> Result<PathBuf, ArchiveError> {
        let path = self.exchange("FSC", "TO").join(name);
        self.write(&path, bytes.into(), true)?;
        Ok(path)
    }

    /// Replaces `exchange/GIC/TO/<name>` at once (the device status list, every few seconds).
    pub fn publish_gic(&self, name: &str, bytes: impl Into<Vec<u8>>) -> Result<PathBuf, ArchiveError> {
        let path = self.exchange("GIC", "TO").join(name);
        self.write(&path, bytes.into(), true)?;
        Ok(path)
    }

    /// Links an image into `exchange/FSC/TO` (a hard link, or a copy).
    pub fn link_fsc(&self, image: &Path) -> Result<PathBuf, ArchiveError> {
        let name = image.file_name().ok_or_else(|| ArchiveError::NoFileName(image.to_owned()))?;
        let link = self.exchange("FSC", "TO").join(name);
        let (image, target_link) = (image.to_owned(), link.clone());
        self.run(move || {
            let target = fs::canonicalize(&image).map_err(|e| io("cannot find", &image, e))?;
            let link = target_link;
            if link.symlink_metadata().is_ok() {
                fs::remove_file(&link).map_err(|e| io("cannot replace", &link, e))?;
            }
            // A hard link: it stays good when the request's folder is renamed
            // at its end (a symbolic link would then point nowhere).
            if fs::hard_link(&target, &link).is_err() {
                fs::copy(&target, &link).map(|_| ()).map_err(|e| io("cannot copy", &link, e))?;
            }
            Ok(())
        })?;
        Ok(link)
    }

    /// Finishes what a crash left in `produced/`: a `*.tmp` image that is
    /// whole (a FITS file that reads) is renamed into place when its name is
    /// free, any other is removed. The exchange folders are left alone: their
    /// writers are running. An archive written behind first waits for its writer.
    pub fn recover(&self) -> Result<Recovered, ArchiveError> {
        self.flush()?;
        let mut done = Recovered::default();
        let mut stack = vec![self.produced()];
        while let Some(dir) = stack.pop() {
            let entries = fs::read_dir(&dir).map_err(|e| io("cannot read", &dir, e))?;
            for entry in entries.flatten() {
                let p = entry.path();
                let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
                if is_dir {
                    stack.push(p);
                } else if p.extension().is_some_and(|x| x == "tmp") {
                    let target = p.with_extension("");
                    let whole = target.extension().is_some_and(|x| x == "fits")
                        && !target.exists()
                        && fs::read(&p).is_ok_and(|b| ferros_fits::read(&b).is_ok());
                    if whole {
                        fs::rename(&p, &target).map_err(|e| io("cannot rename", &p, e))?;
                        sync_folder(&target);
                        done.completed.push(target);
                    } else {
                        fs::remove_file(&p).map_err(|e| io("cannot remove", &p, e))?;
                        done.removed.push(p);
                    }
                }
            }
        }
        done.completed.sort();
        done.removed.sort();
        Ok(done)
    }

    /// The request folders in `produced/`, as (`<kind>_<id>`, whether it is
    /// still `_active`): what the image rows' paths are reconciled with.
    pub fn request_folders(&self) -> Result<Vec<(String, bool)>, ArchiveError> {
        let dir = self.produced();
        let mut out = Vec::new();
        for entry in fs::read_dir(&dir).map_err(|e| io("cannot read", &dir, e))?.flatten() {
            if !entry.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            let name = entry.file_name().to_string_lossy().into_owned();
            match name.strip_suffix("_active") {
                Some(base) => out.push((base.to_owned(), true)),
                None if name != "calibrations" => out.push((name, false)),
                None => {}
            }
        }
        out.sort();
        Ok(out)
    }
}

fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true).trim_end_matches('Z').to_owned()
}

/// The header of an archived image (docs/night.md, "Each image").
pub fn image_header(frame: &Frame, info: &ImageInfo) -> Header {
    let mut h = Header::default();
    let e = &frame.exposure;
    let kind = match e.frame {
        FrameType::Light => "LIGHT",
        FrameType::Dark => "DARK",
        FrameType::Bias => "BIAS",
        FrameType::Flat => "FLAT",
    };
    // Names come from requests and the configuration, in any script and of
    // any length: a card holds printable ASCII, 68 characters; the full name
    // stays in the database.
    let text = |h: &mut Header, key: &str, value: &str| {
        let (shown, changed) = ferros_fits::card_text(value);
        h.set(
            key,
            shown,
            if changed { "shortened or transliterated; full name in the database" } else { "" },
        );
    };
    h.set("DATE-OBS", iso(frame.started), "start of the exposure (UTC)")
        .set("EXPTIME", e.duration, "exposure time (s)")
        .set("IMAGETYP", kind, "");
    text(&mut h, "FILTER", &info.filter);
    h.set("XBINNING", i64::from(e.binning), "").set("YBINNING", i64::from(e.binning), "");
    text(&mut h, "OBJECT", &info.object);
    text(&mut h, "TELESCOP", &info.telescope);
    text(&mut h, "INSTRUME", &info.instrument);
    text(&mut h, "OBSERVER", &info.observer);
    h.set("ORIGIN", "Ferros", "observatory control system");
    if let Some((x, y, _, _)) = e.window {
        h.set("XORGSUBF", i64::from(x), "sub-frame origin").set("YORGSUBF", i64::from(y), "");
    }
    let mut opt = |k: &str, v: Option<f64>, c: &str| {
        if let Some(v) = v.filter(|v| v.is_finite()) {
            h.set(k, v, c);
        }
    };
    opt("RA", info.ra, "J2000 pointing (deg)");
    opt("DEC", info.dec, "J2000 pointing (deg)");
    opt("AIRMASS", info.airmass, "at the start");
    opt("CCD-TEMP", info.ccd_temperature, "C");
    let mjd = frame.started.timestamp_micros() as f64 / 86_400e6 + 40_587.0;
    h.set("MJD-OBS", mjd, "start of the exposure (UTC, MJD)");
    if let Some(o) = &info.optics {
        h.set("GAIN", o.gain, "electrons per count")
            .set("RDNOISE", o.read_noise, "read noise (electrons)")
            .set("SATURATE", o.saturation, "counts");
        if let (Some(ra), Some(dec), FrameType::Light) = (info.ra, info.dec, e.frame)
            && ra.is_finite()
            && dec.is_finite()
        {
            // The nominal WCS from the pointing: the full detector's centre
            // on (ra, dec), in this frame's binned and windowed pixels.
            let bin = f64::from(e.binning.max(1));
            let (x0, y0) = e.window.map_or((0.0, 0.0), |(x, y, _, _)| (f64::from(x), f64::from(y)));
            let s = o.pixel_scale / 3600.0 * bin;
            let (sn, cs) = o.rotation_deg.to_radians().sin_cos();
            h.set("CTYPE1", "RA---TAN", "gnomonic projection, nominal (from the pointing)")
                .set("CTYPE2", "DEC--TAN", "")
                .set("CRVAL1", ra.rem_euclid(360.0), "deg")
                .set("CRVAL2", dec, "deg")
                .set("CRPIX1", (f64::from(o.width) / 2.0 - x0) / bin + 0.5, "")
                .set("CRPIX2", (f64::from(o.height) / 2.0 - y0) / bin + 0.5, "")
                .set("CD1_1", -s * cs, "deg per pixel")
                .set("CD1_2", s * sn, "")
                .set("CD2_1", s * sn, "")
                .set("CD2_2", s * cs, "")
                .set("RADESYS", "ICRS", "")
                .set("EQUINOX", 2000.0, "");
        }
    }
    for (k, v, c) in [
        ("REQ_ID", info.request_id, "Ferros request"),
        ("SEQ_ID", info.sequence_id, "Ferros sequence"),
        ("ALB_ID", info.album_id, "Ferros album"),
        ("PLAN_ID", info.plan_id, "Ferros plan"),
    ] {
        if let Some(v) = v {
            h.set(k, v, c);
        }
    }
    text(&mut h, "SITENAME", &info.site_name);
    h.set("SITELAT", info.latitude, "deg N").set("SITELONG", info.longitude, "deg E").set(
        "SITEELEV",
        info.elevation,
        "m",
    );
    h
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a test fails by panicking")]
    use super::*;
    use ferros_devices::Exposure;

    #[test]
    fn an_archive_written_behind_has_it_all_once_flushed_and_tells_its_errors() {
        let dir = tempfile::tempdir().unwrap();
        let (tx, rx) = mpsc::channel();
        let a = Archive::open(dir.path())
            .unwrap()
            .written_behind(move || tx.send(std::thread::current().id()).unwrap())
            .unwrap();
        let req = a.begin_request("routine", 4).unwrap();
        let seq = a.sequence_dir(&req, 9).unwrap();
        let path = a.write_image(&seq, "r_0001", frame(), &info()).unwrap();
        let link = a.link_fsc(&path).unwrap();
        a.publish_gic("device_status.json", b"{}").unwrap();
        let done = a.finish_request("routine", 4).unwrap();
        a.flush().unwrap();
        assert_ne!(rx.recv().unwrap(), std::thread::current().id(), "written by a thread of its own");
        let moved = done.join("sequence_9").join("r_0001.fits");
        assert_eq!(ferros_fits::read(&fs::read(&moved).unwrap()).unwrap().width, 4);
        assert_eq!(fs::read(&link).unwrap(), fs::read(&moved).unwrap());
        assert!(!req.exists() && done.exists());
        // An error is told by the flush that follows it, once.
        let again = a.begin_request("routine", 4).unwrap();
        let seq = a.sequence_dir(&again, 9).unwrap();
        a.write_image(&seq, "r_0001", frame(), &info()).unwrap();
        assert!(matches!(a.flush(), Err(ArchiveError::Exists(_))));
        a.flush().unwrap();
        assert_eq!(a.recover().unwrap(), Recovered::default());
        // A full disk refuses at the call; a slow one says how long a write takes.
        a.set_fault(Some(DiskFault::Full));
        let e = a.write_image(&seq, "r_0002", frame(), &info()).unwrap_err().to_string();
        assert!(e.contains("r_0002.fits: no space left on device"), "{e}");
        a.set_fault(Some(DiskFault::Slow { bytes_per_s: 1e6 }));
        assert_eq!(a.delay_of(4_000_000), std::time::Duration::from_secs(4));
        a.write_image(&seq, "r_0002", frame(), &info()).unwrap();
        a.set_fault(None);
        assert_eq!(a.delay_of(4_000_000), std::time::Duration::ZERO);
        a.flush().unwrap();
    }

    /// Names in any script and of any length make a FITS file all the same.
    #[test]
    fn names_a_card_cannot_hold_are_written_as_it_can() {
        let dir = tempfile::tempdir().unwrap();
        let a = Archive::open(dir.path()).unwrap();
        for (name, shown) in [
            ("Ω Centauri", "? Centauri".to_owned()),
            (&"x".repeat(90)[..], "x".repeat(68)),
            ("Barnard's star", "Barnard's star".to_owned()),
        ] {
            let info = ImageInfo { object: name.to_owned(), site_name: format!("{name} site"), ..info() };
            let path = a.write_image(dir.path(), &format!("o{}", name.len()), frame(), &info).unwrap();
            let img = ferros_fits::read(&fs::read(&path).unwrap()).unwrap();
            assert_eq!(img.keyword("OBJECT"), Some(shown.as_str()), "{name}");
        }
    }

    #[test]
    fn a_status_file_is_replaced_whole_synced_or_not() {
        for synced in [true, false] {
            let dir = tempfile::tempdir().unwrap();
            let a = Archive::open(dir.path()).unwrap();
            let a = if synced { a } else { a.unsynced() };
            let long = br#"{"date": "2026-11-23T06:00:00Z", "devices": [1, 2, 3]}"#;
            let path = a.publish_gic("device_status.json", long).unwrap();
            let path2 = a.publish_gic("device_status.json", b"{}").unwrap();
            assert_eq!(path, path2);
            assert_eq!(fs::read(&path).unwrap(), b"{}", "synced: {synced}");
            let left: Vec<_> =
                fs::read_dir(path.parent().unwrap()).unwrap().map(|e| e.unwrap().file_name()).collect();
            assert_eq!(left, vec![std::ffi::OsString::from("device_status.json")]);
        }
    }

    fn frame() -> Frame {
        Frame {
            width: 4,
            height: 2,
            pixels: vec![1000; 8],
            exposure: Exposure { duration: 30.0, frame: FrameType::Light, binning: 1, window: None },
            started: DateTime::parse_from_rfc3339("2026-11-23T06:00:00Z").unwrap().with_timezone(&Utc),
        }
    }

    fn info() -> ImageInfo {
        ImageInfo {
            object: "GRB 261123A".into(),
            telescope: "COLIBRI".into(),
            instrument: "DDRAGO".into(),
            observer: "Ferros".into(),
            filter: "r".into(),
            ra: Some(30.0),
            dec: Some(20.0),
            airmass: Some(1.1),
            ccd_temperature: Some(-60.0),
            request_id: Some(7),
            sequence_id: Some(12),
            album_id: Some(3),
            plan_id: Some(4),
            site_name: "San Pedro Martir".into(),
            latitude: 31.04,
            longitude: -115.46,
            elevation: 2790.0,
            optics: Some(Optics {
                width: 4,
                height: 3,
                pixel_scale: 1.5,
                rotation_deg: 0.0,
                gain: 1.5,
                read_noise: 7.5,
                saturation: 65535.0,
            }),
        }
    }

    #[test]
    fn the_seeds_layout_with_atomic_files() {
        let dir = tempfile::tempdir().unwrap();
        let a = Archive::open(dir.path()).unwrap();
        let req = a.begin_request("alert", 7).unwrap();
        assert!(req.ends_with("produced/alert_7_active"));
        let seq = a.sequence_dir(&req, 12).unwrap();
        let path = a.write_image(&seq, "r_0001", frame(), &info()).unwrap();
        let img = ferros_fits::read(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(img.keyword("DATE-OBS"), Some("2026-11-23T06:00:00.000"));
        assert_eq!(img.keyword("OBJECT"), Some("GRB 261123A"));
        // The nominal WCS of the pointing, and the detector's facts.
        assert_eq!(img.keyword("CTYPE1"), Some("RA---TAN"));
        assert_eq!(img.keyword("CRVAL1"), Some("30.0"));
        assert_eq!(img.keyword("CRPIX1").unwrap().parse::<f64>().unwrap(), 2.5);
        assert_eq!(img.keyword("RADESYS"), Some("ICRS"));
        assert_eq!(img.keyword("GAIN"), Some("1.5000000000E0"));
        let mjd: f64 = img.keyword("MJD-OBS").unwrap().parse().unwrap();
        assert!((mjd - 61_367.25).abs() < 1e-9, "{mjd}");
        assert_eq!(img.keyword("SEQ_ID"), Some("12"));
        assert_eq!(img.keyword("FILTER"), Some("r"));
        assert!(matches!(a.write_image(&seq, "r_0001", frame(), &info()), Err(ArchiveError::Exists(_))));
        let link = a.link_fsc(&path).unwrap();
        assert_eq!(std::fs::read(&link).unwrap(), std::fs::read(&path).unwrap());
        let done = a.finish_request("alert", 7).unwrap();
        assert!(done.join("sequence_12/r_0001.fits").is_file());
        // The FSC's link outlives the rename.
        assert_eq!(
            std::fs::read(&link).unwrap(),
            std::fs::read(done.join("sequence_12/r_0001.fits")).unwrap()
        );
        assert!(!req.exists());
        // Runs again another night: back to _active, nothing lost.
        let again = a.begin_request("alert", 7).unwrap();
        assert!(again.join("sequence_12/r_0001.fits").is_file());
        let gic = a.publish_gic("device_status.json", b"{}").unwrap();
        a.publish_gic("device_status.json", b"{\"a\": 1}").unwrap();
        assert_eq!(std::fs::read_to_string(gic).unwrap(), "{\"a\": 1}");
        std::fs::write(again.join("sequence_12/r_0002.fits.tmp"), b"half").unwrap();
        // The GIC's status being written is not the executor's to remove.
        let writing = a.root().join("exchange/GIC/TO/device_status.json.tmp");
        std::fs::write(&writing, b"{").unwrap();
        // A whole image whose rename a crash stopped is put in place, not lost.
        let whole = std::fs::read(again.join("sequence_12/r_0001.fits")).unwrap();
        std::fs::write(again.join("sequence_12/r_0003.fits.tmp"), &whole).unwrap();
        let done = a.recover().unwrap();
        assert!(writing.is_file());
        assert_eq!(done.removed.len(), 1);
        assert!(done.removed[0].ends_with("r_0002.fits.tmp"));
        assert_eq!(done.completed, vec![again.join("sequence_12/r_0003.fits")]);
        assert_eq!(std::fs::read(again.join("sequence_12/r_0003.fits")).unwrap(), whole);
        assert_eq!(a.request_folders().unwrap(), vec![("alert_7".to_owned(), true)]);
    }
}
