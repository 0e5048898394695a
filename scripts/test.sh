#!/usr/bin/env bash
# `npm test`: every test. Installs what is missing (tools into .tools/, npm packages), then runs
# the native unit tests, the end-to-end tests against the real worker in workerd, and the
# console's tests in a real browser (Debian's Chromium, installed with apt when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/tools.sh
export CLOUDFLARE_CF_FETCH_ENABLED=false WRANGLER_SEND_METRICS=false
echo "== unit tests (native)"
cargo test --locked --lib
echo "== the worker's build (once: every worker the tests start then finds it unchanged)"
bash scripts/build.sh
echo "== end-to-end tests (workerd + local KV + fake Graph API on 127.0.0.1)"
# Four at a time: each test has its own contacts (and numbers), a test that compares a whole
# KV listing or kills its worker has a worker of its own, and most of the suite's time is tests
# that wait on purpose (a Graph API held for 40 s, a status that never comes, a restart).
cargo test --locked --test e2e -- --test-threads=4
echo "== the console in a real browser (Debian's Chromium, playwright-core, axe-core)"
source scripts/browser.sh
node --test --test-reporter=spec tests/console/console.test.mjs
