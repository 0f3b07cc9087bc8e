#!/usr/bin/env bash
# The GPU checks of issue 8, as one script for a lent GPU machine (see the README's benchmark section).
# Expects, under work/gpu/: images/ (a few real images), cache/ (their selective-search proposals from this
# repository's cache: the GPU machine's OpenCV has no ximgproc), train/ + train.json (a small COCO training set whose
# proposals are in that cache). Run from the repository root: bash benchmarks/gpu_check.sh
set -uo pipefail
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
G=work/gpu
D="python -m cli.main"
nvidia-smi -L; python -c "import torch, torchvision; print('torch', torch.__version__, 'torchvision', torchvision.__version__)"
echo "== bf16 vs float32, both modes"; python benchmarks/gpu_amp_check.py
echo "== benchmark, bf16 autocast"
python benchmarks/bench_pipeline.py --images $G/images --limit 5 --device cuda --cache-dir $G/cache \
    --full-regions 100000 --batch-size 512 --reps 3
echo "== benchmark, float32"
python benchmarks/bench_pipeline.py --images $G/images --limit 5 --device cuda --cache-dir $G/cache \
    --full-regions 100000 --batch-size 512 --reps 3 --no-amp --no-peers
echo "== training on CUDA: crops then fast (initialised from it), 2 epochs each"
$D train classifier --gt $G/train.json --images $G/train --out $G/out/crops.pt --input-size 112 --width 0.5 \
    --epochs 2 --batch-size 128 --device cuda --cache-dir $G/cache --workers 2 && cat $G/out/crops.log.jsonl
$D train classifier --gt $G/train.json --images $G/train --out $G/out/fast.pt --input-size 112 --width 0.5 \
    --mode fast --init $G/out/crops.pt --epochs 2 --batch-size 128 --device cuda --cache-dir $G/cache --workers 2 \
    && cat $G/out/fast.log.jsonl
echo "== detect run on CUDA (MultiBox proposals), bundled model and the fast model just trained"
$D run samples/images --out $G/out/boxes.json --proposals multibox --device cuda && \
    python -c "import json; d=json.load(open('$G/out/boxes.json')); print(len(d['detections']), 'detections', d['model'])"
$D run $G/images --out $G/out/fast.json --model $G/out/fast.pt --device cuda --cache-dir $G/cache && \
    python -c "import json; d=json.load(open('$G/out/fast.json')); print(len(d['detections']), 'detections', d['model'])"
