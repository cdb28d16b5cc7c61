//! The public status (`GET /api/v1/status`, the Observatory page): the
//! environment synthesis, the majordome's mode and flags, the devices. Built
//! from the database at most once a second and shared by every caller in
//! between, so a crowd of dashboards costs the database one read a second.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::AppState;
use crate::problem::Problem;

/// How long a built status is served before it is built again (real time).
const FRESH_FOR: Duration = Duration::from_secs(1);
/// The largest device status list read.
const MAX_DEVICE_FILE_BYTES: u64 = 1 << 20;

#[derive(Debug, Default)]
pub struct Cache {
    latest: Mutex<Option<(Instant, Arc<Value>)>>,
    /// Counts the forgets: a status whose build began before the last one
    /// is served to its caller but not kept.
    forgets: std::sync::atomic::AtomicU64,
}

/// The status, from the cache when it is fresh.
pub async fn get(state: &AppState) -> Result<Arc<Value>, Problem> {
    let cache = &state.inner.status;
    if let Some((at, v)) = &*cache.latest.lock().unwrap_or_else(|e| e.into_inner())
        && at.elapsed() < FRESH_FOR
    {
        return Ok(v.clone());
    }
    let began = cache.forgets.load(std::sync::atomic::Ordering::SeqCst);
    let v = Arc::new(build(state).await?);
    let mut latest = cache.latest.lock().unwrap_or_else(|e| e.into_inner());
    if cache.forgets.load(std::sync::atomic::Ordering::SeqCst) == began {
        *latest = Some((Instant::now(), v.clone()));
    }
    Ok(v)
}

/// Forgets the status built: the next caller builds it again (after a
/// command changed the majordome's state, so that no page shows the old one).
pub fn forget(state: &AppState) {
    let cache = &state.inner.status;
    let mut latest = cache.latest.lock().unwrap_or_else(|e| e.into_inner());
    cache.forgets.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    *latest = None;
}

async fn build(state: &AppState) -> Result<Value, Problem> {
    let db = state.db();
    let now = state.clock().now();
    let fail = |e| Problem::internal("the status", e);
    let majordome = match db.majordome_state().await.map_err(fail)? {
        Some((updated, body)) => {
            let mut v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
            if let Some(o) = v.as_object_mut() {
                o.insert("updated".into(), json!(updated));
                o.insert("age_s".into(), json!((now - updated).num_seconds()));
            }
            v
        }
        None => Value::Null,
    };
    let mut watches = serde_json::Map::new();
    for kind in ["weather", "site"] {
        let w = db.latest_watch(kind).await.map_err(fail)?;
        let v = match w {
            Some(w) => {
                let body: Value = serde_json::from_str(&w.body).unwrap_or(Value::Null);
                json!({
                    "global_status": w.global_status,
                    "reasons": w.reasons,
                    "updated": w.updated,
                    "quantities": body.get("quantities").cloned().unwrap_or(Value::Array(vec![])),
                })
            }
            None => Value::Null,
        };
        watches.insert(kind.into(), v);
    }
    let devices = match &state.inner.settings.device_status_file {
        Some(path) => read_devices(path).await,
        None => Value::Null,
    };
    Ok(json!({
        "site": state.site_name(),
        "time": now,
        "simulated_clock": state.clock().is_simulated(),
        "majordome": majordome,
        "weather": watches.remove("weather").unwrap_or(Value::Null),
        "site_watch": watches.remove("site").unwrap_or(Value::Null),
        "devices": devices,
    }))
}

/// The devices of the GIC's list, or null when it is not written (yet).
async fn read_devices(path: &std::path::Path) -> Value {
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || {
        use std::io::Read;
        let file = std::fs::File::open(&path).ok()?;
        let mut text = String::new();
        file.take(MAX_DEVICE_FILE_BYTES).read_to_string(&mut text).ok()?;
        let v: Value = serde_json::from_str(&text).ok()?;
        Some(
            json!({"date": v.get("date").cloned(), "list": v.get("devices").cloned().unwrap_or(Value::Null)}),
        )
    })
    .await
    .ok()
    .flatten()
    .unwrap_or(Value::Null)
}
