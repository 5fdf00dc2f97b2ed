"""Grad-CAM of one run's validation errors between Black-grass and Loose Silky-bent: where the model looks when it confuses them.

    python bench/explain_pairs.py --run bench/runs/seeds/fast_ema_0.995/seed0

The split is the run's own: metrics.json's settings (`data`, `seed`, `valid_pct`) give the stratified split that
`seedling_train` made (checked against the run's `n_valid`). Every validation image of the two species is predicted
once, without TTA, with `explain` (one forward and one backward pass give the probabilities and the heatmap of the
predicted species); each one predicted as the other species of the pair is drawn by `explain_grid`, titled
`actual -> predicted probability` and the runner-up. Inference only: fine on the CPU.

Writes bench/results/black_grass_heatmaps.png and black_grass_heatmaps.md; the page's part from the heading
"What the heatmaps show" on is written by hand after looking at the PNG, and kept when the script writes the page again.
"""
import argparse, json, sys, time
from pathlib import Path

from common import REPO, rel
from fastai.vision.all import parent_label
from seedling_clf.data import labelled_images, stratified_splitter
from seedling_clf.inference import load_model
from seedling_clf.explain import explain, explain_grid

PAIR = ('Black-grass', 'Loose Silky-bent')
NAME, KEPT = 'black_grass_heatmaps', '## What the heatmaps show'


def run_split(run: Path, data=None) -> tuple:
    "The validation images of the run's own split, and the settings it came from (metrics.json's)."
    metrics = json.loads((run/'metrics.json').read_text())
    s = metrics['settings']
    data = Path(data or s['data'])
    files = labelled_images(data)
    valid = files[stratified_splitter(s['valid_pct'], s['seed'])(files)[1]]
    if metrics.get('n_valid') not in (None, len(valid)):
        sys.exit(f"error: the split of {data} (seed {s['seed']}, valid_pct {s['valid_pct']}) has {len(valid)} validation images, "
            f"{run/'metrics.json'} says {metrics['n_valid']}: not the run's data. Fix: pass the data it trained on with --data.")
    return valid, dict(data=rel(data), seed=s['seed'], valid_pct=s['valid_pct'], n_valid=len(valid))


def pair_errors(learn, files: list, bs: int) -> tuple:
    "The validation images of the pair, and the explanations of those predicted as the other species of the pair (by direction, then probability)."
    pair = [f for f in files if parent_label(f) in PAIR]
    exps = explain(learn, pair, bs=bs)
    errors = [e for e in exps if e.pred in PAIR and e.pred != parent_label(e.file)]
    return pair, sorted(errors, key=lambda e: (parent_label(e.file), -e.prob))


def page(a, split: dict, pair: list, errors: list, secs: float, png) -> str:
    "The result page (the hand-written part is added by `write_page`)."
    count = lambda src: sum(parent_label(e.file) == src for e in errors)
    lines = [f"# {PAIR[0]} <-> {PAIR[1]}: Grad-CAM of the validation errors", '',
        f"    python bench/explain_pairs.py --run {rel(a.run)}", '',
        f"- run: `{rel(a.run)}`; split: `{split['data']}`, seed {split['seed']}, valid_pct {split['valid_pct']} "
        f"(metrics.json's settings): {split['n_valid']} validation images, {len(pair)} of the two species",
        f"- errors (one prediction each, no TTA): {count(PAIR[0])} {PAIR[0]} -> {PAIR[1]}, {count(PAIR[1])} {PAIR[1]} -> {PAIR[0]}",
        f"- heatmaps: Grad-CAM of the predicted species (pytorch-grad-cam; the body's last activation map), {secs:.0f} s", '']
    return '\n'.join(lines + ([f"![The errors, each image beside its heatmap]({Path(png).name})", ''] if png else ['No errors to draw.', '']))


def write_page(md: Path, text: str):
    "Write `md`, keeping its hand-written part (from the `KEPT` heading on)."
    old = md.read_text() if md.exists() else ''
    md.write_text(text + (old[old.find(KEPT):] if KEPT in old else ''))


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--run', type=Path, required=True, help='a full-data run folder (model.json or model.pkl, metrics.json)')
    p.add_argument('--data', default=None, help="the run's data, if it has moved since training (default: metrics.json's settings)")
    p.add_argument('--out', type=Path, default=REPO/'bench'/'results', help='where the PNG and the page go')
    p.add_argument('--bs', type=int, default=32, help='images per forward and backward pass')
    p.add_argument('--ncols', type=int, default=4, help='errors per row of the grid')
    a = p.parse_args()
    start = time.time()
    valid, split = run_split(a.run, a.data)
    pair, errors = pair_errors(load_model(a.run), valid, a.bs)
    a.out.mkdir(parents=True, exist_ok=True)
    png = a.out/f'{NAME}.png' if errors else None
    if errors: explain_grid(errors, [parent_label(e.file) for e in errors], png, ncols=a.ncols)
    write_page(a.out/f'{NAME}.md', page(a, split, pair, errors, time.time() - start, png))
    print((a.out/f'{NAME}.md').read_text())


if __name__ == '__main__': main()
