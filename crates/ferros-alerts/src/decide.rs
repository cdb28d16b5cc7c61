//! What to do with a notice, and why: the alert manager's decisions, pure.
//! The caller hands over the alerts already stored that may concern it (same
//! burst, cited notices, triggers close in time) and applies the decision in
//! one transaction with the notice.

use chrono::{DateTime, TimeDelta, Utc};
use ferros_domain::{Coordinates, NewRequest, RequestId};
use ferros_voevent::{Role, VoEvent};
use serde::{Deserialize, Serialize};

use crate::build::{BuildContext, NotBuilt, build};
use crate::facts::{Facts, separation};
use crate::sky::Sky;
use crate::strategy::{Strategies, Strategy};

/// An alert already stored, as the decisions need it.
#[derive(Debug, Clone, PartialEq)]
pub struct Known {
    pub id: i64,
    pub ivorn: String,
    pub mission: String,
    pub burst: Option<String>,
    /// The first alert of its burst, when it is not that one.
    pub same_as: Option<i64>,
    pub trigger: Option<DateTime<Utc>>,
    pub position: Option<Coordinates>,
    pub error_deg: Option<f64>,
    /// The request it created or updated.
    pub request: Option<RequestId>,
    /// Whether that request still has work to do (pending or running).
    pub open: bool,
}

impl Known {
    fn root(&self) -> i64 {
        self.same_as.unwrap_or(self.id)
    }
}

/// What a notice leads to.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Recorded, nothing else.
    Ignore,
    /// A new alert request.
    Create(NewRequest),
    /// The request of an earlier alert of the same burst, rebuilt in place
    /// (its sequences not yet done replaced).
    Update { request: RequestId, tree: NewRequest },
    /// The requests of the alerts it retracts, cancelled.
    Cancel { alerts: Vec<i64>, requests: Vec<RequestId> },
}

/// The decision's kind, as stored and shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A request was created.
    Created,
    /// An earlier alert's request was updated.
    Updated,
    /// Earlier alerts were retracted.
    Retracted,
    /// Followed by no observation: the target is out of reach (error circle,
    /// sky) as the strategy says.
    Skipped,
    /// Not for Ferros (role, no position, no strategy, too old, same burst
    /// with nothing better).
    Ignored,
    /// Not a notice Ferros can read (recorded with the reason).
    Refused,
}

impl Outcome {
    pub const ALL: [Outcome; 6] = [
        Outcome::Created,
        Outcome::Updated,
        Outcome::Retracted,
        Outcome::Skipped,
        Outcome::Ignored,
        Outcome::Refused,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Outcome::Created => "created",
            Outcome::Updated => "updated",
            Outcome::Retracted => "retracted",
            Outcome::Skipped => "skipped",
            Outcome::Ignored => "ignored",
            Outcome::Refused => "refused",
        }
    }
}

impl std::str::FromStr for Outcome {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Outcome::ALL
            .into_iter()
            .find(|o| o.code() == s)
            .ok_or_else(|| format!("unknown alert outcome \"{s}\""))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub outcome: Outcome,
    pub action: Action,
    pub reason: String,
    pub strategy: Option<String>,
    /// The first alert of the same burst, if there is one.
    pub same_as: Option<i64>,
}

impl Decision {
    fn ignore(reason: impl Into<String>) -> Self {
        Decision {
            outcome: Outcome::Ignored,
            action: Action::Ignore,
            reason: reason.into(),
            strategy: None,
            same_as: None,
        }
    }
}

/// The alert manager's settings the decisions read.
#[derive(Debug, Clone)]
pub struct Rules<'a> {
    pub strategies: &'a Strategies,
    pub sky: &'a Sky,
    pub build: BuildContext<'a>,
    /// Whether test notices are followed.
    pub accept_tests: bool,
    /// Triggers of two missions this close (seconds), at compatible positions,
    /// are one burst.
    pub same_burst_s: f64,
}

/// Decides what a notice leads to.
pub fn decide(event: &VoEvent, facts: &Facts, known: &[Known], rules: &Rules<'_>) -> Decision {
    match facts.role {
        Role::Utility | Role::Prediction => {
            let role = if facts.role == Role::Utility { "utility" } else { "prediction" };
            return Decision::ignore(format!("role {role}: not an observation"));
        }
        Role::Test if !rules.accept_tests => {
            return Decision::ignore("a test notice (role test), and [alerts] accept_tests is off");
        }
        _ => {}
    }
    if facts.retraction {
        return retraction(facts, known);
    }
    let same = same_burst(facts, known, rules.same_burst_s);
    let same_as = same.map(Known::root);
    let Some(centre) = facts.position else {
        let mut d = Decision::ignore("no position in WhereWhen: nothing to point at");
        d.same_as = same_as;
        return d;
    };
    let Some(strategy) = rules.strategies.choose(facts, event) else {
        let mut d = Decision::ignore("no strategy takes this notice");
        d.same_as = same_as;
        return d;
    };
    let mut d = follow(strategy, facts, centre, same, rules);
    d.same_as = same_as;
    d
}

/// A notice followed by `strategy`: an update of its burst's request, a new
/// request, or a reason not to.
fn follow(
    strategy: &Strategy,
    facts: &Facts,
    centre: Coordinates,
    same: Option<&Known>,
    rules: &Rules<'_>,
) -> Decision {
    let name = Some(strategy.name.clone());
    let decision = |outcome, action, reason: String| Decision {
        outcome,
        action,
        reason,
        strategy: name.clone(),
        same_as: None,
    };
    let now = rules.build.now;
    if let Some(trigger) = facts.trigger {
        let age_h = (now - trigger).num_seconds() as f64 / 3600.0;
        if age_h > strategy.target.max_age_h {
            return decision(
                Outcome::Ignored,
                Action::Ignore,
                format!(
                    "triggered {age_h:.1} h ago, later than strategy {}'s max_age_h ({} h)",
                    strategy.name, strategy.target.max_age_h
                ),
            );
        }
    }
    if let Some(prior) = same
        && let Some(request) = prior.request
    {
        let better = match (facts.error_deg, prior.error_deg) {
            (Some(new), Some(old)) => new < old,
            (Some(_), None) => prior.position.is_none(),
            _ => false,
        };
        if !prior.open {
            return decision(
                Outcome::Ignored,
                Action::Ignore,
                format!("same burst as alert {}, whose request {request} is over", prior.root()),
            );
        }
        if !better {
            return decision(
                Outcome::Ignored,
                Action::Ignore,
                format!(
                    "same burst as alert {}: its position ({}) is not better than the one observed ({})",
                    prior.root(),
                    error_text(facts.error_deg),
                    error_text(prior.error_deg)
                ),
            );
        }
        return match build(strategy, facts, centre, &rules.build) {
            Ok(tree) => decision(
                Outcome::Updated,
                Action::Update { request, tree },
                format!(
                    "same burst as alert {}, better position ({} instead of {}): request {request} updated by strategy {}",
                    prior.root(),
                    error_text(facts.error_deg),
                    error_text(prior.error_deg),
                    strategy.name
                ),
            ),
            Err(NotBuilt::TooLarge(why)) => decision(Outcome::Skipped, Action::Ignore, why),
            Err(NotBuilt::Invalid(why)) => {
                decision(Outcome::Ignored, Action::Ignore, format!("strategy {}: {why}", strategy.name))
            }
        };
    }
    let t = &strategy.target;
    let within = TimeDelta::milliseconds((t.within_h * 3_600_000.0) as i64);
    let sky = rules.sky;
    if sky.first_observable(centre, t.min_altitude, now, within).is_none() {
        let later = sky.first_observable(centre, t.min_altitude, now + within, TimeDelta::hours(48));
        let when = match later {
            Some(at) => format!(
                "it rises above {} deg at night at {}",
                t.min_altitude,
                at.format("%Y-%m-%d %H:%M UTC")
            ),
            None => format!("it does not rise above {} deg at night in the next 2 days", t.min_altitude),
        };
        return decision(
            Outcome::Skipped,
            Action::Ignore,
            format!(
                "not observable from the site within {} h (strategy {}): {when}",
                t.within_h, strategy.name
            ),
        );
    }
    match build(strategy, facts, centre, &rules.build) {
        Ok(tree) => {
            let n = tree.sequences.len();
            let what = if n == 1 { "one pointing".to_owned() } else { format!("{n} tiles") };
            decision(
                Outcome::Created,
                Action::Create(tree),
                format!("followed by strategy {}: {what}", strategy.name),
            )
        }
        Err(NotBuilt::TooLarge(why)) => decision(Outcome::Skipped, Action::Ignore, why),
        Err(NotBuilt::Invalid(why)) => {
            decision(Outcome::Ignored, Action::Ignore, format!("strategy {}: {why}", strategy.name))
        }
    }
}

fn error_text(e: Option<f64>) -> String {
    match e {
        Some(e) if e >= 0.1 => format!("{e:.2} deg"),
        Some(e) => format!("{:.1} arcsec", e * 3600.0),
        None => "no error radius".to_owned(),
    }
}

/// The earlier alert of the same burst: same mission's burst id, or another
/// mission's trigger close in time at a compatible position. The one with the
/// best position when several are.
fn same_burst<'k>(facts: &Facts, known: &'k [Known], window_s: f64) -> Option<&'k Known> {
    let by_id = known.iter().filter(|k| facts.burst.is_some() && k.burst == facts.burst);
    let by_sky = known.iter().filter(|k| {
        k.mission != facts.mission
            && match (facts.trigger, k.trigger, facts.position, k.position) {
                (Some(a), Some(b), Some(p), Some(q)) => {
                    let dt = (a - b).num_milliseconds().abs() as f64 / 1000.0;
                    let sigma = facts.error_deg.unwrap_or(0.1).hypot(k.error_deg.unwrap_or(0.1));
                    dt <= window_s && separation(p, q) <= 3.0 * sigma
                }
                _ => false,
            }
    });
    // The alert holding the burst's request, else the first one.
    by_id.chain(by_sky).min_by(|a, b| {
        b.request.is_some().cmp(&a.request.is_some()).then(b.open.cmp(&a.open)).then(a.id.cmp(&b.id))
    })
}

fn retraction(facts: &Facts, known: &[Known]) -> Decision {
    let hit: Vec<&Known> = known
        .iter()
        .filter(|k| facts.cited.contains(&k.ivorn) || (facts.burst.is_some() && k.burst == facts.burst))
        .collect();
    if hit.is_empty() {
        return Decision::ignore("a retraction of notices Ferros has not received");
    }
    let alerts: Vec<i64> = hit.iter().map(|k| k.id).collect();
    let mut requests: Vec<RequestId> = hit.iter().filter(|k| k.open).filter_map(|k| k.request).collect();
    requests.sort();
    requests.dedup();
    let listed = |v: Vec<String>| if v.is_empty() { "none".to_owned() } else { v.join(", ") };
    let reason = format!(
        "retracts alert(s) {}; request(s) cancelled: {}",
        listed(alerts.iter().map(i64::to_string).collect()),
        listed(requests.iter().map(|r| r.to_string()).collect())
    );
    Decision {
        outcome: Outcome::Retracted,
        action: Action::Cancel { alerts, requests },
        reason,
        strategy: None,
        same_as: hit.iter().map(|k| k.root()).min(),
    }
}
