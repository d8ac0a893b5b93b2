#!/usr/bin/env bash
# Installs headless Chromium for the HTML report's browser tests (crates/render/tests/
# html_browser.rs) from Debian's packages. Idempotent: does nothing when it is there.
set -euo pipefail
if [ ! -x /usr/bin/chromium ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq chromium chromium-driver >/dev/null
fi
