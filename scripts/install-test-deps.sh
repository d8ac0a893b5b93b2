#!/usr/bin/env bash
# Installs what the tests need beyond the Rust toolchain: moto's S3 server, which the
# backtrail-sources S3 test starts on 127.0.0.1. Idempotent: does nothing when moto is there.
set -euo pipefail
if ! python3 -c 'import moto.server, flask, flask_cors' 2>/dev/null; then
    python3 -m pip install --quiet 'moto[server]'
fi
