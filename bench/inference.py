"""Inference benchmark: a folder of images -> submission CSV with stock fastai and each engine of seedling_predict.

One run, one model, the same images (default: the 794 test images of the full data). Each configuration runs in a
fresh Python process, as a user's command would, and reports images/s with start-up and model loading included (the
process's whole wall time, measured from outside) and excluded (from the loaded model to the written CSV), plus its peak
RSS. The configurations alternate over `--rounds` rounds; each figure is the best round (the machine may be shared), all
rounds are kept in the json. Beside them, in this process: each engine's network alone (images decoded and resized
beforehand, batches of `--bs`, the engine's own threads), so the share the pipeline loses to decoding shows, and each
engine's validation micro-F1, plain and with TTA, on the run's own validation images.

- stock fastai: `load_learner(model.pkl)` + `learn.dls.test_dl(files)` + `learn.get_preds`, CSV with pandas;
- seedling_predict, PyTorch: `load_model(run folder)` (the safe pair) + `predict_folder` + `write_submission`, in float32
  and with `--bf16` (bfloat16 autocast on the CPU);
- seedling_predict --engine onnx: the ONNX model (`seedling_export`), decoding in a thread pool, ONNX Runtime with one
  single-thread call per core side by side (`engine_model`'s `parallel`), float and `--int8` (`seedling_export --int8`).

The model: a run folder of `seedling_train --preset fast`, measured at its own image size (model.json's preprocessing:
the preset's last size, 150 px). By default `bench/runs/inference_fast/`, trained there with the `fast` preset on
`--data` if missing; `--model RUN` takes another. Its float and int8 ONNX models are exported here if missing
(`seedling_export RUN --onnx RUN/model.onnx --int8`). Writes bench/results/inference.{json,md}.

    python bench/inference.py [--model RUN] [--images DIR] [--rounds 2] [--bs 32]
"""
import json, os, subprocess, sys, time
from pathlib import Path

from common import RUNS, bench_parser, bench_data, recipe, md_table, write_result, seedling_train_cmd, rel

# Each configuration: the code a user would run, from imports to the written CSV. `T['loaded']` marks the model loaded.
CHILD = r'''
import json, resource, sys, time, warnings
T = dict(start=time.time())
warnings.simplefilter('ignore')
mode, model, images, csv, bs = sys.argv[1:6]
bs = int(bs)
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
elif mode.startswith('torch'):
    from seedling_clf.inference import load_model, predict_folder, write_submission
    learn = load_model(model)
    T['loaded'] = time.time()
    write_submission(predict_folder(learn, images, bs=bs, bf16=mode == 'torch_bf16'), csv)
else:
    from seedling_clf.serve import engine_model, ImagePrep, predict_batches
    from seedling_clf.inference import test_images, probs_table, write_submission
    meta, run, parallel = engine_model(model, 'onnx', int8=mode == 'onnx_int8')  # what engine_predict_folder does, the load timed apart
    T['loaded'] = time.time()
    files = test_images(images)
    probs = predict_batches(run, ImagePrep(meta), files, bs, parallel=parallel)
    write_submission(probs_table(probs, probs.argmax(1), meta['classes'], files, Path(images)), csv)
T['end'] = time.time()
print(json.dumps(dict(T, n=sum(1 for _ in open(csv)) - 1, peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024)))
'''
NAMES = dict(fastai='stock fastai (load_learner + test_dl + get_preds)', torch='seedling_predict (PyTorch)', torch_bf16='seedling_predict --bf16',
    onnx='seedling_predict --engine onnx', onnx_int8='seedling_predict --engine onnx --int8')


def ensure_model(run:Path, data:Path):
    "Train the bench model with the `fast` preset (the command a user runs) and export its ONNX model, where missing."
    if not (run/'model.json').exists():
        print(f"training the bench model in {run}: seedling_train --preset fast", flush=True)
        subprocess.run(seedling_train_cmd() + ['--data', str(data), '--out', str(run), '--preset', 'fast'], check=True)
    if not (run/'model.int8.onnx').exists():  # what `seedling_export RUN --onnx RUN/model.onnx --int8` does
        export = Path(sys.executable).with_name('seedling_export')
        subprocess.run([str(export), str(run), '--onnx', str(run/'model.onnx'), '--int8'], check=True)


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
    "The page: each configuration's speed, memory and validation micro-F1, and the agreement of their predictions."
    rows, base = res['results'], res['results']['fastai']['images_per_s_excluded']
    lines = [f"# Inference: folder -> CSV ({res['n_images']} images of {res['images']})", '',
        f"Model: `{res['model']}` ({res['arch']}, {res['size']} px; {res['model_note']}). Device: {res['device']}. Batches of {res['bs']}. "
        f"Best of {res['rounds']} alternating rounds, each configuration in a fresh process. "
        f"The 1-minute load average was {res['load_before']} before the run and {res['load_after']} after it (the run itself keeps "
        "the 2 cores busy; a benchmark run just before also counts): absolute figures move with the machine's load, the ratios come from the same run.", '']
    cols = ['images_per_s_excluded', 'images_per_s_included', 'network_alone', 'load_s', 'peak_rss_mb']
    val = lambda k, c: f"{res['validation'][k][c]:.4f}" if res['validation'][k].get(c) is not None else '-'
    table = [[NAMES[k], *(r[c] for c in cols), f"{r['images_per_s_excluded']/base:.2f}", val(k, 'micro_f1'), val(k, 'tta_micro_f1'),
        f"{res['agreement'][k]:.1%}"] for k, r in rows.items()]
    lines += md_table(['configuration', 'images/s, load excluded', 'images/s, start-up + load included', 'network alone, images/s', 'load s',
        'peak RSS MB', 'x stock fastai (excl.)', f"validation micro-F1", f"with TTA x{res['n_tta']}", 'same species as stock fastai'], table)
    i8 = rows['onnx_int8']['images_per_s_excluded']
    return lines + ['', f"Validation: the run's own {res['n_valid']} validation images (its recipe's split). Network alone: the images decoded "
        "and resized beforehand, each engine's own threads; the pipeline's share above it is decoding and resizing (in threads, beside the network).",
        f"Decoding and resizing alone: {res['decode_alone']} images/s on one thread. Were the {res['cores']} cores shared perfectly between decoding and "
        f"the int8 network (which alone takes both), the pipeline could reach {ceiling(res):.0f} images/s, {ceiling(res)/base:.2f}x stock fastai: "
        "the ceiling of this host for this model.",
        f"ONNX files: float {res['onnx_mb']['float']} MB, int8 {res['onnx_mb']['int8']} MB.", '',
        f"Targets (issue 38): int8 >= 350 images/s folder -> CSV, load excluded: {i8}; >= 5x stock fastai: {i8/base:.2f}x; "
        f"int8 within 0.005 micro-F1 of float (plain and TTA): {res['int8_loss']:+.4f}.", '', f"Command: `{res['command']}`"]


def ceiling(res) -> float:
    "Images/s if decoding (one thread's rate) and the int8 network (its rate on all the cores) shared the cores with no loss."
    return res['cores'] / (1/res['decode_alone'] + res['cores']/res['results']['onnx_int8']['network_alone'])


def network_alone(run, images, bs:int, passes:int=3) -> dict:
    "Each configuration's network alone: the images decoded and resized beforehand, batches of `bs`, the engine's threads; images/s, best pass."
    import torch
    from fastai.vision.all import load_learner
    from seedling_clf.core import cpu_cores
    from seedling_clf.inference import load_model, test_images
    from seedling_clf.serve import ImagePrep, predict_batches, torch_runner, onnx_runner
    learn = load_model(run, cpu=True)
    prep = ImagePrep(learn.meta)
    files = test_images(images, check=False)
    start = time.time()
    pixels = [prep.load(f) for f in files]
    res = dict(decode=round(len(files)/(time.time() - start), 1))  # decoding and resizing alone, one thread
    print(f"decode and resize alone, one thread: {res['decode']} images/s", flush=True)
    class Decoded:  # `ImagePrep` with the decoding done
        load, batch = pixels.__getitem__, staticmethod(prep.batch)
    stock = load_learner(Path(run)/'model.pkl', cpu=True).model.eval()
    def fastai(x):
        with torch.no_grad(): return stock(x).softmax(1)
    torch32 = torch_runner(learn.model, 'cpu')
    def bf16(x):
        with torch.autocast('cpu', dtype=torch.bfloat16): return torch32(x)
    runs = dict(fastai=(fastai, 1), torch=(torch32, 1), torch_bf16=(bf16, 1), onnx=(onnx_runner(Path(run)/'model.onnx'), cpu_cores()),
        onnx_int8=(onnx_runner(Path(run)/'model.int8.onnx'), cpu_cores()))
    for k, (fn, parallel) in runs.items():
        times = []
        for _ in range(passes):
            start = time.time()
            predict_batches(fn, Decoded(), range(len(pixels)), bs, threads=1, parallel=parallel)
            times.append(time.time() - start)
        res[k] = round(len(pixels)/min(times), 1)
        print(f"network alone {NAMES[k]:50s} {res[k]} images/s", flush=True)
    return res


def validation(run, data, bs:int) -> dict:
    "Each configuration's micro-F1 on the run's validation images, plain and with TTA (stock fastai: plain only)."
    from fastai.vision.all import load_learner, parent_label
    from seedling_clf.data import split_files
    from seedling_clf.recipe import run_config
    from seedling_clf.inference import load_model, predict_probs, classification_metrics
    from seedling_clf.serve import ImagePrep, onnx_scores
    cfg = run_config(run)
    valid = split_files(data, cfg.valid_pct, cfg.seed)[1]
    learn, n_tta = load_model(run, cpu=True), cfg.n_tta or 8
    vocab = list(learn.dls.vocab)
    targs = [vocab.index(parent_label(f)) for f in valid]
    score = lambda probs: classification_metrics(targs, probs.argmax(1), vocab)['micro_f1']
    stock = load_learner(Path(run)/'model.pkl', cpu=True)
    with stock.no_bar(): res = dict(fastai=dict(micro_f1=score(stock.get_preds(dl=stock.dls.test_dl(valid, bs=bs))[0]), tta_micro_f1=None))
    for k, bf16 in (('torch', False), ('torch_bf16', True)):
        res[k] = dict(micro_f1=score(predict_probs(learn, valid, bs, bf16=bf16)), tta_micro_f1=score(predict_probs(learn, valid, bs, True, n_tta, bf16=bf16)))
    prep = ImagePrep(learn.meta)
    for k, f in (('onnx', 'model.onnx'), ('onnx_int8', 'model.int8.onnx')): res[k] = onnx_scores(Path(run)/f, prep, valid, targs, vocab, n_tta, bs)
    for k, v in res.items(): print(f"validation {NAMES[k]:50s} {v}", flush=True)
    return dict(scores=res, n_valid=len(valid), n_tta=n_tta)


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
    from seedling_clf.core import cpu_cores
    p = bench_parser(__doc__)
    p.add_argument('--model', default=str(RUNS/'inference_fast'), help='run folder of seedling_train --preset fast (trained there if missing)')
    p.add_argument('--images', default=None, help='folder of images; default: the data\'s test/')
    p.add_argument('--rounds', type=int, default=2)
    p.add_argument('--bs', type=int, default=32)
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
    net, val = network_alone(run, images, a.bs), validation(run, data, a.bs)
    f, q = val['scores']['onnx'], val['scores']['onnx_int8']
    res = dict(images=images, n_images=best['onnx']['n_images'], model=run, arch=meta['arch'], size=size,
        model_note=note, rounds=a.rounds, bs=a.bs, load_before=round(load_before, 1), load_after=round(os.getloadavg()[0], 1),
        results={k: dict(v, network_alone=net[k]) for k, v in best.items()}, all_rounds=rounds, decode_alone=net['decode'], cores=cpu_cores(),
        agreement={k: float((csvs[k].species == csvs['fastai'].species).mean()) for k in NAMES},
        validation=val['scores'], n_valid=val['n_valid'], n_tta=val['n_tta'],
        int8_loss=round(max(f[c] - q[c] for c in ('micro_f1', 'tta_micro_f1')), 4),
        onnx_mb={k: round((run/n).stat().st_size/1e6, 2) for k, n in (('float', 'model.onnx'), ('int8', 'model.int8.onnx'))},
        command='python bench/inference.py' + (f' --model {rel(run)}' if run != RUNS/'inference_fast' else '') + (f' --rounds {a.rounds}' if a.rounds != 2 else ''))
    write_result('inference', res, markdown, a.out)


if __name__ == '__main__': main()
