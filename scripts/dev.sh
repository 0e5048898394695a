#!/usr/bin/env bash
# `npm start`: run the worker locally on workerd with KV persisted under .wrangler/.
# Extra arguments go to `wrangler dev` (e.g. `npm start -- --port 8788`).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/tools.sh
if [ ! -f .dev.vars ]; then
  cp .dev.vars.example .dev.vars
  echo "dev: created .dev.vars from .dev.vars.example (fake secrets; edit it for real use)" >&2
fi
# Offline, miniflare would spend 20 s failing to fetch the Request.cf object from the internet.
export CLOUDFLARE_CF_FETCH_ENABLED="${CLOUDFLARE_CF_FETCH_ENABLED:-false}"
exec node_modules/.bin/wrangler dev --ip 127.0.0.1 --show-interactive-dev-session=false "$@"
