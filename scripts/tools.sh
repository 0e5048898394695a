#!/usr/bin/env bash
# Installs the build tools into the git-ignored .tools/ folder, once, from crates.io and npm only.
# worker-build would otherwise download wasm-bindgen, wasm-opt and esbuild from GitHub, which is
# unreachable here and on many corporate networks; we build/install them from registries instead.
# Source this file: it exports the *_BIN variables worker-build honours.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="$root/.tools"
WORKER_BUILD_VERSION="0.8.7"
# wasm-bindgen-cli must match the wasm-bindgen crate in Cargo.lock exactly.
WASM_BINDGEN_VERSION="$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/[^0-9.]/,""); print; exit}' "$root/Cargo.lock")"

# rust-toolchain.toml names the wasm target; a toolchain installed before it was read lacks it.
if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  echo "tools: rustup target add wasm32-unknown-unknown" >&2
  rustup target add wasm32-unknown-unknown >&2
fi

install_crate() { # name version binary [cargo install flags...]
  local name="$1" version="$2" bin="$3"
  shift 3
  local stamp="$tools/.$name-$version"
  if [ ! -f "$stamp" ] || [ ! -x "$tools/bin/$bin" ]; then
    echo "tools: installing $name $version into .tools (first run only, several minutes)" >&2
    cargo install "$name" --version "$version" --root "$tools" --quiet "$@"
    touch "$stamp"
  fi
}

# Both are built unoptimised (--debug): it halves their build (about 200 s instead of 450 s on
# 2 cores), and the worker they build is byte for byte the same; the build's time is cargo's and
# wasm-opt's, not theirs (42 s either way).
install_crate worker-build "$WORKER_BUILD_VERSION" worker-build --locked --debug
# Not --locked: wasm-bindgen-cli's lockfile pins a webpki-roots release that crates.io mirrors may
# lack. Its own crates are pinned with `=` by the version; without default features it has no TLS
# stack at all (we never let it download anything).
install_crate wasm-bindgen-cli "$WASM_BINDGEN_VERSION" wasm-bindgen --no-default-features --debug

if [ ! -x "$root/node_modules/.bin/wrangler" ] || [ "$root/package-lock.json" -nt "$root/node_modules/.package-lock.json" ]; then
  echo "tools: npm ci" >&2
  (cd "$root" && npm ci --no-audit --no-fund --loglevel=error)
fi

# pywa, a WhatsApp client the end-to-end suite sends through the gateway with, from PyPI. Into a
# plain folder (`pip --target`, used through PYTHONPATH): no venv module needed.
clients_req="$root/tests/e2e/clients/requirements.txt"
clients_dir="$tools/pyclients"
if [ ! -f "$clients_dir/.installed" ] || [ "$clients_req" -nt "$clients_dir/.installed" ]; then
  echo "tools: pip install (tests/e2e/clients/requirements.txt) into .tools/pyclients" >&2
  rm -rf "$clients_dir"
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --target "$clients_dir" -r "$clients_req"
  touch "$clients_dir/.installed"
fi

# node_modules/.bin first: its `node` is the Node 22 that current wrangler needs, installed from
# npm as a devDependency (the `node` package), whatever Node runs npm itself.
export PATH="$root/node_modules/.bin:$tools/bin:$PATH"
export WASM_BINDGEN_BIN="$tools/bin/wasm-bindgen"
export ESBUILD_BIN="$root/node_modules/.bin/esbuild"
export WASM_OPT_BIN="$root/node_modules/.bin/wasm-opt"
