//! The peers workloads on tokio's multi-thread runtime, "workers" worker
//! threads.

const RUNTIME: &str = "tokio-mt";
const CURRENT_THREAD: bool = false;

include!("../tokio.rs");
