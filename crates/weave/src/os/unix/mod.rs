//! Unix-specific parts, as `std::os::unix`.

pub mod net;
