"""Evaluation benchmark: validation micro-F1 without TTA, with TTA, and of an ensemble, with predict throughput.

On the seed-42 stratified 20% validation split of the full data (rebuilt with `labelled_images` +
`stratified_splitter`), scores each of two exported models plain and with TTA, then the ensemble of both
(mean of probabilities) plain and with TTA, timing each prediction (images/s, model loading excluded).
Then predicts the test folder with the best configuration, writes the submission and validates it with
`check_submission`. Writes bench/results/evaluate.{json,md} and bench/results/submission.csv.

Default models: `bench/runs/foundation_ours/model.pkl` (`python bench/foundation.py`: the `fast` preset, 128 px)
and `bench/runs/ablation/progressive/model.pkl` (`python bench/ablation.py`: a short progressive-resizing run,
64 then 96 px), both trained on the same split; any two exported models can be given.

    python bench/evaluate.py [--data DIR] [--first MODEL] [--second MODEL] [--n_tta 8]
"""
import argparse, json, time, warnings
from pathlib import Path

warnings.simplefilter('ignore')
import matplotlib; matplotlib.use('Agg')
import torch
from seedling_clf.core import run_info, save_json, SeedlingError
from common import full_data_path
from seedling_clf.data import labelled_images, stratified_splitter
from seedling_clf.train import classification_metrics
from seedling_clf.inference import load_model, ensemble_probs, predict_folder, write_submission, check_submission, test_images
from fastai.data.transforms import parent_label

HERE = Path(__file__).parent


def score(name, learners, files, targs, vocab, **kw):
    "Predict `files` with `learners` (timed) and score them."
    start = time.time()
    probs, preds = ensemble_probs(learners, files, **kw)
    secs = time.time() - start
    m = classification_metrics(targs, preds, vocab)
    row = dict(micro_f1=m['micro_f1'], macro_f1=m['macro_f1'], accuracy=m['accuracy'], predict_s=round(secs, 1),
               images_per_s=round(len(files)/secs, 1), models=len(learners), tta=kw.get('tta', False), n_tta=kw.get('n_tta', 0) if kw.get('tta') else 0)
    print(f"{name:32s} micro-F1 {row['micro_f1']:.4f}  macro-F1 {row['macro_f1']:.4f}  {row['images_per_s']:7.1f} images/s", flush=True)
    return row


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--data', default=None, help='dataset root (train/, test/); default: the full data')
    p.add_argument('--first', default=str(HERE/'runs'/'foundation_ours'/'model.pkl'), help='first model')
    p.add_argument('--second', default=str(HERE/'runs'/'ablation'/'progressive'/'model.pkl'), help='second model')
    p.add_argument('--n_tta', type=int, default=8, help='augmented passes for TTA')
    p.add_argument('--bs', type=int, default=64)
    p.add_argument('--out', default=str(HERE/'results'), help='where evaluate.json/.md and submission.csv go')
    a = p.parse_args()
    data = Path(a.data) if a.data else full_data_path()
    if data is None: print('full data not found (set SEEDLING_DATA): nothing to benchmark'); return
    for m in (a.first, a.second):
        if not Path(m).exists(): raise SystemExit(f"{m} not found: train the models first (python bench/foundation.py).")
    files = labelled_images(data)
    _, va = stratified_splitter(0.2, 42)(files)
    files = files[va]
    n1, n2 = Path(a.first).parent.name, Path(a.second).parent.name
    if n1 == n2: n1, n2 = n1 + ' (1)', n2 + ' (2)'
    models = {n1: load_model(a.first), n2: load_model(a.second)}
    vocab = list(models[n1].dls.vocab)
    targs = [vocab.index(parent_label(f)) for f in files]
    print(f"{len(files)} validation images (seed-42 stratified 20% of {data}); TTA: {a.n_tta} passes", flush=True)
    for l in models.values(): ensemble_probs([l], files[:a.bs], bs=a.bs)  # warm-up, so the first timing is not penalized
    tta = dict(tta=True, n_tta=a.n_tta, bs=a.bs)
    rows, members = {}, {n1: [models[n1]], n2: [models[n2]], f'ensemble {n1} + {n2} (mean)': list(models.values())}
    for name, ls in members.items():
        rows[name] = score(name, ls, files, targs, vocab, bs=a.bs)
        rows[name + ' + TTA'] = score(name + ' + TTA', ls, files, targs, vocab, **tta)
    best = max(rows, key=lambda k: rows[k]['micro_f1'])
    out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
    sub = dict(config=best)
    test = data/'test'
    if test.is_dir():
        learners = members[best.removesuffix(' + TTA')]
        start = time.time()
        df = predict_folder(learners, test, bs=a.bs, tta=rows[best]['tta'], n_tta=a.n_tta)
        csv = write_submission(df, out/'submission.csv')
        try: sub.update(check_submission(csv, test, species=vocab), valid=True)
        except SeedlingError as e: sub.update(valid=False, problem=str(e))
        sub.update(predict_s=round(time.time()-start, 1), csv=str(csv))
        del sub['species']
        print(f"submission ({best}): {csv}, {len(df)} rows, check: {'passed' if sub['valid'] else sub['problem']}", flush=True)
    else: sub.update(valid=None, problem=f"no test folder {test}")
    res = dict(data=str(data), n_valid=len(files), n_tta=a.n_tta, models={n1: a.first, n2: a.second}, runs=rows,
               submission=sub, **run_info())
    save_json(res, out/'evaluate.json')
    md = ["# Evaluation benchmark: TTA and ensembles\n",
          f"Validation: the seed-42 stratified 20% split of `{data}` ({len(files)} images). Models: `{a.first}` and `{a.second}`. TTA: {a.n_tta} passes of a random dihedral "
          f"flip/quarter turn + (half the time) a free rotation, probabilities averaged. Throughput: prediction only "
          f"(model loaded), batch size {a.bs}, {res['device']}.\n",
          "| configuration | val micro-F1 | val macro-F1 | images/s |", "|---|---|---|---|"]
    md += [f"| {k} | {r['micro_f1']:.4f} | {r['macro_f1']:.4f} | {r['images_per_s']:.1f} |" for k, r in rows.items()]
    if sub.get('valid') is not None:
        md.append(f"\nSubmission ({best}) for the {sub.get('n_images', '?')} test images: `{sub.get('csv')}`; "
                  f"`check_submission`: {'passed' if sub['valid'] else 'FAILED: ' + sub['problem']}.")
    (out/'evaluate.md').write_text('\n'.join(md) + '\n\nCommand: `python bench/evaluate.py`\n')
    print('\n'.join(md))


if __name__ == '__main__': main()
