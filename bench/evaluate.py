"""Evaluation benchmark: validation micro-F1 without TTA, with TTA, and of an ensemble, with predict throughput.

On the validation split `seedling_train` draws (the `fast` preset's `valid_pct` and seed) of the full data, scores
each of two exported models plain and with TTA (`predict_probs(tta=True)`: the mean over each image's flips and quarter
turns), then the ensemble of both (mean of probabilities) plain and with TTA, timing each prediction (images/s, model
loading excluded). Then predicts the test folder with the best configuration, writes the submission and validates it
with `check_submission`. Writes bench/results/evaluate.{json,md} and bench/results/submission.csv.

Default models: `bench/runs/foundation_ours/model.pkl` (`python bench/foundation.py`: the `fast` preset)
and `bench/runs/ablation/progressive/model.pkl` (`python bench/ablation.py`: a short progressive-resizing run),
both trained on the same split; any two exported models can be given.

    python bench/evaluate.py [--data DIR] [--first MODEL] [--second MODEL] [--n_tta 8]
"""
import time
from pathlib import Path

from common import RUNS, bench_parser, bench_data, recipe, valid_files, md_table, write_result
from fastai.data.transforms import parent_label
from seedling_clf.core import SeedlingError
from seedling_clf.inference import classification_metrics
from seedling_clf.inference import load_model, ensemble_probs, predict_folder, write_submission, check_submission


def score(name, learners, files, targs, vocab, **kw) -> dict:
    "Predict `files` with `learners` (timed) and score them."
    start = time.time()
    probs, preds = ensemble_probs(learners, files, **kw)
    secs = time.time() - start
    m = classification_metrics(targs, preds, vocab)
    row = dict(micro_f1=m['micro_f1'], macro_f1=m['macro_f1'], accuracy=m['accuracy'], predict_s=round(secs, 1),
        images_per_s=round(len(files)/secs, 1), models=len(learners), tta=kw.get('tta', False), n_tta=kw.get('n_tta', 0) if kw.get('tta') else 0)
    print(f"{name:32s} micro-F1 {row['micro_f1']:.4f}  macro-F1 {row['macro_f1']:.4f}  {row['images_per_s']:7.1f} images/s", flush=True)
    return row


def submission(learners, test:Path, out:Path, vocab, a, tta:bool) -> dict:
    "Predict the test folder with `learners`, write the submission CSV and check it."
    if not test.is_dir(): return dict(valid=None, problem=f"no test folder {test}")
    start = time.time()
    df = predict_folder(learners, test, bs=a.bs, tta=tta, n_tta=a.n_tta)
    csv = write_submission(df, out/'submission.csv')
    sub = {}
    try: sub.update(check_submission(csv, test, species=vocab), valid=True)
    except SeedlingError as e: sub.update(valid=False, problem=str(e))
    sub.pop('species', None)
    print(f"submission: {csv}, {len(df)} rows, check: {'passed' if sub['valid'] else sub['problem']}", flush=True)
    return dict(sub, predict_s=round(time.time()-start, 1), csv=str(csv))


def markdown(res) -> list:
    "The page: the validation figures of each configuration, and the submission's check."
    cfg, sub = recipe(), res['submission']
    m1, m2 = res['models'].values()
    md = ["# Evaluation benchmark: TTA and ensembles\n",
        f"Validation: the seed-{cfg.seed} stratified {cfg.valid_pct:.0%} split of `{res['data']}` ({res['n_valid']} images). Models: `{m1}` and `{m2}`. "
        f"TTA: the mean over each image's first {res['n_tta']} flips/quarter turns (`predict_probs(tta=True)`, as `seedling_predict --tta`). "
        f"Throughput: prediction only (model loaded), batch size {res['bs']}, {res['device']}.\n"]
    rows = [[k, f"{r['micro_f1']:.4f}", f"{r['macro_f1']:.4f}", f"{r['images_per_s']:.1f}"] for k, r in res['runs'].items()]
    md += md_table(['configuration', 'val micro-F1', 'val macro-F1', 'images/s'], rows)
    if sub.get('valid') is not None:
        md.append(f"\nSubmission ({sub['config']}) for the {sub.get('n_images', '?')} test images: `{sub.get('csv')}`; "
            f"`check_submission`: {'passed' if sub['valid'] else 'FAILED: ' + sub['problem']}.")
    return md + ['', 'Command: `python bench/evaluate.py`']


def main():
    p = bench_parser(__doc__)
    p.add_argument('--first', default=str(RUNS/'foundation_ours'/'model.pkl'), help='first model')
    p.add_argument('--second', default=str(RUNS/'ablation'/'progressive'/'model.pkl'), help='second model')
    p.add_argument('--n_tta', type=int, default=8, help='flips/quarter turns averaged for TTA')
    p.add_argument('--bs', type=int, default=64)
    a = p.parse_args()
    data = bench_data(a)
    if data is None: return
    for m in (a.first, a.second):
        if not Path(m).exists(): raise SystemExit(f"{m} not found: train the models first (python bench/foundation.py).")
    files = valid_files(data)
    n1, n2 = Path(a.first).parent.name, Path(a.second).parent.name
    if n1 == n2: n1, n2 = n1 + ' (1)', n2 + ' (2)'
    models = {n1: load_model(a.first), n2: load_model(a.second)}
    vocab = list(models[n1].dls.vocab)
    targs = [vocab.index(parent_label(f)) for f in files]
    print(f"{len(files)} validation images of {data}; TTA: {a.n_tta} views", flush=True)
    for l in models.values(): ensemble_probs([l], files[:a.bs], bs=a.bs)  # warm-up, so the first timing is not penalized
    rows, members = {}, {n1: [models[n1]], n2: [models[n2]], f'ensemble {n1} + {n2} (mean)': list(models.values())}
    for name, ls in members.items():
        rows[name] = score(name, ls, files, targs, vocab, bs=a.bs)
        rows[name + ' + TTA'] = score(name + ' + TTA', ls, files, targs, vocab, tta=True, n_tta=a.n_tta, bs=a.bs)
    best = max(rows, key=lambda k: rows[k]['micro_f1'])
    out = Path(a.out)
    sub = dict(config=best, **submission(members[best.removesuffix(' + TTA')], data/'test', out, vocab, a, rows[best]['tta']))
    res = dict(data=str(data), n_valid=len(files), n_tta=a.n_tta, bs=a.bs, models={n1: a.first, n2: a.second}, runs=rows, submission=sub)
    write_result('evaluate', res, markdown, out)


if __name__ == '__main__': main()
