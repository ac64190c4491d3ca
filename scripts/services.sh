#!/usr/bin/env bash
# What the integration tests start on loopback, installed from the distribution when missing:
# PostgreSQL (tests/scaleout), redis-server (tests/jobs) and the Chromium that Playwright drives for
# the operator console (tests/console; never `playwright install`: the distribution's browser).
# Without root or apt-get this does nothing, and those tests skip saying why.
set -euo pipefail
[ "$(id -u)" = 0 ] && command -v apt-get >/dev/null || exit 0
missing=()
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then missing+=(postgresql); fi
if ! command -v redis-server >/dev/null; then missing+=(redis-server); fi
if [ ! -x /usr/bin/chromium ]; then missing+=(chromium); fi
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
