//! How the command line fails: bad input (exit status 2) or a failure to do
//! the work (exit status 1), always as one line on standard error.

use std::fmt;
use std::process::ExitCode;

use ferros_db::DbError;

#[derive(Debug)]
pub enum CliError {
    /// The input is wrong: a document, an argument, a name or id that does not exist.
    Input(String),
    /// The problems were already printed, one per line; this is the summary.
    Reported(String),
    /// The work could not be done (database unreachable, IO...).
    Failure(anyhow::Error),
}

impl CliError {
    /// Bad input, said by `msg` (a message or a library's error).
    pub fn input(msg: impl fmt::Display) -> Self {
        CliError::Input(msg.to_string())
    }

    pub fn exit_code(&self) -> ExitCode {
        match self {
            CliError::Input(_) | CliError::Reported(_) => ExitCode::from(2),
            CliError::Failure(_) => ExitCode::from(1),
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Input(m) | CliError::Reported(m) => f.write_str(m),
            CliError::Failure(e) => write!(f, "{e:#}"),
        }
    }
}

impl From<DbError> for CliError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::NotFound { .. }
            | DbError::Conflict(_)
            | DbError::Domain(_)
            | DbError::UnsupportedUrl(_) => CliError::Input(e.to_string()),
            other => CliError::Failure(other.into()),
        }
    }
}

impl From<ferros_programs::ProgramError> for CliError {
    fn from(e: ferros_programs::ProgramError) -> Self {
        match e {
            ferros_programs::ProgramError::Db(d) => d.into(),
            night @ ferros_programs::ProgramError::Night { .. } => CliError::input(night.to_string()),
        }
    }
}

impl From<anyhow::Error> for CliError {
    fn from(e: anyhow::Error) -> Self {
        CliError::Failure(e)
    }
}

pub type CliResult<T = ()> = Result<T, CliError>;
