//! `include/weave.h` is what cbindgen makes of weave-capi's signatures:
//! the header cannot drift from the Rust side.

use std::path::Path;

#[test]
fn weave_h_matches_the_exported_signatures() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../weave-capi");
    let config =
        cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("cbindgen.toml parses");
    let mut fresh = Vec::new();
    cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen reads the crate")
        .write(&mut fresh);
    let fresh = String::from_utf8(fresh).expect("the header is UTF-8");
    let path = crate_dir.join("../../include/weave.h");
    if std::env::var_os("WEAVE_BLESS").is_some() {
        std::fs::write(&path, &fresh).expect("write include/weave.h");
        return;
    }
    let old = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        old == fresh,
        "include/weave.h differs from what cbindgen makes of crates/weave-capi/src; \
         rewrite it with `WEAVE_BLESS=1 cargo test -p weave-capi-header --test header` and \
         commit the result"
    );
}
