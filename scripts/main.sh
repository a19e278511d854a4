#!/usr/bin/env bash
# The main job, one command: set up, execute every chapter with papermill at PROFILE (default cpu)
# into executed/, and build the HTML book from those executed notebooks (nothing runs twice).
#
#   bash scripts/main.sh [PROFILE]        # smoke | cpu | gpu
#
# Data: $GDRT_DATA (a folder holding Office/, Game/, ...), else data/ (python data/fetch.py); with
# neither, chapters fall back to the synthetic dataset and say so on the page.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PROFILE="${1:-cpu}"
start=$(date +%s)
bash scripts/setup.sh
bash scripts/run_chapters.sh "$PROFILE" executed
bash scripts/build_book.sh
echo "main job (profile $PROFILE) finished in $(( $(date +%s) - start )) s; open _build/html/index.html"
