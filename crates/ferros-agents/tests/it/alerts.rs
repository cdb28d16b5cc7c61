//! The alert manager's intakes on the virtual clock: a VTP broker on the
//! in-process network (iamalive, notices acknowledged, junk refused with a
//! nak, a flood of copies, a connection cut mid-message, a message too long
//! to follow), and the watched folder.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use ferros_agents::alerts::{AlertDesk, VtpIntake, WatchIntake, frame, read_frame};
use ferros_agents::{Agent, AgentContext, Bus, Factory};
use ferros_clock::Clock;
use ferros_devices_socket::Network;
use tokio::io::AsyncWriteExt;

use crate::Harness;

fn dark() -> DateTime<Utc> {
    "2026-03-01T11:30:00Z".parse().unwrap()
}

fn notice(rel: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../ferros-voevent/tests/data").join(rel);
    std::fs::read(p).unwrap()
}

fn desk() -> AlertDesk {
    let s = crate::settings();
    AlertDesk::new(&s, ferros_observatory::site(&s).unwrap(), &ferros_observatory::simulated_wheels(&s))
        .unwrap()
}

async fn answer(stream: &mut Box<dyn ferros_devices::net::Stream>) -> String {
    match read_frame(stream).await {
        ferros_agents::alerts::Incoming::Message(m) => String::from_utf8(m).unwrap(),
        other => panic!("no answer: {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn a_vtp_broker_s_notices_are_taken_once_and_acknowledged() {
    let net = Network::memory();
    let mut listener = net.bind("broker:8099").await.unwrap();
    let clock = Clock::virtual_from(dark());
    let d = desk();
    let n = net.clone();
    let spool_dir = tempfile::tempdir().unwrap();
    let spool = spool_dir.path().join("vtp");
    let sp = spool.clone();
    let h = Harness::start_with(clock, move |_| {
        let f: Factory = Arc::new(move || {
            Box::new(VtpIntake::new(
                d.clone(),
                n.clone(),
                "broker:8099",
                "ivo://ferros/test",
                Some(sp.clone()),
            )) as Box<dyn Agent>
        });
        vec![f]
    })
    .await;
    let (mut s, _) = listener.accept().await.unwrap();
    let alive = "<?xml version='1.0'?><trn:Transport xmlns:trn='http://telescope-networks.org/schema/Transport/v1.1' role='iamalive' version='1.0'><Origin>ivo://broker</Origin><TimeStamp>2026-03-01T11:30:00Z</TimeStamp></trn:Transport>";
    s.write_all(&frame(alive.as_bytes())).await.unwrap();
    let a = answer(&mut s).await;
    assert!(a.contains("role=\"iamalive\"") && a.contains("<Origin>ivo://broker</Origin>"), "{a}");
    assert!(a.contains("<Response>ivo://ferros/test</Response>"), "{a}");

    let eclairs = notice("svom_eclairs/eclairs_301.xml");
    s.write_all(&frame(&eclairs)).await.unwrap();
    let a = answer(&mut s).await;
    assert!(a.contains("role=\"ack\"") && a.contains("sb26022802"), "{a}");
    s.write_all(&frame(b"<VOEvent><oops")).await.unwrap();
    assert!(answer(&mut s).await.contains("role=\"nak\""));
    // A flood of copies: each acknowledged, none acted on again.
    for _ in 0..10_000 {
        s.write_all(&frame(&eclairs)).await.unwrap();
        assert!(answer(&mut s).await.contains("role=\"ack\""));
    }
    // A valid notice after them still passes.
    s.write_all(&frame(&notice("svom_mxt/mxt_41.xml"))).await.unwrap();
    assert!(answer(&mut s).await.contains("role=\"ack\""));
    // Cut in the middle of a message: refused with the reason, then a new connection.
    let mut cut = 100u32.to_be_bytes().to_vec();
    cut.extend_from_slice(&[b'<'; 10]);
    s.write_all(&cut).await.unwrap();
    drop(s);
    let (mut s, _) = listener.accept().await.unwrap();
    // Too long to follow: refused, the connection dropped, made again.
    s.write_all(&(64u32 << 20).to_be_bytes()).await.unwrap();
    let (_s, _) = listener.accept().await.unwrap();

    let alerts = h.db.list_alerts(None, 50).await.unwrap();
    let outcomes: Vec<&str> = alerts.iter().rev().map(|a| a.outcome.as_str()).collect();
    assert_eq!(outcomes, ["created", "refused", "updated", "refused", "refused"], "{alerts:#?}");
    assert_eq!(alerts.last().unwrap().duplicates, 10_000);
    assert!(alerts[1].reason.contains("10 bytes into a message of 100"), "{}", alerts[1].reason);
    assert!(alerts[0].reason.contains("67108864 bytes"), "{}", alerts[0].reason);
    assert!(alerts.iter().all(|a| a.source == "vtp:broker:8099"));
    assert_eq!(h.db.list_requests().await.unwrap().len(), 1);
    // Every notice stored has left the spool.
    assert_eq!(std::fs::read_dir(&spool).unwrap().count(), 0);
    h.stop().await;
}

/// A context on the virtual clock at a dark hour, its database in a new folder.
async fn context() -> (AgentContext, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let db = ferros_db::Db::connect_virtual(&format!("sqlite://{}", dir.path().join("f.db").display()))
        .await
        .unwrap();
    (AgentContext::new(db, Clock::virtual_from(dark()), Bus::default()), dir)
}

#[tokio::test(start_paused = true)]
async fn the_watched_folder_takes_each_file_once() {
    let dir = tempfile::tempdir().unwrap();
    let watched = dir.path().join("voevents");
    std::fs::create_dir_all(&watched).unwrap();
    std::fs::write(watched.join("a.xml"), notice("svom_eclairs/eclairs_301.xml")).unwrap();
    std::fs::write(watched.join("b.xml"), b"not xml at all").unwrap();
    std::fs::write(watched.join("notes.txt"), b"left alone").unwrap();
    let (ctx, _db_dir) = context().await;
    let mut intake = WatchIntake::new(desk(), watched.clone());
    intake.step(&ctx).await.unwrap();
    // The same notice again, under another name: counted, not acted on.
    std::fs::write(watched.join("c.xml"), notice("svom_eclairs/eclairs_301.xml")).unwrap();
    intake.step(&ctx).await.unwrap();
    let alerts = ctx.db.list_alerts(None, 50).await.unwrap();
    assert_eq!(alerts.len(), 2, "{alerts:#?}");
    assert_eq!(alerts[1].outcome, "created");
    assert_eq!(alerts[1].duplicates, 1);
    assert_eq!(alerts[0].outcome, "refused");
    assert!(watched.join("done/a.xml").is_file() && watched.join("done/c.xml").is_file());
    assert!(watched.join("refused/b.xml").is_file());
    assert!(watched.join("notes.txt").is_file());
}

#[tokio::test(start_paused = true)]
async fn damaged_notices_are_refused_with_their_reason_and_the_next_ones_pass() {
    let dir = tempfile::tempdir().unwrap();
    let watched = dir.path().join("voevents");
    std::fs::create_dir_all(&watched).unwrap();
    let good = String::from_utf8(notice("svom_eclairs/eclairs_301.xml")).unwrap();
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("1_invalid.xml", b"<VOEvent ivorn='ivo://x#1' role='observation'><Who>".to_vec()),
        (
            "2_namespace.xml",
            good.replace("http://www.ivoa.net/xml/VOEvent/v2.0", "http://example.org/not-voevent")
                .into_bytes(),
        ),
        ("3_no_wherewhen.xml", {
            let a = good.find("<WhereWhen>").unwrap();
            let b = good.find("</WhereWhen>").unwrap() + "</WhereWhen>".len();
            format!("{}{}", &good[..a], &good[b..])
                .replace("sb26022802_eclairs-wakeup", "nowhere")
                .into_bytes()
        }),
        (
            "4_absurd.xml",
            good.replace("<C1>237.8312</C1>", "<C1>512.5</C1>")
                .replace("sb26022802_eclairs-wakeup", "absurd")
                .into_bytes(),
        ),
        ("5_huge.xml", {
            let mut v = b"<VOEvent>".to_vec();
            v.resize(50 << 20, b' ');
            v
        }),
        ("6_binary.xml", vec![0xff, 0xfe, 0x00, 0x3c]),
        ("7_good.xml", good.clone().into_bytes()),
    ];
    for (name, bytes) in &files {
        std::fs::write(watched.join(name), bytes).unwrap();
    }
    let (ctx, _db_dir) = context().await;
    WatchIntake::new(desk(), watched.clone()).step(&ctx).await.unwrap();
    let mut alerts = ctx.db.list_alerts(None, 50).await.unwrap();
    alerts.reverse();
    let got: Vec<(&str, &str)> = alerts.iter().map(|a| (a.outcome.as_str(), a.reason.as_str())).collect();
    assert_eq!(got.len(), 7, "{got:#?}");
    assert!(got[0].0 == "refused" && got[0].1.contains("malformed XML"), "{got:?}");
    assert!(got[1].0 == "refused" && got[1].1.contains("namespace"), "{:?}", got[1]);
    assert!(got[2].0 == "ignored" && got[2].1.contains("no position"), "{:?}", got[2]);
    assert!(got[3].0 == "refused" && got[3].1.contains("512.5"), "{:?}", got[3]);
    assert!(got[4].0 == "refused" && got[4].1.contains("more than the 1048576"), "{:?}", got[4]);
    assert!(got[5].0 == "refused" && got[5].1.contains("not UTF-8"), "{:?}", got[5]);
    assert_eq!(got[6].0, "created", "{:?}", got[6]);
    // Each refusal is also in the log, with its reason.
    let logs = ctx.db.recent_logs(50).await.unwrap();
    assert!(
        logs.iter()
            .any(|l| l.source == "alerts" && l.message.contains("refused") && l.message.contains("512.5"))
    );
    assert_eq!(std::fs::read_dir(watched.join("refused")).unwrap().count(), 5);
}
