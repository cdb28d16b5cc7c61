//! The one error type of the domain model: a value out of its range, a name that
//! is not known, or a status change the life cycle forbids.

use thiserror::Error;

use crate::SequenceStatus;

#[derive(Debug, Clone, PartialEq, Error)]
pub enum DomainError {
    #[error("{field} = {value} is out of range (expected {expected})")]
    OutOfRange { field: &'static str, value: f64, expected: String },
    #[error("{field}: unknown value \"{value}\" (expected one of: {expected})")]
    UnknownName { field: &'static str, value: String, expected: String },
    #[error("{field}: {message}")]
    Invalid { field: &'static str, message: String },
    #[error("a sequence cannot go from {from} to {to}")]
    Transition { from: SequenceStatus, to: SequenceStatus },
}

impl DomainError {
    pub fn out_of_range(field: &'static str, value: f64, expected: &str) -> Self {
        Self::OutOfRange { field, value, expected: expected.to_owned() }
    }

    pub fn unknown(field: &'static str, value: &str, expected: &[&str]) -> Self {
        Self::UnknownName { field, value: value.to_owned(), expected: expected.join(", ") }
    }

    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid { field, message: message.into() }
    }
}
