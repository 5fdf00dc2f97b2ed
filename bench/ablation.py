"""Training-toolbox ablation: floors, the foundation recipe, each technique added alone, and the combined best.

On the full data (the stratified splits `seedling_train --seed` draws: `--seeds`, default the preset's, 42, the split every
benchmark here uses), CPU. To fit the
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
- `combined`: every technique whose mean beat `foundation`'s by more than the foundation's spread over the seeds (the
  better of mixup/CutMix, the better of the two balancing options), trained together.

With several `--seeds` each row is a mean ± standard deviation over them (one seed moves micro-F1 by about 0.01 here);
seed 42's runs go to bench/runs/ablation/<name>, another seed's to <name>@seed<S>.

Every run's folder (model.pkl, metrics.json, plots) goes to bench/runs/ablation/<name>; the table is built
from every run folder there, so runs can be split over several calls (`--only`), and written to
bench/results/ablation.{md,csv,json}. `combined` reads the other runs' scores from their folders.

    python bench/ablation.py [--data DIR] [--size 64] [--big 96] [--epochs 3] [--seeds 42,0,1] [--only foundation,sgdr]
"""
import json
from pathlib import Path

from common import RUNS, bench_parser, bench_data, recipe, mean_sd, md_table, write_result
import pandas as pd
from fastai.vision.all import Transform, Resize, PILImage, Image
from seedling_clf.train import train_classifier
from seedling_clf.baselines import train_baseline

SMALL = ['Maize', 'Common wheat', 'Shepherds Purse', 'Black-grass']
SEED = recipe().seed  # the split every benchmark here uses; its runs keep the plain folder names
EXPLAIN = ['small_cnn_64', 'foundation_64', 'foundation_64_detail']
ORDER = ['constant', 'linear', 'small_cnn', *EXPLAIN, 'foundation', 'sgdr', 'mixup', 'cutmix', 'progressive',
    'class_weights', 'oversample', 'combined']
FLOORS = ('constant', 'linear', 'small_cnn', 'small_cnn_64')


class LowRes(Transform):
    "Item transform after `Resize`: the image shrunk to `size` px and enlarged back, so it carries only a `size` px image's detail."
    order = Resize.order + 1
    def __init__(self, size:int): self.size = size
    def encodes(self, img:PILImage): return img.resize((self.size, self.size), Image.BILINEAR).resize(img.size, Image.BILINEAR)


def techniques(size, epochs, big) -> dict:
    "Each technique's options for `train_classifier`, on top of the shortened foundation recipe."
    sgdr = dict(cycles=2, cycle_len=1, cycle_mult=2) if epochs == 3 else dict(cycles=epochs, cycle_len=1, cycle_mult=1)
    return dict(sgdr=dict(schedule='sgdr', **sgdr), mixup=dict(mix='mixup'), cutmix=dict(mix='cutmix'),
        progressive=dict(sizes=[size, big], stage_epochs=[epochs - 1, 1]), class_weights=dict(balance='weights'), oversample=dict(balance='oversample'))


def run_dir(runs:Path, name:str, seed:int) -> Path: return runs/name if seed == SEED else runs/f'{name}@seed{seed}'


def row(name, note, ms) -> dict:
    "One table row from a recipe's metrics.json files (one per seed)."
    worst = lambda m: min(m['per_class_f1'], key=m['per_class_f1'].get)
    col = lambda f, d=4: mean_sd([f(m) for m in ms], d)
    r = dict(recipe=name, seeds=len(ms), micro_f1=col(lambda m: m['micro_f1']), macro_f1=col(lambda m: m['macro_f1']),
        min_class_f1=col(lambda m: m['per_class_f1'][worst(m)]), min_class='/'.join(sorted({worst(m) for m in ms})),
        small_classes_f1=col(lambda m: sum(m['per_class_f1'][c] for c in SMALL if c in m['per_class_f1'])/len(SMALL)),
        wall_time_s=col(lambda m: m['wall_time_s'], 1), epochs=note)
    se = [m['snapshot_ensemble']['micro_f1'] for m in ms if m.get('snapshot_ensemble')]
    r['snapshot_ensemble_micro_f1'] = mean_sd(se) if se else None
    print(f"{name:40s} " + '  '.join(f"{k} {r[k]}" for k in ('seeds', 'micro_f1', 'min_class_f1', 'wall_time_s')), flush=True)
    return r


def markdown(res) -> list:
    "The page: the shortened recipe, one row per recipe, and what the combined recipe took."
    rows = res['rows']
    cols = list(rows[0])
    md = ["# Training-toolbox ablation\n",
        f"Data `{res['data']}` ({res['n_train']} train / {res['n_valid']} validation images, seeded stratified split, "
        f"seeds {', '.join(map(str, res['seeds']))}: mean ± standard deviation where a row ran on several), {res['device']}. "
        f"**Shortened for the CPU**: {res['size']} px, 1 frozen + {res['epochs']} unfrozen epochs "
        f"per transfer-learning run (the `fast` preset, when this ran: {res['fast_preset']}), no lr_find (preset LR {res['lr']}); "
        f"floors {res['floor_epochs']} epochs from scratch. `small_classes_f1` is the mean F1 of {', '.join(SMALL)}.\n"]
    md += md_table(cols, [[r[c] for c in cols] for r in rows])
    return md + [f"\nCombined recipe: {res.get('combined', 'not run')}."]


def metrics(runs, name, seeds) -> list:
    "The metrics of `name`'s runs over `seeds` that exist."
    return [json.loads(f.read_text()) for f in (run_dir(runs, name, sd)/'metrics.json' for sd in seeds) if f.exists()]


def stages(m) -> str: return ', '.join(f"{s['epochs']}@{s['size']}px" for s in m.get('stages') or []) or '?'


def label(name, m) -> tuple:
    "A run's label in the table, and its epochs."
    if name == 'foundation_64_detail': return f"foundation, 64 px detail at {m['stages'][0]['size']} px", stages(m)
    if name in FLOORS: return f"floor: {name}", f"{m['settings']['epochs']} @ {m['settings']['size']}px"
    if name == 'combined': return 'combined: ' + m.get('combined', ''), stages(m)
    return dict(foundation='foundation', foundation_64='foundation at 64 px').get(name, f"+ {name}"), stages(m)


def table(runs, seeds) -> list:
    "Rows from every run folder present, in `ORDER`."
    return [row(*label(name, ms[0]), ms) for name, ms in ((n, metrics(runs, n, seeds)) for n in ORDER) if ms]


def pick_combined(runs, seeds, techs) -> list:
    "The techniques whose mean micro-F1 beats the foundation's by more than its spread over `seeds`, one of each group."
    scores = {n: [m['micro_f1'] for m in metrics(runs, n, seeds)] for n in ['foundation', *techs]}
    found = scores['foundation']
    if not found: raise SystemExit('combined needs the foundation run first')
    bar = sum(found)/len(found) + (pd.Series(found).std() if len(found) > 1 else 0.)
    mean = {n: sum(v)/len(v) for n, v in scores.items() if v}
    picked = []
    for group in [['sgdr', 'progressive'], ['mixup', 'cutmix'], ['class_weights', 'oversample']]:  # SGDR trains one size: not with progressive
        best = max((g for g in group if g in mean), key=mean.get, default=None)
        if best is not None and mean[best] > bar: picked.append(best)
    return picked


def combined_label(picked:list, run:bool=True) -> str:
    "What the table says of `combined`: the techniques trained together, or why none were."
    if not picked: return 'no technique beat the foundation recipe by more than its spread'
    return ' + '.join(picked) + ('' if run else ' (not run yet: --only combined)')


def train_seed(data, runs, seed, a, want, base, techs, bs):
    "The runs `--only` asks for, for one seed: floors, the 64 px explanation, the foundation and each technique."
    at = lambda name: run_dir(runs, name, seed)
    if want('floors'):
        for kind in ['constant', 'linear', 'small_cnn']: train_baseline(data, at(kind), kind, size=a.size, epochs=a.floor_epochs, bs=bs, seed=seed)
    if want('explain64'):
        train_baseline(data, at('small_cnn_64'), 'small_cnn', size=64, epochs=a.floor_epochs, bs=bs, seed=seed)
        train_classifier(data, out=at('foundation_64'), preset_name='fast', **{**base, 'size': 64, 'seed': seed})
        train_classifier(data, out=at('foundation_64_detail'), preset_name='fast', item_tfms=[LowRes(64)], **base, seed=seed)
    for name in ['foundation', *techs]:
        if want(name): train_classifier(data, out=at(name), preset_name='fast', **{**base, **techs.get(name, {}), 'seed': seed})


def train_combined(data, runs, seeds, base, techs) -> str:
    "The techniques that beat the foundation, trained together over `seeds`; what the table says of them."
    picked = pick_combined(runs, seeds, techs)
    said = combined_label(picked)
    for seed in seeds if picked else []:
        out_dir = run_dir(runs, 'combined', seed)
        train_classifier(data, out=out_dir, preset_name='fast', **{**base, **{k: v for g in picked for k, v in techs[g].items()}, 'seed': seed})
        f = out_dir/'metrics.json'
        f.write_text(json.dumps(dict(json.loads(f.read_text()), combined=said), indent=1))
    return said


def main():
    p = bench_parser(__doc__)
    p.add_argument('--size', type=int, default=64)
    p.add_argument('--big', type=int, default=96, help='the last stage of progressive resizing')
    p.add_argument('--epochs', type=int, default=3)
    p.add_argument('--floor_epochs', type=int, default=5)
    p.add_argument('--seeds', default=str(SEED), help='comma-separated seeds: the split and initialisation of each run')
    p.add_argument('--only', default=None, help='comma-separated subset of: floors, foundation, the technique names, combined')
    p.add_argument('--runs', default=str(RUNS/'ablation'))
    a = p.parse_args()
    data = bench_data(a)
    if data is None: return
    only = set(a.only.split(',')) if a.only else None
    want = lambda k: only is None or k in only
    runs, out = Path(a.runs), Path(a.out)
    cfg = recipe()
    seeds = [int(v) for v in a.seeds.split(',')]
    base = dict(size=a.size, epochs=a.epochs, freeze_epochs=1, lr_find=False)
    techs = techniques(a.size, a.epochs, a.big)
    plan = ', then '.join(f"{e} unfrozen at {s} px" for s, e in zip(cfg.sizes, cfg.stage_epochs))
    res = dict(data=data, seeds=seeds, fast_preset=f"{cfg.freeze_epochs} frozen + {plan}", size=a.size, epochs=a.epochs, floor_epochs=a.floor_epochs, lr=cfg.lr)
    for seed in seeds: train_seed(data, runs, seed, a, want, base, techs, cfg.bs)
    if want('combined'): res['combined'] = train_combined(data, runs, seeds, base, techs)
    rows = table(runs, seeds)
    if not rows: return
    m = next(ms[0] for ms in (metrics(runs, n, seeds) for n in ORDER) if ms)
    combined = metrics(runs, 'combined', seeds)
    if combined: res['combined'] = combined[0].get('combined')
    elif metrics(runs, 'foundation', seeds): res['combined'] = combined_label(pick_combined(runs, seeds, techs), run=False)
    res.update(n_train=m.get('n_train'), n_valid=m.get('n_valid'), rows=rows)
    write_result('ablation', res, markdown, out, quiet=True)
    pd.DataFrame(rows).to_csv(out/'ablation.csv', index=False)
    print(f"wrote {out/'ablation.md'}, ablation.csv, ablation.json")


if __name__ == '__main__': main()
