"""Inference benchmark: a folder of images -> submission CSV with stock fastai, seedling_predict (PyTorch) and seedling_predict --engine onnx.

One run, one model, the same images (default: the 794 test images of the full data). Each configuration runs in
a fresh Python process, as a user's command would, and reports images/s with start-up and model loading
included (the process's whole wall time, measured from outside) and excluded (from the loaded model to the
written CSV), plus its peak RSS. The configurations alternate over `--rounds` rounds; each figure is the best
round (the machine may be shared), all rounds are kept in the json.

- stock fastai: `load_learner(model.pkl)` + `learn.dls.test_dl(files)` + `learn.get_preds`, CSV with pandas;
- seedling_predict, PyTorch: `load_model(run folder)` (the safe pair) + `predict_folder` + `write_submission`;
- seedling_predict --engine onnx: the ONNX model (`seedling_export`), decoding in a thread pool, ONNX Runtime with one
  single-thread call per core side by side (`engine_model`'s `parallel`).

The model: `bench/runs/inference/`, made by this script if missing: tf_efficientnet_lite0 at 128 px with the packaged
ImageNet body and fastai's head for the 12 classes of the full data, NOT trained (speed does not depend on accuracy,
and a training epoch took tens of minutes on the shared 2-core CPU), saved as `model.pkl`, the safe pair and
`model.onnx`. Any run folder of `seedling_train` (with `seedling_export RUN --onnx RUN/model.onnx`) can be given.
Writes bench/results/inference.{json,md}.

    python bench/inference.py [--model RUN] [--images DIR] [--rounds 2] [--bs 64]
"""
import argparse, json, os, subprocess, sys, time
from pathlib import Path

HERE = Path(__file__).parent
ROOT = HERE.parent
ARCH, SIZE = 'tf_efficientnet_lite0', 128
MAKE_MODEL = r'''
import sys, warnings; warnings.simplefilter('ignore')
from seedling_clf.data import seedling_dls
from seedling_clf.models import seedling_learner, export_model
from seedling_clf.serve import save_safe
data, out, arch, size = sys.argv[1:5]
learn = seedling_learner(seedling_dls(data, size=int(size)), arch)
export_model(learn, f'{out}/model.pkl'); save_safe(learn, out)
'''

# Each configuration: the code a user would run, from imports to the written CSV. `T['loaded']` marks the model loaded.
CHILD = r'''
import json, resource, sys, time, warnings
T = dict(start=time.time())
warnings.simplefilter('ignore')
mode, model, images, csv, bs = sys.argv[1:6]; bs = int(bs)
from pathlib import Path
if mode == 'fastai':
    from fastai.vision.all import load_learner, get_image_files
    import pandas as pd
    learn = load_learner(Path(model)/'model.pkl', cpu=True)
    T['loaded'] = time.time()
    files = get_image_files(images)
    dl = learn.dls.test_dl(files, bs=bs)
    with learn.no_bar(): probs = learn.get_preds(dl=dl)[0]
    pd.DataFrame(dict(file=[f.relative_to(images).as_posix() for f in files], species=[learn.dls.vocab[i] for i in probs.argmax(1)])).to_csv(csv, index=False)
elif mode == 'torch':
    from seedling_clf.inference import load_model, predict_folder, write_submission
    learn = load_model(model)
    T['loaded'] = time.time()
    write_submission(predict_folder(learn, images, bs=bs), csv)
else:
    from seedling_clf.serve import engine_model, ImagePrep, predict_batches
    from seedling_clf.inference import test_images, probs_table, write_submission
    meta, run, parallel = engine_model(model, 'onnx')  # what engine_predict_folder does, with the load timed apart
    T['loaded'] = time.time()
    files = test_images(images)
    probs = predict_batches(run, ImagePrep(meta), files, bs, parallel=parallel)
    write_submission(probs_table(probs, probs.argmax(1), meta['classes'], files, Path(images)), csv)
T['end'] = time.time()
print(json.dumps(dict(T, n=sum(1 for _ in open(csv)) - 1, peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024)))
'''
NAMES = dict(fastai='stock fastai (load_learner + test_dl + get_preds)', torch='seedling_predict (PyTorch)', onnx='seedling_predict --engine onnx')


def ensure_model(run:Path, data:Path):
    "Make the bench model (untrained head) and export its ONNX model, if missing."
    if not (run/'model.json').exists():
        print(f"making the bench model in {run} ({ARCH}, {SIZE} px, untrained head)", flush=True)
        run.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, '-c', MAKE_MODEL, str(data), str(run), ARCH, str(SIZE)], check=True)
    if not (run/'model.onnx').exists():
        code = ('import sys; from seedling_clf.inference import load_model; from seedling_clf.serve import export_onnx; '
                'export_onnx(load_model(sys.argv[1], cpu=True), sys.argv[2])')  # what seedling_export RUN --onnx OUT does
        subprocess.run([sys.executable, '-c', code, str(run), str(run/'model.onnx')], check=True)


def run_once(mode, model, images, csv, bs):
    "One configuration in a fresh process: its timings and peak RSS."
    start = time.time()
    res = subprocess.run([sys.executable, '-c', CHILD, mode, str(model), str(images), str(csv), str(bs)],
                         capture_output=True, text=True, env={**os.environ, 'PYTHONWARNINGS': 'ignore'})
    wall = time.time() - start
    if res.returncode: raise SystemExit(f"{mode} failed:\n{res.stderr[-3000:]}")
    t = json.loads(res.stdout.strip().splitlines()[-1])
    n, after_load = t['n'], t['end'] - t['loaded']
    return dict(n_images=n, wall_s=round(wall, 2), load_s=round(t['loaded'] - t['start'], 2), predict_s=round(after_load, 2),
                images_per_s_included=round(n/wall, 1), images_per_s_excluded=round(n/after_load, 1), peak_rss_mb=round(t['peak_rss_mb']))


def markdown(res) -> str:
    rows = res['results']
    lines = [f"# Inference: folder -> CSV ({res['n_images']} images of {res['images']})", '',
             f"Model: `{res['model']}` ({res['arch']}, {res['size']} px; {res['model_note']}). Device: {res['device']}. "
             f"Best of {res['rounds']} alternating rounds, each configuration in a fresh process. "
             f"The 1-minute load average was {res['load_before']} before the run and {res['load_after']} after it (the run itself keeps "
             "the 2 cores busy; a benchmark run just before also counts): absolute figures move with the machine's load, the ratios come from the same run.", '',
             '| configuration | images/s, load excluded | images/s, start-up + load included | load s | predict s | peak RSS MB | x stock fastai (excl.) |',
             '|---|---|---|---|---|---|---|']
    base = rows['fastai']['images_per_s_excluded']
    for k, r in rows.items():
        lines.append(f"| {NAMES[k]} | {r['images_per_s_excluded']} | {r['images_per_s_included']} | {r['load_s']} | {r['predict_s']} | "
                     f"{r['peak_rss_mb']} | {r['images_per_s_excluded']/base:.2f} |")
    lines += ['', f"Predicted species agree with stock fastai on {res['agreement']['torch']:.1%} (PyTorch) and {res['agreement']['onnx']:.1%} (ONNX) of the images.",
              f"Targets: >= 200 images/s folder -> CSV (load excluded): onnx {rows['onnx']['images_per_s_excluded']}; >= 3x stock fastai: "
              f"{rows['onnx']['images_per_s_excluded']/base:.2f}x.", '', f"Command: `{res['command']}`", '']
    return '\n'.join(lines)


def main():
    sys.path.insert(0, str(ROOT))
    from seedling_clf.core import run_info, save_json
    from common import full_data_path, rel
    import pandas as pd
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--model', default=str(HERE/'runs'/'inference'), help='run folder with model.pkl, model.json/.safetensors and model.onnx')
    p.add_argument('--images', default=None, help='folder of images; default: the full data test/')
    p.add_argument('--rounds', type=int, default=2)
    p.add_argument('--bs', type=int, default=64)
    p.add_argument('--out', default=str(HERE/'results'))
    a = p.parse_args()
    data = full_data_path()
    images = Path(a.images) if a.images else (data/'test' if data else None)
    if images is None: print('full data not found (set SEEDLING_DATA): nothing to benchmark'); return
    run = Path(a.model)
    ensure_model(run, data)
    tmp = HERE/'runs'/'inference_csv'; tmp.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()[0]
    rounds = {k: [] for k in NAMES}
    for r in range(a.rounds):
        for mode in NAMES:
            rounds[mode].append(run_once(mode, run, images, tmp/f'{mode}.csv', a.bs))
            print(f"round {r+1} {NAMES[mode]:50s} {rounds[mode][-1]}", flush=True)
    best = {k: max(v, key=lambda o: o['images_per_s_excluded']) for k, v in rounds.items()}
    csvs = {k: pd.read_csv(tmp/f'{k}.csv').sort_values('file').reset_index(drop=True) for k in NAMES}
    meta = json.loads((run/'model.json').read_text())
    res = dict(images=rel(images), n_images=best['onnx']['n_images'], model=rel(run), arch=meta['arch'], size=meta['preprocessing']['size'][0],
               model_note='trained by seedling_train' if (run/'metrics.json').exists() else 'packaged ImageNet body, untrained head: speed does not depend on accuracy', rounds=a.rounds, bs=a.bs,
               load_before=round(load_before, 1), load_after=round(os.getloadavg()[0], 1),
               results=best, all_rounds=rounds, agreement={k: float((csvs[k].species == csvs['fastai'].species).mean()) for k in ('torch', 'onnx')},
               command='python bench/inference.py' + (f' --rounds {a.rounds}' if a.rounds != 2 else ''), **run_info())
    res['device'] = res['device']
    out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
    save_json(res, out/'inference.json')
    (out/'inference.md').write_text(markdown(res))
    print(markdown(res))


if __name__ == '__main__': main()
