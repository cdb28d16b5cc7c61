//! The majordome's rules, night by night.

#![allow(clippy::unwrap_used, reason = "a test fails by panicking")]

use chrono::{NaiveDate, TimeDelta, TimeZone, Utc};
use ferros_domain::{Detector, GlobalStatus, Profile};
use ferros_majordome::{Action, Bypass, Command, DeviceCommand, Inputs, Majordome, Mode, Refusal, Rules};

fn night() -> Inputs {
    Inputs {
        now: Utc.with_ymd_and_hms(2026, 11, 23, 4, 0, 0).unwrap(),
        plc_fresh: true,
        plc_auto: true,
        plc_bypass: false,
        plc_ack: false,
        env: GlobalStatus::Safe,
        night: true,
        night_of: NaiveDate::from_ymd_opt(2026, 11, 22).unwrap(),
        work: true,
        mount_ok: true,
        vis_ok: true,
        nir_ok: true,
        secured: true,
    }
}

const OPERATOR: &[Profile] = &[Profile::Operator];
const ENGINEER: &[Profile] = &[Profile::Engineer];
const OBSERVER: &[Profile] = &[Profile::Observer];

fn observing() -> Majordome {
    let mut m = Majordome::new(Rules::default());
    m.tick(&night());
    assert_eq!(m.tick(&night()).mode, Mode::SchedulerObserving);
    m
}

#[test]
fn a_night_starts_by_securing_then_observes() {
    let mut m = Majordome::new(Rules::default());
    let open = Inputs { secured: false, ..night() };
    let t = m.tick(&open);
    assert_eq!(t.mode, Mode::Closing);
    assert_eq!(t.actions, [Action::AbortExposures, Action::CloseDome, Action::ParkMount]);
    assert_eq!(m.tick(&night()).mode, Mode::SchedulerStandby);
    let t = m.tick(&night());
    assert_eq!(t.mode, Mode::SchedulerObserving);
    assert_eq!(t.actions, [Action::OpenDome, Action::UnparkMount, Action::Observe]);
    // Nothing to do: ready, waiting.
    let mut m = Majordome::new(Rules::default());
    m.tick(&night());
    assert_eq!(m.tick(&Inputs { work: false, ..night() }).mode, Mode::SchedulerReady);
}

#[test]
fn unsafe_closes_from_any_mode_and_observing_resumes_when_safe() {
    let mut m = observing();
    let rain = Inputs { env: GlobalStatus::Unsafe, secured: false, ..night() };
    let t = m.tick(&rain);
    assert_eq!(t.mode, Mode::Closing);
    assert_eq!(
        t.actions,
        [Action::StopObserving, Action::AbortExposures, Action::CloseDome, Action::ParkMount]
    );
    assert!(!t.safe);
    let t = m.tick(&Inputs { secured: true, ..rain.clone() });
    assert_eq!((t.mode, t.actions.len()), (Mode::SchedulerStandby, 0), "secured: nothing more to do");
    assert_eq!(m.tick(&night()).mode, Mode::SchedulerObserving, "resumes by itself");
    // In REMOTE and when the PLC is lost or in MANUAL too.
    let mut m = Majordome::new(Rules::default());
    m.tick(&night());
    assert_eq!(m.tick(&Inputs { work: false, ..night() }).mode, Mode::SchedulerReady);
    m.command(Command::GoRemote, ENGINEER, &night()).unwrap();
    for inputs in [
        rain.clone(),
        Inputs { plc_fresh: false, ..rain.clone() },
        Inputs { plc_auto: false, ..rain.clone() },
    ] {
        let t = m.tick(&inputs);
        assert!(t.actions.contains(&Action::CloseDome) && t.actions.contains(&Action::ParkMount), "{t:?}");
    }
}

/// Whatever happens, an UNSAFE tick that is not secured asks to close, park and abort.
#[test]
fn safety_holds_on_random_nights() {
    let mut seed = 12345_u64;
    let mut next = || {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (seed >> 33) as u32
    };
    let commands = [
        Command::PlcBypass,
        Command::StopPlcBypass,
        Command::Lock,
        Command::Unlock,
        Command::GoRemote,
        Command::GoScheduler,
        Command::StopObserving,
        Command::NightAck,
    ];
    let mut m = Majordome::new(Rules { require_night_ack: true, ..Rules::default() });
    let mut now = night().now;
    for _ in 0..20_000 {
        now += TimeDelta::seconds(5);
        let r = next();
        let inp = Inputs {
            now,
            plc_fresh: r % 17 != 0,
            plc_auto: r % 13 != 0,
            plc_bypass: r % 7 == 0,
            env: if r % 3 == 0 { GlobalStatus::Unsafe } else { GlobalStatus::Safe },
            night: r % 11 != 0,
            work: r % 2 == 0,
            mount_ok: r % 19 != 0,
            vis_ok: r % 23 != 0,
            nir_ok: r % 5 != 0,
            secured: r % 4 == 0,
            ..night()
        };
        if next() % 4 == 0 {
            let _ = m.command(commands[next() as usize % commands.len()], OPERATOR, &inp);
        }
        let t = m.tick(&inp);
        if !t.safe && !inp.secured {
            for a in [Action::AbortExposures, Action::CloseDome, Action::ParkMount] {
                assert!(t.actions.contains(&a), "{inp:?} {t:?}");
            }
        }
        if !t.safe || !inp.night || m.locked {
            assert!(
                !t.actions.contains(&Action::OpenDome) && !t.actions.contains(&Action::Observe),
                "{inp:?} {t:?}"
            );
        }
        if t.mode == Mode::SchedulerObserving {
            assert!(t.safe && inp.night && inp.plc_fresh && inp.plc_auto);
        }
    }
}

#[test]
fn lock_and_unlock() {
    let mut m = observing();
    for who in [OBSERVER, ENGINEER, &[Profile::Sysadmin, Profile::Pi][..]] {
        assert_eq!(m.command(Command::Lock, who, &night()).unwrap_err(), Refusal::NotAllowed("an operator"));
    }
    let rain = Inputs { env: GlobalStatus::Unsafe, ..night() };
    assert_eq!(m.command(Command::Lock, OPERATOR, &rain).unwrap_err(), Refusal::Unsafe, "shown iff SAFE");
    let actions = m.command(Command::Lock, OPERATOR, &night()).unwrap();
    assert!(actions.contains(&Action::CloseDome));
    assert_eq!(m.tick(&Inputs { secured: false, ..night() }).mode, Mode::Closing);
    assert_eq!(m.tick(&night()).mode, Mode::Standby);
    assert_eq!(m.tick(&night()).mode, Mode::Standby, "stays locked even when all is fine");
    assert_eq!(m.command(Command::GoRemote, ENGINEER, &night()).unwrap_err(), Refusal::Locked);
    assert_eq!(m.command(Command::Unlock, OPERATOR, &rain).unwrap_err(), Refusal::Unsafe);
    assert_eq!(
        m.command(Command::Unlock, ENGINEER, &night()).unwrap_err(),
        Refusal::NotAllowed("an operator")
    );
    m.command(Command::Unlock, OPERATOR, &night()).unwrap();
    assert_eq!(m.tick(&night()).mode, Mode::SchedulerStandby);
    assert_eq!(m.tick(&night()).mode, Mode::SchedulerObserving);
    assert_eq!(m.command(Command::Unlock, OPERATOR, &night()).unwrap_err(), Refusal::NotLocked);
}

#[test]
fn the_plc_bypass_needs_an_operator_an_unsafe_status_and_the_plcs_confirmation() {
    let mut m = observing();
    let rain = Inputs { env: GlobalStatus::Unsafe, ..night() };
    assert_eq!(m.command(Command::PlcBypass, OPERATOR, &night()).unwrap_err(), Refusal::NothingToBypass);
    let e = m.command(Command::PlcBypass, ENGINEER, &rain).unwrap_err();
    assert_eq!(e.to_string(), "only an operator may do this");
    assert_eq!(m.command(Command::PlcBypass, OPERATOR, &rain).unwrap(), [Action::PlcBypass(true)]);
    assert!(!m.tick(&rain).safe, "not before the PLC confirms");
    let t = m.tick(&Inputs { plc_bypass: true, ..rain.clone() });
    assert!(t.safe && t.notes.iter().any(|n| n.contains("confirmed")), "{t:?}");
    assert_eq!(m.bypass, Bypass::On);
    m.command(Command::StopPlcBypass, OPERATOR, &rain).unwrap();
    assert!(!m.tick(&rain).safe);
    // Not confirmed in time: undone.
    m.command(Command::PlcBypass, OPERATOR, &rain).unwrap();
    let late = Inputs { now: rain.now + TimeDelta::seconds(31), ..rain.clone() };
    let t = m.tick(&late);
    assert!(
        t.actions.contains(&Action::PlcBypass(false)) && t.notes.iter().any(|n| n.starts_with("PLC KO")),
        "{t:?}"
    );
    assert_eq!(m.bypass, Bypass::Off);
}

#[test]
fn remote_and_back() {
    let mut m = observing();
    let e = m.command(Command::GoRemote, ENGINEER, &night()).unwrap_err();
    assert!(matches!(e, Refusal::WrongMode { mode: Mode::SchedulerObserving, .. }), "{e}");
    assert!(e.to_string().ends_with("not SCHEDULER (observing)"), "{e}");
    assert_eq!(
        m.command(Command::GoRemote, OBSERVER, &night()).unwrap_err(),
        Refusal::NotAllowed("engineers and operators")
    );
    m.tick(&Inputs { work: false, ..night() });
    m.command(Command::StopObserving, OPERATOR, &night()).unwrap();
    assert_eq!(m.tick(&night()).mode, Mode::SchedulerStandby);
    assert_eq!(m.tick(&night()).mode, Mode::SchedulerStandby, "stopped by an operator: stays in standby");
    m.command(Command::GoRemote, ENGINEER, &night()).unwrap();
    assert_eq!(m.tick(&night()).mode, Mode::Remote);
    // STOP OBSERVING is allowed in REMOTE too.
    m.command(Command::StopObserving, ENGINEER, &night()).unwrap();
    assert_eq!(m.tick(&night()).mode, Mode::Remote);
    let rain = Inputs { env: GlobalStatus::Unsafe, ..night() };
    assert_eq!(m.command(Command::GoScheduler, ENGINEER, &rain).unwrap_err(), Refusal::Unsafe);
    m.command(Command::GoScheduler, ENGINEER, &night()).unwrap();
    assert_eq!(m.tick(&night()).mode, Mode::SchedulerObserving);
}

#[test]
fn devices_plc_and_the_night() {
    let mut m = observing();
    let t = m.tick(&Inputs { mount_ok: false, ..night() });
    assert_eq!(t.mode, Mode::SchedulerReady);
    assert!(t.notes.iter().any(|n| n.contains("blocking device does not answer (mount)")));
    assert_eq!(m.tick(&night()).mode, Mode::SchedulerObserving, "re-integrated when back");
    let t = m.tick(&Inputs { nir_ok: false, ..night() });
    assert_eq!(t.mode, Mode::SchedulerObserving, "the NIR camera does not block");
    assert!(t.notes.iter().any(|n| n.contains("NIR")));
    assert_eq!(m.tick(&Inputs { plc_auto: false, ..night() }).mode, Mode::Passive);
    assert_eq!(m.tick(&Inputs { plc_fresh: false, ..night() }).mode, Mode::PassiveNoPlc);
    assert_eq!(m.tick(&night()).mode, Mode::SchedulerStandby);
    assert_eq!(m.tick(&night()).mode, Mode::SchedulerObserving);
    let dawn = Inputs { night: false, secured: false, ..night() };
    let t = m.tick(&dawn);
    assert_eq!(t.mode, Mode::Closing);
    assert!(t.notes.iter().any(|n| n == "night over: closing"));
    assert_eq!(m.tick(&Inputs { secured: true, ..dawn }).mode, Mode::SchedulerStandby);
}

#[test]
fn the_night_ack_when_required() {
    let mut m = Majordome::new(Rules { require_night_ack: true, ..Rules::default() });
    m.tick(&night());
    assert_eq!(m.tick(&night()).mode, Mode::SchedulerStandby);
    assert_eq!(
        m.command(Command::NightAck, ENGINEER, &night()).unwrap_err(),
        Refusal::NotAllowed("an operator")
    );
    m.command(Command::NightAck, OPERATOR, &night()).unwrap();
    assert_eq!(m.tick(&night()).mode, Mode::SchedulerObserving);
    let next = Inputs { night_of: NaiveDate::from_ymd_opt(2026, 11, 23).unwrap(), ..night() };
    assert_ne!(m.tick(&next).mode, Mode::SchedulerObserving, "each night is acknowledged");
}

/// The night ACK is the control room's button, read through the PLC; the
/// operator's command is the fallback.
#[test]
fn the_night_ack_from_the_plcs_button() {
    let mut m = Majordome::new(Rules { require_night_ack: true, ..Rules::default() });
    m.tick(&night());
    assert_eq!(m.tick(&night()).mode, Mode::SchedulerStandby);
    let t = m.tick(&Inputs { plc_ack: true, ..night() });
    assert_eq!(t.mode, Mode::SchedulerObserving);
    assert!(t.notes.iter().any(|n| n == "night ACK for the night of 2026-11-22 given at the PLC"), "{t:?}");
    assert_eq!(m.night_ack, NaiveDate::from_ymd_opt(2026, 11, 22));
    // The button stays lit: said once, not at every tick.
    assert!(m.tick(&Inputs { plc_ack: true, ..night() }).notes.is_empty());
    // A PLC that does not answer gives no ACK.
    let mut m = Majordome::new(Rules { require_night_ack: true, ..Rules::default() });
    m.tick(&Inputs { plc_ack: true, plc_fresh: false, ..night() });
    assert_eq!(m.night_ack, None);
}

/// The control page's buttons: who sees which, in which state (seed 000
/// 1.10.2): none for those without the right, LOCK only when SAFE, the
/// bypass only when UNSAFE, GO REMOTE only in the scheduler's standby or ready.
#[test]
fn the_buttons_offered_follow_the_seed() {
    use Command::*;
    let mut m = observing();
    let state = m.state(&night());
    for nobody in [&[Profile::Visitor][..], &[Profile::Tac], OBSERVER] {
        assert!(state.offered(nobody).is_empty(), "{nobody:?}");
    }
    assert_eq!(state.offered(OPERATOR), [Lock, StopObserving, NightAck]);
    assert_eq!(state.offered(ENGINEER), [StopObserving]);
    assert_eq!(state.offered(&[Profile::Sysadmin]), [StopObserving], "the matrix leaves LOCK to operators");
    let rain = Inputs { env: GlobalStatus::Unsafe, ..night() };
    m.tick(&Inputs { secured: true, ..rain.clone() });
    let state = m.state(&rain);
    assert_eq!(state.mode, Mode::SchedulerStandby);
    assert_eq!(state.offered(OPERATOR), [PlcBypass, GoRemote, StopObserving, NightAck]);
    m.command(PlcBypass, OPERATOR, &rain).unwrap();
    assert_eq!(m.state(&rain).offered(OPERATOR), [StopPlcBypass, GoRemote, StopObserving, NightAck]);
    m.tick(&Inputs { plc_bypass: true, ..rain.clone() });
    let state = m.state(&Inputs { plc_bypass: true, ..rain.clone() });
    assert!(state.safe && state.mode == Mode::SchedulerObserving, "bypassed: observing again");
    assert_eq!(state.offered(OPERATOR), [StopPlcBypass, Lock, StopObserving, NightAck]);
    m.command(Lock, OPERATOR, &rain).unwrap();
    let state = m.state(&rain);
    assert_eq!(state.offered(OPERATOR), [StopPlcBypass, Unlock, NightAck]);
    assert_eq!(state.offered(ENGINEER), Vec::<Command>::new());
    // Each refusal is the reason the button is not shown.
    assert_eq!(state.check(GoRemote, ENGINEER).unwrap_err(), Refusal::Locked);
}

#[test]
fn device_commands_by_hand_only_in_remote() {
    let slew = DeviceCommand::parse("device telescope slew 10.68 41.27").unwrap();
    assert_eq!(slew, DeviceCommand::MountSlew { ra: 10.68, dec: 41.27 });
    assert_eq!(
        DeviceCommand::parse("device filter_nir select Ks").unwrap(),
        DeviceCommand::FilterSelect { wheel: Detector::Nir, filter: "Ks".into() }
    );
    for (bad, why) in [
        ("device telescope slew 400 0", "RA \"400\" must be a number in 0..360"),
        ("device dome fly", "unknown device command"),
        ("device telescope slew 10", "unknown device command"),
        ("lock", "not a device command"),
    ] {
        let e = DeviceCommand::parse(bad).unwrap_err().to_string();
        assert!(e.contains(why), "{bad}: {e}");
    }
    let mut m = observing();
    let e = m.device_command(&slew, ENGINEER, &night()).unwrap_err().to_string();
    assert!(e.contains("only in REMOTE"), "{e}");
    m.tick(&Inputs { work: false, ..night() });
    m.command(Command::StopObserving, OPERATOR, &night()).unwrap();
    m.tick(&night());
    m.command(Command::GoRemote, ENGINEER, &night()).unwrap();
    m.tick(&night());
    m.device_command(&slew, ENGINEER, &night()).unwrap();
    assert_eq!(
        m.device_command(&slew, OBSERVER, &night()).unwrap_err(),
        Refusal::NotAllowed("engineers and operators")
    );
    // Nothing opens or moves while UNSAFE; closing and parking always may.
    let rain = Inputs { env: GlobalStatus::Unsafe, ..night() };
    assert_eq!(m.device_command(&DeviceCommand::DomeOpen, ENGINEER, &rain).unwrap_err(), Refusal::Unsafe);
    m.device_command(&DeviceCommand::DomeClose, ENGINEER, &rain).unwrap();
    m.device_command(&DeviceCommand::MountPark, ENGINEER, &rain).unwrap();
}

/// The state the other agents and the commands read is stored as users see
/// it (the mode's label) and read back the same; a mode nobody knows is refused.
#[test]
fn the_state_is_stored_by_its_labels_and_read_back() {
    for mode in Mode::ALL {
        assert_eq!(mode.label().parse::<Mode>(), Ok(mode));
    }
    let state = ferros_majordome::State {
        mode: Mode::SchedulerObserving,
        safe: true,
        locked: false,
        bypass: Bypass::Pending(Utc.with_ymd_and_hms(2026, 11, 23, 4, 0, 0).unwrap()),
        night_ack: NaiveDate::from_ymd_opt(2026, 11, 22),
        night: true,
        plc: ferros_majordome::PlcLink::NoAnswer,
        env: GlobalStatus::Safe,
        secured: false,
    };
    let json = serde_json::to_value(state).unwrap();
    assert_eq!(json["mode"], "SCHEDULER (observing)");
    assert_eq!(json["plc"], "no answer");
    assert_eq!(json["env"], "SAFE");
    assert_eq!(serde_json::from_value::<ferros_majordome::State>(json.clone()).unwrap(), state);
    assert!(state.observing());
    let mut bad = json;
    bad["mode"] = "DANCING".into();
    let e = serde_json::from_value::<ferros_majordome::State>(bad).unwrap_err();
    assert!(e.to_string().contains("unknown majordome mode \"DANCING\""), "{e}");
}
