//! The Ferros planner. A pure function: a night, the sequences to plan (with
//! their windows already intersected with their targets' visibility), the
//! blocks that must not move and the programs' remaining quotas go in; one
//! entry per sequence comes out, placed or with the reason it is not.
//!
//! Semantics (docs/scheduler.md): sequences are taken by
//! effective priority (lower first), then earlier `jd2`, then id. Each block
//! (overhead + duration) goes in the earliest free interval of its windows
//! that fits, or centred on its preferred time, clamped. If none fits, room is
//! made by moving the left neighbour, the right neighbour, or both, within their
//! own slack, by exactly what is needed. A second pass then offers the free
//! time left to the sequences still out, pushing whole runs of neighbours
//! within their slack (gap filling). Requests that must be planned whole are
//! re-planned without their sequences when they are not.
//!
//! Times are `f64` in any one unit (Julian dates in Ferros; hours in the
//! reference cases); durations are in the same unit.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};

mod timeline;

use timeline::{Block, Timeline};

/// Comparisons of times tolerate this much (a few microseconds in days).
pub const EPS: f64 = 1e-9;

/// A sequence to plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    pub id: i64,
    /// Effective priority: lower is more urgent; alerts are 0.
    pub priority: i32,
    pub jd1: f64,
    pub jd2: f64,
    /// Overhead + duration: the length of the block.
    pub block: f64,
    #[serde(default)]
    pub t_prefered: Option<f64>,
    /// When the target may be observed tonight; `None`: whenever.
    #[serde(default)]
    pub visibility: Option<Vec<(f64, f64)>>,
    /// The program whose quota the block uses.
    #[serde(default)]
    pub program: Option<i64>,
    /// The request, for all-or-nothing and mandatory sequences.
    #[serde(default)]
    pub request: Option<i64>,
    #[serde(default)]
    pub all_or_nothing: bool,
    #[serde(default)]
    pub mandatory: bool,
    /// A block already running or done: kept where it is.
    #[serde(default)]
    pub frozen: Option<Frozen>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Frozen {
    pub status: Status,
    pub tsp: f64,
    pub tep: f64,
}

/// The outcome of planning for one sequence (the domain's schedule entry status).
pub use ferros_domain::EntryStatus as Status;

/// What to plan.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Input {
    pub night_start: f64,
    pub night_end: f64,
    /// Planning starts here when later than the night start (replanning).
    pub now: Option<f64>,
    pub tasks: Vec<Task>,
    /// Remaining quota of each program, in time units; absent: no limit.
    #[serde(default)]
    pub quotas: HashMap<i64, f64>,
    /// Hours in a time unit (24 for Julian days): the reasons then speak
    /// of quotas in hours. Absent: in time units.
    #[serde(default)]
    pub hours_per_unit: Option<f64>,
}

/// The outcome for one sequence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub id: i64,
    pub status: Status,
    pub tsp: Option<f64>,
    pub tep: Option<f64>,
    pub slack_left: f64,
    pub slack_right: f64,
    pub reason: String,
}

/// A planning result: every task once, placed ones in time order first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub night_start: f64,
    pub night_end: f64,
    pub plan_start: f64,
    pub entries: Vec<Entry>,
}

/// Input that cannot be planned, naming the sequence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError(pub String);

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InputError {}

impl Input {
    /// Checks what the planner relies on, naming the first bad sequence.
    pub fn validate(&self) -> Result<(), InputError> {
        let bad = |m: String| Err(InputError(m));
        if !(self.night_start.is_finite() && self.night_end.is_finite() && self.night_end > self.night_start)
        {
            return bad(format!("night: end {} must be after start {}", self.night_end, self.night_start));
        }
        if let Some(now) = self.now
            && !now.is_finite()
        {
            return bad(format!("now = {now} is not a finite time"));
        }
        let mut seen = HashSet::new();
        for t in &self.tasks {
            let id = t.id;
            if !seen.insert(id) {
                return bad(format!("sequence {id}: duplicate id"));
            }
            for (name, v) in [("jd1", t.jd1), ("jd2", t.jd2), ("duration", t.block)] {
                if !v.is_finite() {
                    return bad(format!("sequence {id}: {name} = {v} is not a finite number"));
                }
            }
            if t.jd2 < t.jd1 {
                return bad(format!("sequence {id}: jd2 = {} is before jd1 = {}", t.jd2, t.jd1));
            }
            if t.block <= 0.0 {
                return bad(format!("sequence {id}: duration + overhead = {} must be > 0", t.block));
            }
            if let Some(tp) = t.t_prefered
                && !tp.is_finite()
            {
                return bad(format!("sequence {id}: t_prefered = {tp} is not a finite time"));
            }
            for &(a, b) in t.visibility.iter().flatten() {
                if !(a.is_finite() && b.is_finite() && b >= a) {
                    return bad(format!("sequence {id}: visibility window {a}..{b} is not a time interval"));
                }
            }
            if let Some(f) = t.frozen
                && !(f.tsp.is_finite() && f.tep.is_finite() && f.tep >= f.tsp)
            {
                return bad(format!(
                    "sequence {id}: frozen block {}..{} is not a time interval",
                    f.tsp, f.tep
                ));
            }
            if let Some(f) = t.frozen
                && !matches!(f.status, Status::Executing | Status::Executed)
            {
                return bad(format!("sequence {id}: only EXECUTING or EXECUTED blocks are frozen"));
            }
        }
        for (p, q) in &self.quotas {
            if !q.is_finite() {
                return bad(format!("program {p}: quota {q} is not a finite number"));
            }
        }
        Ok(())
    }
}

/// Plans a night. The input must be valid ([`Input::validate`]).
pub fn plan(input: &Input) -> Result<Plan, InputError> {
    input.validate()?;
    let plan_start = input.now.map_or(input.night_start, |n| n.max(input.night_start));
    let mut excluded: HashMap<usize, String> = HashMap::new();
    loop {
        let outcome = Planner::new(input, plan_start, &excluded).run();
        let failed = requests_failing(input, &outcome, &excluded);
        if failed.is_empty() {
            return Ok(outcome.into_plan(input, plan_start, &excluded));
        }
        for (i, reason) in failed {
            excluded.insert(i, reason);
        }
    }
}

/// Requests planned in part although they must be whole; each of their
/// sequences gets the reason it is withdrawn.
fn requests_failing(
    input: &Input,
    outcome: &Outcome,
    excluded: &HashMap<usize, String>,
) -> Vec<(usize, String)> {
    let mut by_request: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
    for (i, t) in input.tasks.iter().enumerate() {
        if let Some(r) = t.request
            && t.frozen.is_none()
        {
            by_request.entry(r).or_default().push(i);
        }
    }
    let mut out = Vec::new();
    for (r, members) in by_request {
        let placed = |i: &usize| outcome.placed.contains_key(i);
        if members.iter().all(|i| excluded.contains_key(i)) || members.iter().all(|i| !placed(i)) {
            continue;
        }
        let reason =
            if members.iter().any(|&i| input.tasks[i].all_or_nothing) && !members.iter().all(placed) {
                Some(format!("all or nothing: request {r} cannot be planned whole"))
            } else {
                members.iter().find(|&&i| input.tasks[i].mandatory && !placed(&i)).map(|&i| {
                    format!("mandatory sequence {} of request {r} is not planned", input.tasks[i].id)
                })
            };
        // Only the planned members are withdrawn: the others keep their own reason.
        if let Some(reason) = reason {
            out.extend(
                members
                    .iter()
                    .filter(|i| placed(i) && !excluded.contains_key(i))
                    .map(|&i| (i, reason.clone())),
            );
        }
    }
    out
}

struct Planner<'a> {
    input: &'a Input,
    plan_start: f64,
    excluded: &'a HashMap<usize, String>,
    timeline: Timeline,
    quotas: HashMap<i64, f64>,
}

struct Outcome {
    timeline: Timeline,
    /// Task index -> block id in the timeline.
    placed: HashMap<usize, usize>,
    /// Task index -> why it is not placed.
    refused: HashMap<usize, (Status, String)>,
}

impl<'a> Planner<'a> {
    fn new(input: &'a Input, plan_start: f64, excluded: &'a HashMap<usize, String>) -> Self {
        Self { input, plan_start, excluded, timeline: Timeline::default(), quotas: input.quotas.clone() }
    }

    fn run(mut self) -> Outcome {
        let mut placed = HashMap::new();
        let mut refused = HashMap::new();
        for (i, t) in self.input.tasks.iter().enumerate() {
            if let Some(f) = t.frozen {
                let id = self.timeline.insert(Block {
                    start: f.tsp,
                    end: f.tep,
                    lo: f.tsp,
                    hi: f.tep,
                    movable: false,
                });
                placed.insert(i, id);
            }
        }
        let mut order: Vec<usize> = (0..self.input.tasks.len())
            .filter(|i| self.input.tasks[*i].frozen.is_none() && !self.excluded.contains_key(i))
            .collect();
        let tasks = &self.input.tasks;
        order.sort_by(|&a, &b| {
            let (x, y) = (&tasks[a], &tasks[b]);
            x.priority.cmp(&y.priority).then(x.jd2.total_cmp(&y.jd2)).then(x.id.cmp(&y.id))
        });
        let mut no_room = Vec::new();
        for &i in &order {
            match self.place(i, false) {
                Ok(id) => {
                    placed.insert(i, id);
                }
                Err((status, reason, retry)) => {
                    if retry {
                        no_room.push(i);
                    }
                    refused.insert(i, (status, reason));
                }
            }
        }
        // Gap filling: the time left goes to those still out, in priority order,
        // now allowed to push whole runs of neighbours.
        for i in no_room {
            if let Ok(id) = self.place(i, true) {
                placed.insert(i, id);
                refused.remove(&i);
            }
        }
        Outcome { timeline: self.timeline, placed, refused }
    }

    /// The parts of the task's window usable tonight, longest-first not needed:
    /// in time order.
    fn pieces(&self, t: &Task) -> Vec<(f64, f64)> {
        let lo = t.jd1.max(self.plan_start);
        let hi = t.jd2.min(self.input.night_end);
        if hi - lo < EPS {
            return Vec::new();
        }
        match &t.visibility {
            None => vec![(lo, hi)],
            Some(v) => {
                let mut out: Vec<(f64, f64)> =
                    v.iter().map(|&(a, b)| (a.max(lo), b.min(hi))).filter(|(a, b)| b - a > EPS).collect();
                out.sort_by(|a, b| a.0.total_cmp(&b.0));
                out
            }
        }
    }

    /// Places task `i`, or says why not (and whether gap filling may retry).
    fn place(&mut self, i: usize, push_runs: bool) -> Result<usize, (Status, String, bool)> {
        let t = &self.input.tasks[i];
        let (night_start, night_end) = (self.input.night_start, self.input.night_end);
        if t.jd2 <= self.plan_start + EPS {
            let when = if t.jd2 <= night_start { "before tonight" } else { "before now" };
            return Err((Status::Unplannable, format!("window ended {when}"), false));
        }
        if t.jd1 >= night_end - EPS {
            return Err((Status::Rejected, "outside tonight: window starts after the night".into(), false));
        }
        let tonight = t.jd2.min(night_end) - t.jd1.max(self.plan_start);
        if tonight + EPS < t.block {
            return Err(if t.jd2 <= night_end {
                (
                    Status::Unplannable,
                    format!("window too short ({} < {})", fmt(tonight), fmt(t.block)),
                    false,
                )
            } else {
                (Status::Rejected, "too little of its window tonight".into(), false)
            });
        }
        let pieces = self.pieces(t);
        if !pieces.iter().any(|(a, b)| b - a + EPS >= t.block) {
            let why =
                if pieces.is_empty() { "not visible tonight" } else { "not visible long enough tonight" };
            return Err((Status::Rejected, why.into(), false));
        }
        if let Some(p) = t.program
            && let Some(left) = self.quotas.get(&p)
            && *left + EPS < t.block
        {
            let why = match self.input.hours_per_unit {
                Some(h) => format!(
                    "quota exhausted (program {p}: {:.2} h left, {:.2} h needed)",
                    left.max(0.0) * h,
                    t.block * h
                ),
                None => format!("quota exhausted (program {p}: {} left)", fmt(*left)),
            };
            return Err((Status::Rejected, why, false));
        }
        let start =
            self.find_room(t, &pieces, push_runs).ok_or((Status::Rejected, "no room".to_owned(), true))?;
        if let Some(p) = t.program
            && let Some(left) = self.quotas.get_mut(&p)
        {
            *left -= t.block;
        }
        let (lo, hi) = pieces
            .iter()
            .copied()
            .find(|&(a, b)| start >= a - EPS && start + t.block <= b + EPS)
            .unwrap_or((start, start + t.block));
        Ok(self.timeline.insert(Block { start, end: start + t.block, lo, hi, movable: true }))
    }

    /// Where the block can start: a free gap that fits, else one made by moving neighbours.
    fn find_room(&mut self, t: &Task, pieces: &[(f64, f64)], push_runs: bool) -> Option<f64> {
        let mut gaps: Vec<(f64, f64, (f64, f64))> = Vec::new();
        for &piece in pieces {
            for (a, b) in self.timeline.gaps(piece.0, piece.1) {
                gaps.push((a, b, piece));
            }
        }
        let fits = |g: &&(f64, f64, (f64, f64))| g.1 - g.0 + EPS >= t.block;
        let chosen = match t.t_prefered {
            None => gaps.iter().find(fits),
            Some(tp) => gaps.iter().filter(fits).min_by(|x, y| distance(tp, x).total_cmp(&distance(tp, y))),
        };
        if let Some(&(a, b, _)) = chosen {
            return Some(match t.t_prefered {
                None => a,
                Some(tp) => (tp - t.block / 2.0).min(b - t.block).max(a),
            });
        }
        for &(a, b, piece) in &gaps {
            let need = t.block - (b - a);
            if let Some(start) = self.timeline.make_room(a, b, need, piece, push_runs) {
                return Some(start);
            }
        }
        None
    }
}

fn distance(tp: f64, g: &(f64, f64, (f64, f64))) -> f64 {
    if tp < g.0 {
        g.0 - tp
    } else if tp > g.1 {
        tp - g.1
    } else {
        0.0
    }
}

fn fmt(v: f64) -> String {
    let r = (v * 1e6).round() / 1e6;
    format!("{r}")
}

impl Outcome {
    fn into_plan(self, input: &Input, plan_start: f64, excluded: &HashMap<usize, String>) -> Plan {
        let mut entries: Vec<(usize, Entry)> = Vec::with_capacity(input.tasks.len());
        for (i, t) in input.tasks.iter().enumerate() {
            let entry = if let Some(&id) = self.placed.get(&i) {
                let b = self.timeline.block(id);
                let (left, right) = self.timeline.slack(id, plan_start, input.night_end);
                let status = t.frozen.map_or(Status::Planned, |f| f.status);
                let (slack_left, slack_right) = if b.movable { (left, right) } else { (0.0, 0.0) };
                Entry {
                    id: t.id,
                    status,
                    tsp: Some(b.start),
                    tep: Some(b.end),
                    slack_left,
                    slack_right,
                    reason: String::new(),
                }
            } else {
                let (status, reason) = match excluded.get(&i) {
                    Some(r) => (Status::Rejected, r.clone()),
                    None => {
                        self.refused.get(&i).cloned().unwrap_or((Status::Rejected, "not considered".into()))
                    }
                };
                Entry { id: t.id, status, tsp: None, tep: None, slack_left: 0.0, slack_right: 0.0, reason }
            };
            entries.push((i, entry));
        }
        entries.sort_by(|(_, a), (_, b)| match (a.tsp, b.tsp) {
            (Some(x), Some(y)) => x.total_cmp(&y),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => a.id.cmp(&b.id),
        });
        Plan {
            night_start: input.night_start,
            night_end: input.night_end,
            plan_start,
            entries: entries.into_iter().map(|(_, e)| e).collect(),
        }
    }
}
