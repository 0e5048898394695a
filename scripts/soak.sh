#!/usr/bin/env bash
# `npm run soak`: the soak run (tests/soak/soak.mjs) against the built worker on workerd.
# Arguments pass through: `npm run soak -- --deliveries 1000 --people 100`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/tools.sh
bash scripts/build.sh >&2
exec node tests/soak/soak.mjs "$@"
