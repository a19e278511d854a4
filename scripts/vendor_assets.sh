#!/usr/bin/env bash
# Copy the assets the built book serves offline into vendor/ (git-ignored; served by _config.yml's
# html_static_path, so they land in _build/html/_static/):
#   vendor/plotly.min.js   from the installed plotly wheel (same version as the Python package)
#   vendor/mathjax/        MathJax 3.2.2 (es5 build, CHTML output only) from npm
# Idempotent: does nothing when both are already in place.
# Env: PYTHON (default .venv/bin/python, else python3), MATHJAX_TGZ (a local mathjax-3.2.2.tgz to use
# instead of asking npm).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENDOR="$ROOT/vendor"
MATHJAX_VERSION="3.2.2"
if [[ -z "${PYTHON:-}" ]]; then
  if [[ -x "$ROOT/.venv/bin/python" ]]; then PYTHON="$ROOT/.venv/bin/python"; else PYTHON=python3; fi
fi
mkdir -p "$VENDOR"

# --- plotly.js: the copy inside the plotly wheel
PLOTLY_JS="$("$PYTHON" - <<'PY'
import importlib.util, pathlib
spec = importlib.util.find_spec("plotly")
if spec is None:
    raise SystemExit("vendor_assets.sh: plotly is not installed for this Python")
print(pathlib.Path(spec.origin).parent / "package_data" / "plotly.min.js")
PY
)"
[[ -f "$PLOTLY_JS" ]] || { echo "vendor_assets.sh: $PLOTLY_JS not found" >&2; exit 1; }
if cmp -s "$PLOTLY_JS" "$VENDOR/plotly.min.js"; then
  echo "vendor: plotly.min.js up to date"
else
  cp "$PLOTLY_JS" "$VENDOR/plotly.min.js"
  echo "vendor: copied plotly.min.js ($(du -h "$VENDOR/plotly.min.js" | cut -f1)) from $PLOTLY_JS"
fi

# --- MathJax 3 (tex-chtml.js plus the components and fonts it loads at run time)
MJ="$VENDOR/mathjax"
if [[ -f "$MJ/tex-chtml.js" && "$(cat "$MJ/VERSION" 2>/dev/null)" == "$MATHJAX_VERSION" ]]; then
  echo "vendor: MathJax $MATHJAX_VERSION up to date"
else
  TMP="$(mktemp -d)"
  trap 'rm -rf "$TMP"' EXIT
  if [[ -n "${MATHJAX_TGZ:-}" ]]; then
    cp "$MATHJAX_TGZ" "$TMP/mathjax.tgz"
  else
    command -v npm >/dev/null || { echo "vendor_assets.sh: npm not found (or set MATHJAX_TGZ)" >&2; exit 1; }
    (cd "$TMP" && npm pack "mathjax@$MATHJAX_VERSION" --silent >/dev/null)
    mv "$TMP"/mathjax-*.tgz "$TMP/mathjax.tgz"
  fi
  tar -xzf "$TMP/mathjax.tgz" -C "$TMP"
  ES5="$TMP/package/es5"
  [[ -f "$ES5/tex-chtml.js" ]] || { echo "vendor_assets.sh: no es5/tex-chtml.js in the MathJax package" >&2; exit 1; }
  rm -rf "$MJ.tmp" && mkdir -p "$MJ.tmp/output"
  # tex-chtml.js loads its extensions (input/tex/extensions), fonts (output/chtml/fonts), the menu's
  # accessibility parts (a11y, sre, ui) from paths relative to itself; the other combined bundles
  # (svg output, mml input, *-full) are left out.
  cp "$ES5"/{tex-chtml.js,core.js,loader.js,startup.js} "$MJ.tmp/"
  cp -r "$ES5"/{input,a11y,ui,sre,adaptors} "$MJ.tmp/"
  cp -r "$ES5/output/chtml" "$ES5/output/chtml.js" "$MJ.tmp/output/"
  cp "$TMP/package/LICENSE" "$MJ.tmp/LICENSE"
  echo "$MATHJAX_VERSION" > "$MJ.tmp/VERSION"
  rm -rf "$MJ" && mv "$MJ.tmp" "$MJ"
  echo "vendor: MathJax $MATHJAX_VERSION into vendor/mathjax ($(du -sh "$MJ" | cut -f1))"
fi
