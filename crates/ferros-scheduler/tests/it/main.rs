//! The planner's 14 reference cases (docs/scheduler.md; night 0..10, hours as the
//! time unit), the invariants on random inputs, and bad input.

#![allow(clippy::unwrap_used, reason = "a test fails by panicking")]

mod properties;

use ferros_scheduler::{Entry, Frozen, Input, Plan, Status, Task, plan};

/// `name (jd1, jd2, priority, duration)`; ids are the letters.
fn t(name: char, jd1: f64, jd2: f64, priority: i32, duration: f64) -> Task {
    Task {
        id: name as i64,
        priority,
        jd1,
        jd2,
        block: duration,
        t_prefered: None,
        visibility: None,
        program: None,
        request: None,
        all_or_nothing: false,
        mandatory: false,
        frozen: None,
    }
}

fn tp(mut task: Task, at: f64) -> Task {
    task.t_prefered = Some(at);
    task
}

fn overhead(mut task: Task, o: f64) -> Task {
    task.block += o;
    task
}

fn night(tasks: Vec<Task>) -> Plan {
    plan(&Input {
        night_start: 0.0,
        night_end: 10.0,
        now: None,
        tasks,
        quotas: Default::default(),
        hours_per_unit: None,
    })
    .unwrap()
}

fn get(p: &Plan, name: char) -> &Entry {
    p.entries.iter().find(|e| e.id == name as i64).unwrap()
}

#[track_caller]
fn at(p: &Plan, name: char, start: f64, end: f64) {
    let e = get(p, name);
    assert_eq!(e.status, Status::Planned, "{name}: {e:?}");
    assert!((e.tsp.unwrap() - start).abs() < 1e-9 && (e.tep.unwrap() - end).abs() < 1e-9, "{name}: {e:?}");
}

#[track_caller]
fn out(p: &Plan, name: char, status: Status, reason: &str) {
    let e = get(p, name);
    assert_eq!(e.status, status, "{name}: {e:?}");
    assert!(e.reason.contains(reason), "{name}: {e:?}");
    assert_eq!((e.tsp, e.tep), (None, None));
}

#[test]
fn test_1_seq_basic() {
    let p = night(vec![t('A', 1.0, 4.0, 1, 1.0)]);
    at(&p, 'A', 1.0, 2.0);
}

#[test]
fn test_3_seq_basic() {
    let p = night(vec![t('A', 0.0, 3.0, 1, 1.0), t('B', 3.0, 6.0, 2, 1.0), t('C', 6.0, 10.0, 3, 1.0)]);
    at(&p, 'A', 0.0, 1.0);
    at(&p, 'B', 3.0, 4.0);
    at(&p, 'C', 6.0, 7.0);
}

#[test]
fn test_3_seq_priority() {
    let p = night(vec![t('A', 0.0, 10.0, 3, 2.0), t('B', 0.0, 10.0, 1, 2.0), t('C', 0.0, 10.0, 2, 2.0)]);
    at(&p, 'B', 0.0, 2.0);
    at(&p, 'C', 2.0, 4.0);
    at(&p, 'A', 4.0, 6.0);
}

#[test]
fn test_3_seq_priority_overlap() {
    let p = night(vec![t('A', 0.0, 4.0, 1, 2.0), t('B', 0.0, 4.0, 2, 2.0), t('C', 0.0, 4.0, 3, 2.0)]);
    at(&p, 'A', 0.0, 2.0);
    at(&p, 'B', 2.0, 4.0);
    out(&p, 'C', Status::Rejected, "no room");
}

#[test]
fn test_3_seq_same_priority_jd2() {
    let p = night(vec![t('A', 0.0, 9.0, 1, 2.0), t('B', 0.0, 3.0, 1, 2.0), t('C', 0.0, 6.0, 1, 2.0)]);
    at(&p, 'B', 0.0, 2.0);
    at(&p, 'C', 2.0, 4.0);
    at(&p, 'A', 4.0, 6.0);
}

#[test]
fn test_3_seq_t_prefered() {
    let p = night(vec![
        tp(t('A', 0.0, 10.0, 1, 2.0), 5.0),
        tp(t('B', 0.0, 10.0, 2, 2.0), 0.5),
        tp(t('C', 8.0, 10.0, 3, 2.0), 9.9),
    ]);
    at(&p, 'A', 4.0, 6.0);
    at(&p, 'B', 0.0, 2.0);
    at(&p, 'C', 8.0, 10.0);
}

#[test]
fn test_3_seq_move_left() {
    let p = night(vec![
        tp(t('A', 0.0, 4.0, 1, 2.0), 3.0),
        tp(t('B', 6.0, 10.0, 2, 2.0), 7.0),
        t('C', 3.0, 7.0, 3, 3.0),
    ]);
    at(&p, 'A', 1.0, 3.0);
    at(&p, 'C', 3.0, 6.0);
    at(&p, 'B', 6.0, 8.0);
}

#[test]
fn test_3_seq_move_right() {
    let p =
        night(vec![t('A', 2.0, 4.0, 1, 2.0), tp(t('B', 6.0, 10.0, 2, 2.0), 7.0), t('C', 4.0, 8.0, 3, 3.0)]);
    at(&p, 'A', 2.0, 4.0);
    at(&p, 'C', 4.0, 7.0);
    at(&p, 'B', 7.0, 9.0);
}

#[test]
fn test_3_seq_move_both() {
    let p = night(vec![
        tp(t('A', 1.0, 4.0, 1, 2.0), 3.0),
        tp(t('B', 6.0, 9.0, 2, 2.0), 7.0),
        t('C', 3.0, 7.0, 3, 4.0),
    ]);
    at(&p, 'A', 1.0, 3.0);
    at(&p, 'C', 3.0, 7.0);
    at(&p, 'B', 7.0, 9.0);
}

#[test]
fn test_3_seq_move_impossible() {
    let p = night(vec![
        tp(t('A', 1.0, 4.0, 1, 2.0), 3.0),
        tp(t('B', 6.0, 9.0, 2, 2.0), 7.0),
        t('C', 2.0, 8.0, 3, 5.0),
    ]);
    at(&p, 'A', 2.0, 4.0);
    at(&p, 'B', 6.0, 8.0);
    out(&p, 'C', Status::Rejected, "no room");
}

#[test]
fn test_seq_out_of_night() {
    let p = night(vec![t('A', -5.0, -1.0, 1, 1.0), t('B', 11.0, 15.0, 1, 1.0), t('C', 9.0, 12.0, 1, 1.0)]);
    out(&p, 'A', Status::Unplannable, "window ended before tonight");
    out(&p, 'B', Status::Rejected, "outside tonight");
    at(&p, 'C', 9.0, 10.0);
}

#[test]
fn test_seq_window_too_short() {
    let p = night(vec![t('A', 2.0, 3.0, 1, 2.0)]);
    out(&p, 'A', Status::Unplannable, "window too short (1 < 2)");
}

#[test]
fn test_seq_overhead() {
    let p = night(vec![overhead(t('A', 0.0, 10.0, 1, 2.0), 0.5), overhead(t('B', 0.0, 10.0, 2, 2.0), 0.5)]);
    at(&p, 'A', 0.0, 2.5);
    at(&p, 'B', 2.5, 5.0);
}

#[test]
fn test_reschedule() {
    let first = night(vec![t('A', 0.0, 10.0, 3, 2.0), t('B', 0.0, 10.0, 1, 2.0), t('C', 0.0, 10.0, 2, 2.0)]);
    let frozen = |name, status| {
        let e = get(&first, name);
        Some(Frozen { status, tsp: e.tsp.unwrap(), tep: e.tep.unwrap() })
    };
    let mut b = t('B', 0.0, 10.0, 1, 2.0);
    b.frozen = frozen('B', Status::Executed);
    let mut c = t('C', 0.0, 10.0, 2, 2.0);
    c.frozen = frozen('C', Status::Executing);
    let tasks = vec![t('A', 0.0, 10.0, 3, 2.0), b, c, t('X', 0.0, 10.0, 0, 1.0)];
    let p = plan(&Input {
        night_start: 0.0,
        night_end: 10.0,
        now: Some(3.0),
        tasks,
        quotas: Default::default(),
        hours_per_unit: None,
    })
    .unwrap();
    assert_eq!(get(&p, 'C').status, Status::Executing);
    assert_eq!((get(&p, 'C').tsp, get(&p, 'C').tep), (Some(2.0), Some(4.0)));
    assert_eq!(get(&p, 'B').status, Status::Executed);
    at(&p, 'X', 4.0, 5.0);
    at(&p, 'A', 5.0, 7.0);
    assert_eq!(p.plan_start, 3.0);
}

#[test]
fn slack_is_reported() {
    let p = night(vec![t('A', 0.0, 4.0, 1, 2.0), t('B', 0.0, 10.0, 2, 2.0)]);
    // A 0-2 (window 0..4, B right after); B 2-4 free to move right until 10.
    let a = get(&p, 'A');
    assert_eq!((a.slack_left, a.slack_right), (0.0, 0.0));
    let b = get(&p, 'B');
    assert_eq!((b.slack_left, b.slack_right), (0.0, 6.0));
}

#[test]
fn visibility_windows_split_a_night() {
    let mut a = t('A', 0.0, 10.0, 1, 2.0);
    a.visibility = Some(vec![(0.0, 1.0), (6.0, 9.0)]);
    let mut b = t('B', 0.0, 10.0, 2, 2.0);
    b.visibility = Some(vec![(3.0, 4.5)]);
    let mut c = t('C', 0.0, 10.0, 3, 1.0);
    c.visibility = Some(vec![]);
    let p = night(vec![a, b, c]);
    at(&p, 'A', 6.0, 8.0);
    out(&p, 'B', Status::Rejected, "not visible long enough");
    out(&p, 'C', Status::Rejected, "not visible tonight");
}

#[test]
fn quotas_bound_each_program() {
    let mut tasks = vec![t('A', 0.0, 10.0, 1, 2.0), t('B', 0.0, 10.0, 2, 2.0), t('C', 0.0, 10.0, 3, 1.0)];
    for task in &mut tasks {
        task.program = Some(7);
    }
    let quotas: std::collections::HashMap<i64, f64> = [(7, 3.5)].into_iter().collect();
    let input = Input { night_start: 0.0, night_end: 10.0, now: None, tasks, quotas, hours_per_unit: None };
    let p = plan(&input).unwrap();
    at(&p, 'A', 0.0, 2.0);
    out(&p, 'B', Status::Rejected, "quota exhausted (program 7: 1.5 left)");
    at(&p, 'C', 2.0, 3.0);
    // With a time unit of a day, the reason speaks in hours.
    let p = plan(&Input { hours_per_unit: Some(24.0), ..input }).unwrap();
    out(&p, 'B', Status::Rejected, "quota exhausted (program 7: 36.00 h left, 48.00 h needed)");
}

#[test]
fn all_or_nothing_requests_are_whole_or_absent() {
    let mut a = t('A', 0.0, 4.0, 5, 2.0);
    let mut b = t('B', 0.0, 4.0, 5, 2.0);
    for x in [&mut a, &mut b] {
        x.request = Some(1);
        x.all_or_nothing = true;
    }
    // H takes 0-3 first; only one of A, B fits in 3-4... neither does: both out.
    let h = t('H', 0.0, 3.0, 1, 3.0);
    let mut c = t('C', 0.0, 10.0, 5, 2.0);
    c.request = Some(1);
    c.all_or_nothing = true;
    let d = t('D', 0.0, 10.0, 9, 2.0);
    let p = night(vec![a, b, c, h, d]);
    at(&p, 'H', 0.0, 3.0);
    out(&p, 'A', Status::Rejected, "no room");
    out(&p, 'B', Status::Rejected, "no room");
    out(&p, 'C', Status::Rejected, "all or nothing: request 1 cannot be planned whole");
    // Once C is withdrawn, D has the early slot it frees.
    at(&p, 'D', 3.0, 5.0);
}

#[test]
fn a_mandatory_sequence_that_fails_fails_its_request() {
    let mut m = t('M', 0.0, 2.0, 5, 2.0);
    m.request = Some(9);
    m.mandatory = true;
    let mut o = t('O', 0.0, 10.0, 5, 1.0);
    o.request = Some(9);
    let h = t('H', 0.0, 2.0, 1, 2.0);
    let p = night(vec![m, o, h]);
    out(&p, 'M', Status::Rejected, "no room");
    out(&p, 'O', Status::Rejected, "mandatory sequence 77 of request 9");
}

#[test]
fn gap_filling_pushes_runs_of_blocks() {
    // A, B, C packed with slack behind A; D needs 2 h where only 1 h is free at
    // the end, and A (two blocks away) can give the rest.
    let tasks = vec![
        tp(t('A', 0.0, 10.0, 1, 2.0), 2.0),
        t('B', 0.0, 10.0, 2, 2.0),
        t('C', 3.0, 8.0, 3, 3.0),
        t('D', 6.0, 9.0, 4, 2.0),
    ];
    let p = night(tasks);
    // A 1-3 (centred on 2), B 3-5, C 5-8: 8-9 free for D in its window (1 h).
    // Pushing C, B and A left by 1 h makes the room.
    at(&p, 'D', 7.0, 9.0);
    at(&p, 'C', 4.0, 7.0);
    at(&p, 'B', 2.0, 4.0);
    at(&p, 'A', 0.0, 2.0);
}

#[test]
fn bad_input_names_the_sequence() {
    let bad = |tasks: Vec<Task>| {
        plan(&Input {
            night_start: 0.0,
            night_end: 10.0,
            now: None,
            tasks,
            quotas: Default::default(),
            hours_per_unit: None,
        })
        .unwrap_err()
        .to_string()
    };
    assert_eq!(bad(vec![t('A', 5.0, 4.0, 1, 1.0)]), "sequence 65: jd2 = 4 is before jd1 = 5");
    assert_eq!(bad(vec![t('A', 0.0, 4.0, 1, -1.0)]), "sequence 65: duration + overhead = -1 must be > 0");
    assert_eq!(bad(vec![t('A', f64::NAN, 4.0, 1, 1.0)]), "sequence 65: jd1 = NaN is not a finite number");
    assert_eq!(
        bad(vec![t('A', 0.0, f64::INFINITY, 1, 1.0)]),
        "sequence 65: jd2 = inf is not a finite number"
    );
    assert_eq!(bad(vec![t('A', 0.0, 4.0, 1, 1.0), t('A', 0.0, 4.0, 1, 1.0)]), "sequence 65: duplicate id");
    let e = plan(&Input { night_start: 5.0, night_end: 1.0, ..Default::default() }).unwrap_err();
    assert!(e.to_string().starts_with("night:"), "{e}");
}
