//! Compiles `src/cbench.c`, the C side of `weave bench`, twice: once on
//! the system's threads and once through weave's compatibility header
//! (`-include weave/pthread.h`, the symbols of the weave-capi crate).

fn main() {
    println!("cargo:rerun-if-changed=src/cbench.c");
    println!("cargo:rerun-if-changed=../../include/weave.h");
    println!("cargo:rerun-if-changed=../../include/weave/pthread.h");
    cc::Build::new()
        .file("src/cbench.c")
        .define("CBENCH(name)", "cbench_glibc_##name")
        // pthread_setconcurrency is XSI: declared with _GNU_SOURCE.
        .define("_GNU_SOURCE", None)
        .opt_level(2)
        .compile("cbench_glibc");
    cc::Build::new()
        .file("src/cbench.c")
        .define("CBENCH(name)", "cbench_weave_##name")
        .define("_GNU_SOURCE", None)
        .include("../../include")
        .flag("-include")
        .flag("weave/pthread.h")
        .opt_level(2)
        .compile("cbench_weave");
}
