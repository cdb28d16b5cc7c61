//! The majordome's decisions (docs/majordome.md, the observatory
//! control page), pure: given what the observatory reports now, the mode it
//! is in, the flags (LOCKED, BYPASS, night ACK) and the actions to take; and
//! the control commands, accepted or refused with the reason.
//!
//! Safety first: whatever the mode, when the environment is UNSAFE (and the
//! PLC is not bypassed) every tick asks to abort exposures, close the dome and
//! park the mount until that is done. Observing resumes by itself once safe
//! again, unless the observatory is locked.

mod device;

pub use device::{CommandError, DeviceCommand};

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use ferros_domain::{GlobalStatus, Profile, Right};
use serde::{Deserialize, Serialize};

/// What the observatory does (the states users see).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Mode {
    Starting,
    /// No answer from the PLC: Ferros commands nothing but safety.
    PassiveNoPlc,
    /// The PLC is in MANUAL: people command the observatory by hand.
    Passive,
    /// Locked by an operator: closed, waiting to be unlocked.
    Standby,
    /// Engineers command the devices by hand.
    Remote,
    SchedulerStandby,
    SchedulerReady,
    SchedulerObserving,
    /// Securing (dome closing, mount parking) before the next mode.
    Closing,
}

impl Mode {
    pub fn label(self) -> &'static str {
        match self {
            Mode::Starting => "STARTING",
            Mode::PassiveNoPlc => "PASSIVE_NO_PLC",
            Mode::Passive => "PASSIVE",
            Mode::Standby => "STANDBY",
            Mode::Remote => "REMOTE",
            Mode::SchedulerStandby => "SCHEDULER (standby)",
            Mode::SchedulerReady => "SCHEDULER (ready)",
            Mode::SchedulerObserving => "SCHEDULER (observing)",
            Mode::Closing => "CLOSING",
        }
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

impl Mode {
    pub const ALL: [Mode; 9] = [
        Mode::Starting,
        Mode::PassiveNoPlc,
        Mode::Passive,
        Mode::Standby,
        Mode::Remote,
        Mode::SchedulerStandby,
        Mode::SchedulerReady,
        Mode::SchedulerObserving,
        Mode::Closing,
    ];
}

impl std::str::FromStr for Mode {
    type Err = String;

    /// A mode from its label, as users see it ("SCHEDULER (observing)").
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Mode::ALL.into_iter().find(|m| m.label() == s).ok_or_else(|| format!("unknown majordome mode {s:?}"))
    }
}

/// How the PLC stands, as the majordome last saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PlcLink {
    #[serde(rename = "no answer")]
    NoAnswer,
    #[serde(rename = "AUTO")]
    Auto,
    #[serde(rename = "MANUAL")]
    Manual,
}

/// What the majordome says after each tick: shared with the other agents of
/// the process, and stored for the commands and pages that ask.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    #[serde(with = "mode_label")]
    pub mode: Mode,
    /// The environment is SAFE, or the PLC bypassed.
    pub safe: bool,
    pub locked: bool,
    pub bypass: Bypass,
    pub night_ack: Option<NaiveDate>,
    pub night: bool,
    pub plc: PlcLink,
    pub env: GlobalStatus,
    /// Dome closed, mount parked, no exposure.
    pub secured: bool,
}

impl State {
    /// The scheduler may observe: its mode says so, and it is safe.
    pub fn observing(&self) -> bool {
        self.mode == Mode::SchedulerObserving && self.safe
    }
}

/// The mode stored by its label, so that what users read and what is stored agree.
mod mode_label {
    use super::Mode;

    pub fn serialize<S: serde::Serializer>(m: &Mode, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(m.label())
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Mode, D::Error> {
        let label = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
        label.parse().map_err(serde::de::Error::custom)
    }
}

/// Something the devices must do (the executor carries it out).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    AbortExposures,
    CloseDome,
    ParkMount,
    OpenDome,
    UnparkMount,
    /// Run the schedule.
    Observe,
    /// Stop running the schedule (the current sequence is given back).
    StopObserving,
    /// Ask the PLC to bypass (true) or not (false) its safety status.
    PlcBypass(bool),
}

/// What the majordome sees at one tick.
#[derive(Debug, Clone, PartialEq)]
pub struct Inputs {
    pub now: DateTime<Utc>,
    /// The PLC answered recently.
    pub plc_fresh: bool,
    /// The PLC is in AUTO (Ferros may command).
    pub plc_auto: bool,
    /// The PLC says its bypass is on.
    pub plc_bypass: bool,
    /// The PLC says the night ACK button of the control room was pressed.
    pub plc_ack: bool,
    pub env: GlobalStatus,
    /// The Sun is below the night altitude.
    pub night: bool,
    /// The night's date (for the night ACK).
    pub night_of: NaiveDate,
    /// The schedule has something to do now.
    pub work: bool,
    /// Blocking devices answer: mount, VIS camera.
    pub mount_ok: bool,
    pub vis_ok: bool,
    /// A non-blocking device.
    pub nir_ok: bool,
    /// Dome closed, mount parked, no exposure running.
    pub secured: bool,
}

/// Settings of the rules.
#[derive(Debug, Clone, PartialEq)]
pub struct Rules {
    /// An operator must acknowledge each night before observing.
    pub require_night_ack: bool,
    /// Time the PLC has to confirm a bypass before it is undone.
    pub bypass_timeout: TimeDelta,
}

impl Default for Rules {
    fn default() -> Self {
        Self { require_night_ack: false, bypass_timeout: TimeDelta::seconds(30) }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Bypass {
    Off,
    /// Asked of the PLC at this instant; not confirmed yet.
    Pending(DateTime<Utc>),
    On,
}

/// Operator commands (the observatory control page, docs/majordome.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Command {
    PlcBypass,
    StopPlcBypass,
    Lock,
    Unlock,
    GoRemote,
    GoScheduler,
    StopObserving,
    NightAck,
}

impl Command {
    pub const ALL: [Command; 8] = [
        Command::PlcBypass,
        Command::StopPlcBypass,
        Command::Lock,
        Command::Unlock,
        Command::GoRemote,
        Command::GoScheduler,
        Command::StopObserving,
        Command::NightAck,
    ];

    /// The command's name: `lock`, `go_remote`...
    pub fn name(self) -> &'static str {
        match self {
            Command::PlcBypass => "plc_bypass",
            Command::StopPlcBypass => "stop_plc_bypass",
            Command::Lock => "lock",
            Command::Unlock => "unlock",
            Command::GoRemote => "go_remote",
            Command::GoScheduler => "go_scheduler",
            Command::StopObserving => "stop_observing",
            Command::NightAck => "night_ack",
        }
    }

    pub fn parse(name: &str) -> Option<Command> {
        let name = name.replace('-', "_");
        Command::ALL.into_iter().find(|c| c.name() == name)
    }
}

/// The outcome of a tick.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Tick {
    pub mode: Mode,
    pub safe: bool,
    pub actions: Vec<Action>,
    /// What changed and why, for the log.
    pub notes: Vec<String>,
}

/// The majordome's memory between ticks.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Majordome {
    pub mode: Mode,
    /// The mode wanted once secured or allowed: REMOTE or the scheduler's.
    remote: bool,
    pub locked: bool,
    pub bypass: Bypass,
    pub night_ack: Option<NaiveDate>,
    /// An operator asked to stop observing: the scheduler stays in standby
    /// until the next GO SCHEDULER or night.
    stopped: bool,
    #[serde(skip)]
    rules: Rules,
}

impl Majordome {
    pub fn new(rules: Rules) -> Self {
        Self {
            mode: Mode::Starting,
            remote: false,
            locked: false,
            bypass: Bypass::Off,
            night_ack: None,
            stopped: false,
            rules,
        }
    }

    /// Safe as far as the majordome is concerned: the environment, or a confirmed bypass.
    pub fn safe(&self, inp: &Inputs) -> bool {
        inp.env == GlobalStatus::Safe || self.bypass == Bypass::On
    }

    /// Where the observatory goes once secured.
    fn resting(&self) -> Mode {
        if self.locked {
            Mode::Standby
        } else if self.remote {
            Mode::Remote
        } else {
            Mode::SchedulerStandby
        }
    }

    pub fn tick(&mut self, inp: &Inputs) -> Tick {
        let mut notes = Vec::new();
        let mut actions = Vec::new();
        let before = self.mode;
        // The bypass: confirmed by the PLC, or undone after the timeout.
        match self.bypass {
            Bypass::Pending(since) if inp.plc_bypass => {
                self.bypass = Bypass::On;
                notes.push(format!(
                    "the PLC confirmed the bypass after {} s",
                    (inp.now - since).num_seconds()
                ));
            }
            Bypass::Pending(since) if inp.now - since > self.rules.bypass_timeout => {
                self.bypass = Bypass::Off;
                actions.push(Action::PlcBypass(false));
                notes.push(format!(
                    "PLC KO: the bypass was not confirmed within {} s; undone",
                    self.rules.bypass_timeout.num_seconds()
                ));
            }
            Bypass::On if !inp.plc_bypass && inp.plc_fresh => {
                self.bypass = Bypass::Off;
                notes.push("the PLC ended the bypass".into());
            }
            _ => {}
        }
        // The night ACK: the control room's button, read through the PLC.
        if inp.plc_ack && inp.plc_fresh && self.night_ack != Some(inp.night_of) {
            self.night_ack = Some(inp.night_of);
            notes.push(format!("night ACK for the night of {} given at the PLC", inp.night_of));
        }
        let safe = self.safe(inp);
        let secure = [Action::AbortExposures, Action::CloseDome, Action::ParkMount];
        if !safe && !inp.secured {
            actions.extend(secure);
        }
        if !inp.nir_ok && self.mode == Mode::SchedulerObserving {
            notes.push("the NIR camera does not answer: observing without it".into());
        }
        self.mode = match self.mode {
            _ if !inp.plc_fresh => Mode::PassiveNoPlc,
            _ if !inp.plc_auto => Mode::Passive,
            Mode::Starting | Mode::PassiveNoPlc | Mode::Passive => {
                if inp.secured {
                    self.resting()
                } else {
                    Mode::Closing
                }
            }
            Mode::Closing => {
                if inp.secured {
                    self.resting()
                } else {
                    actions.extend(secure);
                    Mode::Closing
                }
            }
            Mode::Standby => {
                if self.locked {
                    Mode::Standby
                } else {
                    self.resting()
                }
            }
            Mode::Remote => Mode::Remote,
            Mode::SchedulerStandby | Mode::SchedulerReady | Mode::SchedulerObserving => {
                self.scheduler(inp, safe, &mut actions, &mut notes)
            }
        };
        if self.mode == Mode::Closing && before != Mode::Closing {
            actions.extend(secure);
        }
        if before == Mode::SchedulerObserving && self.mode != Mode::SchedulerObserving {
            actions.insert(0, Action::StopObserving);
        }
        if self.mode != before {
            notes.push(format!("{} -> {}", before.label(), self.mode.label()));
        }
        dedup(&mut actions);
        Tick { mode: self.mode, safe, actions, notes }
    }

    fn scheduler(
        &mut self,
        inp: &Inputs,
        safe: bool,
        actions: &mut Vec<Action>,
        notes: &mut Vec<String>,
    ) -> Mode {
        if self.locked {
            return if inp.secured { Mode::Standby } else { Mode::Closing };
        }
        if !safe && !inp.secured {
            notes.push("UNSAFE: closing".into());
            return Mode::Closing;
        }
        let blocked = !inp.mount_ok || !inp.vis_ok;
        let acked = !self.rules.require_night_ack || self.night_ack == Some(inp.night_of);
        let may_observe = safe && inp.night && !blocked && acked && !self.stopped;
        match self.mode {
            Mode::SchedulerObserving if !may_observe => {
                if !inp.night {
                    notes.push("night over: closing".into());
                } else if blocked {
                    notes.push(format!(
                        "a blocking device does not answer ({}): pausing",
                        if inp.mount_ok { "VIS camera" } else { "mount" }
                    ));
                    return Mode::SchedulerReady;
                }
                if inp.secured { Mode::SchedulerStandby } else { Mode::Closing }
            }
            Mode::SchedulerObserving => {
                if inp.work {
                    actions.extend([Action::OpenDome, Action::UnparkMount, Action::Observe]);
                }
                Mode::SchedulerObserving
            }
            _ if may_observe && inp.work => {
                actions.extend([Action::OpenDome, Action::UnparkMount, Action::Observe]);
                Mode::SchedulerObserving
            }
            _ if may_observe || (safe && inp.night && acked && !self.stopped) => Mode::SchedulerReady,
            _ => {
                if !inp.night && self.stopped {
                    // A new day: an operator's STOP OBSERVING holds for one night.
                    self.stopped = false;
                }
                Mode::SchedulerStandby
            }
        }
    }

    /// How things stand for the control commands: the state the page shows.
    pub fn state(&self, inp: &Inputs) -> State {
        State {
            mode: self.mode,
            safe: self.safe(inp),
            locked: self.locked,
            bypass: self.bypass,
            night_ack: self.night_ack,
            night: inp.night,
            plc: match (inp.plc_fresh, inp.plc_auto) {
                (false, _) => PlcLink::NoAnswer,
                (true, true) => PlcLink::Auto,
                (true, false) => PlcLink::Manual,
            },
            env: inp.env,
            secured: inp.secured,
        }
    }

    /// A control command by someone with `profiles`; `Err` says why not.
    /// The rules are [`State::check`]'s, the ones the control page shows.
    pub fn command(
        &mut self,
        cmd: Command,
        profiles: &[Profile],
        inp: &Inputs,
    ) -> Result<Vec<Action>, Refusal> {
        self.state(inp).check(cmd, profiles)?;
        Ok(match cmd {
            Command::PlcBypass => {
                self.bypass = Bypass::Pending(inp.now);
                vec![Action::PlcBypass(true)]
            }
            Command::StopPlcBypass => {
                self.bypass = Bypass::Off;
                vec![Action::PlcBypass(false)]
            }
            Command::Lock => {
                self.locked = true;
                self.mode = Mode::Closing;
                vec![Action::StopObserving, Action::AbortExposures, Action::CloseDome, Action::ParkMount]
            }
            Command::Unlock => {
                self.locked = false;
                Vec::new()
            }
            Command::GoRemote => {
                self.remote = true;
                self.mode = Mode::Remote;
                Vec::new()
            }
            Command::GoScheduler => {
                self.remote = false;
                self.stopped = false;
                self.mode = Mode::SchedulerStandby;
                Vec::new()
            }
            Command::StopObserving => {
                self.stopped = !self.remote;
                self.mode = Mode::Closing;
                vec![Action::StopObserving, Action::AbortExposures, Action::CloseDome, Action::ParkMount]
            }
            Command::NightAck => {
                self.night_ack = Some(inp.night_of);
                Vec::new()
            }
        })
    }
}

impl State {
    /// Whether someone with `profiles` may give `cmd` now (seed 000, the
    /// observatory control page): who may (the rights matrix) and in which
    /// state. The majordome refuses by these rules and the control page
    /// shows a button only where they allow it.
    pub fn check(&self, cmd: Command, profiles: &[Profile]) -> Result<(), Refusal> {
        let may = |r: Right| profiles.iter().any(|p| p.allows(r));
        let need = |r: Right, who: &'static str| if may(r) { Ok(()) } else { Err(Refusal::NotAllowed(who)) };
        let wrong = |rule: &'static str| Refusal::WrongMode { rule, mode: self.mode };
        let scheduler =
            matches!(self.mode, Mode::SchedulerStandby | Mode::SchedulerReady | Mode::SchedulerObserving);
        match cmd {
            Command::PlcBypass => {
                need(Right::PlcBypass, "an operator")?;
                if self.env == GlobalStatus::Safe {
                    return Err(Refusal::NothingToBypass);
                }
                if self.bypass != Bypass::Off {
                    return Err(Refusal::BypassAlready);
                }
            }
            Command::StopPlcBypass => {
                need(Right::PlcBypass, "an operator")?;
                if self.bypass == Bypass::Off {
                    return Err(Refusal::NoBypass);
                }
            }
            Command::Lock => {
                need(Right::LockObservatory, "an operator")?;
                if self.locked {
                    return Err(Refusal::AlreadyLocked);
                }
                if !self.safe {
                    return Err(Refusal::Unsafe);
                }
                if !(scheduler || self.mode == Mode::Remote) {
                    return Err(wrong("lock only in the scheduler's modes or REMOTE"));
                }
            }
            Command::Unlock => {
                need(Right::LockObservatory, "an operator")?;
                if !self.locked {
                    return Err(Refusal::NotLocked);
                }
                if !self.safe {
                    return Err(Refusal::Unsafe);
                }
            }
            Command::GoRemote => {
                need(Right::ChangeMode, "engineers and operators")?;
                if self.locked {
                    return Err(Refusal::Locked);
                }
                if !matches!(self.mode, Mode::SchedulerStandby | Mode::SchedulerReady) {
                    return Err(wrong("REMOTE only from the scheduler's standby or ready"));
                }
            }
            Command::GoScheduler => {
                need(Right::ChangeMode, "engineers and operators")?;
                if self.locked {
                    return Err(Refusal::Locked);
                }
                if self.mode != Mode::Remote {
                    return Err(wrong("GO SCHEDULER only from REMOTE"));
                }
                if !self.safe {
                    return Err(Refusal::Unsafe);
                }
            }
            Command::StopObserving => {
                need(Right::ObservatoryControl, "operators and engineers")?;
                if !(scheduler || self.mode == Mode::Remote) {
                    return Err(wrong("stop only in the scheduler's modes or REMOTE"));
                }
            }
            Command::NightAck => {
                need(Right::NightAck, "an operator")?;
            }
        }
        Ok(())
    }

    /// The commands someone with `profiles` is offered now: the control
    /// page's buttons.
    pub fn offered(&self, profiles: &[Profile]) -> Vec<Command> {
        Command::ALL.into_iter().filter(|c| self.check(*c, profiles).is_ok()).collect()
    }
}

fn dedup(actions: &mut Vec<Action>) {
    let mut seen = Vec::new();
    actions.retain(|a| {
        if seen.contains(a) {
            false
        } else {
            seen.push(*a);
            true
        }
    });
}

/// Why a command is refused: who may not, or what the state forbids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("only {0} may do this")]
    NotAllowed(&'static str),
    #[error("the environment is SAFE: nothing to bypass")]
    NothingToBypass,
    #[error("the bypass is already asked for or on")]
    BypassAlready,
    #[error("there is no bypass to stop")]
    NoBypass,
    #[error("the observatory is locked already")]
    AlreadyLocked,
    #[error("the observatory is not locked")]
    NotLocked,
    #[error("the observatory is locked: unlock it first")]
    Locked,
    #[error("the environment is UNSAFE")]
    Unsafe,
    /// `rule` says where the command may be given; `mode` is where it was.
    #[error("{rule}, not {}", mode.label())]
    WrongMode { rule: &'static str, mode: Mode },
}
