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
# What to do next, before wrangler's own output (the port is wrangler's default unless given).
port=8787
for ((i = 1; i <= $#; i++)); do
  if [ "${!i}" = "--port" ]; then
    next=$((i + 1))
    port="${!next}"
  fi
done
# The shipped fake token is shown; a real one is not printed.
token='<WHATSAPP_VERIFY_TOKEN from .dev.vars>'
if grep -qx 'WHATSAPP_VERIFY_TOKEN="fake-verify-token"' .dev.vars; then
  token=fake-verify-token
fi
admin='ADMIN_TOKEN from .dev.vars'
if grep -qx 'ADMIN_TOKEN="fake-admin-token"' .dev.vars; then
  admin=fake-admin-token
fi
cat >&2 <<EOT
dev: the worker answers on http://127.0.0.1:${port} once wrangler says "Ready".
dev:   handshake: curl 'http://127.0.0.1:${port}/webhook?hub.mode=subscribe&hub.challenge=42&hub.verify_token=${token}'
dev:   health:    curl http://127.0.0.1:${port}/healthz
dev:   console:   http://127.0.0.1:${port}/console (sign in with ${admin})
dev: secrets are in .dev.vars (fake ones; never commit it). Local KV and Durable Objects persist under .wrangler/.
dev: to see what it would send, point it at a local Graph API: npm start -- --var GRAPH_API_BASE:http://127.0.0.1:9000
EOT
exec node_modules/.bin/wrangler dev --ip 127.0.0.1 --show-interactive-dev-session=false "$@"
