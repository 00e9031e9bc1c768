//! The one error type of the core. The bindings map each variant to a Python exception in one
//! place (`py/errors.rs`); the core never panics on bad input.

use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CoreError {
    /// An argument out of its range; maps to ValueError.
    InvalidArgument(String),
    /// A value of a type the core cannot handle; maps to TypeError.
    InvalidType(String),
    /// A file-system failure (kind, message with the path); maps to OSError and its subclasses.
    Io(std::io::ErrorKind, String),
}

impl fmt::Display for CoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CoreError::InvalidArgument(m) | CoreError::InvalidType(m) | CoreError::Io(_, m) => {
                f.write_str(m)
            }
        }
    }
}

impl std::error::Error for CoreError {}
