"""Foundation benchmark: the default `fast` preset against stock fastai on the full plant-seedlings data.

Both train tf_efficientnet_lite0 with the same packaged ImageNet weights on the CPU, on the same seeded
stratified 80/20 split, for the same epochs (1 frozen + the preset's unfrozen epochs), ending at 128 px (the
preset's first stages run at 96 px: progressive resizing). Stock fastai
is `vision_learner` + `aug_transforms()` + `fine_tune`, nothing else. Prints validation micro-F1, macro-F1
and wall time, and writes bench/results/foundation.{json,md}.

    python bench/foundation.py [--data DIR] [--only ours|stock]
"""
import argparse, json, time, warnings
from pathlib import Path

warnings.simplefilter('ignore')
import matplotlib; matplotlib.use('Agg')
from fastai.vision.all import *
from seedling_clf.core import run_info, save_json
from seedling_clf.train import train_settings
from common import full_data_path
from seedling_clf.data import labelled_images, stratified_splitter
from seedling_clf.models import pretrained_file
from seedling_clf.train import train_classifier, classification_metrics

HERE = Path(__file__).parent


def stock_fastai(data, epochs, size=128, bs=64, seed=42):
    "fastai's documented recipe on the same split, backbone and weights; returns (metrics, seconds)."
    start = time.time()
    files = labelled_images(data)
    dls = DataBlock((ImageBlock, CategoryBlock), get_y=parent_label, splitter=stratified_splitter(0.2, seed),
                    item_tfms=Resize(size), batch_tfms=aug_transforms()).dataloaders(files, bs=bs)
    learn = vision_learner(dls, 'tf_efficientnet_lite0', pretrained=True,
                           pretrained_cfg_overlay=dict(file=str(pretrained_file('tf_efficientnet_lite0'))), metrics=accuracy)
    learn.fine_tune(epochs, freeze_epochs=1)
    probs, targs = learn.get_preds()
    secs = time.time() - start
    (HERE/'runs'/'foundation_stock').mkdir(parents=True, exist_ok=True)
    learn.export(HERE/'runs'/'foundation_stock'/'model.pkl')  # a second model for the ensemble benchmark
    return classification_metrics(targs, probs.argmax(1), dls.vocab), secs


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--data', default=None); p.add_argument('--only', choices=['ours', 'stock'])
    a = p.parse_args()
    data = Path(a.data) if a.data else full_data_path()
    if data is None: print('full data not found (set SEEDLING_DATA): nothing to benchmark'); return
    cfg = train_settings('fast')
    rows = {}
    if a.only != 'stock':
        train_classifier(data, out=HERE/'runs'/'foundation_ours', preset_name='fast')
        m = json.loads((HERE/'runs'/'foundation_ours'/'metrics.json').read_text())
        rows['seedling_clf fast preset'] = m
        print(f"ours : micro-F1 {m['micro_f1']:.4f} macro-F1 {m['macro_f1']:.4f} wall {m['wall_time_s']/60:.1f} min", flush=True)
    elif (HERE/'runs'/'foundation_ours'/'metrics.json').exists():  # --only stock: keep the earlier run of ours in the table
        m = json.loads((HERE/'runs'/'foundation_ours'/'metrics.json').read_text())
        rows['seedling_clf fast preset (earlier run)'] = m
    if a.only != 'ours':
        m, secs = stock_fastai(data, cfg['epochs'], cfg['size'])
        rows['stock fastai fine_tune'] = dict(m, wall_time_s=round(secs, 1))
        print(f"stock: micro-F1 {m['micro_f1']:.4f} macro-F1 {m['macro_f1']:.4f} wall {secs/60:.1f} min", flush=True)
    n_train, n_valid = map(len, stratified_splitter(0.2, 42)(labelled_images(data)))
    res = dict(data=str(data), n_train=n_train, n_valid=n_valid, epochs=f"1 frozen + {cfg['epochs']} unfrozen", size=cfg['size'], preset=cfg, runs=rows, **run_info())
    out = HERE/'results'; save_json(res, out/'foundation.json')
    md = [f"# Foundation benchmark\n", f"Full data `{data}` ({n_train} train / {n_valid} validation images, seeded stratified split), "
          f"tf_efficientnet_lite0 with packaged ImageNet weights, {res['epochs']} epochs, {res['device']}. "
          f"Ours: the `fast` preset, {cfg['freeze_epochs']} frozen epoch(s) and " + ', then '.join(f"{e} unfrozen at {s} px" for s, e in zip(cfg.get('sizes') or [cfg['size']], cfg.get('stage_epochs') or [cfg['epochs']]))
          + f"; stock fastai: `fine_tune({cfg['epochs']}, freeze_epochs=1)` at {cfg['size']} px.\n",
          "| recipe | val micro-F1 | val macro-F1 | smallest per-class F1 | wall time (min) |", "|---|---|---|---|---|"]
    for k, m in rows.items():
        worst = min(m['per_class_f1'].items(), key=lambda kv: kv[1])
        md.append(f"| {k} | {m['micro_f1']:.4f} | {m['macro_f1']:.4f} | {worst[1]:.3f} ({worst[0]}) | {m['wall_time_s']/60:.1f} |")
    (out/'foundation.md').write_text('\n'.join(md) + '\n\nCommand: `python bench/foundation.py`\n')
    print('\n'.join(md))


if __name__ == '__main__': main()
