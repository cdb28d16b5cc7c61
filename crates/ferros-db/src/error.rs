//! The repository's error type: what went wrong, said so a person can act on it.

use ferros_domain::DomainError;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum DbError {
    #[error("cannot open database {url}: {source}")]
    Connect {
        url: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("unsupported database URL \"{0}\" (use sqlite://PATH or postgres://...)")]
    UnsupportedUrl(String),
    #[error("cannot migrate the database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("{what} {key} does not exist")]
    NotFound { what: &'static str, key: String },
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Domain(#[from] DomainError),
    #[error("corrupt row in {table} (id {id}): {message}")]
    Corrupt { table: &'static str, id: i64, message: String },
    #[error("database error: {0}")]
    Query(#[source] sqlx::Error),
}

impl DbError {
    pub(crate) fn not_found(what: &'static str, key: impl ToString) -> Self {
        DbError::NotFound { what, key: key.to_string() }
    }
}

impl From<sqlx::Error> for DbError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Database(d) if d.is_unique_violation() => {
                DbError::Conflict(format!("already exists ({})", d.message()))
            }
            _ => DbError::Query(e),
        }
    }
}

pub type DbResult<T> = Result<T, DbError>;
