#!/usr/bin/env bash
# The one device call of a session with a lent GPU (kept as run on 2026-11-27, one nvidia-h100-x1):
#   bash bench/gpu_session.sh      (carry .gpu_carry; about 9 minutes)
# Needs .gpu_carry/ (not committed; `bash bench/gpu_carry.sh` builds it): the training images as JPEG quality 85 in one
# archive, the fastai wheels the device image lacks, and the weight packages with conv and linear tensors stored as
# fp16, to fit the 64 MiB a call carries. Steps: the timing parts alone on the machine (bench/gpu.py --parts epoch,tta), then
# four recipes over seeds side by side (bench/seeds.py), each pinned to 4 of the 16 cores (taskset), so each
# gets 3 data-loader workers; their wall times are upper bounds (four runs shared the GPU). Results come back in
# $OUT/results.tgz. The two `best` lanes are written as the preset now stands: the run used the earlier preset
# (96, 128, 150 px, mixup, oversampling) with `--sizes 160,224,260 --mix none --balance none` for what is now `best`.
# The lanes stop at LANE_TIMEOUT_S (370 s): the third seed of each did not fit.
set -u
[ -d .gpu_data ] || tar xzf .gpu_carry/gpu_data.tgz
mkdir -p /tmp/site .whl; cp -r .gpu_carry/pkgs/* /tmp/site/; cp .gpu_carry/whl/*.whl .whl/
export MPLBACKEND=Agg PYTHONUNBUFFERED=1
L=bench/results/device_logs; mkdir -p $L
nproc > $L/nproc.txt; nvidia-smi > $L/nvidia-smi.txt 2>&1
OUT= BUDGET_S=${TIMING_BUDGET_S:-100} timeout ${TIMING_TIMEOUT_S:-140} bash bench/gpu_device.sh --parts epoch,tta > $L/timing.log 2>&1
export PYTHONPATH=/tmp/site:$PWD
D=.gpu_data/plant-seedlings-150; T=${LANE_TIMEOUT_S:-370}
lane() { local cores=$1 name=$2; shift 2; timeout $T taskset -c $cores python3 bench/seeds.py --name $name --data $D "$@" > $L/$name.log 2>&1; }
lane 0-3 gpu_fast_128_192 -- --sizes 128,192 --stage_epochs 4,4 &
lane 4-7 gpu_fast_160_224 -- --sizes 160,224 --stage_epochs 4,4 &
# `--preset best` was then tf_efficientnet_lite2 at 160, 224, 260 px: bench/results/seeds/gpu_lite2_*.json write it out
lane 8-11 gpu_best --preset best &
lane 12-15 gpu_best_mixup_oversample --preset best --seeds 1,2 -- --sizes 96,128,150 --mix mixup --mix_alpha 0.4 --balance oversample &
wait
tar czf $OUT/results.tgz bench/results/gpu.md bench/results/gpu.json bench/results/seeds $L \
  $(ls bench/runs/seeds/gpu_*/*/metrics.json bench/runs/seeds/gpu_*/*/history.csv bench/runs/gpu/*/metrics.json 2>/dev/null)
ls -la $OUT
