//! The Ferros web server: the dashboard's pages (server-rendered HTML from
//! compile-checked templates, a little JavaScript, SVG charts drawn here),
//! the REST API under `/api/v1/` with its OpenAPI document, and accounts:
//! login, sessions in the database, CSRF tokens on every form, the login
//! rate limiter, and the seeds' rights matrix checked on the server for
//! every route (`access.rs`: one table says who may reach what).

use std::future::Future;
use std::sync::{Arc, Mutex};

use axum::Router;
use ferros_clock::Clock;
use ferros_db::Db;
use ferros_request_xml::ReadOptions;
use tokio::net::TcpListener;

mod access;
mod accounts;
mod api;
mod auth;
mod control;
mod events;
mod health;
mod images;
mod pages;
mod preview;
mod problem;
mod programs;
mod proposals;
mod requests;
mod sky;
mod status;
mod svg;
mod users;

pub use access::{Access, ROUTES, RouteInfo};
pub use sky::SkySettings;

/// How long a login lasts, and the login limiter's settings.
#[derive(Debug, Clone)]
pub struct WebSettings {
    /// Hours a session lasts after its login.
    pub session_hours: f64,
    /// Failed logins allowed per user name and per address in `login_window_s`.
    pub login_failures: usize,
    pub login_window_s: i64,
    /// Mark the session cookie `Secure` (Ferros behind HTTPS).
    pub secure_cookies: bool,
    /// The device status list the `gic` agent writes every 6 s
    /// (`exchange/GIC/TO/device_status.json`), shown as the devices' states.
    pub device_status_file: Option<std::path::PathBuf>,
    /// Webcam image addresses shown on the Webcams page.
    pub webcams: Vec<String>,
    /// The site, for tonight's visibility charts (none: no charts).
    pub sky: Option<SkySettings>,
    /// The archive's root, whose images the Images pages serve.
    pub archive_root: Option<std::path::PathBuf>,
    /// The configuration in effect as TOML (secrets hidden), for the Config page.
    pub config_text: String,
    /// Mail to users (registration, activation, password reset, program
    /// members); none: those pages say mail is not set up.
    pub mail: Option<MailSettings>,
    /// Proposals for a period close this many days before it starts.
    pub proposal_deadline_days: u32,
}

/// How the web server mails users.
#[derive(Debug, Clone)]
pub struct MailSettings {
    pub mailer: Arc<ferros_mail::Mailer>,
    /// The address users reach this server at, for the links in mails.
    pub base_url: String,
    /// How long an activation link lasts.
    pub activation: chrono::TimeDelta,
    /// How long a password reset link lasts.
    pub reset: chrono::TimeDelta,
}

impl Default for WebSettings {
    fn default() -> Self {
        Self {
            session_hours: 12.0,
            login_failures: 5,
            login_window_s: 300,
            secure_cookies: false,
            device_status_file: None,
            webcams: Vec::new(),
            sky: None,
            archive_root: None,
            config_text: String::new(),
            mail: None,
            proposal_deadline_days: 30,
        }
    }
}

/// What every handler may use.
#[derive(Debug, Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    db: Db,
    clock: Clock,
    site_name: String,
    /// The same, shared with each request's viewer.
    site: Arc<str>,
    settings: WebSettings,
    /// How request XML is read (limits, cameras' readouts, filter wheels);
    /// its `now` is set at each import.
    import: ReadOptions,
    limiter: Mutex<ferros_auth::RateLimiter>,
    status: status::Cache,
    sky: sky::Cache,
    streams: events::Streams,
}

impl AppState {
    pub fn new(db: Db, clock: Clock, site_name: impl Into<String>, import: ReadOptions) -> Self {
        Self::with_settings(db, clock, site_name, import, WebSettings::default())
    }

    pub fn with_settings(
        db: Db,
        clock: Clock,
        site_name: impl Into<String>,
        import: ReadOptions,
        settings: WebSettings,
    ) -> Self {
        let site_name: String = site_name.into();
        let limiter = ferros_auth::RateLimiter::new(
            settings.login_failures,
            chrono::TimeDelta::seconds(settings.login_window_s),
            ferros_limits::MAX_LOGIN_KEYS,
        );
        Self {
            inner: Arc::new(Inner {
                db,
                clock,
                site: Arc::from(site_name.as_str()),
                site_name,
                settings,
                import,
                limiter: Mutex::new(limiter),
                status: status::Cache::default(),
                sky: sky::Cache::default(),
                streams: events::Streams::default(),
            }),
        }
    }

    fn db(&self) -> &Db {
        &self.inner.db
    }

    fn clock(&self) -> &Clock {
        &self.inner.clock
    }

    fn site_name(&self) -> &str {
        &self.inner.site_name
    }
}

/// All routes, ready to be served or called directly in tests.
pub fn router(state: AppState) -> Router {
    access::router(state)
}

/// Serves until `shutdown` completes, then lets running requests finish.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await
}
