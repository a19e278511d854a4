#!/usr/bin/env bash
# The main job, one command: set up, execute every chapter with papermill at PROFILE (default cpu)
# into executed/, build the HTML book from those executed notebooks (nothing runs twice), and check
# the built book in headless Chromium (scripts/check_book_browser.py; skipped without Chromium).
#
#   bash scripts/main.sh [PROFILE]        # smoke | cpu | gpu
#
# Data: $GDRT_DATA (a folder holding Office/, Game/, ...; a relative path is resolved from where the
# command was started). Unset: the datasets are fetched and verified into data/ (data/fetch.py; files
# already there and valid are kept). If the fetch fails, one line says why and names the ways out:
# set GDRT_DATA, or GDRT_SYNTHETIC=1 to run on the synthetic dataset (each page then says so).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/data_env.sh"   # before cd: a relative GDRT_DATA is the caller's
cd "$ROOT"
PROFILE="${1:-cpu}"
start=$(date +%s)
bash scripts/setup.sh
ensure_data "$PROFILE" "${VENV:-$ROOT/.venv}/bin/python"
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
