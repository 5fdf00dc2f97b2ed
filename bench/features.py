"""Bottleneck-features benchmark: the head stage from cached features against a frozen fastai head stage.

On the full data (seeded stratified 80/20 split, as every benchmark here), tf_efficientnet_lite0 with the packaged
ImageNet weights at the `fast` preset's size (128 px), CPU:

1. frozen fastai: `seedling_learner` + `fit_one_cycle(E, lr, pct_start=0.99)` with the body frozen (the head stage
   of `train_classifier`), timed, once per training seed (`--seeds`);
2. from features: a fresh learner, embeddings of all images extracted once into an empty cache (timed), then the
   same fastai head trained on them for the same E epochs (`fit_head`), timed, once per seed; a recipe's time is
   extraction + head; the extraction again with the cache warm; the model (body + the first seed's head loaded
   into it) is scored on the validation images;
   the same with the four flipped views of every image (`flips=True`), all of which train the head;
3. balancing, on the cached features: none / class weights / SMOTE / ADASYN, the head trained for `--head_epochs`;
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
from seedling_clf.core import full_data_path, preset, run_info, save_json
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
    cfg = preset('fast', arch=a.arch, size=a.size)
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

    # 2. the head stage from features: extraction once into an empty cache, then the head once per seed; the
    #    extraction again with the cache warm
    old_cache = os.environ.get('SEEDLING_CACHE')
    with tempfile.TemporaryDirectory() as cache:
        os.environ['SEEDLING_CACHE'] = cache
        learn2 = seedling_learner(dls, cfg['arch'])
        t = time.time()
        fd = dls_features(learn2, bs=a.bs)
        extract_s = time.time() - t
        feat = {}
        for seed in a.seeds:
            t = time.time()
            hl = fit_head(learn2, fd.x[fd.train], fd.y[fd.train], fd.x[fd.valid], fd.y[fd.valid], epochs=a.epochs, seed=seed,
                          quiet=True, load=seed == a.seeds[0])
            head_s = time.time() - t
            m = classification_metrics(fd.y[fd.valid], head_predictions(hl, fd.x[fd.valid]).argmax(1), vocab)
            feat[seed] = dict(wall_time_s=round(extract_s + head_s, 1), head_s=round(head_s, 1), **m)
            print(f"from features, {a.epochs} epochs, seed {seed}: {extract_s:.1f} s extraction + {head_s:.1f} s head, "
                  f"val micro-F1 {m['micro_f1']:.4f}", flush=True)
        t = time.time()
        fd = dls_features(learn2, bs=a.bs)
        warm_s = time.time() - t
        # the same with the four flipped views of every image: all train the head, view 0 is scored (and all four, as TTA)
        t = time.time()
        fv = dls_features(learn2, bs=a.bs, flips=True)
        extract4_s, views = time.time() - t, {}
        for seed in a.seeds:
            t = time.time()
            hv = fit_head(learn2, fv.x[:, fv.train], fv.y[fv.train], fv.x[:, fv.valid], fv.y[fv.valid], epochs=a.epochs, seed=seed,
                          quiet=True, load=False)
            head_s = time.time() - t
            m = classification_metrics(fv.y[fv.valid], head_predictions(hv, fv.x[0, fv.valid]).argmax(1), vocab)
            tta = classification_metrics(fv.y[fv.valid], head_predictions(hv, fv.x[:, fv.valid]).argmax(1), vocab)['micro_f1']
            views[seed] = dict(wall_time_s=round(extract4_s + head_s, 1), head_s=round(head_s, 1), tta_micro_f1=round(tta, 4), **m)
            print(f"from features, 4 flip views, seed {seed}: {extract4_s:.1f} s extraction + {head_s:.1f} s head, "
                  f"val micro-F1 {m['micro_f1']:.4f} (TTA over the views {tta:.4f})", flush=True)
        if old_cache is None: del os.environ['SEEDLING_CACHE']
        else: os.environ['SEEDLING_CACHE'] = old_cache
    # the full model, body + the first seed's head loaded into it, on the validation images
    m_model = evaluate(learn2)
    hl = fit_head(learn2, fd.x[fd.train], fd.y[fd.train], fd.x[fd.valid], fd.y[fd.valid], epochs=a.epochs, seed=a.seeds[0],
                  quiet=True, load=False)
    agree = float((head_predictions(hl, fd.x[fd.valid]).argmax(1) == learn2.get_preds()[0].argmax(1).numpy()).mean())
    counts = Counter(vocab[i] for i in fd.y[fd.train])

    def summary(runs, **extra):
        "Means over the seeds, and each seed's time and micro-F1."
        mean = lambda k: round(float(np.mean([r[k] for r in runs.values()])), 4)
        mins = [minority(r, vocab, counts)['minority_f1'] for r in runs.values()]
        return dict(wall_time_s=round(mean('wall_time_s'), 1), micro_f1=mean('micro_f1'), macro_f1=mean('macro_f1'),
                    minority_f1=round(float(np.mean(mins)), 4), micro_f1_std=round(float(np.std([r['micro_f1'] for r in runs.values()])), 4),
                    per_seed={s: dict(wall_time_s=r['wall_time_s'], micro_f1=round(r['micro_f1'], 4)) for s, r in runs.items()}, **extra)
    res['head_stage'] = {'frozen fastai': summary(frozen),
                         'from features': summary(feat, extraction_s=round(extract_s, 1), warm_cache_s=round(warm_s, 1),
                                                  model_micro_f1=round(m_model['micro_f1'], 4), model_head_agreement=agree),
                         'from features, 4 flip views': summary(views, extraction_s=round(extract4_s, 1),
                                                                tta_micro_f1=round(float(np.mean([r['tta_micro_f1'] for r in views.values()])), 4))}
    hs = res['head_stage']
    res['speedup'] = round(hs['frozen fastai']['wall_time_s']/hs['from features']['wall_time_s'], 2)
    res['micro_f1_difference'] = round(hs['from features']['micro_f1'] - hs['frozen fastai']['micro_f1'], 4)
    print(f"speed-up {res['speedup']:.1f}x, mean micro-F1 difference {res['micro_f1_difference']:+.4f}", flush=True)
    fv4 = hs['from features, 4 flip views']
    res['speedup_4_views'] = round(hs['frozen fastai']['wall_time_s']/fv4['wall_time_s'], 2)
    res['micro_f1_difference_4_views'] = round(fv4['micro_f1'] - hs['frozen fastai']['micro_f1'], 4)

    # 3. balancing on the cached features (training side only)
    res['balancing'] = {}
    for bal in ['none', 'weights', 'smote', 'adasyn']:
        t = time.time()
        hb = fit_head(learn2, fd.x[fd.train], fd.y[fd.train], fd.x[fd.valid], fd.y[fd.valid], epochs=a.head_epochs,
                      balance=bal, load=False, quiet=True)
        m = classification_metrics(fd.y[fd.valid], head_predictions(hb, fd.x[fd.valid]).argmax(1), vocab)
        res['balancing'][bal] = dict(wall_time_s=round(time.time()-t, 1), n_train=len(hb.dls.train.dataset), **m, **minority(m, vocab, counts))
        print(f"balance {bal:8s}: micro-F1 {m['micro_f1']:.4f} macro-F1 {m['macro_f1']:.4f} "
              f"minority F1 {res['balancing'][bal]['minority_f1']:.4f} ({len(hb.dls.train.dataset)} training rows)", flush=True)

    # 4. t-SNE
    t = time.time()
    plot_tsne(fd.x, fd.y, vocab, out/'features_tsne.png', title=f"t-SNE of {cfg['arch']} embeddings, {cfg['size']} px ({len(fd.y)} images)")
    res['tsne_s'] = round(time.time()-t, 1)

    save_json(res, out/'features.json')
    small = ', '.join(sorted(vocab, key=lambda c: (counts[c], c))[:3])
    ff, fe = hs['frozen fastai'], hs['from features']
    seeds = ', '.join(map(str, a.seeds))
    md = ["# Bottleneck-features benchmark\n",
          f"`{data}` ({res['n_train']} train / {res['n_valid']} validation images, seeded stratified split), {cfg['arch']} with "
          f"packaged ImageNet weights, {cfg['size']} px, {res['device']}.\n",
          f"## Head stage, {a.epochs} epochs each, training seeds {seeds}\n",
          "Means over the seeds (the split is the same); per seed: wall time / micro-F1.\n",
          "| recipe | wall time (s) | val micro-F1 (std) | val macro-F1 | minority F1 | per seed |", "|---|---|---|---|---|---|"]
    for k, m in hs.items():
        per = '; '.join(f"{s}: {r['wall_time_s']:.1f} s / {r['micro_f1']:.4f}" for s, r in m['per_seed'].items())
        md.append(f"| {k} | {m['wall_time_s']:.1f} | {m['micro_f1']:.4f} ({m['micro_f1_std']:.4f}) | {m['macro_f1']:.4f} | {m['minority_f1']:.4f} | {per} |")
    md += ["", f"From features: {fe['extraction_s']:.1f} s extracting every image once into an empty cache (on the CPU through the "
           f"TorchScript-frozen body), then the head; {fe['warm_cache_s']:.1f} s to reload the features with the cache warm. "
           f"Speed-up **{res['speedup']:.1f}x**, mean micro-F1 difference **{res['micro_f1_difference']:+.4f}**. The full model "
           f"(body + the seed-{a.seeds[0]} head loaded into it) scores micro-F1 {fe['model_micro_f1']:.4f} on the validation images "
           f"and agrees with the feature-space head on {agree:.1%} of them.\n",
           f"With the four flipped views of every image (`flips=True`; {fv4['extraction_s']:.1f} s extraction, all views train the "
           f"head, view 0 scored): speed-up {res['speedup_4_views']:.1f}x, mean micro-F1 difference "
           f"{res['micro_f1_difference_4_views']:+.4f}; averaging the head over the four views (TTA) gives {fv4['tta_micro_f1']:.4f}.\n",
           f"## Balancing the training features ({a.head_epochs} head epochs)\n",
           f"Minority F1: mean F1 of the three classes with the fewest training images ({small}).\n",
           "| balance | training rows | val micro-F1 | val macro-F1 | minority F1 | worst class F1 |", "|---|---|---|---|---|---|"]
    for k, m in res['balancing'].items():
        worst = min(m['per_class_f1'].items(), key=lambda kv: kv[1])
        md.append(f"| {k} | {m['n_train']} | {m['micro_f1']:.4f} | {m['macro_f1']:.4f} | {m['minority_f1']:.4f} | {worst[1]:.3f} ({worst[0]}) |")
    md += ["", "![t-SNE](features_tsne.png)", "", f"Command: `python bench/features.py --epochs {a.epochs} --head_epochs {a.head_epochs} --seeds {','.join(map(str, a.seeds))}`"]
    (out/'features.md').write_text('\n'.join(md) + '\n')
    print('\n'.join(md))


if __name__ == '__main__': main()
