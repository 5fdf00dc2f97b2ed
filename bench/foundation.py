"""Foundation benchmark: the default `fast` preset against stock fastai on the full plant-seedlings data.

Both train tf_efficientnet_lite0 with the same packaged ImageNet weights on the CPU, on the same split (the preset's
`valid_pct` and seed), for the same epochs (1 frozen + the preset's unfrozen epochs), ending at the preset's last
size (150 px; its first stages run at 128 px: progressive resizing). Stock fastai
is `vision_learner` + `aug_transforms()` + `fine_tune`, nothing else. Prints validation micro-F1, macro-F1
and wall time, and the training images/s of every epoch (a callback times each training pass, validation
excluded), compared at the same model, image size (the preset's last, unfrozen epochs) and batch size (the preset's); and
writes bench/results/foundation.{json,md}. `--smoke` checks the code path on a few sample images at 32 px
(prints only).

`--stock_epochs N` trains stock fastai for 1 frozen + N unfrozen epochs only, to measure its speed (32 min for
the full recipe on 2 cores); its accuracy row is then the earlier full run's, from bench/results/foundation.json.

    python bench/foundation.py [--data DIR] [--only ours|stock] [--stock_epochs N] [--smoke]
"""
import json, time
from dataclasses import asdict
from pathlib import Path

from common import RUNS, RESULTS, bench_parser, bench_data, recipe, recipe_split, recipe_splitter, md_table, write_result
from fastai.vision.all import *
from seedling_clf.core import sample_path, run_info
from seedling_clf.data import labelled_images
from seedling_clf.models import pretrained_file
from seedling_clf.train import train_classifier
from seedling_clf.inference import classification_metrics

OURS, STOCK = 'seedling_clf fast preset', 'stock fastai fine_tune'
EARLIER = ' (earlier run)'


class TrainSpeed(Callback):
    "Images/s of each epoch's training pass (data loading included, validation excluded), with its image size and whether the body was frozen."
    order = 100
    def __init__(self): self.rows = []
    def before_train(self): self.n, self.t0 = 0, time.perf_counter()

    def after_batch(self):
        if self.training: self.n, self.size = self.n + find_bs(self.xb), self.x.shape[-1]

    def after_train(self):
        s = time.perf_counter() - self.t0
        frozen = not all(p.requires_grad for p in self.learn.model.parameters())
        self.rows.append(dict(size=int(self.size), frozen=frozen, images=self.n, seconds=round(s, 2), images_per_s=round(self.n/s, 1)))


def speed_summary(rows, size) -> dict:
    "Mean training images/s of the unfrozen epochs at `size` px (and of the frozen epochs), from `TrainSpeed.rows`."
    pick = lambda frozen: [r for r in rows if r['frozen'] == frozen and (frozen or r['size'] == size)]
    mean = lambda rs: round(sum(r['images'] for r in rs)/sum(r['seconds'] for r in rs), 1) if rs else None
    return dict(unfrozen_images_per_s=mean(pick(False)), frozen_images_per_s=mean(pick(True)), size=size, epochs=rows)


def stock_fastai(data, epochs, size=128, bs=64, cbs=None, out=RUNS/'foundation_stock'):
    "fastai's documented recipe on the same split, backbone and weights; returns (metrics, seconds)."
    start = time.time()
    files = labelled_images(data)
    dls = DataBlock((ImageBlock, CategoryBlock), get_y=parent_label, splitter=recipe_splitter(),
        item_tfms=Resize(size), batch_tfms=aug_transforms()).dataloaders(files, bs=bs)
    learn = vision_learner(dls, 'tf_efficientnet_lite0', pretrained=True,
        pretrained_cfg_overlay=dict(file=str(pretrained_file('tf_efficientnet_lite0'))), metrics=accuracy)
    learn.fine_tune(epochs, freeze_epochs=1, cbs=cbs)
    probs, targs = learn.get_preds()
    secs = time.time() - start
    out.mkdir(parents=True, exist_ok=True)
    learn.export(out/'model.pkl')  # a second model for the ensemble benchmark
    return dict(classification_metrics(targs, probs.argmax(1), dls.vocab), device=run_info()['device']), secs


def train_ours(data, smoke:bool, size:int, tiny:dict) -> tuple:
    "The `fast` preset through `train_classifier`, timed per epoch: its metrics and training speed."
    sp = TrainSpeed()
    out = RUNS/('foundation_smoke_ours' if smoke else 'foundation_ours')
    train_classifier(data, out=out, preset_name='fast', cbs=[sp], **tiny)
    m = json.loads((out/'metrics.json').read_text())
    speed = speed_summary(sp.rows, size)
    print(f"ours : micro-F1 {m['micro_f1']:.4f} macro-F1 {m['macro_f1']:.4f} wall {m['wall_time_s']/60:.1f} min; "
        f"training {speed['unfrozen_images_per_s']} images/s (unfrozen, {size} px)", flush=True)
    return m, speed


def train_stock(data, a, cfg, size, epochs) -> tuple:
    "Stock fastai's row and speed: a full run, or with `--stock_epochs` a short one for its speed and the earlier full run's row."
    sp = TrainSpeed()
    if a.stock_epochs is not None and not a.smoke:  # speed only: keep the earlier full run's accuracy row
        stock_fastai(data, a.stock_epochs, size, bs=cfg.bs, cbs=[sp], out=RUNS/'foundation_stock_speed')
        before = json.loads((RESULTS/'foundation.json').read_text()) if (RESULTS/'foundation.json').exists() else {}
        full = before.get('runs', {}).get(STOCK) or before.get('runs', {}).get(STOCK + EARLIER)  # kept run after run
        row = dict(full, recipe=full.get('recipe') or f"{before['epochs']} epochs at {before['size']} px") if full else None
        return row, speed_summary(sp.rows, size)
    out = RUNS/('foundation_smoke_stock' if a.smoke else 'foundation_stock')
    m, secs = stock_fastai(data, epochs, size, bs=cfg.bs, cbs=[sp], out=out)  # the preset's batch size: speeds compare like for like
    speed = speed_summary(sp.rows, size)
    print(f"stock: micro-F1 {m['micro_f1']:.4f} macro-F1 {m['macro_f1']:.4f} wall {secs/60:.1f} min; "
        f"training {speed['unfrozen_images_per_s']} images/s (unfrozen, {size} px)", flush=True)
    return dict(m, wall_time_s=round(secs, 1)), speed


def markdown(res, stock_epochs=None) -> list:
    "The page: accuracy and wall time of each recipe, and their training speeds."
    cfg, rows, speed = res['preset'], res['runs'], res['training_speed']
    size, ratio = res['size'], speed['ratio_unfrozen']
    stages = ', then '.join(f"{e} unfrozen at {s} px" for s, e in zip(cfg['sizes'], cfg['stage_epochs']))
    md = ["# Foundation benchmark\n", f"Full data `{res['data']}` ({res['n_train']} train / {res['n_valid']} validation images, seeded stratified split), "
        f"tf_efficientnet_lite0 with packaged ImageNet weights, {res['epochs']} epochs, {res['device']}. "
        f"Ours: the `fast` preset, {cfg['freeze_epochs']} frozen epoch(s) and {stages}; stock fastai: `fine_tune({cfg['epochs']}, freeze_epochs=1)` at {size} px.\n"]
    worst = lambda m: min(m['per_class_f1'].items(), key=lambda kv: kv[1])
    md += md_table(['recipe', 'val micro-F1', 'val macro-F1', 'smallest per-class F1', 'wall time (min)'],
        [[k, f"{m['micro_f1']:.4f}", f"{m['macro_f1']:.4f}", f"{worst(m)[1]:.3f} ({worst(m)[0]})", f"{m['wall_time_s']/60:.1f}"] for k, m in rows.items()])
    md += ["", f"Training speed (images/s of the training passes, data loading included, validation excluded; batch size {speed['bs']} for both):", ""]
    frozen_sizes = lambda v: ', '.join(sorted({str(r['size']) for r in v['epochs'] if r['frozen']}))
    md += md_table(['recipe', f'unfrozen epochs at {size} px', 'frozen epochs'],
        [[k, v['unfrozen_images_per_s'], f"{v['frozen_images_per_s']} ({frozen_sizes(v)} px)"] for k, v in speed.items() if isinstance(v, dict)])
    full = rows.get(STOCK + EARLIER)
    if full: md.append(f"\nStock fastai's speed comes from a shorter run (1 frozen + {stock_epochs} unfrozen epochs); its accuracy row is the earlier full run's ({full['recipe']}).")
    if ratio: md.append(f"\nOurs trains {ratio}x as many images per second as stock fastai (unfrozen, {size} px, same model and batch size).")
    cmd = 'python bench/foundation.py' + (f' --stock_epochs {stock_epochs}' if stock_epochs is not None else '')
    return md + ['', f'Command: `{cmd}`']


def main():
    p = bench_parser(__doc__)
    p.add_argument('--only', choices=['ours', 'stock'])
    p.add_argument('--stock_epochs', type=int, default=None, help="stock fastai's unfrozen epochs, for its speed only (default: the preset's)")
    p.add_argument('--smoke', action='store_true', help='check the code path: a few sample images, 32 px, 1 epoch per stage; writes no results')
    a = p.parse_args()
    data = (Path(a.data) if a.data else sample_path()) if a.smoke else bench_data(a)
    if data is None: return
    cfg = recipe()
    tiny = dict(sizes=[32], stage_epochs=[1], lr_find=False) if a.smoke else {}
    size, epochs = (32, 1) if a.smoke else (cfg.size, cfg.epochs)
    rows, speed = {}, {}
    if a.only != 'stock': rows[OURS], speed[OURS] = train_ours(data, a.smoke, size, tiny)
    elif (RUNS/'foundation_ours'/'metrics.json').exists():  # --only stock: keep the earlier run of ours in the table
        rows[OURS + EARLIER] = json.loads((RUNS/'foundation_ours'/'metrics.json').read_text())
    if a.only != 'ours':
        row, speed[STOCK] = train_stock(data, a, cfg, size, epochs)
        if row: rows[STOCK + (EARLIER if a.stock_epochs is not None and not a.smoke else '')] = row
    ours, stock = (speed.get(k, {}).get('unfrozen_images_per_s') for k in (OURS, STOCK))
    ratio = round(ours/stock, 2) if ours and stock else None
    if ratio: print(f"training speed, unfrozen epochs at {size} px, batch size {cfg.bs}: ours {ours} images/s, stock {stock} images/s: {ratio}x", flush=True)
    if a.smoke: return
    n_train, n_valid = map(len, recipe_split(labelled_images(data)))
    res = dict(data=data, n_train=n_train, n_valid=n_valid, epochs=f"1 frozen + {cfg.epochs} unfrozen", size=cfg.size, preset=asdict(cfg), runs=rows,
        training_speed=dict(speed, ratio_unfrozen=ratio, bs=cfg.bs))
    write_result('foundation', res, lambda r: markdown(r, a.stock_epochs), a.out)


if __name__ == '__main__': main()
