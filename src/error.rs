//! One error type for the whole crate.

/// What went wrong, with enough context to fix the input.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Shapes that do not fit together.
    #[error("dimension mismatch in {what}: expected {expected}, got {got}")]
    Dimension {
        /// Where the mismatch was found.
        what: String,
        /// The shape that was required.
        expected: String,
        /// The shape that was given.
        got: String,
    },
    /// A parameter outside its domain (`eta <= 0`, a zero width, fewer than 2 bits, ...).
    #[error("invalid value for `{field}`: {message}")]
    Invalid {
        /// The offending field, as named in experiment files.
        field: String,
        /// What is expected instead.
        message: String,
    },
    /// A closed form whose preconditions do not hold.
    #[error("precondition failed for {reference}: {message}")]
    Precondition {
        /// The reference solution.
        reference: String,
        /// The condition that does not hold.
        message: String,
    },
    /// A malformed experiment file.
    #[error("experiment file {path}: {message}")]
    Config {
        /// The file.
        path: String,
        /// What is wrong and where.
        message: String,
    },
    /// An operation the number type cannot do (e.g. a square root in exact rationals).
    #[error("{0}")]
    Unsupported(String),
    /// Input/output.
    #[error("i/o error on {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// Anything else.
    #[error("{0}")]
    Other(String),
}

/// Shorthand.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// An [`Error::Invalid`].
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Invalid { field: field.into(), message: message.into() }
    }
    /// An [`Error::Dimension`].
    pub fn dim(what: impl Into<String>, expected: impl Into<String>, got: impl Into<String>) -> Self {
        Error::Dimension { what: what.into(), expected: expected.into(), got: got.into() }
    }
}
