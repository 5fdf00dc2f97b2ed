"""Bottleneck-features benchmark: the head stage from cached features against a frozen fastai head stage.

On the full data (seeded stratified 80/20 split, as every benchmark here), tf_efficientnet_lite0 with the packaged
ImageNet weights at the `fast` preset's size (128 px), CPU:

1. frozen fastai: `seedling_learner` + `fit_one_cycle(E, lr, pct_start=0.99)` with the body frozen (the head stage
   of `train_classifier`), timed, once per training seed (`--seeds`);
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
import argparse, os, tempfile, time, warnings
from collections import Counter
from pathlib import Path

warnings.simplefilter('ignore')
import matplotlib; matplotlib.use('Agg')
import numpy as np
from fastai.vision.all import set_seed
from seedling_clf.core import run_info, save_json
from seedling_clf.train import train_settings
from common import full_data_path
from seedling_clf.data import seedling_dls
from seedling_clf.models import seedling_learner
from seedling_clf.features import dls_features, fit_head, head_predictions, plot_tsne, HEAD_EPOCHS, HEAD_LR
from seedling_clf.train import classification_metrics, evaluate

HERE = Path(__file__).parent


def minority(m, vocab, counts, n=3):
    "F1 of the `n` classes with the fewest training images, and their mean."
    small = sorted(vocab, key=lambda c: (counts[c], c))[:n]
    per = {c: round(m['per_class_f1'][c], 4) for c in small}
    return dict(minority_f1=round(float(np.mean(list(per.values()))), 4), minority_classes=per)


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--data', default=None, help='dataset root (default: the full data)')
    p.add_argument('--arch', default='tf_efficientnet_lite0')
    p.add_argument('--size', type=int, default=None, help="image side (default: the fast preset's)")
    p.add_argument('--bs', type=int, default=64)
    p.add_argument('--epochs', type=int, default=5, help='head-stage epochs, the same for both recipes')
    p.add_argument('--seeds', default='42,0,1', help='training seeds, comma-separated (the split stays seed 42)')
    p.add_argument('--head_epochs', type=int, default=HEAD_EPOCHS, help='head epochs for the balancing comparison')
    p.add_argument('--out', default=str(HERE/'results'))
    a = p.parse_args()
    a.seeds = [int(s) for s in a.seeds.split(',')]
    data = Path(a.data) if a.data else full_data_path()
    if data is None: print('full data not found (set SEEDLING_DATA): nothing to benchmark'); return
    cfg = train_settings('fast', arch=a.arch, size=a.size)
    out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
    dls = seedling_dls(data, size=cfg['size'], bs=a.bs)
    vocab = list(dls.vocab)
    print(f"{data}: {len(dls.train_ds)} train / {len(dls.valid_ds)} valid images, {cfg['arch']} at {cfg['size']} px, "
          f"{a.epochs} head epochs", flush=True)
    res = dict(data=str(data), arch=cfg['arch'], size=cfg['size'], bs=a.bs, epochs=a.epochs, seeds=a.seeds, head_epochs=a.head_epochs,
               lr_frozen=cfg['lr'], lr_head=HEAD_LR, n_train=len(dls.train_ds), n_valid=len(dls.valid_ds), **run_info())

    # 1. the frozen fastai head stage, once per training seed
    frozen = {}
    for seed in a.seeds:
        set_seed(seed); learn = seedling_learner(dls, cfg['arch'])
        t = time.time()
        learn.freeze()
        with learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(a.epochs, cfg['lr'], pct_start=0.99)
        frozen[seed] = dict(wall_time_s=round(time.time() - t, 1), **evaluate(learn))
        print(f"frozen fastai, {a.epochs} epochs, seed {seed}: {frozen[seed]['wall_time_s']:.1f} s, "
              f"val micro-F1 {frozen[seed]['micro_f1']:.4f}", flush=True)

    # 2. the head stage from features, once per seed after one extraction into an empty cache (timed): the head alone on
    #    pooled embeddings (bn_blocks=0), the head with the last block's batch-norm on the maps before it (bn_blocks=1,
    #    what `train_classifier(head_from_features=True)` runs), and the head on the four flipped views
    def from_features(learn, bn_blocks=0, flips=False):
        "Extraction once, the head once per seed (the last seed's loaded into `learn`); the model/head agreement."
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
            extra.update(model_micro_f1=round(evaluate(learn)['micro_f1'], 4),
                         model_head_agreement=float((p.argmax(1) == learn.get_preds()[0].argmax(1).numpy()).mean()))
        return f, runs, extra

    old_cache = os.environ.get('SEEDLING_CACHE')
    with tempfile.TemporaryDirectory() as cache:
        os.environ['SEEDLING_CACHE'] = cache
        fd, feat, feat_x = from_features(seedling_learner(dls, cfg['arch']))
        fm, tail, tail_x = from_features(seedling_learner(dls, cfg['arch']), bn_blocks=1)
        _, tail2, tail2_x = from_features(seedling_learner(dls, cfg['arch']), bn_blocks=2)
        _, views, views_x = from_features(seedling_learner(dls, cfg['arch']), flips=True)
        if old_cache is None: del os.environ['SEEDLING_CACHE']
        else: os.environ['SEEDLING_CACHE'] = old_cache
    counts = Counter(vocab[i] for i in fd.y[fd.train])

    def summary(runs, **extra):
        "Means over the seeds, and each seed's time and micro-F1."
        mean = lambda k: round(float(np.mean([r[k] for r in runs.values()])), 4)
        mins = [minority(r, vocab, counts)['minority_f1'] for r in runs.values()]
        if 'tta_micro_f1' in next(iter(runs.values())): extra['tta_micro_f1'] = mean('tta_micro_f1')
        return dict(wall_time_s=round(mean('wall_time_s'), 1), head_s=round(mean('head_s'), 1) if 'head_s' in next(iter(runs.values())) else None,
                    micro_f1=mean('micro_f1'), macro_f1=mean('macro_f1'),
                    minority_f1=round(float(np.mean(mins)), 4), micro_f1_std=round(float(np.std([r['micro_f1'] for r in runs.values()])), 4),
                    per_seed={s: dict(wall_time_s=r['wall_time_s'], micro_f1=round(r['micro_f1'], 4)) for s, r in runs.items()}, **extra)
    KEYS = ('frozen fastai', "from features, head and the last block's batch-norm (bn_blocks=1)",
            'from features, head alone (bn_blocks=0)', 'from features, head alone, 4 flip views',
            "from features, head and the last two blocks' batch-norm (bn_blocks=2)")
    res['head_stage'] = dict(zip(KEYS, [summary(frozen), summary(tail, **tail_x), summary(feat, **feat_x), summary(views, **views_x),
                                        summary(tail2, **tail2_x)]))
    hs = res['head_stage']
    res['comparison'] = {k: dict(speedup=round(hs[KEYS[0]]['wall_time_s']/hs[k]['wall_time_s'], 2),
                                 micro_f1_difference=round(hs[k]['micro_f1'] - hs[KEYS[0]]['micro_f1'], 4)) for k in KEYS[1:]}
    for k, c in res['comparison'].items(): print(f"{k}: speed-up {c['speedup']:.1f}x, mean micro-F1 difference {c['micro_f1_difference']:+.4f}", flush=True)

    # 3. balancing on the cached features (training side only): pooled embeddings, and the maps with bn_blocks=1
    #    (a fresh learner each time: `fit_head` starts from the learner's tail, and the head stage above loaded a trained one)
    for key, f, nb in [('balancing', fd, 0), ('balancing_bn_blocks_1', fm, 1)]:
        res[key] = {}
        for bal in ['none', 'weights', 'smote', 'adasyn']:
            t = time.time()
            hb = fit_head(seedling_learner(dls, cfg['arch']), f.x[f.train], f.y[f.train], f.x[f.valid], f.y[f.valid], epochs=a.head_epochs,
                          balance=bal, load=False, quiet=True, bn_blocks=nb)
            m = classification_metrics(f.y[f.valid], head_predictions(hb, f.x[f.valid]).argmax(1), vocab)
            res[key][bal] = dict(wall_time_s=round(time.time()-t, 1), n_train=len(hb.dls.train.dataset), **m, **minority(m, vocab, counts))
            print(f"bn_blocks={nb}, balance {bal:8s}: micro-F1 {m['micro_f1']:.4f} macro-F1 {m['macro_f1']:.4f} "
                  f"minority F1 {res[key][bal]['minority_f1']:.4f} ({len(hb.dls.train.dataset)} training rows)", flush=True)

    # 4. t-SNE
    t = time.time()
    plot_tsne(fd.x, fd.y, vocab, out/'features_tsne.png', title=f"t-SNE of {cfg['arch']} embeddings, {cfg['size']} px ({len(fd.y)} images)")
    res['tsne_s'] = round(time.time()-t, 1)

    save_json(res, out/'features.json')
    small = ', '.join(sorted(vocab, key=lambda c: (counts[c], c))[:3])
    seeds = ', '.join(map(str, a.seeds))
    tl, hx, fv4 = hs[KEYS[1]], hs[KEYS[2]], hs[KEYS[3]]
    md = ["# Bottleneck-features benchmark\n",
          f"`{data}` ({res['n_train']} train / {res['n_valid']} validation images, seeded stratified split), {cfg['arch']} with "
          f"packaged ImageNet weights, {cfg['size']} px, {res['device']}.\n",
          f"## Head stage, {a.epochs} epochs each, training seeds {seeds}\n",
          "Means over the seeds (the split is the same); a recipe from features costs its extraction (once, into an empty cache) "
          "plus its head training; per seed: wall time / micro-F1.\n",
          "| recipe | wall time (s) | speed-up | val micro-F1 (std) | difference | val macro-F1 | minority F1 | per seed |", "|---|---|---|---|---|---|---|---|"]
    for k, m in hs.items():
        per = '; '.join(f"{s}: {r['wall_time_s']:.1f} s / {r['micro_f1']:.4f}" for s, r in m['per_seed'].items())
        c = res['comparison'].get(k, dict(speedup=1, micro_f1_difference=0))
        md.append(f"| {k} | {m['wall_time_s']:.1f} | {c['speedup']:.1f}x | {m['micro_f1']:.4f} ({m['micro_f1_std']:.4f}) | {c['micro_f1_difference']:+.4f} "
                  f"| {m['macro_f1']:.4f} | {m['minority_f1']:.4f} | {per} |")
    md += ["", f"bn_blocks=1 (the default of `--head_from_features`): {tl['extraction_s']:.1f} s extracting the maps before the last block "
           f"(TorchScript-frozen front), {tl['head_s']:.1f} s per head with the last block's batch-norm; {tl['warm_cache_s']:.1f} s to reload "
           f"with the cache warm. The full model (body with the seed-{a.seeds[-1]} head and tail batch-norm loaded) scores micro-F1 "
           f"{tl['model_micro_f1']:.4f} on the validation images and agrees with the feature-space model on {tl['model_head_agreement']:.1%} of them.\n",
           f"Head alone on pooled embeddings: {hx['extraction_s']:.1f} s extraction, {hx['head_s']:.1f} s per head, {hx['warm_cache_s']:.1f} s warm; "
           f"model {hx['model_micro_f1']:.4f}, agreement {hx['model_head_agreement']:.1%}. With the four flipped views ({fv4['extraction_s']:.1f} s "
           f"extraction, all views train the head, view 0 scored); averaging the head over the views (TTA) gives {fv4['tta_micro_f1']:.4f}.\n",
           f"bn_blocks=2: {hs[KEYS[4]]['extraction_s']:.1f} s extraction, {hs[KEYS[4]]['head_s']:.1f} s per head; model "
           f"{hs[KEYS[4]]['model_micro_f1']:.4f}, agreement {hs[KEYS[4]]['model_head_agreement']:.1%}.\n"]
    for key, title in [('balancing', 'pooled embeddings, head alone'), ('balancing_bn_blocks_1', 'maps before the last block, bn_blocks=1')]:
        md += [f"## Balancing the training features: {title} ({a.head_epochs} head epochs)\n",
               f"Minority F1: mean F1 of the three classes with the fewest training images ({small}).\n",
               "| balance | training rows | val micro-F1 | val macro-F1 | minority F1 | worst class F1 | time (s) |", "|---|---|---|---|---|---|---|"]
        for k, m in res[key].items():
            worst = min(m['per_class_f1'].items(), key=lambda kv: kv[1])
            md.append(f"| {k} | {m['n_train']} | {m['micro_f1']:.4f} | {m['macro_f1']:.4f} | {m['minority_f1']:.4f} | {worst[1]:.3f} ({worst[0]}) | {m['wall_time_s']:.1f} |")
        md.append('')
    md += ["![t-SNE](features_tsne.png)", "", f"Command: `python bench/features.py --epochs {a.epochs} --head_epochs {a.head_epochs} --seeds {','.join(map(str, a.seeds))}`"]
    (out/'features.md').write_text('\n'.join(md) + '\n')
    print('\n'.join(md))


if __name__ == '__main__': main()
