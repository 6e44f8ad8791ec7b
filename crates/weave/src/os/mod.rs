//! Platform-specific parts, as `std::os`.

pub mod unix;
