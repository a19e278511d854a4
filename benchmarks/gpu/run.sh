#!/usr/bin/env bash
# On the GPU machine, from the repository root, once .gpu_store/ holds both parts (README.md here).
set -euo pipefail
S=.gpu_store
cat $S/model.part1 $S/model.part2 > $S/model.gguf
echo "$(cat $S/model.sha256)  $S/model.gguf" | sha256sum -c -
python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site $S/whl/*.whl
export PYTHONPATH="$PWD/lib:/tmp/site:$PWD/$S/site${PYTHONPATH:+:$PYTHONPATH}"
export GDRT_SMOLLM2_GGUF="$PWD/$S/model.gguf" GDRT_DATA="$PWD/$S/data" GDRT_CACHE="$PWD/$S/cache"
export HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
python3 -c "import torch, transformers, peft, bitsandbytes; print('torch', torch.__version__, 'transformers', transformers.__version__, 'peft', peft.__version__, 'bnb', bitsandbytes.__version__)"
python3 benchmarks/gpu/office_run.py 2>&1 | grep -v -i "warn"
