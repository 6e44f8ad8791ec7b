//! Platform-specific parts, as `std::os`.

pub mod fd;
pub mod unix;
