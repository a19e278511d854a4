#!/usr/bin/env bash
# The main job, one command: set up, execute every chapter with papermill at PROFILE (default cpu)
# into executed/, build the HTML book from those executed notebooks (nothing runs twice), and check
# the built book in headless Chromium (scripts/check_book_browser.py; skipped without Chromium).
#
#   bash scripts/main.sh [PROFILE]        # smoke | cpu | gpu
#
# Data: $GDRT_DATA (a folder holding Office/, Game/, ...), else data/ (python data/fetch.py); with
# neither, chapters fall back to the synthetic dataset and say so on the page.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/data_env.sh"   # before cd: a relative GDRT_DATA is the caller's
cd "$ROOT"
PROFILE="${1:-cpu}"
start=$(date +%s)
bash scripts/setup.sh
bash scripts/run_chapters.sh "$PROFILE" executed
bash scripts/build_book.sh
# The built book in headless Chromium: figures drawn, math typeset, nothing failed to load or asked
# a remote host, no JavaScript error. Its screenshot of chapter 3 goes to _build/screenshots/ (set
# REFRESH_SCREENSHOT=1 to rewrite the committed docs/screenshots/ instead). Without a Chromium, or
# with one that cannot start, it prints a note and skips (apt-get install chromium to get one).
SHOTS=_build/screenshots
[[ "${REFRESH_SCREENSHOT:-0}" == 1 ]] && SHOTS=docs/screenshots
"${VENV:-$ROOT/.venv}/bin/python" scripts/check_book_browser.py --all --skip-if-no-browser --screenshot-dir "$SHOTS"
echo "main job (profile $PROFILE) finished in $(( $(date +%s) - start )) s; open _build/html/index.html"
