//! The web server: routes called directly, and once over a real socket.

#![allow(clippy::unwrap_used, reason = "a test fails by panicking")]

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{TimeZone, Utc};
use ferros_clock::Clock;
use ferros_db::Db;
use ferros_web::{AppState, router};
use http_body_util::BodyExt;
use tower::ServiceExt;

struct App {
    state: AppState,
    db: Db,
    _dir: tempfile::TempDir,
}

async fn spawn_app() -> App {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::connect(&format!("sqlite://{}", dir.path().join("ferros.db").display())).await.unwrap();
    let clock = Clock::simulated(Utc.with_ymd_and_hms(2026, 11, 22, 3, 0, 0).unwrap(), 1.0).unwrap();
    App { state: AppState::new(db.clone(), clock, "Test <site>"), db, _dir: dir }
}

async fn get(app: &App, uri: &str) -> (StatusCode, String) {
    let res =
        router(app.state.clone()).oneshot(Request::get(uri).body(Body::empty()).unwrap()).await.unwrap();
    let status = res.status();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

#[tokio::test]
async fn healthz_reports_ok_with_the_clock() {
    let app = spawn_app().await;
    let (status, body) = get(&app, "/healthz").await;
    assert_eq!(status, StatusCode::OK);
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["status"], "ok");
    assert_eq!(json["database"], "ok");
    assert_eq!(json["simulated_clock"], true);
    assert!(json["time"].as_str().unwrap().starts_with("2026-11-22T03:00"), "{json}");
}

#[tokio::test]
async fn healthz_says_503_when_the_database_is_gone() {
    let app = spawn_app().await;
    app.db.close().await;
    let (status, body) = get(&app, "/healthz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["status"], "unavailable");
    let (status, body) = get(&app, "/").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(body.contains("database does not answer"));
}

#[tokio::test]
async fn home_page_shows_site_and_programs_escaped() {
    let app = spawn_app().await;
    app.db
        .create_program(
            &ferros_domain::NewProgram {
                name: "GRB & co".into(),
                description: String::new(),
                period: "2026B".parse().unwrap(),
                priority: ferros_domain::Priority::new(10).unwrap(),
                quota: ferros_domain::Seconds::from_hours("quota", 12.0).unwrap(),
            },
            Utc::now(),
        )
        .await
        .unwrap();
    let (status, body) = get(&app, "/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("Test &lt;site&gt;"), "{body}");
    assert!(body.contains("GRB &amp; co"), "{body}");
    assert!(body.contains("12.0"), "{body}");
    assert!(body.contains("No schedule yet"), "{body}");
    let (status, _) = get(&app, "/no/such/page").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// 120 requests, one with a 10,000-character name: the page holds 50, the
/// names cut, and links to the older ones; no answer loads everything.
#[tokio::test]
async fn the_requests_are_shown_a_page_at_a_time() {
    let app = spawn_app().await;
    let now = Utc::now();
    let program = ferros_domain::NewProgram {
        name: "GRB".into(),
        description: String::new(),
        period: "2026B".parse().unwrap(),
        priority: ferros_domain::Priority::new(10).unwrap(),
        quota: ferros_domain::Seconds::from_hours("quota", 12.0).unwrap(),
    };
    app.db.create_program(&program, now).await.unwrap();
    let alice = ferros_db::NewUser {
        username: "alice".into(),
        email: String::new(),
        password_hash: "x".into(),
        profiles: [ferros_domain::Profile::Observer].into(),
        programs: vec!["GRB".into()],
    };
    app.db.create_user(&alice, now).await.unwrap();
    let xml = r#"<request name="r" scientific_program="GRB">
  <sequence name="s" jd1="2461366.5" jd2="2461367.5">
    <album name="a" detector="VIS"><plan name="p" filter="r" exposure="10" nb_images="2"/></album>
  </sequence>
</request>"#;
    let opts = ferros_request_xml::ReadOptions::at(ferros_domain::JulianDate::new(2_461_366.0).unwrap());
    let mut request = ferros_request_xml::read_request(xml, &opts).unwrap().request;
    for i in 1..=120 {
        request.name = if i == 120 { "N".repeat(10_000) } else { format!("request {i}") };
        app.db.create_request(&request, "alice", false, now).await.unwrap();
    }
    let (status, body) = get(&app, "/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("120 request(s), newest first"), "{body}");
    assert!(body.contains(&format!("<td>{}…</td>", "N".repeat(80))), "{body}");
    assert!(!body.contains(&"N".repeat(81)));
    assert!(body.contains("<td>request 71</td>") && !body.contains("<td>request 70</td>"), "{body}");
    assert!(body.contains("<a href=\"/?before=71\">Older requests</a>"), "{body}");
    assert!(body.len() < 32 * 1024, "{} bytes", body.len());
    let (_, body) = get(&app, "/?before=71").await;
    assert!(body.contains("<td>request 70</td>") && body.contains("<td>request 21</td>"), "{body}");
    assert!(!body.contains("<td>request 20</td>") && body.contains("before=21"), "{body}");
    let (_, body) = get(&app, "/?before=21").await;
    assert!(body.contains("<td>request 1</td>") && !body.contains("Older requests"), "{body}");
    let (_, body) = get(&app, "/?before=1").await;
    assert!(body.contains("No older requests"), "{body}");
    let (status, body) = get(&app, "/?before=abc").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("before"), "{body}");
}

#[tokio::test]
async fn serves_on_a_real_socket_and_shuts_down_cleanly() {
    let app = spawn_app().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(ferros_web::serve(listener, app.state.clone(), async {
        let _ = stopped.await;
    }));
    let response = tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    })
    .await
    .unwrap();
    assert!(response.starts_with("HTTP/1.1 200 OK"), "{response}");
    assert!(response.contains("\"status\":\"ok\""), "{response}");
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}
