//! The alert manager's rules, pure: what a notice says ([`Facts`]), the
//! strategies that turn it into an alert request ([`Strategies`], from
//! declarative TOML files), and the decision it leads to ([`decide`]):
//! ignored (role, no position, no strategy, too old), skipped (error circle,
//! sky), a new request, an update of its burst's request, or the retraction
//! of earlier alerts, each with its reason. The agent in `ferros-agents`
//! reads the notices, stores them and applies the decisions.

mod build;
mod decide;
mod facts;
mod sky;
mod strategy;

pub use build::{BuildContext, NotBuilt, build, tiles};
pub use decide::{Action, Decision, Known, Outcome, Rules, decide};
pub use facts::{Facts, FactsError, separation};
pub use sky::Sky;
pub use strategy::{BUILTIN, LargeError, Match, Shot, Step, Strategies, Strategy, StrategyError, Target};
