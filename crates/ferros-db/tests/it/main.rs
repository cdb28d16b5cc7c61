//! The repository suite. Every case runs on SQLite (a fresh file each time) and
//! on PostgreSQL (a fresh schema each time) when `FERROS_TEST_POSTGRES_URL` is
//! set, as `.ci/run` does.

#![allow(clippy::unwrap_used, reason = "a test fails by panicking")]

mod cases;
mod harness;

/// Declares each case once per backend.
macro_rules! on_both_backends {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $case() {
                    let h = crate::harness::sqlite().await;
                    crate::cases::$case(&h.db).await;
                }
            )*
        }
        mod sqlite_virtual {
            $(
                #[tokio::test]
                async fn $case() {
                    let h = crate::harness::sqlite_virtual().await;
                    crate::cases::$case(&h.db).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $case() {
                    let Some(h) = crate::harness::postgres().await else { return };
                    crate::cases::$case(&h.db).await;
                    h.drop_schema().await;
                }
            )*
        }
    };
}

on_both_backends!(
    programs_are_created_listed_and_unique,
    users_carry_profiles_and_programs,
    a_failed_user_creation_leaves_nothing,
    every_sample_request_is_stored_and_read_back,
    unknown_program_or_user_stores_nothing,
    submitting_an_incomplete_request_stores_nothing,
    submit_and_cancel_follow_the_life_cycle,
    unsubmit_and_edit_keep_what_ran,
    sequence_status_changes_are_checked,
    schedules_are_stored_with_history,
    a_schedule_naming_an_unknown_sequence_stores_nothing,
    a_plan_overtaken_by_a_submission_is_stale,
    logs_come_back_newest_first,
    agents_are_recorded_and_beat,
    watches_keep_the_latest_and_their_changes,
    series_fold_into_buckets_and_are_pruned,
    control_commands_are_answered_once,
    executions_charge_quota_and_record_images,
    concurrent_writers_all_land,
    cancelled_writers_leave_no_transaction_open,
    alerts_store_their_effect_and_position_at_once,
    sessions_open_expire_and_end_with_their_user,
    the_pipeline_queue_and_its_products,
    quotas_share_the_period_and_bound_submissions,
    accounts_register_activate_and_reset,
    proposals_are_voted_and_become_programs,
);

#[tokio::test]
async fn sqlite_migrations_apply_once_and_data_persists() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("nested/dir/ferros.db").display());
    let db = ferros_db::Db::connect(&url).await.unwrap();
    cases::add_program(&db, "GRB").await;
    db.close().await;
    let again = ferros_db::Db::connect(&url).await.unwrap();
    assert_eq!(again.list_programs().await.unwrap().len(), 1);
}

#[tokio::test]
async fn bad_urls_and_unreachable_servers_fail_clearly() {
    let e = ferros_db::Db::connect("mysql://localhost/x").await.unwrap_err().to_string();
    assert!(e.contains("unsupported database URL"), "{e}");
    let e =
        ferros_db::Db::connect("postgres://nobody:secret@127.0.0.1:1/none").await.unwrap_err().to_string();
    assert!(e.starts_with("cannot open database postgres://nobody:***@127.0.0.1:1/none"), "{e}");
    assert!(!e.contains("secret"), "{e}");
    let e = ferros_db::Db::connect("sqlite:///proc/no/such/dir/x.db").await.unwrap_err().to_string();
    assert!(e.contains("cannot open database sqlite:///proc/no/such/dir/x.db"), "{e}");
}

/// The blocking mode of virtual clocks: each call is over when it returns,
/// inside one poll of the calling task, however many calls the task makes
/// (a task's cooperative budget, once spent, must not strand it), and the
/// paused clock does not move meanwhile.
#[test]
fn virtual_mode_calls_run_to_their_end_in_one_poll() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/v.db", dir.path().display());
    let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
    rt.block_on(async {
        tokio::time::pause();
        let db = ferros_db::Db::connect_virtual(&url).await.unwrap();
        let start = tokio::time::Instant::now();
        let now = chrono::Utc::now();
        let entry = ferros_domain::LogEntry {
            at: now,
            source: "test".into(),
            level: ferros_domain::LogLevel::Info,
            message: "hello".into(),
        };
        // No await point returns Pending here: hundreds of calls in one poll.
        for _ in 0..300 {
            db.log(&entry).await.unwrap();
            assert!(db.latest_watch("env").await.unwrap().is_none());
        }
        assert_eq!(db.recent_logs(1000).await.unwrap().len(), 300);
        assert_eq!(tokio::time::Instant::now(), start);
        db.close().await;
    });
}

#[tokio::test]
async fn sqlite_backup_and_restore() {
    let (h, fresh) = (harness::sqlite().await, harness::sqlite().await);
    cases::a_backup_restores_everything(&h.db, &fresh.db).await;
}

#[tokio::test]
async fn postgres_backup_and_restore() {
    let Some(h) = harness::postgres().await else { return };
    let Some(fresh) = harness::postgres().await else { return };
    cases::a_backup_restores_everything(&h.db, &fresh.db).await;
    h.drop_schema().await;
    fresh.drop_schema().await;
}
