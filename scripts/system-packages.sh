#!/usr/bin/env bash
# Install the Debian packages the test suite needs when they are missing.
# As root this runs apt-get; otherwise it names the packages and stops.
# `scripts/system-packages.sh npm` checks only what `npm ci` needs (make run's web assets).
set -euo pipefail

missing=()
# npm installs the NL Design System CSS and axe-core (package-lock.json). A NodeSource nodejs brings its own npm.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ "${1:-}" != "npm" ]; then
    ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
    command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
    # Letters embed DejaVu Sans (diacritics, the IJ ligature, the euro sign).
    [ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || missing+=(fonts-dejavu-core)
    # pdftoppm turns a letter into an image, to check that its QR code decodes.
    command -v pdftoppm >/dev/null 2>&1 || missing+=(poppler-utils)
    # The browser tests drive Debian's chromium through Playwright (never `playwright install`, which downloads one).
    [ -x /usr/bin/chromium ] || missing+=(chromium)
    # The load balancer of the production layout on one machine (scripts/production.sh, its test).
    command -v haproxy >/dev/null 2>&1 || missing+=(haproxy)
fi

if [ "${#missing[@]}" -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" != "0" ]; then
    echo "The tests need these Debian packages: ${missing[*]}" >&2
    echo "Install them with: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
fi
echo "Installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts a default cluster and a redis service (and haproxy) on install; the tests start their own on other
# ports.
