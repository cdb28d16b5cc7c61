//! The states of the devices the majordome judges by (mount, dome, cameras),
//! read continuously in the background, each device by its own task. The
//! majordome's tick takes the latest answers and never waits on a device: one
//! that hangs holds back neither the tick nor the safety actions. A device
//! counts as gone when its last call failed or went past the time limit.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferros_clock::Clock;
use ferros_devices::{CameraState, DeviceResult, DomeState, MountState, Stamped, bounded};
use ferros_observatory::Observatory;
use tokio::task::JoinHandle;

/// The latest answers; `None`: no answer (failed, late, or no such device).
#[derive(Debug, Clone, Default)]
pub struct Latest {
    pub mount: Option<MountState>,
    pub dome: Option<DomeState>,
    pub vis: Option<CameraState>,
    pub nir: Option<CameraState>,
}

type Read<T> = Box<dyn Fn() -> Pin<Box<dyn Future<Output = DeviceResult<Stamped<T>>> + Send>> + Send + Sync>;

/// The background readers; they stop when this is dropped.
pub struct DeviceStates {
    latest: Arc<Mutex<Latest>>,
    tasks: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for DeviceStates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceStates").field("latest", &self.latest()).finish_non_exhaustive()
    }
}

impl Drop for DeviceStates {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// One device's reader: its call, and where its answer goes.
struct Reader<T> {
    name: String,
    read: Read<T>,
    put: fn(&mut Latest, Option<T>),
}

impl<T: Send + 'static> Reader<T> {
    fn new(name: &str, read: Read<T>, put: fn(&mut Latest, Option<T>)) -> Self {
        Self { name: name.to_owned(), read, put }
    }

    async fn once(&self, limit: Duration, latest: &Mutex<Latest>) {
        let v = bounded(&self.name, "state", limit, (self.read)()).await.ok().map(|s| s.value);
        (self.put)(&mut lock(latest), v);
    }

    fn spawn(
        self,
        clock: Clock,
        period: Duration,
        limit: Duration,
        latest: Arc<Mutex<Latest>>,
    ) -> JoinHandle<()> {
        tokio::spawn(async move {
            loop {
                clock.sleep(period).await;
                self.once(limit, &latest).await;
            }
        })
    }
}

async fn first<T: Send + 'static>(r: &Option<Reader<T>>, limit: Duration, latest: &Mutex<Latest>) {
    if let Some(r) = r {
        r.once(limit, latest).await;
    }
}

impl DeviceStates {
    /// Reads every device once (together, within the time `limit`), then keeps
    /// reading each every `period`.
    pub async fn start(obs: &Observatory, clock: Clock, period: Duration, limit: Duration) -> Self {
        let latest = Arc::new(Mutex::new(Latest::default()));
        macro_rules! reader {
            ($dev:expr, $field:ident) => {
                $dev.clone().map(|d| {
                    let name = d.name().to_owned();
                    let read: Read<_> = Box::new(move || {
                        let d = d.clone();
                        Box::pin(async move { d.state().await })
                    });
                    Reader::new(&name, read, |l, v| l.$field = v)
                })
            };
        }
        let (mount, dome) = (reader!(obs.mount, mount), reader!(obs.dome, dome));
        let (vis, nir) = (reader!(obs.camera_vis, vis), reader!(obs.camera_nir, nir));
        tokio::join!(
            first(&mount, limit, &latest),
            first(&dome, limit, &latest),
            first(&vis, limit, &latest),
            first(&nir, limit, &latest),
        );
        let mut tasks = Vec::new();
        tasks.extend(mount.map(|r| r.spawn(clock, period, limit, latest.clone())));
        tasks.extend(dome.map(|r| r.spawn(clock, period, limit, latest.clone())));
        tasks.extend(vis.map(|r| r.spawn(clock, period, limit, latest.clone())));
        tasks.extend(nir.map(|r| r.spawn(clock, period, limit, latest.clone())));
        Self { latest, tasks }
    }

    pub fn latest(&self) -> Latest {
        lock(&self.latest).clone()
    }
}

fn lock(l: &Mutex<Latest>) -> std::sync::MutexGuard<'_, Latest> {
    l.lock().unwrap_or_else(|e| e.into_inner())
}
