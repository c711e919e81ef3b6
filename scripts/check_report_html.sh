#!/usr/bin/env bash
# Render a run's report.html in headless Chromium (Debian's `chromium`) and save a screenshot, so a
# person can look at it: scripts/check_report_html.sh RUN_DIR [OUT.png]
set -euo pipefail
run_dir=${1:?usage: $0 RUN_DIR [OUT.png]}
out=${2:-$run_dir/report_screenshot.png}
browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
[ -n "$browser" ] || { echo "no Chromium found: apt-get install chromium" >&2; exit 2; }
profile=$(mktemp -d)
"$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking \
  --disable-component-update --disable-sync --user-data-dir="$profile" --hide-scrollbars \
  --window-size=1280,2400 --screenshot="$out" "file://$(realpath "$run_dir")/report.html" >/dev/null 2>&1
rm -rf "$profile"
[ -s "$out" ] && echo "screenshot: $out"
