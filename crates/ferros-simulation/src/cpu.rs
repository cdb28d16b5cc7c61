//! A night's threads on one CPU.
//!
//! A simulated night hands work back and forth between its own thread and the
//! database's threads (sqlx runs each SQLite connection on a thread of its
//! own) some hundred thousand times. Between two CPUs each hand-off wakes the
//! other CPU, which on a virtual machine costs more than the work itself: a
//! database call took 46 us between two CPUs and 9 us on one. So a night
//! runs its threads on one CPU; the threads it starts inherit it, but for
//! the archive's writer, which only takes work and goes beside it
//! ([`beside`]). Which CPU changes nothing in the night, only how fast it goes.

use core_affinity::CoreId;

/// Where a night's threads run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Cpu {
    /// Wherever the system puts them.
    Any,
    /// The CPU that was the most idle over a twentieth of a second before the night.
    #[default]
    Idlest,
    /// The n-th of the CPUs the process may use (modulo their number): a
    /// campaign's worker n, each on its own.
    Nth(usize),
}

/// Where a night was put: the CPU it was pinned to, if any, and those the
/// process may use.
#[derive(Debug, Clone, Default)]
pub(crate) struct Pinned {
    cpu: Cpu,
    at: Option<usize>,
    cores: Vec<CoreId>,
}

/// Pins the calling thread as `cpu` says.
pub(crate) fn pin(cpu: Cpu) -> Pinned {
    let cores = core_affinity::get_core_ids().unwrap_or_default();
    let core = match cpu {
        _ if cores.is_empty() => None,
        Cpu::Any => None,
        Cpu::Nth(n) => Some(cores[n % cores.len()]),
        Cpu::Idlest => idlest(&cores),
    };
    let at = core.filter(|c| core_affinity::set_for_current(*c)).map(|c| c.id);
    Pinned { cpu, at, cores }
}

/// Moves the calling thread, a helper of a `night`, beside it: on another
/// CPU for a lone night (the idlest CPU was chosen, another is free), on the
/// night's own for a campaign's worker (the other CPUs run other nights).
/// The archive's writer is one: it hands nothing back to the night, so a CPU
/// between them costs little.
pub(crate) fn beside(night: &Pinned) {
    let (Cpu::Idlest, Some(at)) = (night.cpu, night.at) else { return };
    if let Some(other) = night.cores.iter().find(|c| c.id != at) {
        core_affinity::set_for_current(*other);
    }
}

/// The core with the most idle time over a short while, from `/proc/stat`.
fn idlest(cores: &[CoreId]) -> Option<CoreId> {
    let before = idle_times()?;
    std::thread::sleep(std::time::Duration::from_millis(50));
    let after = idle_times()?;
    cores
        .iter()
        .filter_map(|c| {
            let idle = after.get(c.id)?.checked_sub(*before.get(c.id)?)?;
            Some((idle, *c))
        })
        // The most idle; the lowest number among equals.
        .max_by_key(|(idle, c)| (*idle, std::cmp::Reverse(c.id)))
        .map(|(_, c)| c)
}

/// Each CPU's idle and I/O wait time so far (clock ticks), by CPU number.
fn idle_times() -> Option<Vec<u64>> {
    let text = std::fs::read_to_string("/proc/stat").ok()?;
    parse_idle(&text)
}

fn parse_idle(text: &str) -> Option<Vec<u64>> {
    let mut idle = Vec::new();
    for line in text.lines().take(4096) {
        let mut fields = line.split_ascii_whitespace();
        let Some(n) = fields.next().and_then(|name| name.strip_prefix("cpu")).filter(|n| !n.is_empty())
        else {
            continue;
        };
        let n: usize = n.parse().ok()?;
        // user nice system idle iowait ...
        let v: Vec<u64> = fields.take(5).map(|f| f.parse().unwrap_or(0)).collect();
        if v.len() < 5 || n >= 4096 {
            return None;
        }
        if idle.len() <= n {
            idle.resize(n + 1, 0);
        }
        idle[n] = v[3].saturating_add(v[4]);
    }
    (!idle.is_empty()).then_some(idle)
}

#[cfg(test)]
mod tests {
    use super::parse_idle;

    #[test]
    fn reads_each_cpus_idle_time() {
        let stat = "cpu  10 0 5 900 10 0 0 0 0 0\ncpu0 5 0 2 400 4 0 0 0 0 0\ncpu1 5 0 3 500 6 0 0 0 0 0\nintr 1 2\n";
        assert_eq!(parse_idle(stat), Some(vec![404, 506]));
        assert_eq!(parse_idle("cpu0 1 2\n"), None);
        assert_eq!(parse_idle("intr 1\n"), None);
    }
}
