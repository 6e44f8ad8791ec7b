//! Compiles `src/landing.c`, the setjmp/longjmp landing pad behind
//! `pthread_exit` (see `src/thread.rs`).

fn main() {
    println!("cargo:rerun-if-changed=src/landing.c");
    cc::Build::new()
        .file("src/landing.c")
        .warnings(true)
        .compile("weave_landing");
}
