//! Compiles `src/landing.c`, the setjmp/longjmp landing pad behind
//! `pthread_exit` (see `src/thread.rs`), and names the shared library
//! libweave.so.

fn main() {
    println!("cargo:rerun-if-changed=src/landing.c");
    // Installed as libweave.so (scripts/install-capi.sh): programs linked
    // against it then need libweave.so, whatever cargo named the file.
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libweave.so");
    cc::Build::new()
        .file("src/landing.c")
        .warnings(true)
        .compile("weave_landing");
}
