//! Observation requests in the PyROS XML format (docs/requests.md), both ways.
//!
//! [`read_request`] checks a whole document and returns every problem with its
//! element path (`request/sequence[2]/album[1]/plan[1]: nb_images must be > 0`);
//! [`write_request`] gives back an equivalent document. No IO: callers pass text.

use std::fmt;

mod read;
mod write;

pub use read::{ReadOptions, parse_coordinates, read_request};
pub use write::write_request;

use ferros_domain::NewRequest;

/// A request read from XML.
#[derive(Debug, Clone, PartialEq)]
pub struct Imported {
    pub request: NewRequest,
    /// `submitted="1"`: the request asks to be submitted at once.
    pub submit: bool,
    /// Things accepted but worth telling (a sequence left INCOMPLETE...).
    pub warnings: Vec<Problem>,
}

/// One problem in a document, located by line, column and element path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub line: u32,
    pub column: u32,
    /// `request/sequence[2]/album[1]`, empty when the XML itself is malformed.
    pub path: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}:{}: {}", self.line, self.column, self.message)
        } else {
            write!(f, "{}:{}: {}: {}", self.line, self.column, self.path, self.message)
        }
    }
}
