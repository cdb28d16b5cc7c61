//! Simulated nights: the whole of Ferros (every agent, the simulated
//! observatory with its PLC playing a weather scenario, a fresh SQLite
//! database and archive) through one night, on a virtual clock.
//!
//! The night is a discrete-event simulation. It runs on a runtime of its own
//! whose clock is paused: time stands still while any agent has work to do
//! (database writes and archive files included, see
//! `ferros_db::Db::connect_virtual` and `ferros_clock::Clock::offload`) and
//! jumps to the next wake-up when every task waits. Tasks run one at a time
//! in a fixed order, randomness comes from the night's seed, so a night
//! depends on the observatory, the requests, the weather and the seed, never
//! on the machine: the same inputs give the same report, byte for byte, on a
//! loaded or an idle machine, as fast as the machine can or paced for
//! someone watching.
//!
//! [`run`] runs one night and returns its [`Report`]; [`campaign`] runs many
//! random nights (rain, PLC silences, device hangs, agents killed) on all
//! cores and checks the safety invariants on each.

mod campaign;
mod cpu;
mod faults;
mod night;
mod report;
mod scenario;

pub use campaign::{Campaign, CampaignNight, CampaignReport, campaign, campaign_night, random_weather};
pub use cpu::Cpu;
pub use night::{AlertText, Night, Printer, RequestText, SimError, example_requests, run};
pub use report::{AlertOutcome, Report, Safety, Sequences, State, UnsafePeriod, Wall, check};
pub use scenario::random_scenario;
