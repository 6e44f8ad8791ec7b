//! Unix domain sockets with the shape of `std::os::unix::net`.
