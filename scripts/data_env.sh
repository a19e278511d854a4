# Sourced by main.sh and run_chapters.sh: make $GDRT_DATA absolute, resolved against the directory the
# command was started in, because the chapters run with their own working directory (papermill
# --cwd chapters) where a relative path would point elsewhere. An unset GDRT_DATA stays unset.
if [[ -n "${GDRT_DATA:-}" ]]; then
  if [[ -d "$GDRT_DATA" ]]; then
    GDRT_DATA="$(cd "$GDRT_DATA" && pwd)"
    export GDRT_DATA
  else
    echo "GDRT_DATA=$GDRT_DATA is not a directory (resolved from $PWD)" >&2
    exit 1
  fi
fi
# $GDRT_MODEL (a model for every chapter, run_chapters.sh): a relative path to an existing folder is made
# absolute the same way; anything else (a name such as smollm2-135m, or a hub id in the local cache)
# is passed on as given.
if [[ -n "${GDRT_MODEL:-}" && -d "$GDRT_MODEL" ]]; then
  GDRT_MODEL="$(cd "$GDRT_MODEL" && pwd)"
  export GDRT_MODEL
fi

# ensure_data PROFILE PYTHON (main.sh, after set-up): with GDRT_DATA unset, at a profile that reads real
# data and without GDRT_SYNTHETIC=1, fetch and verify the datasets into data/ (data/fetch.py keeps
# files already there and valid). A failed fetch is one line that names the ways out, and exit 1.
ensure_data() {
  local profile="$1" python="$2" log
  [[ -z "${GDRT_DATA:-}" && "$profile" != smoke && "${GDRT_SYNTHETIC:-0}" != 1 ]] || return 0
  echo "==> GDRT_DATA is not set: fetching the datasets into data/ (python data/fetch.py)"
  log="$(mktemp)"
  if ! "$python" data/fetch.py > "$log" 2>&1; then
    echo "GDRT_DATA is not set and data/fetch.py could not fetch the datasets ($(grep -m1 '^error' "$log" \
|| tail -n1 "$log")); set GDRT_DATA=/path/to/datasets, or GDRT_SYNTHETIC=1 to run on the synthetic dataset" >&2
    rm -f "$log"
    exit 1
  fi
  tail -n1 "$log"
  rm -f "$log"
}
