//! Random faults over a night, drawn from its seed.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use ferros_agents::SupervisorHandle;
use ferros_archive::{Archive, DiskFault};
use ferros_clock::Clock;
use ferros_devices_sim::Fault;
use ferros_observatory::Observatory;
use rand::{Rng, SeedableRng};

use crate::report::{Log, iso};

/// Two to five faults at random times of the night: a device that hangs or
/// stops answering for a while, an agent killed, the disk full or slow for a while.
pub(crate) async fn inject_faults(
    seed: u64,
    obs: Observatory,
    archive: Archive,
    handle: SupervisorHandle,
    clock: Clock,
    (from, to): (DateTime<Utc>, DateTime<Utc>),
    log: Arc<Mutex<Log>>,
) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let span = (to - from).num_seconds().max(1);
    let mut plan: Vec<(DateTime<Utc>, usize, u64)> = (0..rng.gen_range(2..=5))
        .map(|_| {
            (from + TimeDelta::seconds(rng.gen_range(0..span)), rng.gen_range(0..8), rng.gen_range(60..900))
        })
        .collect();
    plan.sort_by_key(|p| p.0);
    let sim = &obs.sim;
    for (at, kind, secs) in plan {
        let left = (at - clock.now()).to_std().unwrap_or_default();
        clock.sleep(left).await;
        let (what, faults) = match kind {
            0 => ("the NIR camera hangs", sim.camera_nir.as_ref().map(|c| c.faults.clone())),
            1 => ("the VIS filter wheel hangs", sim.filter_vis.as_ref().map(|c| c.faults.clone())),
            2 => ("the mount does not answer", sim.mount.as_ref().map(|c| c.faults.clone())),
            3 => ("agent executor killed", None),
            4 => ("agent majordome killed", None),
            5 => ("agent env killed", None),
            6 => ("the disk is full", None),
            _ => ("the disk is slow (1 MB/s)", None),
        };
        let note = format!(
            "{}  {what}{}",
            iso(clock.now()),
            if faults.is_some() || kind >= 6 { format!(" for {secs} s") } else { String::new() }
        );
        log.lock().unwrap_or_else(|e| e.into_inner()).faults.push(note);
        match (kind, faults) {
            (3, _) => handle.kill("executor").await,
            (4, _) => handle.kill("majordome").await,
            (5, _) => handle.kill("env").await,
            (6 | 7, _) => {
                let fault = if kind == 6 { DiskFault::Full } else { DiskFault::Slow { bytes_per_s: 1e6 } };
                archive.set_fault(Some(fault));
                clock.sleep(Duration::from_secs(secs)).await;
                archive.set_fault(None);
            }
            (2, Some(f)) => {
                f.set(Fault::Unreachable);
                clock.sleep(Duration::from_secs(secs)).await;
                f.clear();
            }
            (_, Some(f)) => {
                f.set(Fault::Hang);
                clock.sleep(Duration::from_secs(secs)).await;
                f.clear();
            }
            _ => {}
        }
    }
}
