#!/usr/bin/env bash
# The worker build, run by wrangler (wrangler.toml [build]) or directly.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/tools.sh
# --locked: the worker is built from exactly the dependencies in Cargo.lock.
exec worker-build --release -- --locked
