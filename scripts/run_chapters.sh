#!/usr/bin/env bash
# Execute the chapters once, with papermill, into OUTDIR (default executed/, git-ignored); the book
# renders those notebooks without executing them again (_config.yml: execute_notebooks: "off").
#
#   scripts/run_chapters.sh PROFILE [OUTDIR] [CHAPTER ...]
#
# PROFILE   smoke | cpu | gpu, passed to every chapter as `-p profile PROFILE`.
# GDRT_MODEL (environment) a local model folder or a name in the local cache: passed as
#           `-p model GDRT_MODEL` to every chapter whose parameters cell has `model`.
# OUTDIR    where executed notebooks go (default: executed). A second argument that names a chapter
#           is taken as a chapter, not as OUTDIR.
# CHAPTER   05_gdrt, 05_gdrt.py, chapters/05_gdrt.py or a prefix such as 05; default: every
#           chapters/[0-9][0-9]_*.py, in sorted order.
#
# Each chapter: jupytext --to ipynb -o - chapters/X.py | papermill - OUTDIR/X.ipynb --cwd chapters
# The paired chapters/X.ipynb is never written. Stops at the first failing chapter. Each chapter's wall
# time and peak resident memory go to OUTDIR/run_stats.json (scripts/measure_run.py).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/data_env.sh"   # before cd: a relative GDRT_DATA is the caller's
cd "$ROOT"
VENV="${VENV:-$ROOT/.venv}"
[[ -d "$VENV/bin" ]] && export PATH="$VENV/bin:$PATH"

usage() { sed -n '5,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }
[[ $# -ge 1 ]] || usage
PROFILE="$1"; shift
[[ "$PROFILE" =~ ^[A-Za-z0-9_-]+$ ]] || { echo "run_chapters.sh: bad profile '$PROFILE'" >&2; usage; }

resolve() {  # chapter argument -> chapters/NN_name.py (exactly one), or fail
  local name="${1#chapters/}"; name="${name%.py}"; name="${name%.ipynb}"
  local matches=()
  if [[ -f "chapters/$name.py" ]]; then matches=("chapters/$name.py")
  else shopt -s nullglob; matches=(chapters/"$name"*.py); shopt -u nullglob; fi
  if [[ ${#matches[@]} -ne 1 ]]; then
    echo "run_chapters.sh: '$1' matches ${#matches[@]} chapters (${matches[*]:-none})" >&2; return 1
  fi
  echo "${matches[0]}"
}

OUTDIR="executed"
if [[ $# -ge 1 ]] && ! resolve "$1" >/dev/null 2>&1; then OUTDIR="$1"; shift; fi

CHAPTERS=()
if [[ $# -ge 1 ]]; then
  for arg in "$@"; do CHAPTERS+=("$(resolve "$arg")"); done
else
  shopt -s nullglob
  CHAPTERS=(chapters/[0-9][0-9]_*.py)
  shopt -u nullglob
  [[ ${#CHAPTERS[@]} -ge 1 ]] || { echo "run_chapters.sh: no chapters/NN_*.py found" >&2; exit 1; }
fi

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
since() { local ms=$(( $(now_ms) - $1 )); printf '%d.%d s' $((ms / 1000)) $(((ms % 1000) / 100)); }

# papermill reads the notebook from stdin and warns that "-" has no extension: expected, silenced.
export PYTHONWARNINGS="${PYTHONWARNINGS:+$PYTHONWARNINGS,}ignore:the file is not specified with any extension:UserWarning"

# After a chapter ran: fail if a plotly output lacks text/html (it would vanish from the book without a
# warning), and fold papermill's "injected-parameters" cell in the book (tag hide-cell: a "Show" toggle).
check_outputs() {
  python - "$1" <<'PY'
import os, sys, nbformat
nb = nbformat.read(sys.argv[1], as_version=4)
for cell in nb.cells:
    tags = cell.setdefault("metadata", {}).setdefault("tags", [])
    if "injected-parameters" in tags and "hide-cell" not in tags:
        tags.append("hide-cell")
tmp = sys.argv[1] + ".tmp"
nbformat.write(nb, tmp)
os.replace(tmp, sys.argv[1])
bad = [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code"
       for out in cell.get("outputs", [])
       if "application/vnd.plotly.v1+json" in out.get("data", {}) and "text/html" not in out["data"]]
if bad:
    sys.exit(f"{sys.argv[1]}: cells {sorted(set(bad))} hold a plotly figure without text/html: the book would "
             "drop it. Import gdrt.plots (it registers the 'gdrt' renderer) and keep the default renderer.")
PY
}

mkdir -p "$OUTDIR"
OUTDIR_ABS="$(cd "$OUTDIR" && pwd)"
echo "profile=$PROFILE  outdir=$OUTDIR  chapters: ${#CHAPTERS[@]}"
TOTAL_START=$(now_ms)
for src in "${CHAPTERS[@]}"; do
  name="$(basename "$src" .py)"
  out="$OUTDIR_ABS/$name.ipynb"
  start=$(now_ms)
  echo "==> $name (profile $PROFILE)"
  # measure_run.py samples the kernel's resident memory and adds wall time and peak RSS to
  # OUTDIR/run_stats.json (it prints both).
  params=(-p profile "$PROFILE")
  if [[ -n "${GDRT_MODEL:-}" ]] && grep -q '^model = ' "$src"; then params+=(-p model "$GDRT_MODEL"); fi
  if python scripts/measure_run.py --record "$OUTDIR_ABS/run_stats.json" --name "$name" -- \
      bash -c 'set -o pipefail; src="$1" out="$2"; shift 2
               jupytext --to ipynb -o - "$src" | papermill - "$out" --cwd chapters -k python3 "$@" \
                 --no-progress-bar --log-level WARNING' _ "$src" "$out" "${params[@]}" \
     && check_outputs "$out"; then
    :
  else
    echo "" >&2
    echo "FAILED: $src (profile $PROFILE) after $(since "$start")." >&2
    echo "The partly executed notebook, with the failing cell's traceback, is $OUTDIR/$name.ipynb." >&2
    echo "Chapters after it were not run." >&2
    exit 1
  fi
done
echo "all ${#CHAPTERS[@]} chapters ran in $(since "$TOTAL_START")"
