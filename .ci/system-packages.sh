#!/usr/bin/env bash
# Debian packages the test-suite uses: Fashion-MNIST files (offline data), and Chromium, which renders
# `ganx report --format html` headless.
set -euo pipefail
if [ "$(id -u)" != 0 ]; then
    echo "not root: skipping apt installs (tests needing them will skip outside CI)"; exit 0
fi
if [ ! -d /usr/share/datasets/fashion-mnist ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist >/dev/null
fi
if ! command -v chromium >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
