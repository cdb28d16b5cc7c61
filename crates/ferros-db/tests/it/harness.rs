//! Fresh databases for the repository suite.

use std::sync::atomic::{AtomicU32, Ordering};

use ferros_db::Db;

pub struct Harness {
    pub db: Db,
    _dir: Option<tempfile::TempDir>,
    schema: Option<(String, String)>,
}

pub async fn sqlite() -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("ferros.db").display());
    Harness { db: Db::connect(&url).await.unwrap(), _dir: Some(dir), schema: None }
}

/// The same, in the blocking mode of simulated nights (calls run to their
/// end on the calling thread, the agents' frequent ones on a held connection).
pub async fn sqlite_virtual() -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("ferros.db").display());
    Harness { db: Db::connect_virtual(&url).await.unwrap(), _dir: Some(dir), schema: None }
}

/// A database in a schema of its own on the server named by
/// `FERROS_TEST_POSTGRES_URL`; `None` (with a note) when it is not set.
pub async fn postgres() -> Option<Harness> {
    let Ok(base) = std::env::var("FERROS_TEST_POSTGRES_URL") else {
        eprintln!("FERROS_TEST_POSTGRES_URL is not set: the PostgreSQL run of this case is skipped");
        return None;
    };
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    let schema =
        format!("ferros_test_{}_{}_{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed), nanos);
    let admin = sqlx::PgPool::connect(&base).await.expect("FERROS_TEST_POSTGRES_URL must reach a server");
    sqlx::query(&format!("CREATE SCHEMA {schema}")).execute(&admin).await.unwrap();
    admin.close().await;
    let sep = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{sep}options=-c%20search_path%3D{schema}");
    Some(Harness { db: Db::connect(&url).await.unwrap(), _dir: None, schema: Some((base, schema)) })
}

impl Harness {
    pub async fn drop_schema(self) {
        self.db.close().await;
        if let Some((base, schema)) = self.schema {
            let admin = sqlx::PgPool::connect(&base).await.unwrap();
            sqlx::query(&format!("DROP SCHEMA {schema} CASCADE")).execute(&admin).await.unwrap();
            admin.close().await;
        }
    }
}
