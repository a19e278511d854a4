#!/usr/bin/env bash
# Build the book from the executed notebooks (scripts/run_chapters.sh writes them to executed/):
#   1. check that every executed/... page listed in _toc.yml exists (else: run run_chapters.sh first)
#   2. jupytext --sync chapters/*.py      (keep each .py and its paired .ipynb in step)
#   3. jupyter-book build . -W -n --keep-going   (warnings are errors; nothing is executed)
# Output: _build/html/index.html. Extra arguments go to `jupyter-book build`.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="${VENV:-$ROOT/.venv}"
[[ -d "$VENV/bin" ]] && export PATH="$VENV/bin:$PATH"

[[ -f vendor/plotly.min.js && -f vendor/mathjax/tex-chtml.js ]] || scripts/vendor_assets.sh

python - <<'PY'
import pathlib, sys, yaml
toc = yaml.safe_load(pathlib.Path("_toc.yml").read_text())
def files(node):
    if isinstance(node, dict):
        if "file" in node:
            yield node["file"]
        for value in node.values():
            yield from files(value)
    elif isinstance(node, list):
        for value in node:
            yield from files(value)
missing = [f for f in files(toc) if f.startswith("executed/")
           and not any(pathlib.Path(f + ext).exists() for ext in (".ipynb", ".md"))]
if missing:
    sys.exit("build_book.sh: not executed yet: " + ", ".join(missing)
             + "\n  run scripts/run_chapters.sh PROFILE first (e.g. scripts/run_chapters.sh cpu)")
PY

shopt -s nullglob
CHAPTERS=(chapters/*.py)
shopt -u nullglob
if [[ ${#CHAPTERS[@]} -gt 0 ]]; then
  jupytext --sync "${CHAPTERS[@]}"
fi

jupyter-book build . -W -n --keep-going "$@"
echo "book: $ROOT/_build/html/index.html"
