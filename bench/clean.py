"""Label-cleanup benchmark: how many training images each rule flags, the top suspects, and whether excluding them helps.

On the full data, with the stratified split `seedling_train` draws (the `fast` preset's `valid_pct` and seed):

1. Embeddings of the labelled images from a model's body, then out-of-fold predictions (5 stratified folds of
   logistic-regression heads, `seedling_clf.suspects.rank_labels`) on the TRAINING side only: validation images are
   never ranked, flagged or excluded. Two bodies, when available:
   - `imagenet`: tf_efficientnet_lite0 with the packaged ImageNet weights, never trained on seedlings (fully
     honest out-of-fold predictions, weaker embeddings);
   - `fine-tuned`: the `--model` given (default: bench/runs/foundation_ours/model.pkl, the foundation benchmark's
     model, fine-tuned on this same training side; its body has seen the training labels, see the caveat in
     nbs/15_clean.ipynb).
   Counts per rule (confidently wrong: another class > 0.9; torn: top probability in [0.5, 0.6]) and per class;
   a grid of the top 30 suspects of the ranking used for exclusion (`--flag_with`, default fine-tuned if present).
2. The same recipe trained with the flagged images excluded versus not, scored on the untouched validation images:
   - `head`: the project's features head (`seedling_clf.features.fit_head`: fastai's head trained on the cached
     ImageNet embeddings, 20 epochs), cheap; excluding nothing / the confidently wrong / every flagged image;
   - `cnn`: a short fine-tune (`seedling_learner`, the `fast` preset's arch, size, batch size and learning rates;
     1 frozen + `--epochs` unfrozen epochs, `fit_stage` as in `train_classifier`), excluding nothing / every
     flagged image.

Prints the figures and writes bench/results/clean.{json,md}, clean_suspects.png and clean_suspects.csv (the flagged
training images).

    python bench/clean.py [--data DIR] [--model FILE] [--epochs 2] [--recipes head,cnn]
"""
import time
from pathlib import Path

from common import RUNS, bench_parser, bench_data, recipe, recipe_split, md_table, write_result
import numpy as np
from fastai.vision.all import set_seed, parent_label, FuncSplitter
from seedling_clf.core import train_folder
from seedling_clf.data import labelled_images, seedling_dls, seedling_block
from seedling_clf.models import seedling_learner
from seedling_clf.inference import load_model
from seedling_clf.features import extract_features, fit_head, head_predictions, HEAD_EPOCHS, HEAD_LR
from seedling_clf.inference import classification_metrics, score_learner
from seedling_clf.fit import prepare_stage, fit_stage
from seedling_clf.suspects import rank_labels, plot_suspects

RULES = ['confidently wrong', 'torn']


def counts(rk) -> dict:
    "How many training images each rule flags, in all and per given label."
    c = {r: int(rk.reason.str.contains(r).sum()) for r in RULES}
    c['any'] = int((rk.reason != '').sum())
    c['per_class'] = {k: int(v) for k, v in rk[rk.reason != ''].label.value_counts().sort_index().items()}
    return c


def head_recipe(x, y, tr, va, keep, learn, seed, epochs) -> dict:
    "Features head trained on the training rows `tr[keep]`, scored on `va`."
    hl = fit_head(learn, x[tr][keep], y[tr][keep], x[va], y[va], epochs=epochs, lr=HEAD_LR, seed=seed, load=False, quiet=True)
    return classification_metrics(y[va], head_predictions(hl, x[va]).argmax(1), list(learn.dls.vocab))


def cnn_recipe(train_files, valid_files, cfg, size, epochs, seed) -> dict:
    "A short fine-tune on `train_files`, scored on `valid_files` (the fixed split): 1 frozen epoch (batch-norm training), `epochs` unfrozen."
    start = time.time()
    vset = {str(f) for f in valid_files}
    blk = seedling_block(size, seed=seed)
    blk.splitter = FuncSplitter(lambda f: str(f) in vset)
    set_seed(seed)
    dls = blk.dataloaders(list(train_files) + list(valid_files), bs=cfg.bs, num_workers=0)
    set_seed(seed)
    learn = seedling_learner(dls, cfg.arch)
    with learn.no_bar():
        for frozen, n in [(True, 1), (False, epochs)]:
            prepare_stage(learn, frozen, frozen_bn=False)  # as clean.md's runs trained; the preset now freezes batch-norm too
            fit_stage(learn, frozen, n, cfg.lr, cfg.lr_mult)
    m = score_learner(learn)
    m['n_train'], m['wall_time_s'] = len(dls.train_ds), round(time.time()-start, 1)
    return m


def rankings(data, files, tr, a, learn_in, x_in) -> dict:
    "The ranking of the training images by each body: ImageNet, and the fine-tuned `--model` if it exists."
    train_files = [files[i] for i in tr]
    bodies = {'imagenet': (learn_in, x_in[tr])}
    if a.model and Path(a.model).exists():
        ft = load_model(a.model)
        bodies['fine-tuned'] = (ft, extract_features(ft, train_files))
    res = {}
    for name, (learn, xt) in bodies.items():
        res[name] = rank_labels(learn, data, files=train_files, folds=a.folds, wrong=a.wrong, torn=tuple(a.torn), seed=a.seed, feats=xt)
        c = counts(res[name])
        print(f"{name:10s} body: {c['confidently wrong']} confidently wrong, {c['torn']} torn, {c['any']} flagged "
            f"of {len(res[name])} training images", flush=True)
    return res


def markdown(res) -> list:
    "The page: flags per body and per class, and the validation scores with and without the flagged images."
    c, fw = res['counts'], res['flag_with']
    md = ["# Label-cleanup benchmark\n",
        f"Data `{res['data']}`: {res['n_train']} training images ranked with out-of-fold predictions ({res['folds']} stratified folds of "
        f"logistic-regression heads on a body's embeddings); the {res['n_valid']} validation images are never ranked or excluded. "
        f"Rules: confidently wrong = another class predicted with probability > {res['wrong']}; torn = top probability in "
        f"[{res['torn'][0]}, {res['torn'][1]}]. {res['device']}, {res['wall_time_s']/60:.1f} min in all.\n"]
    md += md_table(['body', 'confidently wrong', 'torn', 'flagged (any rule)'], [[n, v['confidently wrong'], v['torn'], v['any']] for n, v in c.items()])
    md += ["", f"Flagged per given label ({fw} body): " + ', '.join(f"{k} {v}" for k, v in c[fw]['per_class'].items()),
        "", f"Top {res['top']} suspects ({fw} body): `clean_suspects.png`; all flagged training images: `clean_suspects.csv`.", "",
        "Validation scores of the same recipe trained with the flagged images excluded or not:", ""]
    rows = [[k, m['n_train'], f"{m['micro_f1']:.4f}", f"{m['macro_f1']:.4f}"] for k, m in res['runs'].items()]
    md += md_table(['recipe', 'training side', 'images', 'val micro-F1', 'val macro-F1'], rows)
    ran = [k for k, v in res['recipes'].items() if any(r.startswith(k + ' |') for r in res['runs'])]
    return md + ["", *(f"- {k}: {res['recipes'][k]}" for k in ran), "", "Command: `python bench/clean.py`"]


def main():
    p = bench_parser(__doc__)
    p.add_argument('--model', default=str(RUNS/'foundation_ours'/'model.pkl'),
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
    p.add_argument('--seed', type=int, default=recipe().seed, help="the split's and the trainings' seed (default: the fast preset's)")
    a = p.parse_args()
    data = bench_data(a)
    if data is None: return
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    cfg = recipe()
    size = a.size or cfg.size
    start = time.time()

    files = labelled_images(data)
    tr, va = map(np.array, recipe_split(files, a.seed))
    train_files, valid_files = [files[i] for i in tr], [files[i] for i in va]
    print(f"{data}: {len(tr)} training images ranked, {len(va)} validation images untouched", flush=True)

    imagenet = seedling_learner(seedling_dls(data, size=size, bs=64), cfg.arch)
    vocab = list(imagenet.dls.vocab)
    y = np.array([vocab.index(parent_label(f)) for f in files])
    x_in = extract_features(imagenet, files)
    ranked = rankings(data, files, tr, a, imagenet, x_in)
    flag_with = a.flag_with if a.flag_with != 'auto' else ('fine-tuned' if 'fine-tuned' in ranked else 'imagenet')
    if flag_with not in ranked: raise SystemExit(f"--flag_with {flag_with}: no such ranking (is --model missing?)")
    rk = ranked[flag_with]
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
            m = cnn_recipe([f for f in train_files if str(f) not in variants[v]], valid_files, cfg, size, a.epochs, a.seed)
            runs[f'cnn | {v}'] = m
            print(f"cnn  | {v:28s}: {m['n_train']:5d} train, valid micro-F1 {m['micro_f1']:.4f} macro-F1 {m['macro_f1']:.4f} "
                f"({m['wall_time_s']/60:.1f} min)", flush=True)

    described = dict(head=f"features head (fit_head) on {cfg.arch} ImageNet embeddings at {size} px, {a.head_epochs} epochs",
        cnn=f"{cfg.arch} at {size} px, 1 frozen + {a.epochs} unfrozen epochs, lr {cfg.lr}")
    res = dict(data=str(data), n_train=len(tr), n_valid=len(va), folds=a.folds, wrong=a.wrong, torn=list(a.torn),
        model=a.model if 'fine-tuned' in ranked else None, flag_with=flag_with, counts={n: counts(r) for n, r in ranked.items()},
        recipes=described, runs=runs, top=a.top, wall_time_s=round(time.time()-start, 1))
    write_result('clean', res, markdown, out)


if __name__ == '__main__': main()
