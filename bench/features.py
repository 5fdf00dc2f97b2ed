"""Bottleneck-features benchmark: the head stage from cached features against a frozen fastai head stage.

On the full data (the split `seedling_train` draws, as every benchmark here), tf_efficientnet_lite0 with the packaged
ImageNet weights at the `fast` preset's last size, CPU:

1. frozen fastai: `seedling_learner` + `fit_stage` with the body frozen (the head stage of `train_classifier`, its
   batch-norm training), timed, once per training seed (`--seeds`);
2. from features: a fresh learner, features of all images extracted once into an empty cache (timed), then trained
   on for the same E epochs (`fit_head`), timed, once per seed; a recipe's time is extraction + head; the extraction
   again with the cache warm; the model (body with the last seed's head loaded into it) is scored on the validation
   images and compared with the feature-space predictions. Four recipes: the head with the last block's batch-norm
   on the maps before that block (`bn_blocks=1`, the default of `train_classifier(head_from_features=True)`); the
   head alone on pooled embeddings (`bn_blocks=0`); the head alone on the four flipped views of every image
   (`flips=True`), all of which train it; the head with the last two blocks' batch-norm (`bn_blocks=2`);
3. balancing, on the cached features (pooled embeddings, and the maps with `bn_blocks=1`): none / class weights /
   SMOTE / ADASYN, the head trained for `--head_epochs`;
   validation micro-F1, macro-F1 and the F1 of the minority classes (the three with the fewest training images);
4. the t-SNE of all embeddings.

Prints the figures and writes bench/results/features.{json,md} and bench/results/features_tsne.png.

    python bench/features.py [--data DIR] [--epochs 5] [--head_epochs 20] [--seeds 42,0,1]
"""
import os, tempfile, time
from collections import Counter
from pathlib import Path
from unittest.mock import patch

from common import bench_parser, bench_data, recipe, md_table, write_result
import numpy as np
from fastai.vision.all import set_seed
from seedling_clf.data import seedling_dls
from seedling_clf.models import seedling_learner
from seedling_clf.features import dls_features, fit_head, head_predictions, plot_tsne, HEAD_EPOCHS, HEAD_LR
from seedling_clf.inference import classification_metrics, score_learner
from seedling_clf.fit import prepare_stage, fit_stage

KEYS = ('frozen fastai', "from features, head and the last block's batch-norm (bn_blocks=1)",
    'from features, head alone (bn_blocks=0)', 'from features, head alone, 4 flip views',
    "from features, head and the last two blocks' batch-norm (bn_blocks=2)")
BALANCING = [('balancing', 'pooled embeddings, head alone'), ('balancing_bn_blocks_1', 'maps before the last block, bn_blocks=1')]


def minority(m, vocab, counts, n=3) -> dict:
    "F1 of the `n` classes with the fewest training images, and their mean."
    small = sorted(vocab, key=lambda c: (counts[c], c))[:n]
    per = {c: round(m['per_class_f1'][c], 4) for c in small}
    return dict(minority_f1=round(float(np.mean(list(per.values()))), 4), minority_classes=per)


def frozen_stage(dls, cfg, a) -> dict:
    "The frozen fastai head stage (batch-norm training), once per training seed: wall time and validation figures."
    res = {}
    for seed in a.seeds:
        set_seed(seed)
        learn = seedling_learner(dls, cfg.arch)
        t = time.time()
        prepare_stage(learn, True, frozen_bn=False)
        with learn.no_bar(), learn.no_logging(): fit_stage(learn, True, a.epochs, cfg.lr, cfg.lr_mult)
        res[seed] = dict(wall_time_s=round(time.time() - t, 1), **score_learner(learn))
        print(f"frozen fastai, {a.epochs} epochs, seed {seed}: {res[seed]['wall_time_s']:.1f} s, val micro-F1 {res[seed]['micro_f1']:.4f}", flush=True)
    return res


def from_features(learn, a, bn_blocks=0, flips=False) -> tuple:
    "Extraction once (timed, into an empty cache), the head once per seed (the last seed's loaded into `learn`); the model/head agreement."
    vocab = list(learn.dls.vocab)
    t = time.time()
    f = dls_features(learn, bs=a.bs, flips=flips, bn_blocks=bn_blocks)
    ext = time.time() - t
    sel = (lambda idx: f.x[:, idx]) if flips else (lambda idx: f.x[idx])
    runs = {}
    for seed in a.seeds:  # every seed starts from the same body: only the last one's head (and tail) loads into `learn`
        t = time.time()
        h = fit_head(learn, sel(f.train), f.y[f.train], sel(f.valid), f.y[f.valid], epochs=a.epochs, seed=seed,
            quiet=True, load=seed == a.seeds[-1] and not flips, bn_blocks=bn_blocks)
        head_s = time.time() - t
        p = head_predictions(h, f.x[0, f.valid] if flips else f.x[f.valid])
        m = classification_metrics(f.y[f.valid], p.argmax(1), vocab)
        runs[seed] = dict(wall_time_s=round(ext + head_s, 1), head_s=round(head_s, 1), **m)
        if flips: runs[seed]['tta_micro_f1'] = round(classification_metrics(f.y[f.valid], head_predictions(h, sel(f.valid)).argmax(1), vocab)['micro_f1'], 4)
        print(f"from features (bn_blocks={bn_blocks}{', 4 flip views' if flips else ''}), seed {seed}: {ext:.1f} s extraction + "
            f"{head_s:.1f} s head, val micro-F1 {m['micro_f1']:.4f}" + (f" (TTA {runs[seed]['tta_micro_f1']:.4f})" if flips else ''), flush=True)
    t = time.time()
    dls_features(learn, bs=a.bs, flips=flips, bn_blocks=bn_blocks)
    extra = dict(extraction_s=round(ext, 1), warm_cache_s=round(time.time() - t, 1))
    if not flips:  # the full model, with the last seed's head (and tail) loaded, on the validation images
        extra.update(model_micro_f1=round(score_learner(learn)['micro_f1'], 4),
            model_head_agreement=float((p.argmax(1) == learn.get_preds()[0].argmax(1).numpy()).mean()))
    return f, runs, extra


def summary(runs, vocab, counts, **extra) -> dict:
    "Means over the seeds, and each seed's time and micro-F1."
    first = next(iter(runs.values()))
    mean = lambda k: round(float(np.mean([r[k] for r in runs.values()])), 4)
    mins = [minority(r, vocab, counts)['minority_f1'] for r in runs.values()]
    if 'tta_micro_f1' in first: extra['tta_micro_f1'] = mean('tta_micro_f1')
    return dict(wall_time_s=round(mean('wall_time_s'), 1), head_s=round(mean('head_s'), 1) if 'head_s' in first else None,
        micro_f1=mean('micro_f1'), macro_f1=mean('macro_f1'), minority_f1=round(float(np.mean(mins)), 4),
        micro_f1_std=round(float(np.std([r['micro_f1'] for r in runs.values()])), 4),
        per_seed={s: dict(wall_time_s=r['wall_time_s'], micro_f1=round(r['micro_f1'], 4)) for s, r in runs.items()}, **extra)


def balancing(dls, cfg, f, bn_blocks, a, counts) -> dict:
    "The head trained on the cached features with each balance (a fresh learner each time: `fit_head` starts from the learner's tail)."
    vocab, res = list(dls.vocab), {}
    for bal in ['none', 'weights', 'smote', 'adasyn']:
        t = time.time()
        hb = fit_head(seedling_learner(dls, cfg.arch), f.x[f.train], f.y[f.train], f.x[f.valid], f.y[f.valid], epochs=a.head_epochs,
            balance=bal, load=False, quiet=True, bn_blocks=bn_blocks)
        m = classification_metrics(f.y[f.valid], head_predictions(hb, f.x[f.valid]).argmax(1), vocab)
        res[bal] = dict(wall_time_s=round(time.time()-t, 1), n_train=len(hb.dls.train.dataset), **m, **minority(m, vocab, counts))
        print(f"bn_blocks={bn_blocks}, balance {bal:8s}: micro-F1 {m['micro_f1']:.4f} macro-F1 {m['macro_f1']:.4f} "
            f"minority F1 {res[bal]['minority_f1']:.4f} ({len(hb.dls.train.dataset)} training rows)", flush=True)
    return res


def head_stage_md(res) -> list:
    "The head-stage section: each recipe's time, speed-up and figures, then the extraction details."
    hs, seeds = res['head_stage'], res['seeds']
    md = [f"## Head stage, {res['epochs']} epochs each, training seeds {', '.join(map(str, seeds))}\n",
        "Means over the seeds (the split is the same); a recipe from features costs its extraction (once, into an empty cache) "
        "plus its head training; per seed: wall time / micro-F1.\n"]
    rows = []
    for k, m in hs.items():
        per = '; '.join(f"{s}: {r['wall_time_s']:.1f} s / {r['micro_f1']:.4f}" for s, r in m['per_seed'].items())
        c = res['comparison'].get(k, dict(speedup=1, micro_f1_difference=0))
        rows.append([k, f"{m['wall_time_s']:.1f}", f"{c['speedup']:.1f}x", f"{m['micro_f1']:.4f} ({m['micro_f1_std']:.4f})",
            f"{c['micro_f1_difference']:+.4f}", f"{m['macro_f1']:.4f}", f"{m['minority_f1']:.4f}", per])
    md += md_table(['recipe', 'wall time (s)', 'speed-up', 'val micro-F1 (std)', 'difference', 'val macro-F1', 'minority F1', 'per seed'], rows)
    tl, hx, fv4, t2 = (hs[k] for k in KEYS[1:])
    return md + ["", f"bn_blocks=1 (the default of `--head_from_features`): {tl['extraction_s']:.1f} s extracting the maps before the last block "
        f"(TorchScript-frozen front), {tl['head_s']:.1f} s per head with the last block's batch-norm; {tl['warm_cache_s']:.1f} s to reload "
        f"with the cache warm. The full model (body with the seed-{seeds[-1]} head and tail batch-norm loaded) scores micro-F1 "
        f"{tl['model_micro_f1']:.4f} on the validation images and agrees with the feature-space model on {tl['model_head_agreement']:.1%} of them.\n",
        f"Head alone on pooled embeddings: {hx['extraction_s']:.1f} s extraction, {hx['head_s']:.1f} s per head, {hx['warm_cache_s']:.1f} s warm; "
        f"model {hx['model_micro_f1']:.4f}, agreement {hx['model_head_agreement']:.1%}. With the four flipped views ({fv4['extraction_s']:.1f} s "
        f"extraction, all views train the head, view 0 scored); averaging the head over the views (TTA) gives {fv4['tta_micro_f1']:.4f}.\n",
        f"bn_blocks=2: {t2['extraction_s']:.1f} s extraction, {t2['head_s']:.1f} s per head; model "
        f"{t2['model_micro_f1']:.4f}, agreement {t2['model_head_agreement']:.1%}.\n"]


def markdown(res) -> list:
    "The page: the head stage, the balancing comparisons, the t-SNE."
    md = ["# Bottleneck-features benchmark\n",
        f"`{res['data']}` ({res['n_train']} train / {res['n_valid']} validation images, seeded stratified split), {res['arch']} with "
        f"packaged ImageNet weights, {res['size']} px, {res['device']}.\n", *head_stage_md(res)]
    for key, title in BALANCING:
        md += [f"## Balancing the training features: {title} ({res['head_epochs']} head epochs)\n",
            f"Minority F1: mean F1 of the three classes with the fewest training images ({', '.join(res['minority_classes'])}).\n"]
        worst = lambda m: min(m['per_class_f1'].items(), key=lambda kv: kv[1])
        rows = [[k, m['n_train'], f"{m['micro_f1']:.4f}", f"{m['macro_f1']:.4f}", f"{m['minority_f1']:.4f}", f"{worst(m)[1]:.3f} ({worst(m)[0]})",
            f"{m['wall_time_s']:.1f}"] for k, m in res[key].items()]
        md += md_table(['balance', 'training rows', 'val micro-F1', 'val macro-F1', 'minority F1', 'worst class F1', 'time (s)'], rows) + ['']
    seeds = ','.join(map(str, res['seeds']))
    return md + ["![t-SNE](features_tsne.png)", "", f"Command: `python bench/features.py --epochs {res['epochs']} --head_epochs {res['head_epochs']} --seeds {seeds}`"]


def main():
    p = bench_parser(__doc__)
    p.add_argument('--arch', default='tf_efficientnet_lite0')
    p.add_argument('--size', type=int, default=None, help="image side (default: the fast preset's)")
    p.add_argument('--bs', type=int, default=64)
    p.add_argument('--epochs', type=int, default=5, help='head-stage epochs, the same for both recipes')
    p.add_argument('--seeds', default='42,0,1', help='training seeds, comma-separated (the split stays the preset\'s)')
    p.add_argument('--head_epochs', type=int, default=HEAD_EPOCHS, help='head epochs for the balancing comparison')
    a = p.parse_args()
    a.seeds = [int(s) for s in a.seeds.split(',')]
    data = bench_data(a)
    if data is None: return
    cfg = recipe(arch=a.arch, size=a.size)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    dls = seedling_dls(data, size=cfg.size, bs=a.bs)
    vocab = list(dls.vocab)
    print(f"{data}: {len(dls.train_ds)} train / {len(dls.valid_ds)} valid images, {cfg.arch} at {cfg.size} px, {a.epochs} head epochs", flush=True)
    res = dict(data=data, arch=cfg.arch, size=cfg.size, bs=a.bs, epochs=a.epochs, seeds=a.seeds, head_epochs=a.head_epochs,
        lr_frozen=cfg.lr, lr_head=HEAD_LR, n_train=len(dls.train_ds), n_valid=len(dls.valid_ds))
    frozen = frozen_stage(dls, cfg, a)
    with tempfile.TemporaryDirectory() as cache, patch.dict(os.environ, SEEDLING_CACHE=cache):  # every extraction starts from an empty cache
        fd, feat, feat_x = from_features(seedling_learner(dls, cfg.arch), a)
        fm, tail, tail_x = from_features(seedling_learner(dls, cfg.arch), a, bn_blocks=1)
        _, tail2, tail2_x = from_features(seedling_learner(dls, cfg.arch), a, bn_blocks=2)
        _, views, views_x = from_features(seedling_learner(dls, cfg.arch), a, flips=True)
    counts = Counter(vocab[i] for i in fd.y[fd.train])
    runs = [(frozen, {}), (tail, tail_x), (feat, feat_x), (views, views_x), (tail2, tail2_x)]
    hs = res['head_stage'] = {k: summary(r, vocab, counts, **x) for k, (r, x) in zip(KEYS, runs)}
    res['comparison'] = {k: dict(speedup=round(hs[KEYS[0]]['wall_time_s']/hs[k]['wall_time_s'], 2),
        micro_f1_difference=round(hs[k]['micro_f1'] - hs[KEYS[0]]['micro_f1'], 4)) for k in KEYS[1:]}
    for k, c in res['comparison'].items(): print(f"{k}: speed-up {c['speedup']:.1f}x, mean micro-F1 difference {c['micro_f1_difference']:+.4f}", flush=True)
    for (key, _), f, nb in zip(BALANCING, (fd, fm), (0, 1)): res[key] = balancing(dls, cfg, f, nb, a, counts)
    res['minority_classes'] = sorted(vocab, key=lambda c: (counts[c], c))[:3]
    t = time.time()
    plot_tsne(fd.x, fd.y, vocab, out/'features_tsne.png', title=f"t-SNE of {cfg.arch} embeddings, {cfg.size} px ({len(fd.y)} images)")
    res['tsne_s'] = round(time.time()-t, 1)
    write_result('features', res, markdown, out)


if __name__ == '__main__': main()
