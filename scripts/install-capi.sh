#!/usr/bin/env bash
# Installs weave's C API under a prefix:
#   PREFIX/include/weave.h, PREFIX/include/weave/pthread.h,
#   PREFIX/lib/libweave.so, PREFIX/lib/libweave.a,
#   PREFIX/lib/pkgconfig/weave.pc
# Usage: scripts/install-capi.sh PREFIX   (builds weave-capi in release)
# Then:  cc -include weave/pthread.h prog.c $(pkg-config --cflags --libs weave)
# with PKG_CONFIG_PATH=PREFIX/lib/pkgconfig if PREFIX is not a system one,
# and PREFIX/lib on the loader's path (LD_LIBRARY_PATH, an rpath, or
# ldconfig) to run a program linked against libweave.so.
set -euo pipefail
if [ $# -ne 1 ]; then
  echo "usage: $0 PREFIX" >&2
  exit 2
fi
cd "$(dirname "$0")/.."
mkdir -p "$1"
prefix="$(cd "$1" && pwd)"
target="${CARGO_TARGET_DIR:-target}"

cargo build --release -q -p weave-capi
version="$(sed -n 's/^version = "\(.*\)"/\1/p' crates/weave-capi/Cargo.toml | head -1)"

install -d "$prefix/include/weave" "$prefix/lib/pkgconfig"
install -m 644 include/weave.h "$prefix/include/weave.h"
install -m 644 include/weave/pthread.h "$prefix/include/weave/pthread.h"
install -m 755 "$target/release/libweave_capi.so" "$prefix/lib/libweave.so"
install -m 644 "$target/release/libweave_capi.a" "$prefix/lib/libweave.a"
cat >"$prefix/lib/pkgconfig/weave.pc" <<PC
prefix=$prefix
includedir=\${prefix}/include
libdir=\${prefix}/lib

Name: weave
Description: M:N threads (ULTs on a pool of LWPs) with a pthreads-compatible C API
Version: $version
Cflags: -I\${includedir}
Libs: -L\${libdir} -lweave
Libs.private: -lpthread -ldl -lm
PC
echo "weave $version installed under $prefix"
