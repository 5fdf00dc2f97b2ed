"""Black-grass across recipes: which of its validation errors every recipe makes, and what ensembles of saved runs score.

Black-grass is the weak class (F1 0.80 with TTA in `fast`, against 0.97 micro-F1), mostly confused with Loose Silky-bent.
Recipes share a seed's split (`bench/seeds.py` seeds the split and the initialisation together), so for each seed the
saved runs of several recipes predict the same validation images. No training: each run folder that `bench/seeds.py`
left (bench/runs/seeds/<name>/seed<S>/) is loaded safely (`load_model`, model.safetensors) and predicts its seed's
validation split with TTA, as `seedling_predict --tta` does (cached beside the run as valid_tta_probs.pt).

- per recipe: micro-F1 and Black-grass F1 (they repeat metrics.json's "tta": a check);
- ensembles: the mean probabilities of two or more recipes' runs on the same seed (what `seedling_predict --model A
  --model B --tta` predicts), with the members' summed training time;
- error agreement: each Black-grass error (a Black-grass image predicted as another class, or another class predicted
  as Black-grass), by how many of the recipes make it; the images that all of them get wrong, drawn to a PNG.

    python bench/black_grass.py fast_6_6 fast_stage_lr_decay_0.25 fast_7_7_stage_lr_decay_0.25 fast_label_smoothing fast best

Writes bench/results/black_grass.{json,md} and bench/results/black_grass_errors.png.
"""
import itertools, json, statistics
from pathlib import Path

from common import REPO, RESULTS, RUNS, WEAK_CLASS, bench_parser, bench_data, recipe_split, rel, mean_std, mean_sd, md_table, write_result
import matplotlib.pyplot as plt, numpy as np, torch
from PIL import Image
from fastai.vision.all import parent_label
from seedling_clf.data import labelled_images
from seedling_clf.inference import load_model, predict_probs
from seedling_clf.inference import classification_metrics


def valid_split(files, seed: int, vocab: list) -> tuple:
    "The validation files of `seed`'s stratified split (the splitter `seedling_train --seed` uses) and their class indices."
    valid = [files[i] for i in recipe_split(files, seed)[1]]
    return valid, np.array([vocab.index(parent_label(f)) for f in valid])


def run_probs(run: Path, files: list, vocab: list) -> np.ndarray:
    "TTA probabilities of the model in `run` on `files` (cached in the run folder: the models do not change)."
    cache = run/'valid_tta_probs.pt'
    if cache.exists():
        c = torch.load(cache)
        if c['files'] == [str(f) for f in files]: return c['probs'].numpy()
    learn = load_model(run, cpu=True)
    assert list(learn.dls.vocab) == vocab, f"{run}: other classes"
    probs = predict_probs(learn, files, tta=True)
    torch.save(dict(files=[str(f) for f in files], probs=probs), cache)
    return probs.numpy()


def scores(probs, targs, vocab) -> dict:
    "micro-F1 and the weak class's F1 of the argmax of `probs`."
    m = classification_metrics(targs, probs.argmax(1), vocab)
    return dict(micro_f1=m['micro_f1'], weak_f1=m['per_class_f1'][WEAK_CLASS])


def combos(names) -> list:
    "Every recipe alone, every pair, and all of them together."
    return [(n,) for n in names] + list(itertools.combinations(names, 2)) + ([tuple(names)] if len(names) > 2 else [])


def combo_rows(probs, targs, vocab, walls, names) -> list:
    "Per recipe or ensemble: 3-seed mean ± sd of micro-F1 and Black-grass F1, and the members' summed wall time."
    rows = []
    for c in combos(names):
        per_seed = [scores(np.mean([probs[n][s] for n in c], 0), targs[s], vocab) for s in targs]
        rows.append(dict(members=list(c), **{k: mean_std([o[k] for o in per_seed]) for k in ('micro_f1', 'weak_f1')},
            wall_time_s=sum(walls[n] for n in c)))
    return rows


def weak_errors(probs, split, vocab, names) -> list:
    "Every Black-grass error of any recipe on any seed: the file, its label, and what each recipe predicted."
    w, out = vocab.index(WEAK_CLASS), []
    for s, (files, labels) in split.items():
        preds = {n: probs[n][s].argmax(1) for n in names}
        for i, (f, t) in enumerate(zip(files, labels)):
            p = {n: int(preds[n][i]) for n in names}
            wrong = [n for n in names if p[n] != t and w in (t, p[n])]
            if wrong: out.append(dict(seed=s, file=rel(f), label=vocab[t], predicted={n: vocab[p[n]] for n in names}, n_wrong=len(wrong)))
    return out


def agreement(errors, n_recipes) -> list:
    "How many Black-grass errors k of the recipes make, for k = 1 .. n, summed over the seeds, and the share with Loose Silky-bent."
    rows = []
    for k in range(1, n_recipes + 1):
        e = [o for o in errors if o['n_wrong'] == k]
        lsb = sum('Loose Silky-bent' in (o['label'], *o['predicted'].values()) for o in e)
        rows.append(dict(recipes_wrong=k, errors=len(e), missed=sum(o['label'] == WEAK_CLASS for o in e), with_loose_silky_bent=lsb))
    return rows


def plot_shared(errors, n_recipes, fname: Path, cols=8):
    "The images every recipe gets wrong, titled label -> the first recipe's prediction."
    shared = [o for o in errors if o['n_wrong'] == n_recipes]
    if not shared: return 0
    rows = -(-len(shared) // cols)
    fig, axs = plt.subplots(rows, cols, figsize=(cols*1.9, rows*2.2), squeeze=False)
    for ax in axs.flat: ax.axis('off')
    for ax, o in zip(axs.flat, shared):
        ax.imshow(Image.open(REPO/o['file']))
        ax.set_title(f"{o['label']}\n-> {next(iter(o['predicted'].values()))}", fontsize=7)
    fig.suptitle(f"Validation images every recipe gets wrong, involving {WEAK_CLASS} (label -> predicted)", fontsize=9)
    fig.tight_layout()
    fname.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(fname, dpi=90)
    plt.close(fig)
    return len(shared)


def markdown(res, names) -> list:
    "The page: each recipe and ensemble, then how many recipes make each Black-grass error."
    n = len(names)
    md = ["# Black-grass across recipes", "",
        f"Saved runs of `bench/seeds.py` (seeds {', '.join(map(str, res['seeds']))}; one split per seed, shared by the recipes) predict their "
        "seed's validation split with TTA (eight flips/quarter turns, as `seedling_predict --tta`); an ensemble averages its members' "
        f"probabilities. Mean ± standard deviation over the seeds. Written by `python bench/black_grass.py {' '.join(names)}`.", ""]
    md += md_table(['recipe or ensemble', 'micro-F1 with TTA', f'{WEAK_CLASS} F1 with TTA', 'seedling_train wall time, summed over the members (s)'],
        [[' + '.join(r['members']), mean_sd(r['micro_f1']), mean_sd(r['weak_f1'], 3), f"{r['wall_time_s']:.0f}"] for r in res['combos']])
    md += ["", f"{WEAK_CLASS} errors (a {WEAK_CLASS} image predicted as another class, or another predicted as {WEAK_CLASS}) over the seeds, "
        f"by how many of the {n} recipes make each:", ""]
    md += md_table(['recipes wrong', 'errors', 'of them missed Black-grass', 'involving Loose Silky-bent'],
        [[f"{r['recipes_wrong']} of {n}", r['errors'], r['missed'], r['with_loose_silky_bent']] for r in res['agreement']])
    return md + ["", f"The {res['n_shared']} errors every recipe makes: `black_grass_errors.png`."]


def main():
    p = bench_parser(__doc__)
    p.add_argument('names', nargs='+', help='recipes of bench/results/seeds/ whose run folders are in bench/runs/seeds/')
    a = p.parse_args()
    data = bench_data(a)
    if data is None: return
    recs = {n: json.loads((RESULTS/'seeds'/f'{n}.json').read_text()) for n in a.names}
    seeds = sorted(set.intersection(*[{r['seed'] for r in rec['runs']} for rec in recs.values()]))
    walls = {n: statistics.mean(r['wall_time_s'] for r in rec['runs']) for n, rec in recs.items()}
    files = labelled_images(data)  # checked once; each seed's split is drawn from them
    vocab = sorted({parent_label(f) for f in files})  # fastai's order (a model with other classes fails `run_probs`' check)
    split = {s: valid_split(files, s, vocab) for s in seeds}
    targs = {s: split[s][1] for s in seeds}
    probs = {n: {s: run_probs(RUNS/'seeds'/n/f'seed{s}', split[s][0], vocab) for s in seeds} for n in a.names}
    errors = weak_errors(probs, split, vocab, a.names)
    res = dict(seeds=seeds, combos=combo_rows(probs, targs, vocab, walls, a.names), agreement=agreement(errors, len(a.names)), errors=errors)
    res['n_shared'] = plot_shared(errors, len(a.names), Path(a.out)/'black_grass_errors.png')
    write_result('black_grass', res, lambda r: markdown(r, a.names), a.out)


if __name__ == '__main__': main()
