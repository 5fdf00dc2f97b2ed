"""Label-cleanup benchmark: how many training images each rule flags, the top suspects, and whether excluding them helps.

On the full data, with the seeded stratified 80/20 split every benchmark here uses (seed 42):

1. Embeddings of the labelled images from a model's body, then out-of-fold predictions (5 stratified folds of
   logistic-regression heads, `seedling_clf.clean.rank_labels`) on the TRAINING side only: validation images are
   never ranked, flagged or excluded. Two bodies, when available:
   - `imagenet`: tf_efficientnet_lite0 with the packaged ImageNet weights, never trained on seedlings (fully
     honest out-of-fold predictions, weaker embeddings);
   - `fine-tuned`: the `--model` given (default: bench/runs/foundation_ours/model.pkl, the foundation benchmark's
     model, fine-tuned on this same training side; its body has seen the training labels, see the caveat in
     nbs/07_clean.ipynb).
   Counts per rule (confidently wrong: another class > 0.9; torn: top probability in [0.5, 0.6]) and per class;
   a grid of the top 30 suspects of the ranking used for exclusion (`--flag_with`, default fine-tuned if present).
2. The same recipe trained with the flagged images excluded versus not, scored on the untouched validation images:
   - `head`: the project's features head (`seedling_clf.features.fit_head`: fastai's head trained on the cached
     ImageNet embeddings, 20 epochs), cheap; excluding nothing / the confidently wrong / every flagged image;
   - `cnn`: a short fine-tune (`seedling_learner`, the `fast` preset's arch, size, batch size and learning rates;
     1 frozen + `--epochs` unfrozen epochs, `fit_one_cycle` as in `train_classifier`), excluding nothing / every
     flagged image.

Prints the figures and writes bench/results/clean.{json,md}, clean_suspects.png and clean_suspects.csv (the flagged
training images).

    python bench/clean.py [--data DIR] [--model FILE] [--epochs 2] [--recipes head,cnn]
"""
import argparse, time, warnings
from pathlib import Path

warnings.simplefilter('ignore')
import matplotlib; matplotlib.use('Agg')
import numpy as np, pandas as pd
from fastai.vision.all import set_seed, parent_label, FuncSplitter
from seedling_clf.core import run_info, save_json, train_folder
from seedling_clf.train import train_settings
from common import full_data_path
from seedling_clf.data import labelled_images, stratified_splitter, seedling_dls, seedling_block
from seedling_clf.models import seedling_learner
from seedling_clf.inference import load_model
from seedling_clf.features import extract_features, fit_head, head_predictions, HEAD_EPOCHS, HEAD_LR
from seedling_clf.train import classification_metrics, evaluate
from seedling_clf.clean import rank_labels, plot_suspects

HERE = Path(__file__).parent
RULES = ['confidently wrong', 'torn']


def counts(rk):
    "How many training images each rule flags, in all and per given label."
    c = {r: int(rk.reason.str.contains(r).sum()) for r in RULES}
    c['any'] = int((rk.reason != '').sum())
    c['per_class'] = {k: int(v) for k, v in rk[rk.reason != ''].label.value_counts().sort_index().items()}
    return c


def head_recipe(x, y, tr, va, keep, learn, seed, epochs):
    "Features head trained on the training rows `tr[keep]`, scored on `va`."
    hl = fit_head(learn, x[tr][keep], y[tr][keep], x[va], y[va], epochs=epochs, lr=HEAD_LR, seed=seed, load=False, quiet=True)
    return classification_metrics(y[va], head_predictions(hl, x[va]).argmax(1), list(learn.dls.vocab))


def cnn_recipe(train_files, valid_files, cfg, epochs, seed):
    "A short fine-tune on `train_files`, scored on `valid_files` (the fixed split)."
    start = time.time()
    vset = {str(f) for f in valid_files}
    blk = seedling_block(cfg['size'], seed=seed)
    blk.splitter = FuncSplitter(lambda f: str(f) in vset)
    set_seed(seed)
    dls = blk.dataloaders(list(train_files) + list(valid_files), bs=cfg['bs'], num_workers=0)
    set_seed(seed)
    learn = seedling_learner(dls, cfg['arch'])
    lr = float(cfg['lr'])
    with learn.no_bar():
        learn.freeze(); learn.fit_one_cycle(1, lr, pct_start=0.99)
        learn.unfreeze(); learn.fit_one_cycle(epochs, slice(lr/cfg['lr_mult'], lr/2), pct_start=0.3, div=5.)
    m = evaluate(learn)
    m['n_train'], m['wall_time_s'] = len(dls.train_ds), round(time.time()-start, 1)
    return m


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--data', default=None, help='dataset root (default: the full data)')
    p.add_argument('--model', default=str(HERE/'runs'/'foundation_ours'/'model.pkl'),
                   help="fine-tuned model.pkl trained on this split's training side (skipped if missing)")
    p.add_argument('--flag_with', choices=['auto', 'imagenet', 'fine-tuned'], default='auto',
                   help='whose flags are excluded (auto: fine-tuned if the model exists)')
    p.add_argument('--folds', type=int, default=5)
    p.add_argument('--wrong', type=float, default=0.9)
    p.add_argument('--torn', type=float, nargs=2, default=(0.5, 0.6))
    p.add_argument('--size', type=int, default=None, help="image side for the imagenet body and the cnn recipe (default: the fast preset's)")
    p.add_argument('--epochs', type=int, default=2, help='unfrozen epochs of the cnn recipe (after 1 frozen)')
    p.add_argument('--head_epochs', type=int, default=HEAD_EPOCHS)
    p.add_argument('--recipes', default='head,cnn', help='comma-separated: head, cnn')
    p.add_argument('--top', type=int, default=30)
    p.add_argument('--seed', type=int, default=42)
    p.add_argument('--out', default=str(HERE/'results'))
    a = p.parse_args()
    data = Path(a.data) if a.data else full_data_path()
    if data is None: print('full data not found (set SEEDLING_DATA): nothing to benchmark'); return
    out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
    cfg = train_settings('fast', size=a.size)
    start = time.time()

    files = labelled_images(data)
    tr, va = map(np.array, stratified_splitter(0.2, a.seed)(files))
    train_files, valid_files = [files[i] for i in tr], [files[i] for i in va]
    print(f"{data}: {len(tr)} training images ranked, {len(va)} validation images untouched", flush=True)

    # embeddings: ImageNet body (always), fine-tuned body (if given)
    dls = seedling_dls(data, size=cfg['size'], bs=64)
    imagenet = seedling_learner(dls, cfg['arch'])
    vocab = list(dls.vocab)
    y = np.array([vocab.index(parent_label(f)) for f in files])
    x_in = extract_features(imagenet, files)
    bodies = {'imagenet': (imagenet, x_in[tr])}
    if a.model and Path(a.model).exists():
        ft = load_model(a.model)
        bodies['fine-tuned'] = (ft, extract_features(ft, train_files))
    rankings, res_counts = {}, {}
    for name, (learn, xt) in bodies.items():
        rk = rank_labels(learn, data, files=train_files, folds=a.folds, wrong=a.wrong, torn=tuple(a.torn), seed=a.seed, feats=xt)
        rankings[name], res_counts[name] = rk, counts(rk)
        c = res_counts[name]
        print(f"{name:10s} body: {c['confidently wrong']} confidently wrong, {c['torn']} torn, {c['any']} flagged "
              f"of {len(rk)} training images", flush=True)
    flag_with = a.flag_with if a.flag_with != 'auto' else ('fine-tuned' if 'fine-tuned' in rankings else 'imagenet')
    if flag_with not in rankings: raise SystemExit(f"--flag_with {flag_with}: no such ranking (is --model missing?)")
    rk = rankings[flag_with]
    plot_suspects(rk, data, n=a.top, fname=out/'clean_suspects.png')
    rk[rk.reason != ''].to_csv(out/'clean_suspects.csv', index=False)

    root = train_folder(data)
    flagged = {str(root/f) for f in rk.file[rk.reason != '']}
    wrong = {str(root/f) for f in rk.file[rk.reason.str.contains('confidently wrong')]}
    variants = {'all training images': set(), 'confidently wrong excluded': wrong, 'all flagged excluded': flagged}
    recipes = [r.strip() for r in a.recipes.split(',') if r.strip()]
    runs = {}
    if 'head' in recipes:
        for v, drop in variants.items():
            keep = np.array([str(f) not in drop for f in train_files])
            m = head_recipe(x_in, y, tr, va, keep, imagenet, a.seed, a.head_epochs)
            runs[f'head | {v}'] = dict(m, n_train=int(keep.sum()))
            print(f"head | {v:28s}: {keep.sum():5d} train, valid micro-F1 {m['micro_f1']:.4f} macro-F1 {m['macro_f1']:.4f}", flush=True)
    if 'cnn' in recipes:
        for v in ['all training images', 'all flagged excluded']:
            m = cnn_recipe([f for f in train_files if str(f) not in variants[v]], valid_files, cfg, a.epochs, a.seed)
            runs[f'cnn | {v}'] = m
            print(f"cnn  | {v:28s}: {m['n_train']:5d} train, valid micro-F1 {m['micro_f1']:.4f} macro-F1 {m['macro_f1']:.4f} "
                  f"({m['wall_time_s']/60:.1f} min)", flush=True)

    res = dict(data=str(data), n_train=len(tr), n_valid=len(va), folds=a.folds, wrong=a.wrong, torn=list(a.torn),
               model=a.model if 'fine-tuned' in bodies else None, flag_with=flag_with, counts=res_counts,
               recipes=dict(head=f"features head (fit_head) on {cfg['arch']} ImageNet embeddings at {cfg['size']} px, {a.head_epochs} epochs",
                            cnn=f"{cfg['arch']} at {cfg['size']} px, 1 frozen + {a.epochs} unfrozen epochs, lr {cfg['lr']}"),
               runs=runs, wall_time_s=round(time.time()-start, 1), **run_info())
    save_json(res, out/'clean.json')
    md = ["# Label-cleanup benchmark\n",
          f"Data `{data}`: {len(tr)} training images ranked with out-of-fold predictions ({a.folds} stratified folds of "
          f"logistic-regression heads on a body's embeddings); the {len(va)} validation images are never ranked or excluded. "
          f"Rules: confidently wrong = another class predicted with probability > {a.wrong}; torn = top probability in "
          f"[{a.torn[0]}, {a.torn[1]}]. {res['device']}, {res['wall_time_s']/60:.1f} min in all.\n",
          "| body | confidently wrong | torn | flagged (any rule) |", "|---|---|---|---|"]
    for name, c in res_counts.items(): md.append(f"| {name} | {c['confidently wrong']} | {c['torn']} | {c['any']} |")
    md += ["", f"Flagged per given label ({flag_with} body): " + ', '.join(f"{k} {v}" for k, v in res_counts[flag_with]['per_class'].items()),
           "", f"Top {a.top} suspects ({flag_with} body): `clean_suspects.png`; all flagged training images: `clean_suspects.csv`.", "",
           "Validation scores of the same recipe trained with the flagged images excluded or not:", "",
           "| recipe | training side | images | val micro-F1 | val macro-F1 |", "|---|---|---|---|---|"]
    for k, m in runs.items(): md.append(f"| {k} | {m['n_train']} | {m['micro_f1']:.4f} | {m['macro_f1']:.4f} |")
    md += ["", *(f"- {k}: {v}" for k, v in res['recipes'].items() if k in recipes), "",
           "Command: `python bench/clean.py`"]
    (out/'clean.md').write_text('\n'.join(md) + '\n')
    print('\n'.join(md))


if __name__ == '__main__': main()
