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
