#!/usr/bin/env bash
# `npm run bench`: builds the release worker, counts KV operations per workload natively, then
# runs the three workers side by side (bench/run.mjs). Not a test: it fails on a wrong answer
# (a status other than the expected one), never on a number.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/tools.sh
bash scripts/build.sh >&2
cargo run --quiet --locked --release --features testing --example kv_ops > target/bench-kv-ops.json
# Miniflare keeps each run's Durable Object storage under the temporary directory, even unpersisted
# (one SQLite file per object: every new contact's, and the alarms of the memory runs). On disk
# its file creation and syncs were kernel time counted against whichever worker made the object
# (two fifths of a new contact's CPU under perf, for both workers); tmpfs keeps it in memory.
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
  export TMPDIR=/dev/shm
fi
# The load generator on core 1; run.mjs pins each workerd to core 0.
exec taskset -c 1 node bench/run.mjs
