//! Compiles `src/landing.c`, the setjmp/longjmp landing pad behind
//! `pthread_exit` (see `src/thread.rs`), and `src/sigjmp.c`, the
//! compatibility header's `sigsetjmp`/`siglongjmp` (see `src/signal.rs`),
//! and names the shared library libweave.so.

fn main() {
    println!("cargo:rerun-if-changed=src/landing.c");
    println!("cargo:rerun-if-changed=src/sigjmp.c");
    // Installed as libweave.so (scripts/install-capi.sh): programs linked
    // against it then need libweave.so, whatever cargo named the file.
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libweave.so");
    cc::Build::new()
        .file("src/landing.c")
        .file("src/sigjmp.c")
        .warnings(true)
        .compile("weave_landing");
}
