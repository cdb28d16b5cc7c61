//! Accounts, the rights walk, CSRF, the API and bad input, through the router.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use chrono::{TimeDelta, Utc};
use ferros_db::{NewSession, NewUser, SessionKind};
use ferros_domain::Profile;
use ferros_web::{Access, ROUTES, router};
use http_body_util::BodyExt;
use tower::ServiceExt;

use super::{App, spawn_app};

struct Answer {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: String,
}

async fn send(app: &App, req: Request<Body>) -> Answer {
    let res = router(app.state.clone()).oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    // An event stream never ends: its first event is its body here.
    let body = if headers.get(header::CONTENT_TYPE).is_some_and(|v| v == "text/event-stream") {
        let frame = res.into_body().frame().await.unwrap().unwrap();
        String::from_utf8_lossy(frame.data_ref().unwrap()).into_owned()
    } else {
        String::from_utf8_lossy(&res.into_body().collect().await.unwrap().to_bytes()).into_owned()
    };
    Answer { status, headers, body }
}

/// A user with `profiles` and an open session of `kind`: its token and CSRF token.
async fn session(app: &App, name: &str, profiles: &[Profile], kind: SessionKind) -> (String, String) {
    if app.db.user_by_name(name).await.unwrap().is_none() {
        let u = NewUser {
            username: name.into(),
            email: String::new(),
            password_hash: ferros_auth::hash("a good password").unwrap(),
            profiles: profiles.iter().copied().collect(),
            programs: vec![],
        };
        app.db.create_user(&u, Utc::now()).await.unwrap();
    }
    let token = ferros_auth::new_token();
    let csrf = ferros_auth::new_token();
    let now = app.state_now();
    let digest = ferros_auth::digest(&token);
    let s = NewSession {
        username: name,
        token_hash: &digest,
        kind,
        csrf: &csrf,
        now,
        expires_at: now + TimeDelta::hours(1),
    };
    app.db.create_session(&s).await.unwrap();
    (token, csrf)
}

/// A program of 12 hours in 2026B.
async fn add_program(app: &App, name: &str) {
    let program = ferros_domain::NewProgram {
        name: name.into(),
        description: String::new(),
        period: "2026B".parse().unwrap(),
        priority: ferros_domain::Priority::new(10).unwrap(),
        quota: ferros_domain::Quota::Time(ferros_domain::Seconds::from_hours("quota", 12.0).unwrap()),
    };
    app.db.create_program(&program, None, Utc::now()).await.unwrap();
}

/// A page asked for with a session cookie.
fn with_cookie(uri: &str, cookie: &str) -> Request<Body> {
    Request::get(uri).header(header::COOKIE, format!("ferros_session={cookie}")).body(Body::empty()).unwrap()
}

impl App {
    fn state_now(&self) -> chrono::DateTime<Utc> {
        chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 11, 22, 3, 0, 0).unwrap()
    }
}

fn concrete(path: &str) -> String {
    path.replace("{id}", "1")
        .replace("{command}", "go-remote")
        .replace("{action}", "submit")
        .replace("{quantity}", "rain")
        .replace("{name}", "nobody")
        .replace("{token}", "no-such-token")
}

/// A profile (none: a visitor) with its bearer and cookie sessions.
type Who = (Option<Profile>, Option<(String, String)>, Option<(String, String)>);

/// Every route, for a visitor and for each of the 8 profiles: the access
/// table decides 401 (no login), 403 (a profile the matrix keeps out) or
/// anything else (the route's own answer).
#[tokio::test]
async fn every_route_for_every_profile_follows_the_matrix() {
    let app = spawn_app().await;
    // The majordome observing: GO REMOTE is refused by its state, quickly.
    let state = r#"{"mode":"SCHEDULER (observing)","safe":true,"locked":false,"bypass":"off","night_ack":null,"night":true,"plc":"AUTO","env":"SAFE","secured":false}"#;
    app.db.store_majordome(app.state_now(), state).await.unwrap();
    let mut who: Vec<Who> = vec![(None, None, None)];
    for p in Profile::ALL {
        let name = format!("u-{}", p.code());
        let bearer = session(&app, &name, &[p], SessionKind::Bearer).await;
        let cookie = session(&app, &name, &[p], SessionKind::Cookie).await;
        who.push((Some(p), Some(bearer), Some(cookie)));
    }
    let mut checked = 0;
    // The logouts last: they end the sessions the walk uses.
    let (outs, rest): (Vec<&ferros_web::RouteInfo>, Vec<_>) =
        ROUTES.iter().partition(|r| r.path.ends_with("/logout"));
    for r in rest.into_iter().chain(outs) {
        for (profile, bearer, cookie) in &who {
            let uri = concrete(r.path);
            let mut req = Request::builder().method(r.method).uri(&uri);
            if r.is_api() {
                if let Some((t, _)) = bearer {
                    req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
                }
            } else if let Some((t, csrf)) = cookie {
                req = req.header(header::COOKIE, format!("ferros_session={t}")).header("x-csrf-token", csrf);
            }
            let a = send(&app, req.body(Body::empty()).unwrap()).await;
            let profiles = profile.map(|p| vec![p]);
            let allowed = r.access.allows(profiles.as_deref());
            let what = format!(
                "{} {uri} as {profile:?}: {} {}",
                r.method,
                a.status,
                a.body.chars().take(200).collect::<String>()
            );
            if allowed {
                assert!(a.status != StatusCode::UNAUTHORIZED, "{what}");
                assert!(a.status != StatusCode::FORBIDDEN || uri.contains("control"), "{what}");
                assert!(!a.status.is_server_error(), "{what}");
            } else if profile.is_none() {
                assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{what}");
            } else {
                assert_eq!(a.status, StatusCode::FORBIDDEN, "{what}");
            }
            checked += 1;
        }
    }
    assert!(checked >= ROUTES.len() * 9);
    // Each refusal of a logged-in profile is in the log.
    let logs = app.db.recent_logs(1000).await.unwrap();
    assert!(
        logs.iter()
            .any(|l| l.source == "web" && l.message.starts_with("403 u-visitor (visitor) GET /requests")),
        "{logs:?}"
    );
}

/// The login form: its CSRF cookie, a wrong password, the rate limiter,
/// then a session cookie that opens the pages it may.
#[tokio::test]
async fn logging_in_with_the_form() {
    let app = spawn_app().await;
    session(&app, "olga", &[Profile::Operator], SessionKind::Bearer).await;
    let a = send(&app, Request::get("/login").body(Body::empty()).unwrap()).await;
    assert_eq!(a.status, StatusCode::OK);
    let set = a.headers.get(header::SET_COOKIE).unwrap().to_str().unwrap().to_owned();
    let csrf = set.split(';').next().unwrap().strip_prefix("ferros_login=").unwrap().to_owned();
    assert!(a.body.contains(&csrf));
    let post = |body: String, cookie: Option<&str>| {
        let mut r = Request::post("/login").header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(c) = cookie {
            r = r.header(header::COOKIE, format!("ferros_login={c}"));
        }
        r.body(Body::from(body)).unwrap()
    };
    // Forged or missing CSRF token.
    let a =
        send(&app, post("csrf=forged&username=olga&password=a+good+password".to_owned(), Some(&csrf))).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.body);
    let a = send(&app, post(format!("csrf={csrf}&username=olga&password=a+good+password"), None)).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    // Wrong password: 401, five times, then the limiter.
    for _ in 0..5 {
        let a = send(&app, post(format!("csrf={csrf}&username=olga&password=wrong"), Some(&csrf))).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{}", a.body);
        assert!(a.body.contains("wrong user name or password"));
    }
    let a =
        send(&app, post(format!("csrf={csrf}&username=olga&password=a+good+password"), Some(&csrf))).await;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS, "{}", a.body);
    assert!(a.body.contains("too many failed logins"), "{}", a.body);
    let logs = app.db.recent_logs(100).await.unwrap();
    assert!(logs.iter().any(|l| l.message.starts_with("failed login for \"olga\"")));
}

#[tokio::test]
async fn a_good_login_opens_a_session_and_logout_ends_it() {
    let app = spawn_app().await;
    session(&app, "olga", &[Profile::Operator], SessionKind::Bearer).await;
    let a = send(&app, Request::get("/login").body(Body::empty()).unwrap()).await;
    let set = a.headers.get(header::SET_COOKIE).unwrap().to_str().unwrap().to_owned();
    let csrf = set.split(';').next().unwrap().strip_prefix("ferros_login=").unwrap().to_owned();
    let a = send(
        &app,
        Request::post("/login")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::COOKIE, format!("ferros_login={csrf}"))
            .body(Body::from(format!("csrf={csrf}&username=olga&password=a+good+password&next=%2Fcontrol")))
            .unwrap(),
    )
    .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    assert_eq!(a.headers.get(header::LOCATION).unwrap(), "/control");
    let cookie = a.headers.get(header::SET_COOKIE).unwrap().to_str().unwrap().to_owned();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"), "{cookie}");
    let token = cookie.split(';').next().unwrap().to_owned();
    let a = send(&app, Request::get("/control").header(header::COOKIE, &token).body(Body::empty()).unwrap())
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert!(a.body.contains("The majordome has not run yet"), "{}", a.body);
    let csrf = a.body.split("name=\"csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    // A form without the session's CSRF token is refused, and logged.
    let post = |body: String| {
        Request::post("/logout")
            .header(header::COOKIE, &token)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .unwrap()
    };
    assert_eq!(send(&app, post(String::new())).await.status, StatusCode::FORBIDDEN);
    assert_eq!(send(&app, post("csrf=forged".into())).await.status, StatusCode::FORBIDDEN);
    let logs = app.db.recent_logs(100).await.unwrap();
    assert!(
        logs.iter().any(|l| l.message.starts_with("CSRF token missing for POST /logout by olga")),
        "{logs:?}"
    );
    assert!(
        logs.iter().any(|l| l.message.starts_with("CSRF token wrong for POST /logout by olga")),
        "{logs:?}"
    );
    let a = send(&app, post(format!("csrf={csrf}"))).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    let a = send(&app, Request::get("/control").header(header::COOKIE, &token).body(Body::empty()).unwrap())
        .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED, "the session is over");
}

/// An expired session is no login; a bearer token that is unknown, expired
/// or malformed is a 401 that says so.
#[tokio::test]
async fn expired_and_unknown_sessions() {
    let app = spawn_app().await;
    session(&app, "ivan", &[Profile::Engineer], SessionKind::Bearer).await;
    let digest = ferros_auth::digest("old-token");
    let past = app.state_now() - TimeDelta::hours(13);
    let s = NewSession {
        username: "ivan",
        token_hash: &digest,
        kind: SessionKind::Cookie,
        csrf: "c",
        now: past,
        expires_at: past + TimeDelta::hours(12),
    };
    app.db.create_session(&s).await.unwrap();
    let a = send(
        &app,
        Request::get("/system")
            .header(header::COOKIE, "ferros_session=old-token")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    for auth in ["Bearer old-token", "Bearer nope", "Basic abc", "Bearer "] {
        let a = send(
            &app,
            Request::get("/api/v1/schedule").header(header::AUTHORIZATION, auth).body(Body::empty()).unwrap(),
        )
        .await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{auth}");
        let v: serde_json::Value = serde_json::from_str(&a.body).unwrap();
        assert!(
            v["error"].as_str().unwrap().contains("Bearer")
                || v["error"].as_str().unwrap().contains("log in again"),
            "{v}"
        );
    }
}

const XML: &str = r#"<request name="&lt;script&gt;alert(1)&lt;/script&gt;" scientific_program="GRB">
  <sequence name="s" jd1="2461366.5" jd2="2461367.5" target_coords="10.68 41.27">
    <album name="a" detector="VIS"><plan name="p" filter="r" exposure="10" nb_images="2"/></album>
  </sequence>
</request>"#;

/// The API: login for a token, an invalid XML (every problem, nothing
/// stored), a valid one (201), read back, submitted, escaped on the pages.
#[tokio::test]
async fn requests_through_the_api() {
    let app = spawn_app().await;
    add_program(&app, "GRB").await;
    let u = NewUser {
        username: "alice".into(),
        email: String::new(),
        password_hash: ferros_auth::hash("alice's password").unwrap(),
        profiles: [Profile::Observer].into(),
        programs: vec!["GRB".into()],
    };
    app.db.create_user(&u, Utc::now()).await.unwrap();
    let login = |body: &str| {
        Request::post("/api/v1/login")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_owned()))
            .unwrap()
    };
    let a = send(&app, login(r#"{"username": "alice", "password": "nope"}"#)).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    let a = send(&app, login(r#"{"username": "alice"}"#)).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.body);
    assert!(a.body.contains("password"), "{}", a.body);
    let a = send(&app, login(r#"{"username": "alice", "password": "alice's password"}"#)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let token =
        serde_json::from_str::<serde_json::Value>(&a.body).unwrap()["token"].as_str().unwrap().to_owned();
    let bearer = format!("Bearer {token}");
    let post = |uri: &str, body: &str| {
        Request::post(uri).header(header::AUTHORIZATION, &bearer).body(Body::from(body.to_owned())).unwrap()
    };
    let bad = XML.replace("exposure=\"10\"", "exposure=\"-3\"").replace("jd2=\"2461367.5\"", "jd2=\"x\"");
    let a = send(&app, post("/api/v1/requests", &bad)).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.body);
    let v: serde_json::Value = serde_json::from_str(&a.body).unwrap();
    assert_eq!(v["problems"].as_array().unwrap().len(), 2, "{v}");
    assert_eq!(app.db.count_requests().await.unwrap(), 0, "nothing stored");
    let a = send(&app, post("/api/v1/requests", &XML.replace("GRB\"", "NOPE\""))).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    let a = send(&app, post("/api/v1/requests", "x".repeat(5 << 20).as_str())).await;
    assert_eq!(a.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", a.body.chars().take(200).collect::<String>());
    let a = send(&app, post("/api/v1/requests", XML)).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    let id = serde_json::from_str::<serde_json::Value>(&a.body).unwrap()["request_id"].as_i64().unwrap();
    let a = send(
        &app,
        Request::get(format!("/api/v1/requests/{id}"))
            .header(header::AUTHORIZATION, &bearer)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.body.contains("<script>"), "JSON keeps the name as it is");
    let a = send(&app, post(&format!("/api/v1/requests/{id}/submit"), "")).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert!(a.body.contains("1 sequence(s) changed"), "{}", a.body);
    let a = send(&app, post(&format!("/api/v1/requests/{id}/explode"), "")).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    // Unsubmit: back to COMPLETE; a second time there is nothing to withdraw.
    let a = send(&app, post(&format!("/api/v1/requests/{id}/unsubmit"), "")).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let r = app.db.request(ferros_domain::RequestId(id)).await.unwrap().unwrap();
    assert_eq!(r.sequences[0].status, ferros_domain::SequenceStatus::Complete);
    let a = send(&app, post(&format!("/api/v1/requests/{id}/unsubmit"), "")).await;
    assert_eq!(a.status, StatusCode::CONFLICT, "{}", a.body);
    assert!(a.body.contains("no submitted sequence"), "{}", a.body);
    // The XML downloaded imports again as the same request.
    let get =
        |uri: String| Request::get(uri).header(header::AUTHORIZATION, &bearer).body(Body::empty()).unwrap();
    let a = send(&app, get(format!("/api/v1/requests/{id}/xml"))).await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.headers[header::CONTENT_TYPE].to_str().unwrap().starts_with("application/xml"));
    assert!(a.body.contains("&lt;script&gt;"), "{}", a.body);
    let again = send(&app, post("/api/v1/requests", &a.body)).await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.body);
    let second =
        serde_json::from_str::<serde_json::Value>(&again.body).unwrap()["request_id"].as_i64().unwrap();
    let first = app.db.request(ferros_domain::RequestId(id)).await.unwrap().unwrap();
    let copy = app.db.request(ferros_domain::RequestId(second)).await.unwrap().unwrap();
    assert_eq!(first.to_new(), copy.to_new());
    let a = send(&app, get("/api/v1/requests".into())).await;
    let list: serde_json::Value = serde_json::from_str(&a.body).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 2, "{list}");
    // Someone else's request does not exist for another observer.
    let (other, _) = session(&app, "bob", &[Profile::Observer], SessionKind::Bearer).await;
    let a = send(
        &app,
        Request::get(format!("/api/v1/requests/{id}"))
            .header(header::AUTHORIZATION, format!("Bearer {other}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    // An edit: checked as an import, nothing changed on a problem; refused
    // while submitted; the old sequences kept CANCELLED.
    let edit = |body: &str| post(&format!("/api/v1/requests/{id}/edit"), body);
    let before = app.db.request(ferros_domain::RequestId(id)).await.unwrap().unwrap();
    let a = send(&app, edit(&bad)).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.body);
    assert_eq!(
        app.db.request(ferros_domain::RequestId(id)).await.unwrap().unwrap(),
        before,
        "nothing changed"
    );
    add_program(&app, "AGN").await;
    let a = send(&app, edit(&XML.replace("GRB\"", "AGN\""))).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "not one of alice's programs: {}", a.body);
    let renamed = XML.replace("name=\"s\"", "name=\"s2\"");
    let a = send(&app, edit(&renamed)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let r = app.db.request(ferros_domain::RequestId(id)).await.unwrap().unwrap();
    let statuses: Vec<_> = r.sequences.iter().map(|q| (q.spec.name.as_str(), q.status)).collect();
    assert_eq!(
        statuses,
        [("s", ferros_domain::SequenceStatus::Cancelled), ("s2", ferros_domain::SequenceStatus::Complete)]
    );
    let a = send(&app, post(&format!("/api/v1/requests/{id}/submit"), "")).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let a = send(&app, edit(XML)).await;
    assert_eq!(a.status, StatusCode::CONFLICT, "{}", a.body);
    assert!(a.body.contains("unsubmit the request before editing it"), "{}", a.body);
    // The pages escape the name.
    let (cookie, _) = session(&app, "alice", &[Profile::Observer], SessionKind::Cookie).await;
    let a = send(&app, with_cookie("/requests", &cookie)).await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(
        a.body.contains("&#60;script&#62;alert(1)&#60;/script&#62;") && !a.body.contains("<script>alert"),
        "{}",
        a.body
    );
}

/// The OpenAPI document lists every API route of the access table.
#[tokio::test]
async fn the_openapi_document_covers_the_api() {
    let app = spawn_app().await;
    let a = send(&app, Request::get("/api/v1/openapi.json").body(Body::empty()).unwrap()).await;
    assert_eq!(a.status, StatusCode::OK);
    let v: serde_json::Value = serde_json::from_str(&a.body).unwrap();
    assert_eq!(v["openapi"], "3.0.3");
    for r in ROUTES.iter().filter(|r| r.is_api()) {
        let op = &v["paths"][r.path][r.method.to_ascii_lowercase()];
        assert!(op.is_object(), "{} {} missing", r.method, r.path);
        assert_eq!(op["security"].is_array(), r.access != Access::Public, "{}", r.path);
    }
    let a = send(&app, Request::get("/api/v1/status").body(Body::empty()).unwrap()).await;
    assert_eq!(a.status, StatusCode::OK);
    let v: serde_json::Value = serde_json::from_str(&a.body).unwrap();
    assert_eq!(v["site"], "Test <site>");
    assert!(v["majordome"].is_null());
}

/// One's own password: the current one is checked, the new one too, and
/// the other sessions end while this one stays.
#[tokio::test]
async fn changing_ones_password() {
    let app = spawn_app().await;
    let (other, _) = session(&app, "paula", &[Profile::Observer], SessionKind::Bearer).await;
    let (cookie, csrf) = session(&app, "paula", &[Profile::Observer], SessionKind::Cookie).await;
    let cookie = format!("ferros_session={cookie}");
    let change = |body: String| {
        Request::post("/account/password")
            .header(header::COOKIE, &cookie)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .unwrap()
    };
    let a = send(&app, Request::get("/account").header(header::COOKIE, &cookie).body(Body::empty()).unwrap())
        .await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.body.contains("paula") && a.body.contains("Observer"), "{}", a.body);
    let cases = [
        (
            "current=wrong+one&new=a+new+long+password&repeat=a+new+long+password",
            StatusCode::FORBIDDEN,
            "current password is wrong",
        ),
        ("current=a+good+password&new=short&repeat=short", StatusCode::UNPROCESSABLE_ENTITY, "10"),
        (
            "current=a+good+password&new=a+new+long+password&repeat=another+one+here",
            StatusCode::UNPROCESSABLE_ENTITY,
            "differ",
        ),
        ("current=a+good+password&new=paula&repeat=paula", StatusCode::UNPROCESSABLE_ENTITY, "password"),
    ];
    for (body, status, said) in cases {
        let a = send(&app, change(format!("csrf={csrf}&{body}"))).await;
        assert_eq!(a.status, status, "{body}: {}", a.body);
        assert!(a.body.contains(said), "{body}: expected {said:?} in {}", a.body);
    }
    let a = send(
        &app,
        change("current=a+good+password&new=a+new+long+password&repeat=a+new+long+password".into()),
    )
    .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "no CSRF token, no change");
    let a = send(
        &app,
        change(format!(
            "csrf={csrf}&current=a+good+password&new=a+new+long+password&repeat=a+new+long+password"
        )),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert!(a.body.contains("password changed"), "{}", a.body);
    let hash = app.db.password_hash("paula").await.unwrap().unwrap();
    assert!(ferros_auth::verify("a new long password", &hash));
    let a = send(&app, Request::get("/account").header(header::COOKIE, &cookie).body(Body::empty()).unwrap())
        .await;
    assert_eq!(a.status, StatusCode::OK, "this session stays");
    let a = send(
        &app,
        Request::get("/api/v1/requests")
            .header(header::AUTHORIZATION, format!("Bearer {other}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED, "the other session ended");
    // A visitor has no account page.
    let a = send(&app, Request::get("/account").body(Body::empty()).unwrap()).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
}

/// Pages with no data say so; an unknown alert is a 404, on the page and in the API.
#[tokio::test]
async fn empty_pages_say_so_and_unknown_alerts_are_404() {
    let app = spawn_app().await;
    for (uri, said) in [("/alerts", "No alert received yet"), ("/schedule", "No schedule yet")] {
        let a = send(&app, Request::get(uri).body(Body::empty()).unwrap()).await;
        assert_eq!(a.status, StatusCode::OK, "{uri}");
        assert!(a.body.contains(said), "{uri}: {}", a.body);
    }
    let a = send(&app, Request::get("/alerts/7").body(Body::empty()).unwrap()).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert!(a.body.contains("alert 7"), "{}", a.body);
    let a = send(&app, Request::get("/api/v1/alerts/7").body(Body::empty()).unwrap()).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert!(a.body.starts_with("{\"error\""), "{}", a.body);
    let a = send(&app, Request::get("/api/v1/alerts").body(Body::empty()).unwrap()).await;
    assert_eq!((a.status, a.body.as_str()), (StatusCode::OK, "[]"));
    // Error pages name the site (escaped) and keep the menu.
    for uri in ["/nowhere", "/control"] {
        let a = send(&app, Request::get(uri).body(Body::empty()).unwrap()).await;
        assert!(a.status == StatusCode::NOT_FOUND || a.status == StatusCode::UNAUTHORIZED, "{uri}");
        assert!(
            a.body.contains("Test &#60;site&#62;") && a.body.contains("href=\"/weather\""),
            "{uri}: {}",
            a.body
        );
    }
}

/// Images: one's own request's, listed, previewed as PNG and downloaded as
/// FITS; another observer, a visitor, a path outside the archive, a file
/// gone or not FITS: each refused or told.
#[tokio::test]
async fn images_are_served_to_whom_may_see_them() {
    let app = spawn_app().await;
    let archive = app.dir.path().join("archive");
    let settings = ferros_web::WebSettings { archive_root: Some(archive.clone()), ..Default::default() };
    let opts = ferros_request_xml::ReadOptions::at(ferros_domain::JulianDate::new(2_461_366.0).unwrap());
    let state = ferros_web::AppState::with_settings(app.db.clone(), app.clock, "Test", opts, settings);
    let app = super::App { state, ..app };
    add_program(&app, "GRB").await;
    let req = ferros_request_xml::read_request(
        XML,
        &ferros_request_xml::ReadOptions::at(ferros_domain::JulianDate::new(2_461_366.0).unwrap()),
    )
    .unwrap()
    .request;
    let (alice_cookie, _) = session(&app, "alice", &[Profile::Observer], SessionKind::Cookie).await;
    let id = app.db.create_request(&req, "alice", false, Utc::now()).await.unwrap();
    let r = app.db.request(id).await.unwrap().unwrap();
    let mut image = ferros_domain::Image {
        path: "produced/r1/sequence_1/a.fits".into(),
        kind: ferros_domain::ImageKind::Light,
        request_id: Some(id),
        sequence_id: Some(r.sequences[0].id),
        album_id: None,
        plan_id: None,
        detector: ferros_domain::Detector::Vis,
        date_obs: Utc::now(),
        exposure_s: 10.0,
        filter: "r".into(),
        headers: vec![],
        calibration: ferros_domain::CalibrationLevel::Raw,
        analysis: None,
    };
    app.db.insert_image(&image).await.unwrap();
    let pixels: Vec<u16> = (0..64 * 32).map(|i| (i % 64) as u16 * 100).collect();
    let fits = ferros_fits::write_u16(64, 32, &pixels);
    std::fs::create_dir_all(archive.join("produced/r1/sequence_1")).unwrap();
    std::fs::write(archive.join(&image.path), &fits).unwrap();
    image.path = "produced/r1/sequence_1/broken.fits".into();
    app.db.insert_image(&image).await.unwrap();
    std::fs::write(archive.join(&image.path), b"SIMPLE  = nonsense").unwrap();
    image.path = "produced/r1/sequence_1/gone.fits".into();
    app.db.insert_image(&image).await.unwrap();

    let a = send(&app, with_cookie(&format!("/images?request={}", id.0), &alice_cookie)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert!(a.body.contains("a.fits") && a.body.contains("gone.fits"), "{}", a.body);
    let a =
        send(&app, with_cookie("/images/preview?path=produced%2Fr1%2Fsequence_1%2Fa.fits", &alice_cookie))
            .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.headers[header::CONTENT_TYPE], "image/png");
    let a = send(&app, with_cookie("/images/fits?path=produced/r1/sequence_1/a.fits", &alice_cookie)).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.headers[header::CONTENT_TYPE], "application/fits");
    assert!(a.headers[header::CONTENT_DISPOSITION].to_str().unwrap().contains("a.fits"));
    assert_eq!(a.headers[header::CONTENT_LENGTH].to_str().unwrap(), fits.len().to_string());
    let a = send(&app, with_cookie("/images/preview?path=produced/r1/sequence_1/broken.fits", &alice_cookie))
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.body);
    assert!(a.body.contains("not a readable FITS image"), "{}", a.body);
    let a =
        send(&app, with_cookie("/images/fits?path=produced/r1/sequence_1/gone.fits", &alice_cookie)).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert!(a.body.contains("moved or deleted"), "{}", a.body);
    for path in ["../ferros.db", "/etc/passwd", "produced/r1/sequence_1/none.fits", ""] {
        let a = send(&app, with_cookie(&format!("/images/fits?path={path}"), &alice_cookie)).await;
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{path}: {}", a.body);
    }
    // Bob (another observer) does not reach Alice's images; the PI does.
    let (bob_cookie, _) = session(&app, "bob", &[Profile::Observer], SessionKind::Cookie).await;
    let a = send(&app, with_cookie("/images/fits?path=produced/r1/sequence_1/a.fits", &bob_cookie)).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    let a = send(&app, with_cookie(&format!("/images?request={}", id.0), &bob_cookie)).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    let (paula_cookie, _) = session(&app, "paula", &[Profile::Pi], SessionKind::Cookie).await;
    let a = send(&app, with_cookie("/images/fits?path=produced/r1/sequence_1/a.fits", &paula_cookie)).await;
    assert_eq!(a.status, StatusCode::OK);
    let a = send(&app, with_cookie("/images", &paula_cookie)).await;
    assert!(a.body.contains("a.fits"), "the PI sees the latest images of all: {}", a.body);
    // A visitor: 401.
    let a = send(
        &app,
        Request::get("/images/fits?path=produced/r1/sequence_1/a.fits").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);

    // Its calibrated image beside the raw one, and the API: the list, one
    // file, the whole request as a tar archive; others get 404.
    image.path = "produced/r1/sequence_1/a_L1.fits".into();
    image.calibration = ferros_domain::CalibrationLevel::Calibrated;
    app.db.insert_image(&image).await.unwrap();
    std::fs::write(archive.join(&image.path), &fits).unwrap();
    let (alice, _) = session(&app, "alice", &[Profile::Observer], SessionKind::Bearer).await;
    let (bob, _) = session(&app, "bob", &[Profile::Observer], SessionKind::Bearer).await;
    let get = |uri: &str, t: &str| {
        Request::get(uri).header(header::AUTHORIZATION, format!("Bearer {t}")).body(Body::empty()).unwrap()
    };
    let a = send(&app, get(&format!("/api/v1/requests/{}/images", id.0), &alice)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let list: Vec<serde_json::Value> = serde_json::from_str(&a.body).unwrap();
    assert_eq!(list.len(), 4);
    let l1 = list.iter().find(|i| i["path"] == "produced/r1/sequence_1/a_L1.fits").unwrap();
    assert_eq!(l1["level"], "calibrated");
    let a = send(&app, get(l1["file"].as_str().unwrap(), &alice)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.headers[header::CONTENT_TYPE], "application/fits");
    assert_eq!(send(&app, get(l1["file"].as_str().unwrap(), &bob)).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        send(&app, get(&format!("/api/v1/requests/{}/images", id.0), &bob)).await.status,
        StatusCode::NOT_FOUND,
        "someone else's request"
    );
    let res = router(app.state.clone())
        .oneshot(get(&format!("/api/v1/requests/{}/archive", id.0), &alice))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[header::CONTENT_TYPE], "application/x-tar");
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    let mut tar = tar::Archive::new(&bytes[..]);
    let mut names = Vec::new();
    for e in tar.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().to_string_lossy().into_owned();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut e, &mut data).unwrap();
        if name.ends_with("a.fits") || name.ends_with("a_L1.fits") {
            assert_eq!(data, fits, "{name} whole");
        }
        if name.ends_with("MISSING.txt") {
            assert!(String::from_utf8(data).unwrap().contains("gone.fits"), "the missing file is said");
        }
        names.push(name);
    }
    let prefix = format!("request_{}/produced/r1/sequence_1/", id.0);
    for f in ["a.fits", "a_L1.fits", "broken.fits"] {
        assert!(names.contains(&format!("{prefix}{f}")), "{f} in {names:?}");
    }
    assert!(names.iter().any(|n| n.ends_with("MISSING.txt")), "{names:?}");
    let a = send(&app, get(&format!("/api/v1/requests/{}/archive", id.0), &bob)).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND, "someone else's archive: {}", a.body);
    let a = send(&app, with_cookie(&format!("/images/archive/{}", id.0), &alice_cookie)).await;
    assert_eq!(a.status, StatusCode::OK);
    let a = send(&app, with_cookie(&format!("/images?request={}", id.0), &alice_cookie)).await;
    assert!(a.body.contains(&format!("/images/archive/{}", id.0)), "{}", a.body);
}

/// The live updates: an event stream whose first event comes at once, with
/// the majordome's mode, LOCKED and the environment.
#[tokio::test]
async fn live_updates_come_as_server_sent_events() {
    let app = spawn_app().await;
    let state = r#"{"mode":"REMOTE","safe":true,"locked":true,"bypass":"off","night_ack":null,"night":true,"plc":"AUTO","env":"SAFE","secured":true}"#;
    app.db.store_majordome(app.state_now(), state).await.unwrap();
    let a = send(&app, Request::get("/events").body(Body::empty()).unwrap()).await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.body.starts_with("event: status\ndata: {"), "{}", a.body);
    let data: serde_json::Value =
        serde_json::from_str(a.body.lines().nth(1).unwrap().strip_prefix("data: ").unwrap()).unwrap();
    assert_eq!(data["mode"], "REMOTE");
    assert_eq!(data["locked"], "true");
    assert_eq!(data["env"], "SAFE");
    assert!(data["time"].as_str().unwrap().starts_with("2026-11-22 03:00"), "{data}");
    // The pages mark what the script updates.
    let a = send(&app, Request::get("/").body(Body::empty()).unwrap()).await;
    assert!(a.body.contains("data-live=\"mode\"") && a.body.contains("data-live=\"time\""), "{}", a.body);
}

/// SQL-like strings are text like any other: refused or stored as given,
/// never a server error; numbers in addresses are checked.
#[tokio::test]
async fn sql_like_strings_are_only_text() {
    let app = spawn_app().await;
    let (token, _) = session(&app, "sam", &[Profile::Sysadmin], SessionKind::Bearer).await;
    let login = |user: &str| {
        Request::post("/api/v1/login")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(serde_json::json!({"username": user, "password": "' OR '1'='1"}).to_string()))
            .unwrap()
    };
    for user in ["sam' --", "' OR 1=1 --", "sam"] {
        let a = send(&app, login(user)).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{user}: {}", a.body);
    }
    let get = |uri: &str| {
        Request::get(uri)
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap()
    };
    for uri in ["/api/v1/requests/1%20OR%201=1", "/api/v1/alerts/1;DROP%20TABLE%20alerts"] {
        let a = send(&app, get(uri)).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{uri}: {}", a.body);
    }
    add_program(&app, "GRB").await;
    let name = "x'); DROP TABLE requests; --";
    let xml = XML.replace("&lt;script&gt;alert(1)&lt;/script&gt;", name);
    let a = send(
        &app,
        Request::post("/api/v1/requests")
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Body::from(xml))
            .unwrap(),
    )
    .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    let listed = send(&app, get("/api/v1/requests")).await;
    let v: serde_json::Value = serde_json::from_str(&listed.body).unwrap();
    assert_eq!(v[0]["name"], name, "stored as given");
    assert_eq!(app.db.count_requests().await.unwrap(), 1);
    // The System page reloads itself (its log is live).
    let (cookie, _) = session(&app, "sam", &[Profile::Sysadmin], SessionKind::Cookie).await;
    let a = send(&app, with_cookie("/system", &cookie)).await;
    assert!(a.body.contains("<body data-refresh=\"10\">"), "{}", a.body);
}

/// Programs: everyone with the right sees the list with quotas in hours
/// and percent; a program's use per member is its members' (404 for
/// others); the PI changes quotas, never above 100 % of the period.
#[tokio::test]
async fn programs_show_their_quotas_and_the_pi_sets_them() {
    let sky = ferros_web::SkySettings {
        site: ferros_astro::Site::new(31.0447, -115.4637, 2790.0).unwrap(),
        night_altitude: -12.0,
        horizon: 10.0,
    };
    let app = super::spawn_app_with(ferros_web::WebSettings { sky: Some(sky), ..Default::default() }).await;
    add_program(&app, "GRB").await;
    add_program(&app, "AGN").await;
    let member = NewUser {
        username: "alice".into(),
        email: String::new(),
        password_hash: "!".into(),
        profiles: [Profile::Observer].into(),
        programs: vec!["GRB".into()],
    };
    app.db.create_user(&member, Utc::now()).await.unwrap();
    let (alice, _) = session(&app, "alice", &[Profile::Observer], SessionKind::Bearer).await;
    let (bob, _) = session(&app, "bob", &[Profile::Observer], SessionKind::Bearer).await;
    let (pi, _) = session(&app, "paul", &[Profile::Pi], SessionKind::Bearer).await;
    let get = |uri: &str, t: &str| {
        Request::get(uri).header(header::AUTHORIZATION, format!("Bearer {t}")).body(Body::empty()).unwrap()
    };
    let post = |uri: &str, t: &str, body: &str| {
        Request::post(uri)
            .header(header::AUTHORIZATION, format!("Bearer {t}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_owned()))
            .unwrap()
    };
    let a = send(&app, get("/api/v1/programs", &bob)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let list: serde_json::Value = serde_json::from_str(&a.body).unwrap();
    assert_eq!(list[1]["name"], "GRB");
    assert_eq!(list[1]["quota_hours"], 12.0);
    assert_eq!(list[1]["members"], 1);
    let a = send(&app, get("/api/v1/programs/GRB", &bob)).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND, "not a member: {}", a.body);
    let a = send(&app, get("/api/v1/programs/GRB", &alice)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let u: serde_json::Value = serde_json::from_str(&a.body).unwrap();
    assert_eq!((u["used_hours"].as_f64(), u["free_hours"].as_f64()), (Some(0.0), Some(12.0)));
    assert_eq!(u["members"][0]["user"], "alice");
    // Only the PI (or SysAdmin) changes quotas and priorities.
    let a = send(&app, post("/api/v1/programs/GRB/edit", &alice, r#"{"quota_percent": 5}"#)).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.body);
    let a = send(&app, post("/api/v1/programs/GRB/edit", &pi, r#"{"quota_percent": 150}"#)).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.body);
    assert!(a.body.contains("150 % is not a share"), "{}", a.body);
    let a =
        send(&app, post("/api/v1/programs/GRB/edit", &pi, r#"{"quota_percent": 10, "grade": "A"}"#)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let u: serde_json::Value = serde_json::from_str(&a.body).unwrap();
    assert_eq!(u["program"]["quota_percent"].as_f64().map(|p| (p * 10.0).round()), Some(100.0));
    assert_eq!(u["program"]["priority"], 10);
    let night = u["program"]["period_night_hours"].as_f64().unwrap();
    assert!((1500.0..2100.0).contains(&night), "{night} h of night in 2026B");
    let a = send(&app, post("/api/v1/programs/AGN/edit", &pi, r#"{"quota_percent": 90.5}"#)).await;
    assert_eq!(a.status, StatusCode::CONFLICT, "{}", a.body);
    assert!(a.body.contains("would total 100.5 %"), "{}", a.body);
    let a = send(&app, post("/api/v1/programs/AGN/edit", &pi, "{}")).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.body);
    let a =
        send(&app, post("/api/v1/programs/AGN/edit", &pi, r#"{"quota_hours": 1, "quota_percent": 1}"#)).await;
    assert!(a.body.contains("not both"), "{}", a.body);
    let a = send(&app, post("/api/v1/programs/AGN/edit", &pi, r#"{"bogus": 1}"#)).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.body);
    let a = send(&app, post("/api/v1/programs/NOPE/edit", &pi, r#"{"priority": 3}"#)).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND, "{}", a.body);
    // The pages say the same.
    let (cookie, csrf) = session(&app, "paul", &[Profile::Pi], SessionKind::Cookie).await;
    let a = send(&app, with_cookie("/programs", &cookie)).await;
    assert!(a.body.contains("10.0 % of"), "{}", a.body);
    let form = Request::post("/programs/AGN/edit")
        .header(header::COOKIE, format!("ferros_session={cookie}"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(format!("csrf={csrf}&quota_percent=abc")))
        .unwrap();
    let a = send(&app, form).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        a.body.contains("quota_percent: &#34;abc&#34; is not a number") || a.body.contains("is not a number"),
        "{}",
        a.body
    );
}

/// Mail into an outbox folder, its links starting with `base_url`.
fn outbox_mail(outbox: std::path::PathBuf, base_url: &str) -> ferros_web::MailSettings {
    ferros_web::MailSettings {
        mailer: std::sync::Arc::new(ferros_mail::Mailer::outbox_only("ferros@example.org", outbox).unwrap()),
        base_url: base_url.into(),
        activation: TimeDelta::hours(72),
        reset: TimeDelta::hours(1),
    }
}

/// The mails in an outbox: (to, whole text), oldest first.
fn outbox(dir: &std::path::Path) -> Vec<(String, String)> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut files: Vec<std::path::PathBuf> =
        entries.map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|x| x == "eml")).collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            // Quoted-printable's soft line breaks and '=' undone.
            let text = std::fs::read_to_string(p)
                .unwrap()
                .replace("=\r\n", "")
                .replace("=\n", "")
                .replace("=3D", "=");
            let to = text.lines().find_map(|l| l.strip_prefix("To: ")).unwrap_or_default().to_owned();
            (to, text)
        })
        .collect()
}

/// The token of the first link `…/{route}/TOKEN` in `text`.
fn link_token(text: &str, route: &str) -> String {
    let at = text.find(&format!("/{route}/")).unwrap_or_else(|| panic!("no /{route}/ link in {text}"));
    text[at + route.len() + 2..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

/// Registration, activation by a PI, deactivation, password reset and the
/// SP-PI's members, each told by mail (an outbox here); every refusal of
/// the issue's list said clearly.
#[tokio::test]
async fn accounts_follow_their_life_cycle_by_mail() {
    let dir = tempfile::tempdir().unwrap();
    let box_dir = dir.path().join("outbox");
    let mail = outbox_mail(box_dir.clone(), "http://ferros.test/");
    let app = super::spawn_app_with(ferros_web::WebSettings { mail: Some(mail), ..Default::default() }).await;
    add_program(&app, "GRB").await;
    let pi = NewUser {
        username: "paula".into(),
        email: "pi@example.org".into(),
        password_hash: "!".into(),
        profiles: [Profile::Pi].into(),
        programs: vec![],
    };
    app.db.create_user(&pi, Utc::now()).await.unwrap();
    let (pi_token, _) = session(&app, "paula", &[Profile::Pi], SessionKind::Bearer).await;
    let (observer, _) = session(&app, "olga", &[Profile::Observer], SessionKind::Bearer).await;
    let json = |uri: &str, token: Option<&str>, body: serde_json::Value| {
        let mut r = Request::post(uri).header(header::CONTENT_TYPE, "application/json");
        if let Some(t) = token {
            r = r.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        r.body(Body::from(body.to_string())).unwrap()
    };
    let signup = |name: &str, email: &str, password: &str| {
        serde_json::json!({"username": name, "email": email, "password": password,
            "intentions": "GRB afterglows in r and J, a few nights a month"})
    };
    // Registered: pending; its owner and the PI are mailed.
    let a =
        send(&app, json("/api/v1/register", None, signup("newbie", "New@Example.org", "a fine long secret")))
            .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    assert!(a.body.contains("waits for a PI's validation"), "{}", a.body);
    let mails = outbox(&box_dir);
    assert_eq!(mails.len(), 2, "{mails:?}");
    assert!(mails.iter().any(|(to, t)| to.contains("New@Example.org") && t.contains("waits for validation")));
    let (_, to_pi) = mails.iter().find(|(to, _)| to.contains("pi@example.org")).unwrap();
    assert!(to_pi.contains("GRB afterglows in r and J"), "{to_pi}");
    let token = link_token(to_pi, "activate");
    assert!(to_pi.contains(&format!("http://ferros.test/activate/{token}")), "{to_pi}");
    let u = app.db.user_by_name("newbie").await.unwrap().unwrap();
    assert!(u.pending && !u.active);
    let login = |password: &str| {
        json("/api/v1/login", None, serde_json::json!({"username": "newbie", "password": password}))
    };
    assert_eq!(
        send(&app, login("a fine long secret")).await.status,
        StatusCode::UNAUTHORIZED,
        "pending: no login"
    );
    // Refused: a taken e-mail address or name, a weak password, a bad address.
    let a =
        send(&app, json("/api/v1/register", None, signup("other", "new@example.ORG", "a fine long secret")))
            .await;
    assert_eq!(a.status, StatusCode::CONFLICT, "{}", a.body);
    assert!(a.body.contains("belongs to another account"), "{}", a.body);
    let a =
        send(&app, json("/api/v1/register", None, signup("newbie", "x@example.org", "a fine long secret")))
            .await;
    assert!(a.status == StatusCode::CONFLICT && a.body.contains("taken already"), "{}", a.body);
    let a = send(&app, json("/api/v1/register", None, signup("weak", "w@example.org", "password123"))).await;
    assert!(
        a.status == StatusCode::UNPROCESSABLE_ENTITY && a.body.contains("too easy to guess"),
        "{}",
        a.body
    );
    let a = send(&app, json("/api/v1/register", None, signup("weak", "w@example.org", "short"))).await;
    assert!(a.body.contains("10 to 256 characters"), "{}", a.body);
    let a =
        send(&app, json("/api/v1/register", None, signup("bad", "no address", "a fine long secret"))).await;
    assert!(a.body.contains("is not an e-mail address"), "{}", a.body);
    assert_eq!(outbox(&box_dir).len(), 2, "no mail for a refusal");
    // Activation: a PI's; the link once; an observer may not.
    let a =
        send(&app, json(&format!("/api/v1/activate/{token}"), Some(&observer), serde_json::json!({}))).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.body);
    let a =
        send(&app, json(&format!("/api/v1/activate/{token}"), Some(&pi_token), serde_json::json!({}))).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert!(outbox(&box_dir).iter().any(|(to, t)| to.contains("New@") && t.contains("is active")));
    assert_eq!(send(&app, login("a fine long secret")).await.status, StatusCode::OK);
    let a =
        send(&app, json(&format!("/api/v1/activate/{token}"), Some(&pi_token), serde_json::json!({}))).await;
    assert_eq!(a.status, StatusCode::CONFLICT, "{}", a.body);
    assert!(a.body.contains("was used already"), "{}", a.body);
    let a = send(&app, json("/api/v1/activate/forged-token", Some(&pi_token), serde_json::json!({}))).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND, "{}", a.body);
    // An expired link.
    let a =
        send(&app, json("/api/v1/register", None, signup("late", "late@example.org", "another fine secret")))
            .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    let late =
        outbox(&box_dir).into_iter().rev().find(|(to, t)| to.contains("pi@") && t.contains("late")).unwrap();
    let hash = ferros_auth::digest(&link_token(&late.1, "activate"));
    let e =
        app.db.activate_user(&hash, app.state_now() + TimeDelta::hours(100)).await.unwrap_err().to_string();
    assert!(e.contains("this activation link expired at"), "{e}");
    // The activation page shows the intentions.
    let (cookie, csrf) = session(&app, "paula", &[Profile::Pi], SessionKind::Cookie).await;
    let a = send(&app, with_cookie(&format!("/activate/{}", link_token(&late.1, "activate")), &cookie)).await;
    assert!(a.status == StatusCode::OK && a.body.contains("GRB afterglows"), "{}", a.body);
    // Deactivation and reactivation, told by mail.
    let form = |uri: &str| {
        Request::post(uri)
            .header(header::COOKIE, format!("ferros_session={cookie}"))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(format!("csrf={csrf}")))
            .unwrap()
    };
    assert_eq!(send(&app, form("/users/newbie/deactivate")).await.status, StatusCode::OK);
    assert!(outbox(&box_dir).iter().any(|(to, t)| to.contains("New@") && t.contains("was deactivated")));
    assert_eq!(send(&app, login("a fine long secret")).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(send(&app, form("/users/newbie/activate")).await.status, StatusCode::OK);
    assert_eq!(send(&app, login("a fine long secret")).await.status, StatusCode::OK);
    // A password reset: the same answer for an unknown address, the link once.
    let before = outbox(&box_dir).len();
    let a =
        send(&app, json("/api/v1/password-reset", None, serde_json::json!({"email": "nobody@example.org"})))
            .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(outbox(&box_dir).len(), before, "no mail to nobody");
    let a = send(&app, json("/api/v1/password-reset", None, serde_json::json!({"email": "NEW@example.org"})))
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let reset = outbox(&box_dir).into_iter().rev().find(|(_, t)| t.contains("/password-reset/")).unwrap();
    let rt = link_token(&reset.1, "password-reset");
    let uri = format!("/api/v1/password-reset/{rt}");
    let a = send(&app, json(&uri, None, serde_json::json!({"password": "newbie-2026"}))).await;
    assert!(a.status == StatusCode::UNPROCESSABLE_ENTITY && a.body.contains("too easy"), "{}", a.body);
    let a = send(&app, json(&uri, None, serde_json::json!({"password": "a brand new secret"}))).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(send(&app, login("a brand new secret")).await.status, StatusCode::OK);
    let a = send(&app, json(&uri, None, serde_json::json!({"password": "yet another secret"}))).await;
    assert!(a.status == StatusCode::CONFLICT && a.body.contains("was used already"), "{}", a.body);
    // The SP-PI chooses the members; each is told.
    app.db
        .update_program(
            "GRB",
            &ferros_domain::ProgramChanges {
                pi: Some(app.db.user_by_name("olga").await.unwrap().unwrap().id),
                ..Default::default()
            },
            None,
            Utc::now(),
        )
        .await
        .unwrap();
    let members = "/api/v1/programs/GRB/members";
    let a = send(&app, json(members, Some(&observer), serde_json::json!({"add": ["newbie"]}))).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert!(
        outbox(&box_dir).iter().any(|(to, t)| to.contains("New@") && t.contains("member of the program GRB"))
    );
    let grb = app.db.program_by_name("GRB").await.unwrap().unwrap();
    assert!(app.db.user_by_name("newbie").await.unwrap().unwrap().programs.contains(&grb.id));
    let (newbie, _) = session(&app, "newbie", &[], SessionKind::Bearer).await;
    let a = send(&app, json(members, Some(&newbie), serde_json::json!({"add": ["late"]}))).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "not the SP-PI: {}", a.body);
    let a = send(&app, json(members, Some(&observer), serde_json::json!({"remove": ["olga"]}))).await;
    assert!(a.status == StatusCode::CONFLICT && a.body.contains("the program's PI"), "{}", a.body);
    let a = send(&app, json(members, Some(&observer), serde_json::json!({"add": ["ghost"]}))).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND, "{}", a.body);
    let a = send(&app, json(members, Some(&observer), serde_json::json!({"remove": ["newbie"]}))).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert!(
        outbox(&box_dir)
            .iter()
            .any(|(to, t)| to.contains("New@") && t.contains("removed you from the program GRB"))
    );
}

/// Proposals: an observer proposes for the coming period until its
/// deadline, the TAC grades, the PI makes a program of it; the refusals
/// (a vote from a non-TAC user, a closed period, someone else's proposal,
/// a quota past 100 %) said clearly.
#[tokio::test]
async fn proposals_go_from_observer_to_tac_to_program() {
    let sky = ferros_web::SkySettings {
        site: ferros_astro::Site::new(31.0447, -115.4637, 2790.0).unwrap(),
        night_altitude: -12.0,
        horizon: 10.0,
    };
    let app = super::spawn_app_with(ferros_web::WebSettings { sky: Some(sky), ..Default::default() }).await;
    add_program(&app, "GRB").await;
    let member = NewUser {
        username: "alice".into(),
        email: String::new(),
        password_hash: "!".into(),
        profiles: [Profile::Observer].into(),
        programs: vec!["GRB".into()],
    };
    app.db.create_user(&member, Utc::now()).await.unwrap();
    let (olga, _) = session(&app, "olga", &[Profile::Observer], SessionKind::Bearer).await;
    let (bob, _) = session(&app, "bob", &[Profile::Observer], SessionKind::Bearer).await;
    let (tina, _) = session(&app, "tina", &[Profile::Tac], SessionKind::Bearer).await;
    let (tom, _) = session(&app, "tom", &[Profile::Tac], SessionKind::Bearer).await;
    let (pi, _) = session(&app, "paula", &[Profile::Pi], SessionKind::Bearer).await;
    let post = |uri: &str, t: &str, body: serde_json::Value| {
        Request::post(uri)
            .header(header::AUTHORIZATION, format!("Bearer {t}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap()
    };
    let proposal = serde_json::json!({"name": "GRB-2027A", "description": "SVOM afterglows, r and J", "hours": 120,
        "continues": "GRB"});
    // Today is 2026-11-22: 2026B has started; 2027A takes proposals until 2026-12-02.
    let a = send(&app, post("/api/v1/proposals", &olga, serde_json::json!({"name": "X", "description": "late for this one", "hours": 1, "period": "2026B"}))).await;
    assert!(
        a.status == StatusCode::UNPROCESSABLE_ENTITY && a.body.contains("2026B has started"),
        "{}",
        a.body
    );
    let a = send(&app, post("/api/v1/proposals", &olga, proposal.clone())).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    let v: serde_json::Value = serde_json::from_str(&a.body).unwrap();
    let id = v["id"].as_i64().unwrap();
    assert_eq!(
        (v["proposal"]["period"].as_str(), v["deadline"].as_str()),
        (Some("2027A"), Some("2026-12-02"))
    );
    let a = send(
        &app,
        post(
            "/api/v1/proposals",
            &bob,
            serde_json::json!({"name": "GRB", "description": "a program's name", "hours": 1}),
        ),
    )
    .await;
    assert!(a.status == StatusCode::CONFLICT && a.body.contains("a program is named"), "{}", a.body);
    // Only its proposer changes it.
    let a = send(&app, post(&format!("/api/v1/proposals/{id}/edit"), &bob, proposal.clone())).await;
    assert!(a.status == StatusCode::FORBIDDEN && a.body.contains("only its proposer"), "{}", a.body);
    let mut changed = proposal.clone();
    changed["hours"] = serde_json::json!(100);
    let a = send(&app, post(&format!("/api/v1/proposals/{id}/edit"), &olga, changed)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    // Votes: the TAC's only.
    let ballot = |g: &str| serde_json::json!({"grade": g, "comment": "strong science case"});
    let a = send(&app, post(&format!("/api/v1/proposals/{id}/vote"), &olga, ballot("A"))).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "a vote from a non-TAC user: {}", a.body);
    assert!(a.body.contains("your profiles do not allow this"), "{}", a.body);
    let a = send(&app, post(&format!("/api/v1/proposals/{id}/vote"), &tina, ballot("D"))).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.body);
    assert_eq!(
        send(&app, post(&format!("/api/v1/proposals/{id}/vote"), &tina, ballot("C"))).await.status,
        StatusCode::OK
    );
    assert_eq!(
        send(&app, post(&format!("/api/v1/proposals/{id}/vote"), &tina, ballot("A"))).await.status,
        StatusCode::OK
    );
    let a = send(&app, post(&format!("/api/v1/proposals/{id}/vote"), &tom, ballot("B"))).await;
    let v: serde_json::Value = serde_json::from_str(&a.body).unwrap();
    assert_eq!(v["votes"].as_array().unwrap().len(), 2, "a second vote replaces the first: {v}");
    assert_eq!(v["grade"], "B", "the median of A and B, the worse one");
    // The PI makes the program.
    let accept = format!("/api/v1/proposals/{id}/accept");
    assert_eq!(send(&app, post(&accept, &olga, serde_json::json!({}))).await.status, StatusCode::FORBIDDEN);
    let a = send(&app, post(&accept, &pi, serde_json::json!({"quota_percent": 120}))).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.body);
    let a = send(&app, post(&accept, &pi, serde_json::json!({"quota_percent": 5}))).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    let made: serde_json::Value = serde_json::from_str(&a.body).unwrap();
    assert_eq!(
        (made["program"].as_str(), made["period"].as_str(), made["priority"].as_i64()),
        (Some("GRB-2027A"), Some("2027A"), Some(20))
    );
    let program = app.db.program_by_name("GRB-2027A").await.unwrap().unwrap();
    assert_eq!(program.pi, Some(app.db.user_by_name("olga").await.unwrap().unwrap().id));
    for who in ["olga", "alice"] {
        let u = app.db.user_by_name(who).await.unwrap().unwrap();
        assert!(
            u.programs.contains(&program.id),
            "{who} is a member (proposer, or of the program it continues)"
        );
    }
    // A program now: no more votes, changes or withdrawal.
    let a = send(&app, post(&format!("/api/v1/proposals/{id}/vote"), &tom, ballot("A"))).await;
    assert!(
        a.status == StatusCode::CONFLICT
            && a.body.contains("GRB-2027A")
            && a.body.contains("already: it no longer changes"),
        "{}",
        a.body
    );
    let a = send(&app, post(&format!("/api/v1/proposals/{id}/delete"), &olga, serde_json::json!({}))).await;
    assert_eq!(a.status, StatusCode::CONFLICT, "{}", a.body);
    // Another proposal, its quota past the period's 100 %.
    let a = send(
        &app,
        post(
            "/api/v1/proposals",
            &bob,
            serde_json::json!({"name": "AGN-2027A", "description": "reverberation mapping", "hours": 50}),
        ),
    )
    .await;
    let id2 = serde_json::from_str::<serde_json::Value>(&a.body).unwrap()["id"].as_i64().unwrap();
    let a = send(
        &app,
        post(&format!("/api/v1/proposals/{id2}/accept"), &pi, serde_json::json!({"quota_percent": 96})),
    )
    .await;
    assert!(a.status == StatusCode::CONFLICT && a.body.contains("would total 101.0 %"), "{}", a.body);
    let a = send(&app, post(&format!("/api/v1/proposals/{id2}/delete"), &bob, serde_json::json!({}))).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let list = send(
        &app,
        Request::get("/api/v1/proposals")
            .header(header::AUTHORIZATION, format!("Bearer {tina}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(serde_json::from_str::<serde_json::Value>(&list.body).unwrap().as_array().unwrap().len(), 1);

    // Past its deadline, a period takes no proposal.
    let late =
        super::spawn_app_with(ferros_web::WebSettings { proposal_deadline_days: 60, ..Default::default() })
            .await;
    let (olga, _) = session(&late, "olga", &[Profile::Observer], SessionKind::Bearer).await;
    let mut p = proposal.clone();
    p["period"] = serde_json::json!("2027A");
    p["continues"] = serde_json::Value::Null;
    let a = send(&late, post("/api/v1/proposals", &olga, p)).await;
    assert!(
        a.status == StatusCode::CONFLICT
            && a.body.contains("proposals for 2027A closed on 2026-11-02 (propose for 2027B)"),
        "{}",
        a.body
    );
}

/// The life cycle's pages as a browser posts them: the registration form,
/// its refusals shown on the form, the reset pages, the SP-PI's members form.
#[tokio::test]
async fn the_life_cycle_pages_answer_their_forms() {
    let dir = tempfile::tempdir().unwrap();
    let box_dir = dir.path().join("outbox");
    let mail = outbox_mail(box_dir.clone(), "http://ferros.test");
    let app = super::spawn_app_with(ferros_web::WebSettings { mail: Some(mail), ..Default::default() }).await;
    let form = |uri: &str, body: &str| {
        Request::post(uri)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body.to_owned()))
            .unwrap()
    };
    let a = send(&app, Request::get("/register").body(Body::empty()).unwrap()).await;
    assert!(a.status == StatusCode::OK && a.body.contains("name=\"intentions\""), "{}", a.body);
    let a = send(&app, form("/register", "username=nina&email=nina%40example.org&password=aaaaaaaaaaaa&repeat=aaaaaaaaaaaa&intentions=variable+stars+in+M13")).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        a.body.contains("too easy to guess") && a.body.contains("value=\"nina\""),
        "the form keeps what was typed: {}",
        a.body
    );
    let a = send(&app, form("/register", "username=nina&email=nina%40example.org&password=a+fine+long+secret&repeat=another+one&intentions=variable+stars")).await;
    assert!(a.body.contains("differ"), "{}", a.body);
    let a = send(&app, form("/register", "username=nina&email=nina%40example.org&password=a+fine+long+secret&repeat=a+fine+long+secret&intentions=variable+stars+in+M13")).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    assert!(a.body.contains("waits for a PI"), "{}", a.body);
    let a = send(&app, Request::get("/login").body(Body::empty()).unwrap()).await;
    assert!(a.body.contains("/register") && a.body.contains("/password-reset"), "{}", a.body);
    // The reset pages: a dead link says so; the form takes an address.
    let a = send(&app, Request::get("/password-reset/not-a-real-token").body(Body::empty()).unwrap()).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert!(a.body.contains("unknown"), "{}", a.body);
    let a = send(&app, form("/password-reset", "email=nobody%40example.org")).await;
    assert!(
        a.status == StatusCode::OK && a.body.contains("If an active account has the address"),
        "{}",
        a.body
    );
    // The Users page shows the pending account and its intentions.
    let (cookie, csrf) = session(&app, "paula", &[Profile::Pi], SessionKind::Cookie).await;
    let a = send(&app, with_cookie("/users", &cookie)).await;
    assert!(a.body.contains("pending") && a.body.contains("variable stars in M13"), "{}", a.body);
    // The members form: the SP-PI only.
    add_program(&app, "GRB").await;
    let members = |c: &str, t: &str, body: &str| {
        Request::post("/programs/GRB/members")
            .header(header::COOKIE, format!("ferros_session={c}"))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(format!("csrf={t}&{body}")))
            .unwrap()
    };
    let (oc, ot) = session(&app, "olga", &[Profile::Observer], SessionKind::Cookie).await;
    assert_eq!(send(&app, members(&oc, &ot, "add=nina")).await.status, StatusCode::FORBIDDEN);
    let a = send(&app, members(&cookie, &csrf, "add=nina")).await;
    assert!(a.status == StatusCode::OK && a.body.contains("added nina"), "{}", a.body);
}
