//! One error type for every way an input can be wrong. Each variant names where the problem is
//! (file and field path) and what was expected, so the CLI can print it on one or two lines.

use std::fmt;

/// Result alias used across kvsim.
pub type Result<T> = std::result::Result<T, Error>;

/// Everything that can go wrong while loading inputs or evaluating a scenario.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// A field has a missing, mistyped or out-of-range value.
    #[error("{file}: {field}: found {found}, expected {expected}")]
    Field {
        file: String,
        field: String,
        found: String,
        expected: String,
    },
    /// The config names a model class kvsim does not import.
    #[error("{file}: architectures: unknown architecture `{class}`; kvsim imports {supported}")]
    UnknownArchitecture {
        file: String,
        class: String,
        supported: String,
    },
    /// The architecture is recognised but part of it is not modelled yet: refusing beats a wrong number.
    #[error("{model}: {what} is not yet modelled by kvsim")]
    NotModelled { model: String, what: String },
    /// A catalog id that does not exist.
    #[error("unknown {kind} `{id}`; known {kind}s: {known}")]
    UnknownId {
        kind: &'static str,
        id: String,
        known: String,
    },
    /// A file could not be read.
    #[error("{file}: cannot read: {reason}")]
    Io { file: String, reason: String },
    /// An output could not be written (the file, device or standard output is named).
    #[error("{file}: cannot write: {reason}")]
    Write { file: String, reason: String },
    /// The reader of standard output went away (`kvsim … | head`): the CLI ends quietly.
    #[error("broken pipe")]
    BrokenPipe,
    /// A file is not valid JSON / TOML.
    #[error("{file}: {reason}")]
    Syntax { file: String, reason: String },
    /// A bug in kvsim (a report that cannot be serialised, an impossible state).
    #[error("internal error: {what}; please report it")]
    Internal { what: String },
    /// A figure does not fit in the integer type that holds it.
    #[error("{what}: the figure overflows 64 bits; the model or context is too large")]
    Overflow { what: String },
}

/// Process exit code classes of the CLI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitKind {
    /// Usage or input error (exit 2).
    Input,
    /// A bug in kvsim (exit 1).
    Internal,
}

impl Error {
    /// Shorthand for a field error.
    pub fn field(
        file: impl fmt::Display,
        field: impl fmt::Display,
        found: impl fmt::Display,
        expected: impl fmt::Display,
    ) -> Self {
        Error::Field {
            file: file.to_string(),
            field: field.to_string(),
            found: found.to_string(),
            expected: expected.to_string(),
        }
    }

    /// Shorthand for an overflow error.
    pub fn overflow(what: impl fmt::Display) -> Self {
        Error::Overflow {
            what: what.to_string(),
        }
    }

    /// Which exit code the CLI uses for this error.
    pub fn exit_kind(&self) -> ExitKind {
        match self {
            Error::Internal { .. } => ExitKind::Internal,
            _ => ExitKind::Input,
        }
    }

    /// The error for a failed write to `file`: a broken pipe is its own kind (the CLI ends quietly).
    pub fn write(file: impl fmt::Display, e: &std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            return Error::BrokenPipe;
        }
        Error::Write {
            file: file.to_string(),
            reason: e.to_string(),
        }
    }

    /// The same error with a write failure renamed to `file` (writers deep in the code know only
    /// that they write "output"; the CLI knows the path).
    pub fn written_to(self, file: &str) -> Self {
        match self {
            Error::Write { reason, .. } => Error::Write {
                file: file.to_string(),
                reason,
            },
            other => other,
        }
    }

    /// Shorthand for an internal error.
    pub fn internal(what: impl fmt::Display) -> Self {
        Error::Internal {
            what: what.to_string(),
        }
    }
}
