"""Training-toolbox ablation: floors, the foundation recipe, each technique added alone, and the combined best.

On the full data (the seeded stratified 80/20 split every benchmark here uses, `--seed`, default 42), CPU. To fit the
2-core machine every run is shortened the same way (the table says so): `--size` px (default 64), one
frozen head epoch, then `--epochs` unfrozen epochs (default 3), the `fast` preset's learning rates, no
lr_find (the preset's LR for everyone, so the technique is the only difference). Rows:

- floors (`seedling_clf.baselines.train_baseline`): constant (class prior only), linear on raw pixels,
  small CNN from scratch; `--floor_epochs` epochs each at the same size;
- `foundation`: `train_classifier` with the `fast` preset shortened as above (one-cycle);
- each technique alone on top of it: SGDR (cycles of 1 then 2 epochs, so the same 3 epochs; the snapshot
  ensemble is scored too), mixup, CutMix, progressive resizing (`--size`, then `--big` px for the last
  unfrozen epoch: the same number of epochs, finishing larger), class-weighted loss, oversampling sampler;
- `explain64` (`--only explain64`): why the small CNN from scratch beat every transfer run at 64 px. Three rows: the
  small CNN and the foundation recipe at 64 px, and the foundation recipe at `--size` px fed 64 px images enlarged
  back to `--size` (`LowRes`: the detail of a 64 px image, the feature maps of a `--size` px one). If the third row
  is close to the foundation at `--size` px, the 64 px loss comes from the network's geometry (a stride-32 body leaves
  2 x 2 feature maps at 64 px), not from the detail the small images lack;
- `combined`: every technique that beat `foundation` alone (the better of mixup/CutMix, the better of the
  two balancing options), trained together.

Every run's folder (model.pkl, metrics.json, plots) goes to bench/runs/ablation/<name>; the table is built
from every run folder there, so runs can be split over several calls (`--only`), and written to
bench/results/ablation.{md,csv,json}. `combined` reads the other runs' scores from their folders.

    python bench/ablation.py [--data DIR] [--size 64] [--big 96] [--epochs 3] [--seed 42] [--only foundation,sgdr]
"""
import argparse, json, time, warnings
from pathlib import Path

warnings.simplefilter('ignore')
import matplotlib; matplotlib.use('Agg')
import pandas as pd
from fastai.vision.all import Transform, Resize, PILImage, Image
from seedling_clf.core import run_info, save_json
from seedling_clf.train import train_settings
from common import full_data_path, rel
from seedling_clf.train import train_classifier
from seedling_clf.baselines import train_baseline

HERE = Path(__file__).parent


class LowRes(Transform):
    "Item transform after `Resize`: the image shrunk to `size` px and enlarged back, so it carries only a `size` px image's detail."
    order = Resize.order + 1
    def __init__(self, size:int): self.size = size
    def encodes(self, img:PILImage): return img.resize((self.size, self.size), Image.BILINEAR).resize(img.size, Image.BILINEAR)
SMALL = ['Maize', 'Common wheat', 'Shepherds Purse', 'Black-grass']


def techniques(size, epochs, big):
    "Each technique's options for `train_classifier`, on top of the shortened foundation recipe."
    return dict(
        sgdr=dict(schedule='sgdr', cycles=2, cycle_len=1, cycle_mult=2) if epochs == 3 else dict(schedule='sgdr', cycles=epochs, cycle_len=1, cycle_mult=1),
        mixup=dict(mix='mixup'),
        cutmix=dict(mix='cutmix'),
        progressive=dict(sizes=[size, big], stage_epochs=[epochs - 1, 1]),
        class_weights=dict(balance='weights'),
        oversample=dict(balance='oversample'),
    )


def row(name, m, note):
    "One table row from a run's metrics.json."
    per = m['per_class_f1']
    worst = min(per, key=per.get)
    r = dict(recipe=name, micro_f1=round(m['micro_f1'], 4), macro_f1=round(m['macro_f1'], 4),
             min_class_f1=round(per[worst], 4), min_class=worst,
             small_classes_f1=round(sum(per[c] for c in SMALL if c in per) / len(SMALL), 4),
             wall_time_s=round(m['wall_time_s'], 1), epochs=note)
    se = m.get('snapshot_ensemble')
    r['snapshot_ensemble_micro_f1'] = round(se['micro_f1'], 4) if se else None
    print(f"{name:16s} micro-F1 {r['micro_f1']:.4f}  macro-F1 {r['macro_f1']:.4f}  min class F1 {r['min_class_f1']:.4f} "
          f"({worst})  {r['wall_time_s']:7.1f} s" + (f"  snapshots {r['snapshot_ensemble_micro_f1']:.4f}" if se else ''), flush=True)
    return r


def write(rows, res, out):
    df = pd.DataFrame(rows)
    df.to_csv(out/'ablation.csv', index=False)
    save_json(dict(res, rows=rows), out/'ablation.json')
    cols = list(df.columns)
    md = [f"# Training-toolbox ablation\n",
          f"Data `{res['data']}` ({res['n_train']} train / {res['n_valid']} validation images, seeded stratified split, "
          f"seed {res['seed']}), {res['device']}. **Shortened for the CPU**: {res['size']} px, 1 frozen + {res['epochs']} unfrozen epochs "
          f"per transfer-learning run (the `fast` preset trains {res['fast_preset']}), no lr_find (preset LR {res['lr']}); "
          f"floors {res['floor_epochs']} epochs from scratch. `small_classes_f1` is the mean F1 of {', '.join(SMALL)}.\n",
          "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows: md.append("| " + " | ".join('' if r[c] is None else str(r[c]) for c in cols) + " |")
    md.append(f"\nCombined recipe: {res.get('combined', 'not run')}.\n")
    (out/'ablation.md').write_text("\n".join(md) + "\n")


EXPLAIN = ['small_cnn_64', 'foundation_64', 'foundation_64_detail']
ORDER = ['constant', 'linear', 'small_cnn', *EXPLAIN, 'foundation', 'sgdr', 'mixup', 'cutmix', 'progressive',
         'class_weights', 'oversample', 'combined']


def table(runs, a):
    "Rows from every run folder present, in `ORDER`."
    rows = []
    for name in ORDER:
        f = runs/name/'metrics.json'
        if not f.exists(): continue
        m = json.loads(f.read_text())
        if name == 'foundation_64_detail': label, note = f"foundation, 64 px detail at {m['stages'][0]['size']} px", ', '.join(f"{s['epochs']}@{s['size']}px" for s in m['stages'])
        elif name in ('constant', 'linear', 'small_cnn', 'small_cnn_64'): label, note = f"floor: {name}", f"{m['settings']['epochs']} @ {m['settings']['size']}px"
        else:
            st = m.get('stages') or []
            note = ', '.join(f"{s['epochs']}@{s['size']}px" for s in st) or '?'
            label = dict(foundation='foundation', foundation_64='foundation at 64 px').get(name) or ('combined: ' + m.get('combined', '') if name == 'combined' else f"+ {name}")
        rows.append(row(label, m, note))
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--data', default=None); p.add_argument('--size', type=int, default=64)
    p.add_argument('--big', type=int, default=96, help='the last stage of progressive resizing')
    p.add_argument('--epochs', type=int, default=3); p.add_argument('--floor_epochs', type=int, default=5)
    p.add_argument('--seed', type=int, default=42, help='the split and initialisation of every run')
    p.add_argument('--only', default=None, help='comma-separated subset of: floors, foundation, the technique names, combined')
    p.add_argument('--out', default=str(HERE/'results')); p.add_argument('--runs', default=str(HERE/'runs'/'ablation'))
    a = p.parse_args()
    data = Path(a.data) if a.data else full_data_path()
    if data is None: print('full data not found (set SEEDLING_DATA): nothing to benchmark'); return
    only = set(a.only.split(',')) if a.only else None
    want = lambda k: only is None or k in only
    runs, out = Path(a.runs), Path(a.out); out.mkdir(parents=True, exist_ok=True)
    cfg = train_settings('fast')
    base = dict(size=a.size, epochs=a.epochs, freeze_epochs=1, lr_find=False, seed=a.seed)
    techs = techniques(a.size, a.epochs, a.big)
    plan = ', then '.join(f"{e} unfrozen at {s} px" for s, e in zip(cfg['sizes'] or [cfg['size']], cfg['stage_epochs'] or [cfg['epochs']]))
    res = dict(data=rel(data), seed=a.seed, fast_preset=f"{cfg['freeze_epochs']} frozen + {plan}", size=a.size, epochs=a.epochs, floor_epochs=a.floor_epochs, lr=cfg['lr'], **run_info())
    score = lambda n: json.loads((runs/n/'metrics.json').read_text())['micro_f1'] if (runs/n/'metrics.json').exists() else None
    if want('floors'):
        for kind in ['constant', 'linear', 'small_cnn']:
            train_baseline(data, runs/kind, kind, size=a.size, epochs=a.floor_epochs, bs=cfg['bs'], seed=a.seed)
    if want('explain64'):
        train_baseline(data, runs/'small_cnn_64', 'small_cnn', size=64, epochs=a.floor_epochs, bs=cfg['bs'], seed=a.seed)
        train_classifier(data, out=runs/'foundation_64', preset_name='fast', **{**base, 'size': 64})
        train_classifier(data, out=runs/'foundation_64_detail', preset_name='fast', item_tfms=[LowRes(64)], **base)
    for name in ['foundation', *techs]:
        if want(name): train_classifier(data, out=runs/name, preset_name='fast', **{**base, **techs.get(name, {})})
    if want('combined'):
        found, opts, picked = score('foundation'), {}, []
        if found is None: raise SystemExit('combined needs the foundation run first')
        for group in [['sgdr'], ['mixup', 'cutmix'], ['progressive'], ['class_weights', 'oversample']]:
            done = [g for g in group if score(g) is not None]
            best = max(done, key=score, default=None)
            if best is not None and score(best) > found: opts.update(techs[best]); picked.append(best)
        if 'sgdr' in picked and 'progressive' in picked:  # SGDR trains one size: keep the better of the two
            drop = 'sgdr' if score('sgdr') < score('progressive') else 'progressive'
            picked.remove(drop); opts = {k: v for g in picked for k, v in techs[g].items()}
        res['combined'] = ' + '.join(picked) if picked else 'no technique beat the foundation recipe alone'
        if picked:
            train_classifier(data, out=runs/'combined', preset_name='fast', **{**base, **opts})
            f = runs/'combined'/'metrics.json'; m = json.loads(f.read_text()); m['combined'] = res['combined']; f.write_text(json.dumps(m, indent=1))
    rows = table(runs, a)
    if rows:
        m = json.loads(next(runs/n/'metrics.json' for n in ORDER if (runs/n/'metrics.json').exists()).read_text())
        if (runs/'combined'/'metrics.json').exists(): res['combined'] = json.loads((runs/'combined'/'metrics.json').read_text()).get('combined')
        res.update(n_train=m.get('n_train'), n_valid=m.get('n_valid'))
        write(rows, res, out)
        print(f"wrote {out/'ablation.md'}, ablation.csv, ablation.json")


if __name__ == '__main__': main()
