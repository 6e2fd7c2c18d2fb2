#!/bin/sh
# Installs Debian's chromium for the console's browser tests (test/http/console.test.ts).
# Quick no-op when /usr/bin/chromium exists. As root it installs with apt-get; otherwise it prints
# the command to run. Never fails the test run: without chromium the browser tests skip themselves.
set -u
CHROMIUM=/usr/bin/chromium
if [ -x "$CHROMIUM" ]; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "setup-browser: installing chromium for the console tests (apt-get)…" >&2
  if DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >&2; then
    exit 0
  fi
  echo "setup-browser: apt-get could not install chromium; the browser tests will be skipped" >&2
  exit 0
fi
echo "setup-browser: $CHROMIUM is missing; the console's browser tests will be skipped." >&2
echo "setup-browser: install it with:  sudo apt-get update && sudo apt-get install -y chromium" >&2
exit 0
