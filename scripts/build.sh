#!/usr/bin/env bash
# The worker build, run by wrangler (wrangler.toml [build]) or directly.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/tools.sh
exec worker-build --release
