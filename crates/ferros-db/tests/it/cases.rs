//! The repository cases, each given a fresh database.

use std::collections::BTreeSet;
use std::path::PathBuf;

use chrono::{TimeZone, Utc};
use ferros_db::{Db, DbError, NewUser};
use ferros_domain::{
    EntryStatus, JulianDate, LogEntry, LogLevel, NewProgram, NewSchedule, Priority, Profile, RequestId,
    ScheduleEntry, Seconds, SequenceId, SequenceStatus,
};
use ferros_request_xml::{ReadOptions, read_request};

fn now() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap()
}

fn read_opts() -> ReadOptions {
    ReadOptions::at(JulianDate::from_datetime(now()).unwrap())
}

/// The night time of 2026B in these cases: 2,000 hours.
fn period_night() -> Seconds {
    Seconds::from_hours("night", 2000.0).unwrap()
}

pub async fn add_program(db: &Db, name: &str) -> ferros_domain::ScientificProgram {
    add_program_of(db, name, 40.0).await
}

/// A program of `hours` in 2026B.
async fn add_program_of(db: &Db, name: &str, hours: f64) -> ferros_domain::ScientificProgram {
    db.create_program(
        &NewProgram {
            name: name.to_owned(),
            description: format!("{name} program"),
            period: "2026B".parse().unwrap(),
            priority: Priority::new(20).unwrap(),
            quota: ferros_domain::Quota::Time(Seconds::from_hours("quota", hours).unwrap()),
        },
        Some(period_night()),
        now(),
    )
    .await
    .unwrap()
}

fn new_user(name: &str, profiles: &[Profile], programs: &[&str]) -> NewUser {
    NewUser {
        username: name.to_owned(),
        email: format!("{name}@example.org"),
        password_hash: "$argon2id$fake".to_owned(),
        profiles: profiles.iter().copied().collect(),
        programs: programs.iter().map(|p| (*p).to_owned()).collect(),
    }
}

async fn setup(db: &Db) {
    // Room for the hundreds of requests of the concurrency cases.
    for p in ["GRB", "AGN", "SNe", "EXOPLANETS", "CALIB"] {
        add_program_of(db, p, 300.0).await;
    }
    db.create_user(&new_user("alice", &[Profile::Observer], &["GRB", "AGN"]), now()).await.unwrap();
}

fn sample(name: &str) -> String {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/requests");
    std::fs::read_to_string(dir.join(name)).unwrap()
}

pub async fn programs_are_created_listed_and_unique(db: &Db) {
    add_program(db, "SNe").await;
    let grb = add_program(db, "GRB").await;
    assert_eq!(grb.name, "GRB");
    assert_eq!(grb.quota.hours(), 40.0);
    assert_eq!(grb.used, Seconds::ZERO);
    assert_eq!(grb.period.to_string(), "2026B");
    let names: Vec<String> = db.list_programs().await.unwrap().into_iter().map(|p| p.name).collect();
    assert_eq!(names, ["GRB", "SNe"]);
    assert_eq!(db.program_by_name("GRB").await.unwrap().unwrap(), grb);
    assert!(db.program_by_name("nope").await.unwrap().is_none());
    let dup = db
        .create_program(
            &NewProgram {
                name: "GRB".into(),
                description: String::new(),
                period: "2026B".parse().unwrap(),
                priority: Priority::new(1).unwrap(),
                quota: ferros_domain::Quota::Time(Seconds::ZERO),
            },
            None,
            now(),
        )
        .await
        .unwrap_err();
    assert_eq!(dup.to_string(), "program \"GRB\" already exists");
}

pub async fn users_carry_profiles_and_programs(db: &Db) {
    setup(db).await;
    let pi =
        db.create_user(&new_user("paul", &[Profile::Pi, Profile::Observer], &["GRB"]), now()).await.unwrap();
    assert_eq!(pi.profiles, BTreeSet::from([Profile::Observer, Profile::Pi]));
    let grb = db.program_by_name("GRB").await.unwrap().unwrap();
    assert!(pi.programs.contains(&grb.id));
    assert_eq!(grb.pi, Some(pi.id), "a PI added to a program without PI becomes its PI");
    let users: Vec<String> = db.list_users().await.unwrap().into_iter().map(|u| u.username).collect();
    assert_eq!(users, ["alice", "paul"]);
    assert_eq!(db.count_users_with_profile(Profile::Sysadmin).await.unwrap(), 0);
    assert_eq!(db.count_users_with_profile(Profile::Pi).await.unwrap(), 1);
    assert_eq!(db.password_hash("paul").await.unwrap().as_deref(), Some("$argon2id$fake"));
    assert!(db.password_hash("nobody").await.unwrap().is_none());
    let dup = db.create_user(&new_user("paul", &[Profile::Visitor], &[]), now()).await.unwrap_err();
    assert_eq!(dup.to_string(), "user \"paul\" already exists");
    let bad = db.create_user(&new_user("not valid", &[Profile::Visitor], &[]), now()).await.unwrap_err();
    assert!(bad.to_string().contains("username"), "{bad}");
}

pub async fn a_failed_user_creation_leaves_nothing(db: &Db) {
    setup(db).await;
    let e =
        db.create_user(&new_user("bob", &[Profile::Observer], &["GRB", "NOPE"]), now()).await.unwrap_err();
    assert!(matches!(e, DbError::NotFound { what: "program", .. }), "{e}");
    assert_eq!(e.to_string(), "program \"NOPE\" does not exist");
    assert!(db.user_by_name("bob").await.unwrap().is_none());
    assert_eq!(db.count_users_with_profile(Profile::Observer).await.unwrap(), 1);
}

pub async fn every_sample_request_is_stored_and_read_back(db: &Db) {
    setup(db).await;
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/requests");
    let mut files: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    for path in files {
        let imported = read_request(&std::fs::read_to_string(&path).unwrap(), &read_opts()).unwrap();
        let id = db.create_request(&imported.request, "alice", imported.submit, now()).await.unwrap();
        let stored = db.request(id).await.unwrap().unwrap();
        assert_eq!(stored.to_new(), imported.request, "{}", path.display());
        assert_eq!(stored.owner, "alice");
        let expected = if imported.submit { SequenceStatus::Tobeplanned } else { SequenceStatus::Complete };
        assert!(stored.sequences.iter().all(|s| s.status == expected), "{}", path.display());
    }
    let list = db.list_requests().await.unwrap();
    assert_eq!(list.len(), 11);
    assert_eq!(list[0].id, RequestId(1));
    assert!(db.request(RequestId(999)).await.unwrap().is_none());
}

pub async fn unknown_program_or_user_stores_nothing(db: &Db) {
    setup(db).await;
    let mut req = read_request(&sample("routine_request_01.xml"), &read_opts()).unwrap().request;
    let e = db.create_request(&req, "nobody", false, now()).await.unwrap_err();
    assert_eq!(e.to_string(), "user \"nobody\" does not exist");
    req.program = "UNKNOWN".into();
    let e = db.create_request(&req, "alice", false, now()).await.unwrap_err();
    assert_eq!(e.to_string(), "program \"UNKNOWN\" does not exist");
    assert!(db.list_requests().await.unwrap().is_empty());
}

pub async fn submitting_an_incomplete_request_stores_nothing(db: &Db) {
    setup(db).await;
    let mut req = read_request(&sample("routine_request_02.xml"), &read_opts()).unwrap().request;
    req.sequences[2].albums.clear();
    let e = db.create_request(&req, "alice", true, now()).await.unwrap_err();
    assert!(e.to_string().contains("sequence 3 \"epoch 3\" is INCOMPLETE"), "{e}");
    assert!(db.list_requests().await.unwrap().is_empty(), "the failed import must leave nothing behind");
    // Stored without submission, it waits INCOMPLETE, and submit refuses it whole.
    let id = db.create_request(&req, "alice", false, now()).await.unwrap();
    let e = db.submit_request(id, now()).await.unwrap_err();
    assert!(e.to_string().contains("INCOMPLETE"), "{e}");
    let stored = db.request(id).await.unwrap().unwrap();
    let statuses: Vec<SequenceStatus> = stored.sequences.iter().map(|s| s.status).collect();
    assert_eq!(statuses, [SequenceStatus::Complete, SequenceStatus::Complete, SequenceStatus::Incomplete]);
}

pub async fn submit_and_cancel_follow_the_life_cycle(db: &Db) {
    setup(db).await;
    let req = read_request(&sample("routine_request_02.xml"), &read_opts()).unwrap().request;
    let id = db.create_request(&req, "alice", false, now()).await.unwrap();
    let moved = db.submit_request(id, now()).await.unwrap();
    assert_eq!(moved.len(), 3);
    let e = db.submit_request(id, now()).await.unwrap_err();
    assert_eq!(e.to_string(), format!("request {id} has no sequence left to submit"));
    let first = db.request(id).await.unwrap().unwrap().sequences[0].id;
    db.set_sequence_status(first, SequenceStatus::Planned, now()).await.unwrap();
    db.set_sequence_status(first, SequenceStatus::Executing, now()).await.unwrap();
    db.set_sequence_status(first, SequenceStatus::Executed, now()).await.unwrap();
    let cancelled = db.cancel_request(id, now()).await.unwrap();
    assert_eq!(cancelled.len(), 2, "the executed sequence stays executed");
    let statuses: Vec<SequenceStatus> =
        db.request(id).await.unwrap().unwrap().sequences.iter().map(|s| s.status).collect();
    assert_eq!(statuses, [SequenceStatus::Executed, SequenceStatus::Cancelled, SequenceStatus::Cancelled]);
    let e = db.cancel_request(id, now()).await.unwrap_err();
    assert_eq!(e.to_string(), format!("request {id} has nothing left to cancel"));
    let e = db.cancel_request(RequestId(404), now()).await.unwrap_err();
    assert_eq!(e.to_string(), "request 404 does not exist");
    let summary = &db.list_requests().await.unwrap()[0];
    assert_eq!(ferros_domain::summarize_statuses(&summary.sequence_statuses), "1 EXECUTED, 2 CANCELLED");
}

pub async fn unsubmit_and_edit_keep_what_ran(db: &Db) {
    setup(db).await;
    let req = read_request(&sample("routine_request_02.xml"), &read_opts()).unwrap().request;
    let id = db.create_request(&req, "alice", true, now()).await.unwrap();
    let first = db.request(id).await.unwrap().unwrap().sequences[0].id;
    db.set_sequence_status(first, SequenceStatus::Planned, now()).await.unwrap();
    let e = db.edit_request(id, &req, now()).await.unwrap_err();
    assert!(e.to_string().contains("unsubmit the request before editing it"), "{e}");
    assert_eq!(db.unsubmit_request(id, now()).await.unwrap().len(), 3);
    let e = db.unsubmit_request(id, now()).await.unwrap_err();
    assert!(e.to_string().contains("no submitted sequence"), "{e}");
    let mut changed = req.clone();
    changed.name = "renamed".into();
    changed.sequences.truncate(1);
    let new = db.edit_request(id, &changed, now()).await.unwrap();
    assert_eq!(new.len(), 1);
    let r = db.request(id).await.unwrap().unwrap();
    assert_eq!(r.name, "renamed");
    let statuses: Vec<SequenceStatus> = r.sequences.iter().map(|s| s.status).collect();
    assert_eq!(statuses[..3], [SequenceStatus::Cancelled; 3]);
    assert_eq!(r.sequences[3].id, new[0]);
    let mut other = changed.clone();
    other.program = "AGN".into();
    let e = db.edit_request(id, &other, now()).await.unwrap_err();
    assert!(e.to_string().contains("upload a new request instead"), "{e}");
    let e = db.edit_request(RequestId(404), &changed, now()).await.unwrap_err();
    assert_eq!(e.to_string(), "request 404 does not exist");
    // Nothing open left: an edit would only graft onto a finished request.
    db.cancel_request(id, now()).await.unwrap();
    let e = db.edit_request(id, &changed, now()).await.unwrap_err();
    assert!(e.to_string().contains("no open sequence to edit"), "{e}");
}

pub async fn sequence_status_changes_are_checked(db: &Db) {
    setup(db).await;
    let req = read_request(&sample("routine_request_01.xml"), &read_opts()).unwrap().request;
    let id = db.create_request(&req, "alice", true, now()).await.unwrap();
    let seq = db.request(id).await.unwrap().unwrap().sequences[0].id;
    let e = db.set_sequence_status(seq, SequenceStatus::Executed, now()).await.unwrap_err();
    assert_eq!(e.to_string(), "a sequence cannot go from TOBEPLANNED to EXECUTED");
    assert_eq!(
        db.set_sequence_status(seq, SequenceStatus::Planned, now()).await.unwrap(),
        SequenceStatus::Tobeplanned
    );
    db.set_sequence_status(seq, SequenceStatus::Executing, now()).await.unwrap();
    db.set_sequence_status(seq, SequenceStatus::Executed, now()).await.unwrap();
    let e = db.set_sequence_status(seq, SequenceStatus::Tobeplanned, now()).await.unwrap_err();
    assert_eq!(e.to_string(), "a sequence cannot go from EXECUTED to TOBEPLANNED");
    let e = db.set_sequence_status(SequenceId(9999), SequenceStatus::Planned, now()).await.unwrap_err();
    assert_eq!(e.to_string(), "sequence 9999 does not exist");
}

fn entry(seq: SequenceId, start: Option<f64>, status: EntryStatus, reason: &str) -> ScheduleEntry {
    ScheduleEntry {
        sequence_id: seq,
        status,
        tsp: start.map(|s| JulianDate::new(s).unwrap()),
        tep: start.map(|s| JulianDate::new(s + 0.01).unwrap()),
        slack_left: Seconds::new("slack", 60.0).unwrap(),
        slack_right: Seconds::ZERO,
        reason: reason.to_owned(),
    }
}

pub async fn schedules_are_stored_with_history(db: &Db) {
    setup(db).await;
    let req = read_request(&sample("routine_request_02.xml"), &read_opts()).unwrap().request;
    let id = db.create_request(&req, "alice", true, now()).await.unwrap();
    let seqs: Vec<SequenceId> =
        db.request(id).await.unwrap().unwrap().sequences.iter().map(|s| s.id).collect();
    assert!(db.latest_schedule().await.unwrap().is_none());
    let night = |entries| NewSchedule {
        night_start: JulianDate::new(2_461_367.1).unwrap(),
        night_end: JulianDate::new(2_461_367.5).unwrap(),
        plan_start: JulianDate::new(2_461_367.1).unwrap(),
        entries,
    };
    let first = db
        .store_schedule(&night(vec![entry(seqs[0], Some(2_461_367.2), EntryStatus::Planned, "")]), now())
        .await
        .unwrap();
    let second = night(vec![
        entry(seqs[1], Some(2_461_367.3), EntryStatus::Planned, ""),
        entry(seqs[2], None, EntryStatus::Rejected, "no room"),
        entry(seqs[0], Some(2_461_367.2), EntryStatus::Planned, ""),
    ]);
    let second_id = db.store_schedule(&second, now()).await.unwrap();
    assert!(second_id > first);
    let latest = db.latest_schedule().await.unwrap().unwrap();
    assert_eq!(latest.id, second_id);
    assert_eq!(latest.night_start, second.night_start);
    // Placed entries in time order, then the others.
    let order: Vec<SequenceId> = latest.entries.iter().map(|e| e.sequence_id).collect();
    assert_eq!(order, [seqs[0], seqs[1], seqs[2]]);
    assert_eq!(latest.entries[2].reason, "no room");
    let history = db.schedule_history(10).await.unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!((history[0].planned, history[0].entries), (2, 3));
    assert_eq!((history[1].planned, history[1].entries), (1, 1));
}

/// A plan stored after a request came in while it was made is stale: the
/// schedule is kept, and no mark is given, so that the planner plans again
/// (the new request would otherwise wait for some other change).
pub async fn a_plan_overtaken_by_a_submission_is_stale(db: &Db) {
    setup(db).await;
    let req = read_request(&sample("routine_request_01.xml"), &read_opts()).unwrap().request;
    let id = db.create_request(&req, "alice", true, now()).await.unwrap();
    let seq = db.request(id).await.unwrap().unwrap().sequences[0].id;
    let plan = NewSchedule {
        night_start: JulianDate::new(2_461_367.1).unwrap(),
        night_end: JulianDate::new(2_461_367.5).unwrap(),
        plan_start: JulianDate::new(2_461_367.1).unwrap(),
        entries: vec![entry(seq, Some(2_461_367.2), EntryStatus::Planned, "")],
    };
    let update = |from, to| ferros_db::StatusUpdate { id: seq, from, to, tsp: None, tep: None };
    let night = chrono::NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
    let based_on = db.planning_mark().await.unwrap();
    let (_, mark) = db
        .apply_schedule(
            &plan,
            &[update(SequenceStatus::Tobeplanned, SequenceStatus::Planned)],
            (night, now()),
            based_on,
        )
        .await
        .unwrap();
    assert_eq!(mark, Some(db.planning_mark().await.unwrap()), "nothing else changed");

    let based_on = db.planning_mark().await.unwrap();
    db.create_request(&req, "alice", true, now()).await.unwrap();
    let (stored, mark) = db
        .apply_schedule(
            &plan,
            &[update(SequenceStatus::Planned, SequenceStatus::Planned)],
            (night, now()),
            based_on,
        )
        .await
        .unwrap();
    assert_eq!(mark, None, "a request came in meanwhile");
    assert_eq!(db.latest_schedule().await.unwrap().unwrap().id, stored);
}

pub async fn a_schedule_naming_an_unknown_sequence_stores_nothing(db: &Db) {
    setup(db).await;
    let s = NewSchedule {
        night_start: JulianDate::new(2_461_367.1).unwrap(),
        night_end: JulianDate::new(2_461_367.5).unwrap(),
        plan_start: JulianDate::new(2_461_367.1).unwrap(),
        entries: vec![entry(SequenceId(77), Some(2_461_367.2), EntryStatus::Planned, "")],
    };
    let e = db.store_schedule(&s, now()).await.unwrap_err();
    assert_eq!(e.to_string(), "sequence 77 does not exist");
    assert!(db.latest_schedule().await.unwrap().is_none());
}

pub async fn logs_come_back_newest_first(db: &Db) {
    for (i, level) in [LogLevel::Info, LogLevel::Warn, LogLevel::Error].into_iter().enumerate() {
        db.log(&LogEntry {
            at: now() + chrono::Duration::seconds(i as i64),
            source: "majordome".into(),
            level,
            message: format!("message {i}"),
        })
        .await
        .unwrap();
    }
    let logs = db.recent_logs(2).await.unwrap();
    assert_eq!(logs.len(), 2);
    assert_eq!(logs[0].message, "message 2");
    assert_eq!(logs[0].level, LogLevel::Error);
    assert_eq!(logs[1].at, now() + chrono::Duration::seconds(1));
}

pub async fn agents_are_recorded_and_beat(db: &Db) {
    let mut a = ferros_db::AgentRecord {
        name: "env".into(),
        state: "running".into(),
        started_at: now(),
        heartbeat_at: now(),
        restarts: 0,
        last_error: String::new(),
    };
    db.upsert_agent(&a).await.unwrap();
    db.agent_heartbeat("env", now() + chrono::TimeDelta::seconds(2)).await.unwrap();
    a.state = "restarting".into();
    a.restarts = 1;
    a.last_error = "no heartbeat for 30 s".into();
    a.heartbeat_at = now() + chrono::TimeDelta::seconds(40);
    db.upsert_agent(&a).await.unwrap();
    let all = db.list_agents().await.unwrap();
    assert_eq!(all, vec![a]);
}

fn watch(kind: &str, status: ferros_domain::GlobalStatus, reasons: &[&str], s: i64) -> ferros_db::WatchWrite {
    ferros_db::WatchWrite {
        kind: kind.into(),
        global_status: status,
        reasons: reasons.iter().map(|r| (*r).to_owned()).collect(),
        updated: now() + chrono::TimeDelta::seconds(s),
        body: format!("{{\"at\": {s}}}"),
    }
}

pub async fn watches_keep_the_latest_and_their_changes(db: &Db) {
    use ferros_domain::GlobalStatus::{Safe, Unsafe};
    let store = async |w: ferros_db::WatchWrite| {
        db.store_env(&ferros_db::EnvWrite { watches: vec![w], samples: vec![] }).await.unwrap()
    };
    assert_eq!(store(watch("weather", Unsafe, &["rain: it rains"], 0)).await, ["weather"]);
    assert!(store(watch("weather", Unsafe, &["rain: it rains"], 2)).await.is_empty(), "no change");
    assert_eq!(store(watch("weather", Unsafe, &["rain: it rains", "wind: too windy"], 4)).await, ["weather"]);
    assert_eq!(store(watch("weather", Safe, &[], 6)).await, ["weather"]);
    let latest = db.latest_watch("weather").await.unwrap().unwrap();
    assert_eq!((latest.global_status, latest.body.as_str()), (Safe, "{\"at\": 6}"));
    assert!(db.latest_watch("site").await.unwrap().is_none());
    let changes = db.watch_history("weather", now(), 10).await.unwrap();
    assert_eq!(changes.len(), 3);
    assert_eq!(changes[1].reasons, ["rain: it rains", "wind: too windy"]);
    assert_eq!(changes[2].global_status, Safe);
}

pub async fn series_fold_into_buckets_and_are_pruned(db: &Db) {
    // Two quantities every 2 s for 20 minutes, stored as the agent does.
    let t0 = 1_800_000_000_000_i64; // a whole 10 minutes
    for i in 0..600 {
        let t = t0 + i * 2000;
        let samples = vec![("wind".to_owned(), t, (i % 30) as f64), ("rain".to_owned(), t, 1.0)];
        db.store_env(&ferros_db::EnvWrite { watches: vec![], samples }).await.unwrap();
    }
    db.aggregate_series(0, 60_000, t0, t0 + 1_200_000).await.unwrap();
    db.aggregate_series(60_000, 600_000, t0, t0 + 1_200_000).await.unwrap();
    let minutes = db.series("wind", 60_000, t0, t0 + 1_200_000).await.unwrap();
    assert_eq!(minutes.len(), 20);
    assert_eq!((minutes[0].n, minutes[0].min, minutes[0].max), (30, 0.0, 29.0));
    assert!((minutes[0].mean - 14.5).abs() < 1e-9);
    let tens = db.series("wind", 600_000, t0, t0 + 1_200_000).await.unwrap();
    assert_eq!(tens.iter().map(|r| (r.t, r.n)).collect::<Vec<_>>(), [(t0, 300), (t0 + 600_000, 300)]);
    // Folding again changes nothing.
    db.aggregate_series(0, 60_000, t0, t0 + 1_200_000).await.unwrap();
    assert_eq!(db.series("wind", 60_000, t0, t0 + 1_200_000).await.unwrap(), minutes);
    assert_eq!(db.prune_series(0, t0 + 600_000).await.unwrap(), 600);
    assert_eq!(db.series("rain", 0, t0, t0 + 1_200_000).await.unwrap().len(), 300);
    assert_eq!(db.series_quantities().await.unwrap(), ["rain", "wind"]);
    let hourly = db.series_binned("wind", 60_000, t0, t0 + 1_200_000, 3_600_000).await.unwrap();
    assert_eq!(hourly.len(), 1 + usize::from(t0 % 3_600_000 + 1_200_000 > 3_600_000));
    assert_eq!(hourly.iter().map(|r| r.n).sum::<i64>(), 600);
}

pub async fn control_commands_are_answered_once(db: &Db) {
    let a = db.submit_command("alice", "lock", now()).await.unwrap();
    let b = db.submit_command("bob", "go_remote", now()).await.unwrap();
    let pending = db.pending_commands().await.unwrap();
    assert_eq!(pending.iter().map(|c| c.id).collect::<Vec<_>>(), [a, b]);
    db.finish_command(a, true, "", now()).await.unwrap();
    db.finish_command(b, false, "the observatory is locked: unlock it first", now()).await.unwrap();
    db.finish_command(b, true, "", now()).await.unwrap();
    let b = db.control_command(b).await.unwrap().unwrap();
    assert_eq!(
        (b.state.as_str(), b.reason.as_str()),
        ("refused", "the observatory is locked: unlock it first")
    );
    assert!(db.pending_commands().await.unwrap().is_empty());
    assert!(db.majordome_state().await.unwrap().is_none());
    db.store_majordome(now(), "{\"mode\": \"STANDBY\"}").await.unwrap();
    db.store_majordome(now(), "{\"mode\": \"REMOTE\"}").await.unwrap();
    assert_eq!(db.majordome_state().await.unwrap().unwrap().1, "{\"mode\": \"REMOTE\"}");
}

pub async fn executions_charge_quota_and_record_images(db: &Db) {
    setup(db).await;
    let req = read_request(&sample("routine_request_02.xml"), &read_opts()).unwrap().request;
    let id = db.create_request(&req, "alice", true, now()).await.unwrap();
    let r = db.request(id).await.unwrap().unwrap();
    let (a, b) = (r.sequences[0].clone(), r.sequences[1].clone());
    let used_before = db.program_by_name(&r.program).await.unwrap().unwrap().used.get();
    for s in [&a, &b] {
        db.set_sequence_status(s.id, SequenceStatus::Planned, now()).await.unwrap();
    }
    assert_eq!(db.next_planned(2_461_367.0).await.unwrap(), None, "no tsp yet: nothing due");
    assert!(!db.work_due(2_461_367.0, 2_461_367.5).await.unwrap(), "nothing due, nothing running");
    let (t0, t1) = (JulianDate::new(2_461_367.2).unwrap(), JulianDate::new(2_461_367.21).unwrap());
    db.start_sequence(a.id, t0, t1, now()).await.unwrap();
    assert!(db.work_due(2_461_367.0, 2_461_367.0).await.unwrap(), "one running");
    let e = db.start_sequence(a.id, t0, t1, now()).await.unwrap_err();
    assert!(e.to_string().contains("no longer PLANNED"), "{e}");
    assert_eq!(db.executing_sequences().await.unwrap(), [a.id]);
    let plan = a.albums[0].plans[0].id;
    db.record_progress(a.id, plan, 2, 0.5).await.unwrap();
    let image = ferros_domain::Image {
        path: "produced/routine_1_active/sequence_1/x.fits".into(),
        kind: ferros_domain::ImageKind::Light,
        request_id: Some(id),
        sequence_id: Some(a.id),
        album_id: Some(a.albums[0].id),
        plan_id: Some(plan),
        detector: a.albums[0].spec.detector,
        date_obs: now(),
        exposure_s: 30.0,
        filter: "r".into(),
        headers: vec![("EXPTIME".into(), "30".into())],
        calibration: ferros_domain::CalibrationLevel::Raw,
        analysis: None,
    };
    db.insert_image(&image).await.unwrap();
    let e = db.insert_image(&image).await.unwrap_err();
    assert!(e.to_string().contains("recorded already"), "{e}");
    assert_eq!(db.images(Some(a.id), 10).await.unwrap(), std::slice::from_ref(&image));
    assert_eq!(db.request_images(id, 10).await.unwrap(), std::slice::from_ref(&image));
    assert!(db.request_images(ferros_domain::RequestId(id.0 + 1), 10).await.unwrap().is_empty());
    assert_eq!(db.image_by_path(&image.path).await.unwrap().as_ref(), Some(&image));
    assert_eq!(db.image_by_path("produced/../x.fits").await.unwrap(), None);
    assert_eq!(db.images_since(ferros_domain::ImageKind::Light, now()).await.unwrap(), 1);
    assert_eq!(db.images_since(ferros_domain::ImageKind::Flat, now()).await.unwrap(), 0);
    let by_filter = db.images_by_filter_since(ferros_domain::ImageKind::Light, now()).await.unwrap();
    assert_eq!(by_filter, [(image.detector.code().to_owned(), "r".to_owned(), 1)]);
    let later = now() + chrono::TimeDelta::seconds(1);
    assert!(db.images_by_filter_since(ferros_domain::ImageKind::Light, later).await.unwrap().is_empty());
    // Executed: the real time is charged; given back: nothing.
    let end = ferros_db::SequenceEnd::Executed { tep: t1, charge_s: 900.0 };
    assert!(db.finish_sequence(a.id, &end, now()).await.unwrap());
    assert!(!db.finish_sequence(a.id, &end, now()).await.unwrap(), "ends once");
    db.start_sequence(b.id, t0, t1, now()).await.unwrap();
    let back = ferros_db::SequenceEnd::GivenBack { reason: "UNSAFE: rain".into() };
    assert!(db.finish_sequence(b.id, &back, now()).await.unwrap());
    assert_eq!(db.sequence_status(b.id).await.unwrap(), Some(SequenceStatus::Tobeplanned));
    assert_eq!(db.sequence_reason(b.id).await.unwrap().as_deref(), Some("UNSAFE: rain"));
    // Given up (it failed twice the same way): UNPLANNABLE with the reason, for good.
    db.set_sequence_status(b.id, SequenceStatus::Planned, now()).await.unwrap();
    db.start_sequence(b.id, t0, t1, now()).await.unwrap();
    let up = ferros_db::SequenceEnd::GivenUp { reason: "it failed twice the same way: filter".into() };
    assert!(db.finish_sequence(b.id, &up, now()).await.unwrap());
    assert_eq!(db.sequence_status(b.id).await.unwrap(), Some(SequenceStatus::Unplannable));
    db.set_sequence_status(b.id, SequenceStatus::Tobeplanned, now()).await.unwrap_err();
    let used = db.program_by_name(&r.program).await.unwrap().unwrap().used.get();
    assert!((used - used_before - 900.0).abs() < 1e-6, "{used_before} -> {used}");
    let counts = db.sequence_counts().await.unwrap();
    assert!(counts.contains(&("EXECUTED".into(), 1)), "{counts:?}");
    assert_eq!(db.image_counts().await.unwrap(), [("light".into(), 1)]);
    assert_eq!(db.planning_mark().await.unwrap().sequences, 3);
    // A planned sequence whose time is gone goes back to the planner; one that cannot be is given up.
    let c = r.sequences[2].id;
    db.set_sequence_status(c, SequenceStatus::Planned, now()).await.unwrap();
    assert!(db.replan_sequence(c, "its target is not up now", now()).await.unwrap());
    assert_eq!(db.sequence_status(c).await.unwrap(), Some(SequenceStatus::Tobeplanned));
    db.set_sequence_status(c, SequenceStatus::Planned, now()).await.unwrap();
    assert!(db.give_up_sequence(c, "no filter \"B\"", now()).await.unwrap());
    assert_eq!(db.sequence_status(c).await.unwrap(), Some(SequenceStatus::Unplannable));
    assert_eq!(db.sequence_reason(c).await.unwrap().as_deref(), Some("no filter \"B\""));
    assert!(!db.give_up_sequence(c, "again", now()).await.unwrap(), "no longer PLANNED");
    // The request's folder completed: the rows follow.
    assert_eq!(db.move_image_paths("produced/routine_1_active/", "produced/routine_1/").await.unwrap(), 1);
    assert_eq!(db.images(None, 1).await.unwrap()[0].path, "produced/routine_1/sequence_1/x.fits");
    assert_eq!(db.move_image_paths("produced/routine_1_active/", "produced/x/").await.unwrap(), 0);
}

/// Writers at the same time (the agents and the CLI share one database): every
/// transaction lands, none fails on a lock.
pub async fn concurrent_writers_all_land(db: &Db) {
    setup(db).await;
    let req = read_request(&sample("routine_request_02.xml"), &read_opts()).unwrap().request;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..24 {
        let (db, mut req) = (db.clone(), req.clone());
        req.name = format!("concurrent {i}");
        tasks.spawn(async move { db.create_request(&req, "alice", true, now()).await });
    }
    let mut ids = Vec::new();
    while let Some(r) = tasks.join_next().await {
        ids.push(r.unwrap().unwrap());
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 24);
    for id in ids {
        assert_eq!(db.request(id).await.unwrap().unwrap().sequences.len(), req.sequences.len());
    }
}

/// Writers cancelled at any point (an agent killed, a timeout): each write
/// lands whole or not at all, and no transaction is left open on a pooled
/// connection to hold the write lock or swallow later writes.
pub async fn cancelled_writers_leave_no_transaction_open(db: &Db) {
    setup(db).await;
    let req = read_request(&sample("routine_request_02.xml"), &read_opts()).unwrap().request;
    for i in 0..300_u32 {
        let (db2, mut r) = (db.clone(), req.clone());
        r.name = format!("cancelled {i}");
        let task = tokio::spawn(async move { db2.create_request(&r, "alice", true, now()).await });
        // Cancelled after a varying number of turns, each giving the
        // database's own thread time to answer.
        for _ in 0..i % 12 {
            tokio::task::yield_now().await;
            std::thread::sleep(std::time::Duration::from_micros(60));
        }
        task.abort();
        let _ = task.await;
    }
    // Every connection of the pool is taken in turn: each write lands (one
    // left inside a transaction would hold the write lock, and the others
    // would fail with "database is locked" once the busy timeout is over).
    let mut after = Vec::new();
    for i in 0..20 {
        let mut r = req.clone();
        r.name = format!("after {i}");
        after.push(db.create_request(&r, "alice", true, now()).await.unwrap());
    }
    // What landed is whole; what was written after is there for all to see.
    let all = db.list_requests().await.unwrap();
    for s in &all {
        let r = db.request(s.id).await.unwrap().unwrap();
        assert_eq!(r.sequences.len(), req.sequences.len(), "{}", r.name);
    }
    for id in after {
        assert!(all.iter().any(|s| s.id == id));
    }
}

fn alert_row(ivorn: Option<&str>, outcome: &str) -> ferros_db::NewAlert {
    ferros_db::NewAlert {
        ivorn: ivorn.map(str::to_owned),
        source: "test".into(),
        role: Some("observation".into()),
        mission: "SVOM".into(),
        instrument: Some("ECLAIRs".into()),
        burst: Some("ivo://org.svom/fsc#sb1".into()),
        same_as: None,
        trigger_at: Some(now()),
        issued_at: Some(now()),
        position: Some((10.0, 20.0)),
        error_deg: Some(0.1),
        strategy: Some("svom-eclairs".into()),
        outcome: outcome.into(),
        reason: "because".into(),
        xml: "<VOEvent/>".into(),
        received_at: now(),
        parsed_at: Some(now()),
    }
}

pub async fn alerts_store_their_effect_and_position_at_once(db: &Db) {
    use ferros_db::{AlertEffect, AlertStep, AlertStored, IntakePosition};
    setup(db).await;
    let tree = read_request(&sample("alert_request_01.xml"), &read_opts()).unwrap().request;
    let pos = |n| IntakePosition { source: "kafka".into(), topic: "t".into(), partition: 0, next_offset: n };
    // Created: the request, the alert and the position, together.
    let first = db
        .store_alert(
            &alert_row(Some("ivo://a#1"), "created"),
            &AlertEffect::Create { tree: &tree, owner: "alice" },
            Some(&pos(5)),
            now(),
        )
        .await
        .unwrap();
    let AlertStored::New { id, request: Some(request) } = first else { panic!("{first:?}") };
    assert_eq!(db.intake_positions("kafka").await.unwrap(), vec![pos(5)]);
    let r = db.request(request).await.unwrap().unwrap();
    assert!(r.sequences.iter().all(|s| s.status == SequenceStatus::Tobeplanned));
    // A copy: counted, the position moves on, nothing else.
    let again = db
        .store_alert(
            &alert_row(Some("ivo://a#1"), "created"),
            &AlertEffect::Create { tree: &tree, owner: "alice" },
            Some(&pos(6)),
            now(),
        )
        .await
        .unwrap();
    assert_eq!(again, AlertStored::Duplicate { id });
    assert_eq!(db.list_requests().await.unwrap().len(), 1);
    assert_eq!(db.intake_positions("kafka").await.unwrap(), vec![pos(6)]);
    // A failing effect stores nothing, not even the position.
    let e = db
        .store_alert(
            &alert_row(Some("ivo://a#2"), "created"),
            &AlertEffect::Create { tree: &tree, owner: "nobody" },
            Some(&pos(7)),
            now(),
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("nobody"), "{e}");
    assert_eq!(db.intake_positions("kafka").await.unwrap(), vec![pos(6)]);
    assert!(db.alert_id_by_ivorn("ivo://a#2").await.unwrap().is_none());
    // An update rebuilds the request in place.
    let upd = db
        .store_alert(
            &alert_row(Some("ivo://a#3"), "updated"),
            &AlertEffect::Update { request, tree: &tree },
            None,
            now(),
        )
        .await
        .unwrap();
    assert!(matches!(upd, AlertStored::New { request: Some(r), .. } if r == request));
    let r = db.request(request).await.unwrap().unwrap();
    let statuses: Vec<_> = r.sequences.iter().map(|s| s.status).collect();
    assert_eq!(statuses, [SequenceStatus::Cancelled, SequenceStatus::Tobeplanned]);
    let related = db.alerts_related(Some("ivo://org.svom/fsc#sb1"), &[], now(), now()).await.unwrap();
    assert_eq!(related.len(), 2);
    assert!(related.iter().all(|a| a.open && a.request == Some(request)));
    // A retraction cancels what is left.
    let requests = [request];
    db.store_alert(
        &alert_row(Some("ivo://a#4"), "retracted"),
        &AlertEffect::Cancel { requests: &requests },
        None,
        now(),
    )
    .await
    .unwrap();
    let r = db.request(request).await.unwrap().unwrap();
    assert!(r.sequences.iter().all(|s| s.status == SequenceStatus::Cancelled));
    assert!(
        db.alerts_related(Some("ivo://org.svom/fsc#sb1"), &[], now(), now())
            .await
            .unwrap()
            .iter()
            .all(|a| !a.open)
    );
    // A refused document has no ivorn; several may be stored.
    for _ in 0..2 {
        db.store_alert(&alert_row(None, "refused"), &AlertEffect::Nothing, None, now()).await.unwrap();
    }
    // Steps are noted once (stored: always).
    let later = now() + chrono::TimeDelta::seconds(1);
    let seq = r.sequences[1].id;
    db.stamp_alert_sequence(seq, AlertStep::SlewCommanded, later).await.unwrap();
    db.stamp_alert_sequence(seq, AlertStep::SlewCommanded, later + chrono::TimeDelta::seconds(5))
        .await
        .unwrap();
    let a = db.alert(id).await.unwrap().unwrap();
    assert_eq!(a.slew_at, Some(later));
    assert_eq!(a.duplicates, 1);
    let page = db.list_alerts(None, 3).await.unwrap();
    assert_eq!(page.iter().map(|a| a.id).collect::<Vec<_>>().len(), 3);
    assert_eq!(page[0].outcome, "refused");
    let older = db.list_alerts(Some(page[2].id), 50).await.unwrap();
    assert_eq!(older.len(), 2);
}

/// A session opens for an active user, is found by its token's digest until
/// it expires, ends at logout, and ends when its user is deactivated or
/// changes password (but the session that changed it).
pub async fn sessions_open_expire_and_end_with_their_user(db: &Db) {
    use ferros_db::{NewSession, SessionKind};
    setup(db).await;
    db.create_user(&new_user("olga", &[Profile::Operator], &[]), now()).await.unwrap();
    let t0 = now();
    let open = |hash: &'static str, who: &'static str, kind| NewSession {
        username: who,
        token_hash: hash,
        kind,
        csrf: "csrf-token",
        now: t0,
        expires_at: t0 + chrono::TimeDelta::hours(12),
    };
    let id = db.create_session(&open("h1", "olga", SessionKind::Cookie)).await.unwrap();
    let s = db.session("h1", t0 + chrono::TimeDelta::hours(1)).await.unwrap().unwrap();
    assert_eq!((s.id, s.kind, s.csrf.as_str()), (id, SessionKind::Cookie, "csrf-token"));
    assert_eq!(s.user.username, "olga");
    assert!(s.user.profiles.contains(&Profile::Operator));
    assert!(db.session("h1", t0 + chrono::TimeDelta::hours(12)).await.unwrap().is_none(), "expired");
    assert!(db.session("other", t0).await.unwrap().is_none());
    let e = db.create_session(&open("h2", "nobody", SessionKind::Bearer)).await.unwrap_err();
    assert_eq!(e.to_string(), "active user nobody does not exist");
    // A password change ends the other sessions.
    db.create_session(&open("h3", "olga", SessionKind::Bearer)).await.unwrap();
    db.set_password("olga", "$argon2id$new", Some(id)).await.unwrap();
    assert!(db.session("h1", t0).await.unwrap().is_some());
    assert!(db.session("h3", t0).await.unwrap().is_none());
    assert!(db.delete_session("h1").await.unwrap());
    assert!(!db.delete_session("h1").await.unwrap());
    // Deactivation ends them all, and no session opens for an inactive user.
    db.create_session(&open("h4", "olga", SessionKind::Cookie)).await.unwrap();
    let olga = db.set_user_active("olga", false).await.unwrap();
    assert!(!olga.active);
    assert!(db.session("h4", t0).await.unwrap().is_none());
    assert!(db.create_session(&open("h5", "olga", SessionKind::Cookie)).await.is_err());
    db.set_user_active("olga", true).await.unwrap();
    let u = db.set_user_profiles("olga", &BTreeSet::from([Profile::Observer, Profile::Tac])).await.unwrap();
    assert_eq!(u.profiles, BTreeSet::from([Profile::Observer, Profile::Tac]));
    assert!(db.set_user_profiles("olga", &BTreeSet::new()).await.is_err());
    assert!(db.set_user_active("nobody", true).await.is_err());
    db.create_session(&open("h6", "olga", SessionKind::Cookie)).await.unwrap();
    assert_eq!(db.prune_sessions(t0 + chrono::TimeDelta::hours(13)).await.unwrap(), 1);
}

/// The pipeline's queue and products: new images wait, outcomes are kept
/// with their reason, a master records its frames, a calibrated image links
/// its raw image and masters and carries its analysis.
pub async fn the_pipeline_queue_and_its_products(db: &Db) {
    use ferros_domain::{CalibrationLevel, Detector, Image, ImageKind, Master, PipelineState};
    let image = |path: &str, kind: ImageKind| Image {
        path: path.into(),
        kind,
        request_id: None,
        sequence_id: None,
        album_id: None,
        plan_id: None,
        detector: Detector::Vis,
        date_obs: now(),
        exposure_s: 60.0,
        filter: "r".into(),
        headers: vec![("CCD-TEMP".into(), "-60.0".into())],
        calibration: CalibrationLevel::Raw,
        analysis: None,
    };
    let b1 = db.insert_image(&image("cal/b1.fits", ImageKind::Bias)).await.unwrap();
    let b2 = db.insert_image(&image("cal/b2.fits", ImageKind::Bias)).await.unwrap();
    let raw = db.insert_image(&image("req/raw.fits", ImageKind::Light)).await.unwrap();
    let bad = db.insert_image(&image("req/bad.fits", ImageKind::Light)).await.unwrap();
    let pending: Vec<i64> = db.pipeline_pending(10).await.unwrap().into_iter().map(|(id, _)| id).collect();
    assert_eq!(pending, [b1, b2, raw, bad], "oldest first");
    for id in [b1, b2] {
        db.pipeline_outcome(id, PipelineState::Done, None).await.unwrap();
    }
    db.pipeline_outcome(bad, PipelineState::Failed, Some("not a readable FITS image: no END card"))
        .await
        .unwrap();
    assert_eq!(db.calibration_frames().await.unwrap().len(), 2);
    let master = Master {
        id: 0,
        kind: ImageKind::Bias,
        detector: Detector::Vis,
        filter: String::new(),
        exposure_s: 0.0,
        temperature: Some(-60.0),
        binning: 1,
        width: 1024,
        height: 1024,
        frames: 2,
        path: "masters/bias_VIS.fits".into(),
        created_at: now(),
    };
    let m = db.insert_master(&master, &[b1, b2]).await.unwrap();
    assert!(db.calibration_frames().await.unwrap().is_empty(), "the frames are in their master");
    let stored = db.masters(ImageKind::Bias, Detector::Vis).await.unwrap();
    assert_eq!((stored.len(), stored[0].id, stored[0].frames, stored[0].temperature), (1, m, 2, Some(-60.0)));
    assert!(db.insert_master(&master, &[]).await.unwrap_err().to_string().contains("recorded already"));
    let l1 = Image {
        path: "req/raw_L1.fits".into(),
        calibration: CalibrationLevel::Calibrated,
        ..image("x", ImageKind::Light)
    };
    let id = db.record_calibrated(raw, &l1, [Some(m), None, None]).await.unwrap();
    db.record_analysis(id, "analysed", r#"{"sources":[]}"#).await.unwrap();
    let back = db.image_by_path("req/raw_L1.fits").await.unwrap().unwrap();
    assert_eq!(
        (back.calibration, back.analysis.as_deref()),
        (CalibrationLevel::Analysed, Some(r#"{"sources":[]}"#))
    );
    let counts: std::collections::BTreeMap<String, i64> =
        db.pipeline_counts().await.unwrap().into_iter().collect();
    assert_eq!(
        (counts.get("done"), counts.get("failed"), counts.get("pending")),
        (Some(&3), Some(&1), None),
        "{counts:?}"
    );
    assert_eq!(
        db.pipeline_failures(5).await.unwrap(),
        [("req/bad.fits".into(), "not a readable FITS image: no END card".into())]
    );
    assert_eq!(db.image_total().await.unwrap(), 5);
    assert_eq!(
        db.image_counts().await.unwrap(),
        [("bias".into(), 2), ("light".into(), 2)],
        "raw images only"
    );
    assert!(db.alert_circle(1).await.unwrap().is_none());
}

fn program(name: &str, quota: ferros_domain::Quota) -> NewProgram {
    NewProgram {
        name: name.to_owned(),
        description: String::new(),
        period: "2026B".parse().unwrap(),
        priority: Priority::new(20).unwrap(),
        quota,
    }
}

pub async fn quotas_share_the_period_and_bound_submissions(db: &Db) {
    use ferros_domain::{ProgramChanges, Quota};
    let h = |v: f64| Seconds::from_hours("t", v).unwrap();
    let quota = |q: Quota| ProgramChanges { quota: Some(q), ..Default::default() };
    // Shares of the period's 2,000 hours, never above 100 % in total.
    let new = program("GRB", Quota::percent(60.0).unwrap());
    let grb = db.create_program(&new, Some(period_night()), now()).await.unwrap();
    assert_eq!((grb.quota, grb.quota_percent()), (h(1200.0), Some(60.0)));
    let e = db
        .create_program(&program("AGN", Quota::percent(50.0).unwrap()), Some(period_night()), now())
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("would total 110.0 %") && e.contains("800.00 h (40.0 %) is left"), "{e}");
    assert!(db.program_by_name("AGN").await.unwrap().is_none(), "nothing made");
    // No quota: the period's unallocated time, said in the quota.
    let agn = db.create_program(&program("AGN", Quota::Unallocated), None, now()).await.unwrap();
    assert_eq!((agn.quota, agn.period_night), (h(800.0), period_night()));
    let e = db.create_program(&program("SNe", Quota::Unallocated), None, now()).await.unwrap_err();
    assert!(e.to_string().contains("no time is left in 2026B"), "{e}");
    let e = db.create_program(&program("SNe", Quota::Time(h(0.5))), None, now()).await.unwrap_err();
    assert!(e.to_string().contains("would total 100.0 %"), "{e}");
    // Edits keep the total too; lowering one makes room for another.
    let e = db.update_program("GRB", &quota(Quota::percent(61.0).unwrap()), None, now()).await.unwrap_err();
    assert!(e.to_string().contains("would total 101.0 %"), "{e}");
    let changes = ProgramChanges {
        quota: Some(Quota::Time(h(0.25))),
        priority: Some(Priority::new(10).unwrap()),
        description: Some("bursts".into()),
        pi: None,
    };
    let grb = db.update_program("GRB", &changes, None, now()).await.unwrap();
    assert_eq!((grb.quota, grb.priority.get(), grb.description.as_str()), (h(0.25), 10, "bursts"));
    assert!(db.update_program("nope", &changes, None, now()).await.is_err());

    // Submissions: all the program's submitted time within its quota.
    db.create_user(&new_user("alice", &[Profile::Observer], &["GRB"]), now()).await.unwrap();
    db.create_user(&new_user("bob", &[Profile::Observer], &["GRB"]), now()).await.unwrap();
    let mut req = read_request(&sample("routine_request_02.xml"), &read_opts()).unwrap().request;
    req.program = "GRB".into();
    let asked: f64 = req.sequences.iter().map(|s| s.spec.block().get()).sum();
    let e = db.create_request(&req, "alice", true, now()).await.unwrap_err().to_string();
    assert!(e.contains("of program \"GRB\", which has 0.25 h of its 0.25 h quota free"), "{e}");
    assert!(db.list_requests().await.unwrap().is_empty(), "nothing stored");
    let room = Quota::Time(Seconds::new("q", asked * 1.5).unwrap());
    db.update_program("GRB", &quota(room), None, now()).await.unwrap();
    let first = db.create_request(&req, "alice", true, now()).await.unwrap();
    // The second one does not fit beside the first: refused at creation
    // with submission, and at a later submission.
    let e = db.create_request(&req, "bob", true, now()).await.unwrap_err().to_string();
    assert!(e.contains("asked by sequences already submitted"), "{e}");
    let second = db.create_request(&req, "bob", false, now()).await.unwrap();
    let e = db.submit_request(second, now()).await.unwrap_err().to_string();
    assert!(e.contains(&format!("request {second} asks")) && e.contains("nothing submitted"), "{e}");
    let r = db.request(second).await.unwrap().unwrap();
    assert!(r.sequences.iter().all(|s| s.status == SequenceStatus::Complete), "unchanged");
    // Cancelled time is given back.
    db.cancel_request(first, now()).await.unwrap();
    db.submit_request(second, now()).await.unwrap();
    // Executed time is charged, to the program and to its member.
    let seq = db.request(second).await.unwrap().unwrap().sequences[0].clone();
    db.set_sequence_status(seq.id, SequenceStatus::Planned, now()).await.unwrap();
    let (t0, t1) = (JulianDate::new(2_461_367.2).unwrap(), JulianDate::new(2_461_367.21).unwrap());
    db.start_sequence(seq.id, t0, t1, now()).await.unwrap();
    let end = ferros_db::SequenceEnd::Executed { tep: t1, charge_s: 600.0 };
    assert!(db.finish_sequence(seq.id, &end, now()).await.unwrap());
    let usage = db.program_usage("GRB").await.unwrap().unwrap();
    assert_eq!(usage.total.used, Seconds::new("u", 600.0).unwrap());
    let left = asked - seq.spec.block().get();
    assert!((usage.total.asked.get() - left).abs() < 1e-6, "{:?}", usage.total);
    let names: Vec<&str> = usage.members.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["alice", "bob"]);
    assert_eq!(usage.members[0].1, ferros_domain::TimeUse::default(), "alice's request was cancelled");
    assert_eq!(usage.members[1].1.used, Seconds::new("u", 600.0).unwrap());
    assert!(db.program_usage("nope").await.unwrap().is_none());
}

/// A backup made while the database is in use, restored into `fresh` (an
/// empty database of the same backend): every request, image row and
/// history point comes back, and the ids go on from the restored ones.
pub async fn a_backup_restores_everything(db: &Db, fresh: &Db) {
    setup(db).await;
    let req = read_request(&sample("routine_request_02.xml"), &read_opts()).unwrap().request;
    let id = db.create_request(&req, "alice", true, now()).await.unwrap();
    let r = db.request(id).await.unwrap().unwrap();
    let image = ferros_domain::Image {
        path: "produced/routine_1/sequence_1/x.fits".into(),
        kind: ferros_domain::ImageKind::Light,
        request_id: Some(id),
        sequence_id: Some(r.sequences[0].id),
        album_id: None,
        plan_id: None,
        detector: ferros_domain::Detector::Vis,
        date_obs: now(),
        exposure_s: 30.0,
        filter: "r".into(),
        headers: vec![("OBJECT".into(), "it's \"quoted\"\ttab\\slash".into())],
        calibration: ferros_domain::CalibrationLevel::Raw,
        analysis: None,
    };
    db.insert_image(&image).await.unwrap();
    let points: Vec<ferros_db::SeriesRow> = (0..500)
        .map(|i| ferros_db::SeriesRow {
            quantity: "rain".into(),
            t: 1_790_000_000_000 + i * 60_000,
            mean: f64::from(i as i32) * 0.5,
            min: 0.0,
            max: 1.0,
            n: 1,
        })
        .collect();
    db.insert_series(60, &points).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("backup");
    // A busy writer meanwhile: the copy is one consistent snapshot.
    let writer = {
        let db = db.clone();
        let mut r = req.clone();
        tokio::spawn(async move {
            for i in 0..20 {
                r.name = format!("meanwhile {i}");
                db.create_request(&r, "alice", false, now()).await.unwrap();
            }
        })
    };
    let m = db.backup(&target, now()).await.unwrap();
    writer.await.unwrap();
    assert!(m.tables["requests"] >= 1 && m.tables["requests"] <= 21, "{:?}", m.tables);
    assert_eq!(m.tables["images"], 1);
    assert!(!dir.path().join("backup.partial").exists());
    let mut held: Vec<String> = std::fs::read_dir(&target)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    held.sort();
    assert!(held == ["ferros.db", "manifest.json"] || held == ["manifest.json", "postgres"], "{held:?}");
    // Refused: a folder not empty.
    let e = db.backup(&target, now()).await.unwrap_err().to_string();
    assert!(e.contains("is not empty"), "{e}");

    let back = fresh.restore(&target).await.unwrap();
    assert_eq!(back, m);
    assert_eq!(fresh.row_counts().await.unwrap(), m.tables);
    let kept = m.tables["requests"];
    let restored: Vec<_> = fresh.list_requests().await.unwrap();
    let original: Vec<_> = db
        .list_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| restored.iter().any(|x| x.id == r.id))
        .collect();
    assert_eq!(restored.len() as i64, kept);
    assert_eq!(restored, original);
    assert_eq!(fresh.request(id).await.unwrap(), db.request(id).await.unwrap());
    assert_eq!(fresh.image_by_path(&image.path).await.unwrap(), Some(image));
    assert_eq!(fresh.series("rain", 60, 0, i64::MAX).await.unwrap().len(), 500);
    assert_eq!(fresh.list_users().await.unwrap(), db.list_users().await.unwrap());
    assert_eq!(fresh.list_programs().await.unwrap(), db.list_programs().await.unwrap());
    // New rows take new ids.
    let next = fresh.create_request(&req, "alice", false, now()).await.unwrap();
    assert!(next.0 > restored.iter().map(|r| r.id.0).max().unwrap(), "{next}");
    // Refused: a database holding data, a damaged manifest.
    let e = fresh.restore(&target).await.unwrap_err().to_string();
    assert!(e.contains("already holds data"), "{e}");
    std::fs::write(target.join("manifest.json"), "{\"format\": 1}").unwrap();
    let e = ferros_db::Db::read_manifest(&target).unwrap_err().to_string();
    assert!(e.contains("not a Ferros backup manifest"), "{e}");
}

pub async fn accounts_register_activate_and_reset(db: &Db) {
    use ferros_db::{Registration, TokenPurpose};
    setup(db).await;
    let later = |h: i64| now() + chrono::TimeDelta::hours(h);
    let r = Registration {
        username: "newbie",
        email: "New@Example.org",
        password_hash: "$argon2id$fake",
        intentions: "afterglows",
        token_hash: "t-activate",
        now: now(),
        expires_at: later(72),
    };
    let u = db.register_user(&r).await.unwrap();
    assert!(u.pending && !u.active && u.profiles.contains(&Profile::Observer));
    assert_eq!(u.intentions, "afterglows");
    let e = db
        .register_user(&Registration { username: "other", email: "new@example.ORG", token_hash: "t2", ..r })
        .await;
    assert!(e.unwrap_err().to_string().contains("belongs to another account"));
    let e = db.register_user(&Registration { email: "x@y.org", token_hash: "t3", ..r }).await;
    assert!(e.unwrap_err().to_string().contains("is taken already"));
    let e = db.create_user(&new_user("dup", &[Profile::Observer], &[]), now()).await;
    assert!(e.is_ok(), "dup@example.org is free");
    let e = db
        .create_user(
            &NewUser { email: "DUP@example.org".into(), ..new_user("dup2", &[Profile::Observer], &[]) },
            now(),
        )
        .await;
    assert!(e.unwrap_err().to_string().contains("belongs to another account"));
    // The activation link: wrong purpose, expired, then once.
    assert!(matches!(
        db.token_user("t-activate", TokenPurpose::Reset, now()).await,
        Err(DbError::NotFound { .. })
    ));
    let e = db.activate_user("t-activate", later(73)).await.unwrap_err().to_string();
    assert!(e.contains("this activation link expired at"), "{e}");
    assert_eq!(db.token_user("t-activate", TokenPurpose::Activate, now()).await.unwrap().username, "newbie");
    let u = db.activate_user("t-activate", later(1)).await.unwrap();
    assert!(u.active && !u.pending);
    let e = db.activate_user("t-activate", later(2)).await.unwrap_err().to_string();
    assert!(e.contains("was used already"), "{e}");
    // A reset link: for an active account's address only; once.
    assert!(db.create_reset("nobody@example.org", "r0", now(), later(1)).await.unwrap().is_none());
    for i in 0..7 {
        db.create_reset("new@example.org", &format!("r{i}"), now() + chrono::TimeDelta::seconds(i), later(1))
            .await
            .unwrap();
    }
    let e = db.reset_password("r0", "$argon2id$new", now()).await.unwrap_err();
    assert!(matches!(e, DbError::NotFound { .. }), "the oldest links went: {e}");
    let u = db.reset_password("r6", "$argon2id$new", now()).await.unwrap();
    assert_eq!(db.password_hash(&u.username).await.unwrap().as_deref(), Some("$argon2id$new"));
    assert!(
        db.reset_password("r6", "$argon2id$again", now())
            .await
            .unwrap_err()
            .to_string()
            .contains("used already")
    );
    assert!(
        db.reset_password("r5", "$argon2id$late", later(2))
            .await
            .unwrap_err()
            .to_string()
            .contains("expired")
    );
    // Members.
    let (added, removed) = db.set_members("GRB", &["newbie".into(), "alice".into()], &[]).await.unwrap();
    assert_eq!(added.iter().map(|u| u.username.as_str()).collect::<Vec<_>>(), ["newbie"], "alice was in");
    assert!(removed.is_empty());
    let (_, removed) = db.set_members("GRB", &[], &["newbie".into()]).await.unwrap();
    assert_eq!(removed.len(), 1);
    assert!(matches!(db.set_members("GRB", &["ghost".into()], &[]).await, Err(DbError::NotFound { .. })));
    assert!(matches!(db.set_members("NOPE", &[], &[]).await, Err(DbError::NotFound { .. })));
}

pub async fn proposals_are_voted_and_become_programs(db: &Db) {
    use ferros_domain::{Grade, NewProposal, Quota};
    setup(db).await;
    db.create_user(&new_user("tina", &[Profile::Tac], &[]), now()).await.unwrap();
    let p = NewProposal {
        name: "GRB-2027A".into(),
        description: "SVOM afterglows".into(),
        period: "2027A".parse().unwrap(),
        hours_asked: Seconds::from_hours("h", 100.0).unwrap(),
        continues: Some("GRB".into()),
    };
    let made = db.create_proposal(&p, "alice", now()).await.unwrap();
    assert_eq!((made.proposer.as_str(), made.program.as_deref()), ("alice", None));
    let e = db.create_proposal(&p, "alice", now()).await.unwrap_err().to_string();
    assert!(e.contains("is named \"GRB-2027A\" already"), "{e}");
    let bad = NewProposal { continues: Some("NOPE".into()), name: "X".into(), ..p.clone() };
    assert!(matches!(db.create_proposal(&bad, "alice", now()).await, Err(DbError::NotFound { .. })));
    db.vote(made.id, "tina", Grade::C, "weak", now()).await.unwrap();
    let v = db.vote(made.id, "tina", Grade::A, "strong", now()).await.unwrap();
    assert_eq!(v.votes.len(), 1);
    assert_eq!((v.votes[0].grade, v.votes[0].comment.as_str()), (Grade::A, "strong"));
    let p2 = NewProposal { hours_asked: Seconds::from_hours("h", 80.0).unwrap(), ..p.clone() };
    assert_eq!(db.update_proposal(made.id, &p2, now()).await.unwrap().proposal.hours_asked.hours(), 80.0);
    let program = db
        .accept_proposal(
            made.id,
            Grade::A.priority(),
            Quota::percent(10.0).unwrap(),
            Some(period_night()),
            now(),
        )
        .await
        .unwrap();
    assert_eq!((program.name.as_str(), program.period.to_string().as_str()), ("GRB-2027A", "2027A"));
    assert_eq!(program.quota, Seconds::from_hours("q", 200.0).unwrap());
    let alice = db.user_by_name("alice").await.unwrap().unwrap();
    assert_eq!(program.pi, Some(alice.id));
    assert!(alice.programs.contains(&program.id));
    assert_eq!(db.proposal(made.id).await.unwrap().unwrap().program.as_deref(), Some("GRB-2027A"));
    assert!(
        db.vote(made.id, "tina", Grade::B, "", now())
            .await
            .unwrap_err()
            .to_string()
            .contains("no longer changes")
    );
    assert!(db.delete_proposal(made.id).await.is_err());
    assert!(db.accept_proposal(made.id, Grade::A.priority(), Quota::Unallocated, None, now()).await.is_err());
    let other = NewProposal { name: "AGN-2027A".into(), continues: None, ..p };
    let o = db.create_proposal(&other, "alice", now()).await.unwrap();
    assert_eq!(db.list_proposals(10).await.unwrap().len(), 2);
    db.delete_proposal(o.id).await.unwrap();
    assert!(db.proposal(o.id).await.unwrap().is_none());
}
