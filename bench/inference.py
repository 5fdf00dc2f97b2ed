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

The model: a run folder of `seedling_train --preset fast` (its `model.pkl`, the safe pair `model.json` +
`model.safetensors`, and `model.onnx`, exported here if missing), measured at its own image size (model.json's
preprocessing: the preset's last size, 150 px). By default `bench/runs/inference_fast/`, trained there with the `fast`
preset on `--data` if missing (about 10 minutes on a 2-core host with AVX-512); `--model bench/runs/seeds/fast/seed0`
takes a run `bench/seeds.py` left. Writes bench/results/inference.{json,md}.

    python bench/inference.py [--model RUN] [--images DIR] [--rounds 2] [--bs 64]
"""
import json, os, subprocess, sys, time
from pathlib import Path

from common import RUNS, bench_parser, bench_data, recipe, md_table, write_result, seedling_train_cmd

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
    "Train the bench model with the `fast` preset (the command a user runs) and export its ONNX model, where missing."
    if not (run/'model.json').exists():
        print(f"training the bench model in {run}: seedling_train --preset fast", flush=True)
        subprocess.run(seedling_train_cmd() + ['--data', str(data), '--out', str(run), '--preset', 'fast'], check=True)
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


def markdown(res) -> list:
    "The page: each configuration's speed and memory, and the agreement of their predictions."
    rows, base = res['results'], res['results']['fastai']['images_per_s_excluded']
    lines = [f"# Inference: folder -> CSV ({res['n_images']} images of {res['images']})", '',
        f"Model: `{res['model']}` ({res['arch']}, {res['size']} px; {res['model_note']}). Device: {res['device']}. "
        f"Best of {res['rounds']} alternating rounds, each configuration in a fresh process. "
        f"The 1-minute load average was {res['load_before']} before the run and {res['load_after']} after it (the run itself keeps "
        "the 2 cores busy; a benchmark run just before also counts): absolute figures move with the machine's load, the ratios come from the same run.", '']
    cols = ['images_per_s_excluded', 'images_per_s_included', 'load_s', 'predict_s', 'peak_rss_mb']
    table = [[NAMES[k], *(r[c] for c in cols), f"{r['images_per_s_excluded']/base:.2f}"] for k, r in rows.items()]
    lines += md_table(['configuration', 'images/s, load excluded', 'images/s, start-up + load included', 'load s', 'predict s', 'peak RSS MB',
        'x stock fastai (excl.)'], table)
    agree = res['agreement']
    return lines + ['', f"Predicted species agree with stock fastai on {agree['torch']:.1%} (PyTorch) and {agree['onnx']:.1%} (ONNX) of the images.",
        f"Targets: >= 200 images/s folder -> CSV (load excluded): onnx {rows['onnx']['images_per_s_excluded']}; >= 3x stock fastai: "
        f"{rows['onnx']['images_per_s_excluded']/base:.2f}x.", '', f"Command: `{res['command']}`"]


def measure(run, images, tmp, a) -> dict:
    "Every configuration, alternating, `a.rounds` times: each one's rounds."
    rounds = {k: [] for k in NAMES}
    for r in range(a.rounds):
        for mode in NAMES:
            rounds[mode].append(run_once(mode, run, images, tmp/f'{mode}.csv', a.bs))
            print(f"round {r+1} {NAMES[mode]:50s} {rounds[mode][-1]}", flush=True)
    return rounds


def main():
    import pandas as pd
    p = bench_parser(__doc__)
    p.add_argument('--model', default=str(RUNS/'inference_fast'), help='run folder of seedling_train --preset fast (trained there if missing)')
    p.add_argument('--images', default=None, help='folder of images; default: the data\'s test/')
    p.add_argument('--rounds', type=int, default=2)
    p.add_argument('--bs', type=int, default=64)
    a = p.parse_args()
    data = bench_data(a)
    if data is None: return
    images, run = Path(a.images) if a.images else data/'test', Path(a.model)
    ensure_model(run, data)
    tmp = RUNS/'inference_csv'
    tmp.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()[0]
    rounds = measure(run, images, tmp, a)
    best = {k: max(v, key=lambda o: o['images_per_s_excluded']) for k, v in rounds.items()}
    csvs = {k: pd.read_csv(tmp/f'{k}.csv').sort_values('file').reset_index(drop=True) for k in NAMES}
    meta = json.loads((run/'model.json').read_text())
    size, last = meta['preprocessing']['size'][0], recipe().sizes[-1]
    if size != last: print(f"warning: {run} takes {size} px images; the fast preset ends at {last} px", flush=True)
    trained = json.loads((run/'metrics.json').read_text())['settings']['preset'] if (run/'metrics.json').exists() else None
    note = f'trained by seedling_train --preset {trained}' if trained else 'untrained head: speed does not depend on accuracy'
    res = dict(images=images, n_images=best['onnx']['n_images'], model=run, arch=meta['arch'], size=size,
        model_note=note, rounds=a.rounds, bs=a.bs, load_before=round(load_before, 1), load_after=round(os.getloadavg()[0], 1),
        results=best, all_rounds=rounds, agreement={k: float((csvs[k].species == csvs['fastai'].species).mean()) for k in ('torch', 'onnx')},
        command='python bench/inference.py' + (f' --rounds {a.rounds}' if a.rounds != 2 else ''))
    write_result('inference', res, markdown, a.out)


if __name__ == '__main__': main()
