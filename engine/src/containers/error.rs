//! The container functions' errors are the crate's [`crate::Error`]
//! (its container and volume variants, with [`crate::Error::exit_code`]
//! giving docker's exit code); `ContainerError` is its name here.

/// The crate's error, as the container and volume functions return it.
pub type ContainerError = crate::Error;

/// Result alias for the container functions.
pub type Result<T, E = ContainerError> = std::result::Result<T, E>;
