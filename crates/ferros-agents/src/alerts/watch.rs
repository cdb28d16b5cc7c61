//! The watched folder (the seeds' way): each `*.xml` file put there is a
//! notice. Once stored it moves to `done/` (or `refused/`) beside it; a file
//! whose notice could not be stored (the database down) stays for the next
//! look. A crash between the two finds it again: the copy is counted, not
//! acted on twice. Writers should write elsewhere and rename into the folder.

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use ferros_alerts::Outcome;
use ferros_limits::{MAX_ALERT_FILES, MAX_VOEVENT_BYTES};

use super::AlertDesk;
use crate::AgentError;
use crate::runtime::{Agent, AgentContext};

/// How often the folder is looked at (the seeds' alert listener: every second).
const LOOK: Duration = Duration::from_secs(1);

#[derive(Debug)]
pub struct WatchIntake {
    desk: AlertDesk,
    dir: PathBuf,
}

impl WatchIntake {
    pub fn new(desk: AlertDesk, dir: PathBuf) -> Self {
        Self { desk, dir }
    }

    fn io(what: &Path) -> impl FnOnce(std::io::Error) -> AgentError + '_ {
        move |source| AgentError::Io { what: what.display().to_string(), source }
    }

    /// The notices waiting, oldest name first.
    fn waiting(&self) -> Result<Vec<PathBuf>, AgentError> {
        let mut files = Vec::new();
        for entry in std::fs::read_dir(&self.dir).map_err(Self::io(&self.dir))? {
            let path = entry.map_err(Self::io(&self.dir))?.path();
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            if path.is_file() && !name.starts_with('.') && name.ends_with(".xml") {
                files.push(path);
            }
        }
        files.sort();
        files.truncate(MAX_ALERT_FILES);
        Ok(files)
    }

    /// Reads a file, at most one byte more than a notice may have (a larger
    /// one is refused for its size without being read whole).
    fn read(path: &Path) -> Result<Vec<u8>, AgentError> {
        use std::io::Read;
        let f = std::fs::File::open(path).map_err(Self::io(path))?;
        let mut bytes = Vec::new();
        f.take(MAX_VOEVENT_BYTES as u64 + 1).read_to_end(&mut bytes).map_err(Self::io(path))?;
        Ok(bytes)
    }

    /// Moves a file to `sub/` beside it, under a name not taken yet.
    fn file_away(&self, path: &Path, sub: &str) -> Result<(), AgentError> {
        let to_dir = self.dir.join(sub);
        std::fs::create_dir_all(&to_dir).map_err(Self::io(&to_dir))?;
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let mut to = to_dir.join(&name);
        let mut k = 1;
        while to.exists() {
            to = to_dir.join(format!("{name}.{k}"));
            k += 1;
        }
        std::fs::rename(path, &to).map_err(Self::io(path))
    }
}

#[async_trait]
impl Agent for WatchIntake {
    fn name(&self) -> &str {
        "alerts-dir"
    }

    fn period(&self) -> Duration {
        LOOK
    }

    async fn step(&mut self, ctx: &AgentContext) -> Result<(), AgentError> {
        if !self.dir.is_dir() {
            std::fs::create_dir_all(&self.dir).map_err(Self::io(&self.dir))?;
        }
        for path in self.waiting()? {
            let received = ctx.clock.now();
            let bytes = Self::read(&path)?;
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let receipt = self.desk.receive(ctx, &bytes, &format!("dir:{name}"), received, None).await?;
            let sub = if receipt.outcome == Outcome::Refused { "refused" } else { "done" };
            self.file_away(&path, sub)?;
        }
        Ok(())
    }
}
