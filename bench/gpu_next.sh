#!/usr/bin/env bash
# The device call for the next session with a lent GPU (written 2026-11-27 in a session without one; not yet run):
#   bash bench/gpu_next.sh      (carry .gpu_carry, which `bash bench/gpu_carry.sh` builds; about 12 minutes)
# What is open on a GPU (issues 19 and 20): the epoch and TTA timings since the loader keeps decoded images
# (`ItemCacheDL`, filled in threads before fastai's workers start) and TTA became the eight exact flips/quarter
# turns; the loader alone, decoding every epoch against the cache (bench/loader.py); the third seed of the lite2
# recipe at 160-260 px (the `best` preset until 2026-11-27; seeds 0 and 1 ran on an H100); and `best` as it is now on a GPU. Results come back in $OUT/results.tgz; bench/gpu_session.sh is the call as run before.
set -u
[ -d .gpu_data ] || tar xzf .gpu_carry/gpu_data.tgz
mkdir -p /tmp/site .whl; cp -r .gpu_carry/pkgs/* /tmp/site/; cp .gpu_carry/whl/*.whl .whl/
export MPLBACKEND=Agg PYTHONUNBUFFERED=1
L=bench/results/device_logs; mkdir -p $L
nvidia-smi > $L/nvidia-smi.txt 2>&1
OUT= BUDGET_S=100 timeout 140 bash bench/gpu_device.sh --parts epoch,tta > $L/timing.log 2>&1
export PYTHONPATH=/tmp/site:$PWD
D=.gpu_data/plant-seedlings-150
timeout 60 python3 bench/loader.py --data $D --size 128 --bs 64 > $L/loader.log 2>&1
timeout 60 python3 bench/gpu_tta.py --data $D --bs 64,256 > $L/gpu_tta.log 2>&1
timeout 240 python3 bench/seeds.py --name gpu_lite2_260 --seeds 2 --add --data $D -- --arch tf_efficientnet_lite2 --freeze_epochs 2 --bs 64 --lr 0.008 --no_frozen_bn --sizes 160,224,260 --stage_epochs 3,4,8 > $L/gpu_lite2_260.log 2>&1
timeout 200 python3 bench/seeds.py --name gpu_best --preset best --seeds 0 --data $D > $L/gpu_best.log 2>&1
tar czf $OUT/results.tgz bench/results $L $(ls bench/runs/seeds/gpu_*/*/metrics.json 2>/dev/null)
ls -la $OUT
