#!/usr/bin/env bash
# Kept as run (2026-11-26, one lent H200): needs .gpu_carry/ (fastai wheels in whl/, fp16 copies of the weight packages in pkgs/) and .gpu_data/ (the training images as JPEG q85), which are not committed.
# The one device call of this session: GPU timing parts, then the presets (bench/gpu.py) beside a fast-preset variant (bench/seeds.py).
set -u
mkdir -p /tmp/site .whl; cp -r .gpu_carry/pkgs/* /tmp/site/; cp .gpu_carry/whl/*.whl .whl/
export MPLBACKEND=Agg PYTHONUNBUFFERED=1
L=bench/results/device_logs; mkdir -p $L
nproc > $L/nproc.txt; nvidia-smi > $L/nvidia-smi.txt 2>&1
OUT= BUDGET_S=80 timeout 140 bash bench/gpu_device.sh --parts epoch,tta > $L/timing.log 2>&1
mkdir -p $L/timing; cp bench/results/gpu.md bench/results/gpu.json $L/timing/ 2>/dev/null
tar czf $OUT/timing.tgz $L
export PYTHONPATH=/tmp/site:$PWD
timeout 250 python3 bench/seeds.py --name fast_96_150_gpu --data .gpu_data/plant-seedlings-150 -- --sizes 96,150 --stage_epochs 5,3 > $L/seeds_fast150.log 2>&1 &
OUT= BUDGET_S=230 timeout 250 bash bench/gpu_device.sh --parts best,fast > $L/presets.log 2>&1
wait
tar czf $OUT/results.tgz bench/results/gpu.md bench/results/gpu.json bench/results/seeds bench/results/seeds.md $L $(ls bench/runs/*/*/metrics.json bench/runs/*/*/*/metrics.json bench/runs/*/*/history.csv bench/runs/*/*/*/history.csv 2>/dev/null)
ls -la $OUT
