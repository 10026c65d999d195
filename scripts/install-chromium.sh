#!/bin/sh
# Headless Chromium for the browser test of report.html (tests/test_report_html.py).
# Installs Debian's `chromium` when running as root and it is absent; otherwise does nothing
# (the test is then skipped with a reason). Called from .ci/run.
set -e
if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "install-chromium: not root or no apt-get; the browser test will be skipped" >&2
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get install -y --no-install-recommends chromium >/dev/null 2>&1 || {
    apt-get update >/dev/null 2>&1
    apt-get install -y --no-install-recommends chromium >/dev/null
}
command -v chromium
