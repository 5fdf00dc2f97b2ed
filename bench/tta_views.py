"""TTA views on saved seed runs: validation micro-F1 and Black-grass F1 over 1, 2, 4 and 8 flips/quarter turns.

Each image's first 1, 2, 4 and 8 `dihedral_views` (1: the image alone; 8: all its flips and quarter turns, what
`seedling_predict --tta` averages), each also with logit adjustment (tau x log of the training class frequencies
subtracted from the log-probabilities, Menon et al. 2021: a post-hoc shift towards the small classes such as
Black-grass). No training: it reloads the models `bench/seeds.py` left (bench/runs/seeds/<name>/seed<S>/model.pkl)
and predicts each run's own validation split again (same seed, same split), a minute or two per recipe here.

    python bench/tta_views.py fast_128_150 fast_128_150_6_6

Writes bench/results/tta_views.{json,md} (mean ± standard deviation over each recipe's seeds).
"""
import argparse, json, statistics, warnings
from pathlib import Path

warnings.simplefilter('ignore')
import numpy as np, torch
from fastai.vision.all import load_learner, parent_label
from seedling_clf.data import seedling_dls
from seedling_clf.inference import dihedral_views
from seedling_clf.train import classification_metrics
from seeds import RESULTS, RUNS, FULL_DATA, WEAK_CLASS

VIEWS, TAUS = (1, 2, 4, 8), (0., 0.5, 1.)


def view_log_probs(learn, dl, n=max(VIEWS)) -> tuple:
    "Per view count in `VIEWS`: log of the mean probabilities over the first k views; and the targets."
    out, targs = {k: [] for k in VIEWS}, []
    with torch.inference_mode():
        for xb, yb in dl:
            probs = torch.stack([learn.model(v).softmax(1) for v in dihedral_views(xb, n)])
            for k in VIEWS: out[k].append(probs[:k].mean(0).log())
            targs.append(yb)
    return {k: torch.cat(v) for k, v in out.items()}, torch.cat(targs)


def run_rows(run: Path, seed: int, data: Path) -> list:
    "One row per (views, tau) for the run in `run`, scored on its own validation split."
    learn = load_learner(run/'model.pkl'); learn.model.eval()
    size = json.loads((run/'metrics.json').read_text())['stages'][-1]['size']
    dls = seedling_dls(data, size=size, bs=64, seed=seed, device='cpu')
    vocab = list(dls.vocab); assert vocab == list(learn.dls.vocab)
    counts = np.bincount([vocab.index(parent_label(f)) for f in dls.train.items], minlength=len(vocab))
    log_prior = torch.tensor(np.log(counts / counts.sum()), dtype=torch.float)
    logp, targs = view_log_probs(learn, dls.valid)
    rows = []
    for k in VIEWS:
        for tau in TAUS:
            m = classification_metrics(targs, (logp[k] - tau*log_prior).argmax(1), vocab)
            rows.append(dict(seed=seed, views=k, tau=tau, micro_f1=m['micro_f1'], weak_f1=m['per_class_f1'][WEAK_CLASS]))
    return rows


def summarize(rows) -> list:
    "Mean and standard deviation over the seeds, per (views, tau)."
    keys = sorted({(r['views'], r['tau']) for r in rows})
    pick = lambda k, f: [r[f] for r in rows if (r['views'], r['tau']) == k]
    return [dict(views=v, tau=t, **{f: dict(mean=statistics.mean(pick((v, t), f)), std=statistics.stdev(pick((v, t), f)))
                                    for f in ('micro_f1', 'weak_f1')}) for v, t in keys]


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('names', nargs='+', help='recipes of bench/results/seeds/ whose run folders are in bench/runs/seeds/')
    p.add_argument('--data', default=str(FULL_DATA))
    a = p.parse_args()
    res = {}
    for name in a.names:
        seeds = [r['seed'] for r in json.loads((RESULTS/'seeds'/f'{name}.json').read_text())['runs']]
        rows = [row for s in seeds for row in run_rows(RUNS/name/f'seed{s}', s, Path(a.data))]
        res[name] = dict(seeds=seeds, rows=rows, summary=summarize(rows))
        for o in res[name]['summary']: print(name, o, flush=True)
    (RESULTS/'tta_views.json').write_text(json.dumps(res, indent=1) + '\n')
    pm = lambda o, d=4: f"{o['mean']:.{d}f} ± {o['std']:.{d}f}"
    md = ["# TTA views", "", "Validation figures of saved seed runs, mean ± standard deviation over their seeds: each image's first "
          "1, 2, 4 or 8 flips/quarter turns averaged (`dihedral_views`; 8 is what `seedling_predict --tta` does), and logit "
          f"adjustment by tau x log(training class frequency). Written by `python bench/tta_views.py {' '.join(a.names)}`.", "",
          f"| recipe | seeds | views | tau | micro-F1 | {WEAK_CLASS} F1 |", "|---|---|---|---|---|---|"]
    md += [f"| {n} | {','.join(map(str, r['seeds']))} | {o['views']} | {o['tau']} | {pm(o['micro_f1'])} | {pm(o['weak_f1'], 3)} |"
           for n, r in res.items() for o in r['summary']]
    (RESULTS/'tta_views.md').write_text('\n'.join(md) + '\n')


if __name__ == '__main__':
    main()
