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

pub(crate) struct App {
    pub(crate) state: AppState,
    pub(crate) db: Db,
    pub(crate) clock: Clock,
    pub(crate) dir: tempfile::TempDir,
}

pub(crate) async fn spawn_app() -> App {
    spawn_app_with(ferros_web::WebSettings::default()).await
}

pub(crate) async fn spawn_app_with(settings: ferros_web::WebSettings) -> App {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::connect(&format!("sqlite://{}", dir.path().join("ferros.db").display())).await.unwrap();
    let clock = Clock::simulated(Utc.with_ymd_and_hms(2026, 11, 22, 3, 0, 0).unwrap(), 1.0).unwrap();
    let opts = ferros_request_xml::ReadOptions::at(ferros_domain::JulianDate::new(2_461_366.0).unwrap());
    App { state: AppState::with_settings(db.clone(), clock, "Test <site>", opts, settings), db, clock, dir }
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

mod web;

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
