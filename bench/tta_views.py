"""TTA views on saved seed runs: validation micro-F1 and Black-grass F1 over 1, 2, 4 and 8 flips/quarter turns.

Each image's first 1, 2, 4 and 8 `dihedral_views` (1: the image alone; 8: all its flips and quarter turns, what
`seedling_predict --tta` averages; `predict_probs(tta=True, n_tta=k)` each), each also with logit adjustment (tau x log
of the training class frequencies subtracted from the log-probabilities, Menon et al. 2021: a post-hoc shift towards
the small classes such as Black-grass). No training: it reloads the models `bench/seeds.py` left
(bench/runs/seeds/<name>/seed<S>/) and predicts each run's own validation split again (same seed, same split), a few
minutes per recipe here.

    python bench/tta_views.py fast_128_150 fast_128_150_6_6

Writes bench/results/tta_views.{json,md} (mean ± standard deviation over each recipe's seeds).
"""
import json
from pathlib import Path

from common import RESULTS, RUNS, WEAK_CLASS, bench_parser, bench_data, recipe_split, mean_std, mean_sd, md_table, write_result
import numpy as np, torch
from fastai.vision.all import parent_label
from seedling_clf.data import labelled_images
from seedling_clf.inference import load_model, predict_probs
from seedling_clf.inference import classification_metrics

VIEWS, TAUS = (1, 2, 4, 8), (0., 0.5, 1.)


def run_rows(run: Path, seed: int, files) -> list:
    "One row per (views, tau) for the run in `run`, scored on its own validation split."
    learn = load_model(run, cpu=True)
    vocab = list(learn.dls.vocab)
    tr, va = recipe_split(files, seed)
    counts = np.bincount([vocab.index(parent_label(files[i])) for i in tr], minlength=len(vocab))
    log_prior = torch.tensor(np.log(counts / counts.sum()), dtype=torch.float)
    valid = [files[i] for i in va]
    targs = [vocab.index(parent_label(f)) for f in valid]
    rows = []
    for k in VIEWS:
        logp = predict_probs(learn, valid, tta=True, n_tta=k).log()
        for tau in TAUS:
            m = classification_metrics(targs, (logp - tau*log_prior).argmax(1), vocab)
            rows.append(dict(seed=seed, views=k, tau=tau, micro_f1=m['micro_f1'], weak_f1=m['per_class_f1'][WEAK_CLASS]))
    return rows


def summarize(rows) -> list:
    "Mean and standard deviation over the seeds, per (views, tau)."
    keys = sorted({(r['views'], r['tau']) for r in rows})
    pick = lambda k, f: [r[f] for r in rows if (r['views'], r['tau']) == k]
    return [dict(views=v, tau=t, **{f: mean_std(pick((v, t), f)) for f in ('micro_f1', 'weak_f1')}) for v, t in keys]


def markdown(res, names) -> list:
    "The page: one row per recipe, view count and tau."
    rows = [[n, ','.join(map(str, r['seeds'])), o['views'], o['tau'], mean_sd(o['micro_f1']), mean_sd(o['weak_f1'], 3)]
        for n, r in res.items() if isinstance(r, dict) and 'summary' in r for o in r['summary']]
    return ["# TTA views", "", "Validation figures of saved seed runs, mean ± standard deviation over their seeds: each image's first "
        "1, 2, 4 or 8 flips/quarter turns averaged (`dihedral_views`; 8 is what `seedling_predict --tta` does), and logit "
        f"adjustment by tau x log(training class frequency). Written by `python bench/tta_views.py {' '.join(names)}`.", "",
        *md_table(['recipe', 'seeds', 'views', 'tau', 'micro-F1', f'{WEAK_CLASS} F1'], rows)]


def main():
    p = bench_parser(__doc__)
    p.add_argument('names', nargs='+', help='recipes of bench/results/seeds/ whose run folders are in bench/runs/seeds/')
    a = p.parse_args()
    data = bench_data(a)
    if data is None: return
    files = labelled_images(data)
    res = {}
    for name in a.names:
        seeds = [r['seed'] for r in json.loads((RESULTS/'seeds'/f'{name}.json').read_text())['runs']]
        rows = [row for s in seeds for row in run_rows(RUNS/'seeds'/name/f'seed{s}', s, files)]
        res[name] = dict(seeds=seeds, rows=rows, summary=summarize(rows))
        for o in res[name]['summary']: print(name, o, flush=True)
    write_result('tta_views', res, lambda r: markdown(r, a.names), a.out, quiet=True)


if __name__ == '__main__': main()
