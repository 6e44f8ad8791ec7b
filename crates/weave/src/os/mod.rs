//! Platform-specific parts, as `std::os`.

pub mod fd;
pub(crate) mod threads;
pub mod unix;
