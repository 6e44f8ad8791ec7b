//! The peers workloads on tokio's current-thread runtime.

const RUNTIME: &str = "tokio-ct";
const CURRENT_THREAD: bool = true;

include!("../tokio.rs");
