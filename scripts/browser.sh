#!/usr/bin/env bash
# Headless Chromium for the console's browser tests: Debian's package, installed with apt when
# the machine has none (as root, or through sudo). Source this file: it exports CHROMIUM_BIN.
# Playwright's own browser download is never used: it reaches outside the package registries.
set -euo pipefail
if [ -z "${CHROMIUM_BIN:-}" ]; then
  for candidate in /usr/bin/chromium /usr/bin/chromium-browser; do
    if [ -x "$candidate" ]; then
      CHROMIUM_BIN="$candidate"
      break
    fi
  done
fi
if [ -z "${CHROMIUM_BIN:-}" ]; then
  echo "tools: apt-get install chromium (Debian's package, for the console's browser tests)" >&2
  as_root=()
  [ "$(id -u)" -eq 0 ] || as_root=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  if ! "${as_root[@]}" apt-get install -y -q chromium >&2; then
    "${as_root[@]}" apt-get update -q >&2
    "${as_root[@]}" apt-get install -y -q chromium >&2
  fi
  CHROMIUM_BIN=/usr/bin/chromium
fi
export CHROMIUM_BIN
