//! Strategies: declarative files, one per kind of notice, that say which
//! notices they take and what to observe for them (an exposure ladder by
//! time since the trigger, filters per camera, how to treat a large error
//! circle, how soon the target must be observable).
//!
//! ```toml
//! name = "svom-eclairs"
//! title = "SVOM ECLAIRs trigger"
//! order = 10                      # strategies are tried in this order
//!
//! [match]
//! authority = "ivo://org.svom/fsc"
//! params = { Instrument = "ECLAIRs" }
//!
//! [target]
//! min_altitude = 25               # degrees
//! within_h = 8                    # skipped when not observable before
//! window_h = 6                    # the sequence's window from receipt
//! large_error = "tile"            # or "skip"
//! max_tiles = 9
//!
//! [[ladder]]                      # received less than 10 min after the trigger
//! after_min = 0
//! vis = { filter = "r", exposure_s = 10, images = 12 }
//! nir = { filter = "J", exposure_s = 10, images = 12 }
//!
//! [[ladder]]
//! after_min = 10
//! vis = { filter = "r", exposure_s = 60, images = 20 }
//! ```

use std::collections::BTreeMap;

use ferros_domain::{Detector, Wheels};
use ferros_limits::{MAX_LADDER_STEPS, MAX_SECONDS, MAX_STRATEGIES, MAX_STRATEGY_BYTES, MAX_TILES};
use ferros_voevent::{Role, VoEvent};
use serde::{Deserialize, Serialize};

use crate::facts::Facts;

/// The strategies Ferros ships, one file per kind of notice.
pub const BUILTIN: [(&str, &str); 7] = [
    ("svom-eclairs.toml", include_str!("../strategies/svom-eclairs.toml")),
    ("svom-grm.toml", include_str!("../strategies/svom-grm.toml")),
    ("svom-mxt.toml", include_str!("../strategies/svom-mxt.toml")),
    ("fermi-gbm.toml", include_str!("../strategies/fermi-gbm.toml")),
    ("swift-bat.toml", include_str!("../strategies/swift-bat.toml")),
    ("test.toml", include_str!("../strategies/test.toml")),
    ("default.toml", include_str!("../strategies/default.toml")),
];

/// A strategy file that cannot be used, with the file and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("strategy {file}: {what}")]
pub struct StrategyError {
    pub file: String,
    pub what: String,
}

fn problem(file: &str, what: impl Into<String>) -> StrategyError {
    StrategyError { file: file.to_owned(), what: what.into() }
}

/// What a large error circle becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LargeError {
    /// Cover the circle with pointings, up to `max_tiles`.
    Tile,
    /// Observe nothing.
    Skip,
}

/// The exposures of one camera in one step of the ladder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shot {
    pub filter: String,
    pub exposure_s: f64,
    pub images: u32,
    #[serde(default = "one")]
    pub binning: u8,
}

fn one() -> u8 {
    1
}

/// One step of the exposure ladder: what to take when the notice arrives
/// `after_min` minutes or more after the trigger (and after the earlier steps
/// when it arrives sooner).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub after_min: f64,
    pub vis: Option<Shot>,
    pub nir: Option<Shot>,
}

impl Step {
    pub fn shot(&self, d: Detector) -> Option<&Shot> {
        match d {
            Detector::Vis => self.vis.as_ref(),
            Detector::Nir => self.nir.as_ref(),
        }
    }
}

/// Which notices a strategy takes: every criterion given must hold.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Match {
    /// The notice's authority (its ivorn before `#`), case aside.
    pub authority: Option<String>,
    /// Text the ivorn contains (`GBM_`, `BAT_GRB`).
    pub ivorn_contains: Option<String>,
    /// Params and the value each must have, case aside.
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    /// The roles it takes (`observation`, `test`); all but utility and
    /// prediction when not given.
    pub roles: Option<Vec<Role>>,
}

/// Where and when the target must be, and what to do with a large error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Target {
    pub min_altitude: f64,
    pub within_h: f64,
    pub window_h: f64,
    pub overhead_s: f64,
    /// Notices whose trigger is older are not followed.
    pub max_age_h: f64,
    pub large_error: LargeError,
    pub max_tiles: usize,
    pub reportable_nights: u8,
}

impl Default for Target {
    fn default() -> Self {
        Target {
            min_altitude: 20.0,
            within_h: 12.0,
            window_h: 6.0,
            overhead_s: 60.0,
            max_age_h: 48.0,
            large_error: LargeError::Skip,
            max_tiles: 1,
            reportable_nights: 0,
        }
    }
}

/// A strategy, checked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Strategy {
    pub name: String,
    #[serde(default)]
    pub title: String,
    #[serde(default = "hundred")]
    pub order: i32,
    #[serde(rename = "match", default)]
    pub matching: Match,
    #[serde(default)]
    pub target: Target,
    pub ladder: Vec<Step>,
}

fn hundred() -> i32 {
    100
}

impl Strategy {
    /// Reads and checks one strategy file.
    pub fn parse(file: &str, text: &str) -> Result<Strategy, StrategyError> {
        if text.len() as u64 > MAX_STRATEGY_BYTES {
            return Err(problem(file, format!("{} bytes, more than {MAX_STRATEGY_BYTES}", text.len())));
        }
        let s: Strategy =
            toml::from_str(text).map_err(|e| problem(file, e.to_string().trim_end().to_owned()))?;
        s.check().map_err(|what| problem(file, what))?;
        Ok(s)
    }

    fn check(&self) -> Result<(), String> {
        let name_ok = (1..=64).contains(&self.name.len())
            && self.name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !name_ok {
            return Err(format!("name \"{}\": 1 to 64 letters, digits, '-', '_' or '.'", self.name));
        }
        let t = &self.target;
        let within = |what: &str, v: f64, lo: f64, hi: f64| {
            if v.is_finite() && (lo..=hi).contains(&v) {
                Ok(())
            } else {
                Err(format!("target.{what} = {v}: expected {lo} to {hi}"))
            }
        };
        within("min_altitude", t.min_altitude, 0.0, 89.0)?;
        within("within_h", t.within_h, 0.0, 72.0)?;
        within("window_h", t.window_h, 0.05, 72.0)?;
        within("overhead_s", t.overhead_s, 0.0, 3600.0)?;
        within("max_age_h", t.max_age_h, 0.0, 24.0 * 30.0)?;
        if !(1..=MAX_TILES).contains(&t.max_tiles) {
            return Err(format!("target.max_tiles = {}: expected 1 to {MAX_TILES}", t.max_tiles));
        }
        if t.reportable_nights > 7 {
            return Err(format!("target.reportable_nights = {}: expected 0 to 7", t.reportable_nights));
        }
        if self.ladder.is_empty() || self.ladder.len() > MAX_LADDER_STEPS {
            return Err(format!("ladder: {} steps, expected 1 to {MAX_LADDER_STEPS}", self.ladder.len()));
        }
        let mut last = -1.0;
        for (i, step) in self.ladder.iter().enumerate() {
            let at = format!("ladder[{}]", i + 1);
            if !(step.after_min.is_finite() && (0.0..=43_200.0).contains(&step.after_min)) {
                return Err(format!("{at}.after_min = {}: expected 0 to 43200 minutes", step.after_min));
            }
            if step.after_min <= last {
                return Err(format!(
                    "{at}.after_min = {}: the steps must follow each other in time",
                    step.after_min
                ));
            }
            last = step.after_min;
            if step.vis.is_none() && step.nir.is_none() {
                return Err(format!("{at}: neither vis nor nir: the step takes nothing"));
            }
            for (cam, shot) in [("vis", &step.vis), ("nir", &step.nir)] {
                let Some(shot) = shot else { continue };
                if !(shot.exposure_s.is_finite() && shot.exposure_s > 0.0 && shot.exposure_s <= MAX_SECONDS) {
                    return Err(format!(
                        "{at}.{cam}.exposure_s = {}: expected > 0 and <= {MAX_SECONDS}",
                        shot.exposure_s
                    ));
                }
                if !(1..=1000).contains(&shot.images) {
                    return Err(format!("{at}.{cam}.images = {}: expected 1 to 1000", shot.images));
                }
                if !(1..=8).contains(&shot.binning) {
                    return Err(format!("{at}.{cam}.binning = {}: expected 1 to 8", shot.binning));
                }
                if shot.filter.trim().is_empty() || shot.filter.len() > 64 {
                    return Err(format!("{at}.{cam}.filter \"{}\": 1 to 64 characters", shot.filter));
                }
            }
        }
        Ok(())
    }

    /// Whether it takes this notice.
    pub fn matches(&self, facts: &Facts, event: &VoEvent) -> bool {
        let m = &self.matching;
        let role_ok = match &m.roles {
            Some(roles) => roles.contains(&facts.role),
            None => matches!(facts.role, Role::Observation | Role::Test),
        };
        role_ok
            && m.authority.as_ref().is_none_or(|a| a.eq_ignore_ascii_case(&facts.authority))
            && m.ivorn_contains.as_ref().is_none_or(|s| facts.ivorn.contains(s.as_str()))
            && m.params.iter().all(|(name, value)| {
                event.param(name).is_some_and(|p| p.value.trim().eq_ignore_ascii_case(value.trim()))
            })
    }

    /// The steps for a notice received `age_s` seconds after its trigger:
    /// from the last step already begun to the end of the ladder.
    pub fn steps_for(&self, age_s: f64) -> &[Step] {
        let age_min = age_s.max(0.0) / 60.0;
        let k = self.ladder.iter().rposition(|s| s.after_min <= age_min).unwrap_or(0);
        &self.ladder[k..]
    }

    /// Whether every filter it names is on its camera's wheel.
    pub fn check_filters(&self, wheels: &Wheels) -> Result<(), String> {
        for (i, step) in self.ladder.iter().enumerate() {
            for d in [Detector::Vis, Detector::Nir] {
                if let Some(shot) = step.shot(d)
                    && let Some(why) = wheels.of(d).lacks(&shot.filter)
                {
                    return Err(format!("ladder[{}].{}: {why}", i + 1, d.code().to_ascii_lowercase()));
                }
            }
        }
        Ok(())
    }
}

/// The strategies in use, in the order they are tried, and the default.
#[derive(Debug, Clone, PartialEq)]
pub struct Strategies {
    list: Vec<Strategy>,
}

impl Strategies {
    /// Reads strategy files (name, text): a file named like a built-in one
    /// replaces it. Every filter is checked against the wheels.
    pub fn load<'a>(
        files: impl IntoIterator<Item = (&'a str, &'a str)>,
        wheels: &Wheels,
    ) -> Result<Strategies, StrategyError> {
        let mut by_name: BTreeMap<String, Strategy> = BTreeMap::new();
        let mut count = 0usize;
        for (file, text) in files {
            count += 1;
            if count > MAX_STRATEGIES + BUILTIN.len() {
                return Err(problem(file, format!("more than {MAX_STRATEGIES} strategy files")));
            }
            let s = Strategy::parse(file, text)?;
            s.check_filters(wheels).map_err(|what| problem(file, what))?;
            by_name.insert(s.name.clone(), s);
        }
        let mut list: Vec<Strategy> = by_name.into_values().collect();
        list.sort_by(|a, b| a.order.cmp(&b.order).then_with(|| a.name.cmp(&b.name)));
        Ok(Strategies { list })
    }

    /// The built-in strategies alone.
    pub fn builtin(wheels: &Wheels) -> Result<Strategies, StrategyError> {
        Self::load(BUILTIN, wheels)
    }

    pub fn all(&self) -> &[Strategy] {
        &self.list
    }

    pub fn get(&self, name: &str) -> Option<&Strategy> {
        self.list.iter().find(|s| s.name == name)
    }

    /// The first strategy that takes the notice (the `default` strategy
    /// matches any notice: it is tried last when its order says so).
    pub fn choose(&self, facts: &Facts, event: &VoEvent) -> Option<&Strategy> {
        self.list.iter().find(|s| s.matches(facts, event))
    }
}
