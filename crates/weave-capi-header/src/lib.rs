//! No code: this crate holds the test that `include/weave.h` is what
//! cbindgen makes of weave-capi's signatures (`tests/header.rs`), so that
//! only that test's builds compile cbindgen.
