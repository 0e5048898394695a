#!/usr/bin/env bash
# The worker build, run by wrangler (wrangler.toml [build]) or directly.
# It builds into .build-next/ and copies into build/ only the files that changed: every
# `wrangler dev` start runs this, and a running `wrangler dev` reloads its worker (failing the
# requests in flight) whenever a file under build/ is rewritten, even with the same bytes.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/tools.sh
# `WA_EDGE_OPTIMIZE=speed` compiles the crate for speed (opt-level 3) instead of size (Cargo.toml's
# "z"): less CPU per message once an isolate is warm, for a larger module whose first request per
# isolate costs more. For a busy number; the default suits most.
case "${WA_EDGE_OPTIMIZE:-size}" in
  size) ;;
  speed) export CARGO_PROFILE_RELEASE_OPT_LEVEL=3 ;;
  *)
    echo "WA_EDGE_OPTIMIZE is size or speed, not ${WA_EDGE_OPTIMIZE}" >&2
    exit 1
    ;;
esac
# Nothing that goes into the build changed since the last one: build/ is what it would make
# again, and the wasm-opt pass alone takes most of a minute. (Every `wrangler dev` start runs
# this script, so an unchanged tree starts in seconds.)
stamp="$(
  {
    find src console Cargo.toml Cargo.lock rust-toolchain.toml scripts/build.sh scripts/strip-names.mjs \
      -type f -print0 | sort -z | xargs -0 sha256sum
    echo "optimize=${WA_EDGE_OPTIMIZE:-size} names=${KEEP_WASM_NAMES:-0}"
    rustc --version
  } | sha256sum | cut -d' ' -f1
)"
# The stamp lives outside build/, whose every rewrite reloads a running `wrangler dev`.
stamp_file=target/wa-edge-build.inputs
if [ -f "$stamp_file" ] && [ "$(cat "$stamp_file")" = "$stamp" ] && [ -f build/index.js ] &&
  [ -f build/index_bg.wasm ]; then
  echo "build: unchanged since the last build, kept" >&2
  exit 0
fi
# --locked: the worker is built from exactly the dependencies in Cargo.lock.
worker-build --release --out-dir .build-next -- --locked
# The shipped wasm carries no debug names (the name section was about a fifth of it): dropped
# after wasm-bindgen, which needs the sections a `strip = true` in Cargo.toml would remove.
# `KEEP_WASM_NAMES=1` keeps them, for a profile that names wasm functions (npm run bench:profile).
if [ "${KEEP_WASM_NAMES:-0}" != "1" ]; then
  node scripts/strip-names.mjs .build-next/index_bg.wasm
fi
mkdir -p build
(cd .build-next && find . -type f) | while read -r f; do
  if ! cmp -s ".build-next/$f" "build/$f"; then
    mkdir -p "build/$(dirname "$f")"
    cp ".build-next/$f" "build/$f"
  fi
done
mkdir -p target
echo "$stamp" > "$stamp_file"
