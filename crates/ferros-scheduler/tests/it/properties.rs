//! Invariants every schedule keeps, on random inputs of up to thousands of
//! sequences: no overlap; each block inside its window, the night and its
//! visibility; frozen blocks unmoved; quotas held; every sequence once.

use std::collections::HashMap;

use ferros_scheduler::{EPS, Frozen, Input, Status, Task, plan};
use proptest::prelude::*;

fn task(id: i64) -> impl Strategy<Value = Task> {
    (
        -2.0f64..12.0,
        0.0f64..8.0,
        0i32..30,
        0.05f64..2.5,
        proptest::option::weighted(0.3, 0.0f64..10.0),
        proptest::option::weighted(0.4, proptest::collection::vec((0.0f64..10.0, 0.1f64..4.0), 0..3)),
        0i64..4,
        0i64..200,
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            move |(jd1, len, priority, block, t_prefered, vis, program, request, aon, mandatory)| Task {
                id,
                priority,
                jd1,
                jd2: jd1 + len,
                block,
                t_prefered: t_prefered.map(|t| t.clamp(jd1, jd1 + len)),
                visibility: vis.map(|v| v.into_iter().map(|(a, l)| (a, a + l)).collect()),
                program: Some(program),
                request: Some(request),
                all_or_nothing: aon && request % 5 == 0,
                mandatory: mandatory && request % 3 == 0,
                frozen: None,
            },
        )
}

fn input(max: usize) -> impl Strategy<Value = Input> {
    (1..max, proptest::option::of(0.0f64..5.0), 0.0f64..12.0)
        .prop_flat_map(|(n, now, quota)| {
            let tasks: Vec<_> = (0..n as i64).map(task).collect();
            (tasks, Just(now), Just(quota))
        })
        .prop_map(|(mut tasks, now, quota)| {
            // Freeze a few early blocks, as a replanning would.
            let mut t = 0.0;
            for task in tasks.iter_mut().take(3) {
                if t + task.block < 3.0 {
                    task.frozen = Some(Frozen { status: Status::Executed, tsp: t, tep: t + task.block });
                    t += task.block;
                }
            }
            let quotas: HashMap<i64, f64> = [(0, quota), (1, quota * 2.0)].into_iter().collect();
            Input { night_start: 0.0, night_end: 10.0, now, tasks, quotas, hours_per_unit: None }
        })
}

fn check(input: &Input) {
    let p = plan(input).unwrap();
    assert_eq!(p.entries.len(), input.tasks.len(), "every sequence appears once");
    let by_id: HashMap<i64, &Task> = input.tasks.iter().map(|t| (t.id, t)).collect();
    let mut seen = std::collections::HashSet::new();
    let mut blocks = Vec::new();
    let mut used: HashMap<i64, f64> = HashMap::new();
    for e in &p.entries {
        assert!(seen.insert(e.id), "sequence {} twice", e.id);
        let t = by_id[&e.id];
        if let Some(f) = t.frozen {
            assert_eq!((e.tsp, e.tep, e.status), (Some(f.tsp), Some(f.tep), f.status), "frozen block moved");
            blocks.push((f.tsp, f.tep));
            continue;
        }
        match e.status {
            Status::Planned => {
                let (s, end) = (e.tsp.unwrap(), e.tep.unwrap());
                assert!((end - s - t.block).abs() < 1e-6, "block length");
                assert!(s >= t.jd1 - EPS && end <= t.jd2 + EPS, "{e:?} outside its window {t:?}");
                assert!(s >= p.plan_start - EPS && end <= p.night_end + EPS, "{e:?} outside the night");
                if let Some(v) = &t.visibility {
                    assert!(
                        v.iter().any(|&(a, b)| s >= a - EPS && end <= b + EPS),
                        "{e:?} not visible {t:?}"
                    );
                }
                assert!(e.slack_left >= 0.0 && e.slack_right >= 0.0);
                *used.entry(t.program.unwrap()).or_default() += t.block;
                blocks.push((s, end));
            }
            _ => assert!(!e.reason.is_empty() && e.tsp.is_none(), "{e:?} must say why"),
        }
    }
    blocks.sort_by(|a, b| a.0.total_cmp(&b.0));
    for w in blocks.windows(2) {
        assert!(w[0].1 <= w[1].0 + 1e-6, "blocks overlap: {:?} and {:?}", w[0], w[1]);
    }
    for (program, q) in &input.quotas {
        assert!(used.get(program).copied().unwrap_or(0.0) <= q + 1e-6, "program {program} over quota");
    }
    // Requests that must be whole are whole or absent.
    let mut requests: HashMap<i64, Vec<(bool, bool, bool)>> = HashMap::new();
    for e in &p.entries {
        let t = by_id[&e.id];
        if t.frozen.is_none() {
            requests.entry(t.request.unwrap()).or_default().push((
                e.status == Status::Planned,
                t.all_or_nothing,
                t.mandatory,
            ));
        }
    }
    for (r, members) in requests {
        let any = members.iter().any(|m| m.0);
        if any && members.iter().any(|m| m.1) {
            assert!(members.iter().all(|m| m.0), "all-or-nothing request {r} planned in part");
        }
        if any {
            assert!(
                members.iter().all(|m| !m.2 || m.0),
                "request {r} planned without its mandatory sequence"
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, .. ProptestConfig::default() })]
    #[test]
    fn small_nights_keep_the_invariants(input in input(40)) {
        check(&input);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, .. ProptestConfig::default() })]
    #[test]
    fn thousands_of_sequences_keep_the_invariants(input in input(3000)) {
        check(&input);
    }
}
