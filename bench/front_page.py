"""The front page's results: one table and one picture, read from bench/results/*.json, so no number is copied by hand.

`ROWS` is the one list to edit: each row names its source, `seeds/NAME` (a recipe over seeds, `bench/seeds.py`),
`foundation` (stock fastai, `bench/foundation.py`) or `inference/CONFIG` (an inference engine, `bench/inference.py`).
`tools/make_readme.py` puts `results_table()` into nbs/index.ipynb and README.md; this script draws the picture:

    python bench/front_page.py      # writes nbs/images/front_page.png
"""
import json
from pathlib import Path

from common import REPO, RESULTS, WEAK_CLASS, bench_parser, md_table

ROWS = [('stock fastai', 'foundation'), ('`fast`', 'seeds/fast'), ('`best`', 'seeds/best'),
    ('stock fastai predict', 'inference/fastai'), ('PyTorch', 'inference/torch'),
    ('PyTorch `--bf16`', 'inference/torch_bf16'), ('ONNX Runtime', 'inference/onnx'), ('ONNX Runtime `--int8`', 'inference/onnx_int8')]
STOCK = 'stock fastai fine_tune'  # foundation.json's row for stock fastai (its full run, or the earlier one kept)
PICTURE = 'front_page.png'


def load(name:str) -> dict: return json.loads((RESULTS/f'{name}.json').read_text())


def stock_row() -> dict:
    "Stock fastai's training run in foundation.json: one seed, no TTA."
    res = load('foundation')
    k = next(k for k in res['runs'] if k.startswith(STOCK))
    m = res['runs'][k]
    return dict(micro_f1=m['micro_f1'], weak_f1=m['per_class_f1'][WEAK_CLASS], seeds=1, tta=0, minutes=m['wall_time_s']/60,
        device=m.get('device'), recipe=m.get('recipe') or res['epochs'], page='foundation', n_images=res['n_train'] + res['n_valid'],
        speed_ratio=res['training_speed'].get('ratio_unfrozen'), speed_device=res['device'])


def recipe_row(name:str) -> dict:
    "A recipe's means over its seeds: micro-F1 and Black-grass F1 with TTA (plain where the runs did not score TTA), training minutes."
    res = load(f'seeds/{name}')
    s, runs = res['summary'], res['runs']
    tta = 'tta_micro_f1' in s
    return dict(micro_f1=s['tta_micro_f1' if tta else 'micro_f1']['mean'], weak_f1=s['tta_weak_f1' if tta else 'weak_f1']['mean'],
        micro_f1_std=s['tta_micro_f1' if tta else 'micro_f1']['std'], seeds=len(runs), tta=runs[0].get('n_tta', 0) if tta else 0,
        minutes=s['wall_time_s']['mean']/60, minutes_std=s['wall_time_s']['std']/60, device=' / '.join(dict.fromkeys(r['device'] for r in runs)),
        page='seeds')


def engine_row(config:str) -> dict:
    "An inference configuration's images/s (the test folder to a CSV, model loaded) from inference.json."
    res = load('inference')
    return dict(images_per_s=res['results'][config]['images_per_s_excluded'], device=res['device'], size=res['size'],
        n_images=res['n_images'], page='inference')


def results(rows=ROWS) -> list:
    "Each row of `rows` with its figures, read from its results."
    read = dict(foundation=lambda _: stock_row(), seeds=recipe_row, inference=engine_row)
    return [dict(label=label, **read[src.split('/')[0]](src.partition('/')[2])) for label, src in rows]


def num(r:dict, k:str, fmt:str) -> str: return format(r[k], fmt) if k in r else '—'


def notes(rs:list) -> str:
    "The table's footnotes: what each column measured, and on which host (said once where the columns share it)."
    recipes = [r for r in rs if r['page'] == 'seeds']
    stock = next((r for r in rs if r['page'] == 'foundation'), None)
    engine = next((r for r in rs if r['page'] == 'inference'), None)
    train_host = ' / '.join(dict.fromkeys(r['device'] for r in recipes))
    one_host = not engine or engine['device'] == train_host
    said = ["¹ Validation, on the full Kaggle data" + (f" ({stock['n_images']:,} images" if stock else " (") + ", a stratified fifth held out "
        "per seed): micro-F1 (the competition's metric) and the weakest class's F1, the mean over the seeds."]
    if stock:
        host = f" ({stock['device']})" if stock['device'] else ' that did not record its instruction set'
        said.append(f"Stock fastai (`vision_learner` + `fine_tune`, same backbone, weights and split): one run, {stock['recipe']}, on a 2-core CPU{host}"
            + (f"; on one host `fast` trains {stock['speed_ratio']}x the images/s of stock fastai." if stock['speed_ratio'] else '.'))
    if recipes: said.append("² The whole `seedling_train` command" + ('.' if one_host else f", on {train_host}."))
    if engine: said.append(f"³ {engine['n_images']} test images to a CSV, model loaded, {engine['size']} px" + ('.' if one_host else f", on {engine['device']}."))
    if recipes and one_host: said.append(f"²³ On {train_host}.")
    return ' '.join(said)


def results_table(rows=ROWS, link=lambda page: f'bench/results/{page}.md') -> list:
    "The front page's table (Markdown lines): one number per cell, each row linked to its results page (`link`), then the footnotes."
    rs = results(rows)
    pages = list(dict.fromkeys(r['page'] for r in rs))
    table = [[f"[{r['label']}][{r['page']}]", num(r, 'micro_f1', '.3f'), num(r, 'weak_f1', '.3f'), num(r, 'seeds', 'd'), num(r, 'tta', 'd'),
        num(r, 'minutes', '.1f'), num(r, 'images_per_s', '.0f')] for r in rs]
    header = ['recipe or engine', 'micro-F1 ¹', f'{WEAK_CLASS} F1 ¹', 'seeds', 'TTA views', 'training, CPU min ²', 'predict, images/s ³']
    return md_table(header, table) + ['', notes(rs), '', *(f"[{p}]: {link(p)}" for p in pages)]


def point_note(r:dict) -> str:
    "What a point of the accuracy panel averages."
    if r['page'] == 'foundation': return f"{r['label']}: {r['seeds']} run, no TTA" + ('' if r['device'] else ', another host')
    return f"mean over {r['seeds']} seeds" + (f" with {r['tta']}-view TTA" if r['tta'] else '')


def plot(fname:Path, rows=ROWS):
    "Two panels: validation micro-F1 against CPU training minutes for the recipes, and images/s per inference engine."
    import matplotlib.pyplot as plt
    rs = results(rows)
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(10, 3.8), gridspec_kw=dict(width_ratios=[1.15, 1]))
    recipes = [r for r in rs if 'minutes' in r]
    for i, r in enumerate(recipes):
        stock = r['page'] == 'foundation'
        ax.errorbar(r['minutes'], r['micro_f1'], xerr=r.get('minutes_std'), yerr=r.get('micro_f1_std'), fmt='o', ms=8, capsize=3,
            color='tab:gray' if stock else 'tab:green')
        place = dict(xytext=(-10, 0), ha='right', va='center') if stock else dict(xytext=(0, 12 if i % 2 else -14), ha='center', va='center')
        ax.annotate(f"{r['label'].strip('`')} {r['micro_f1']:.3f}", (r['minutes'], r['micro_f1']), textcoords='offset points', fontsize=9, **place)
    ax.set(xlabel='training, CPU minutes (2 cores)', ylabel='validation micro-F1', title='Accuracy against training time',
        xlim=(0, max(r['minutes'] for r in recipes)*1.15), ylim=(min(0.7, min(r['micro_f1'] for r in recipes) - 0.03), 1))
    ax.text(0.02, 0.04, '\n'.join(dict.fromkeys(point_note(r) for r in recipes)), transform=ax.transAxes, fontsize=8, color='dimgray')
    ax.grid(alpha=0.3)
    engines = [r for r in rs if 'images_per_s' in r]
    base = engines[0]['images_per_s'] if engines else 1
    bars = bx.barh([r['label'] for r in engines], [r['images_per_s'] for r in engines], color=['tab:gray'] + ['tab:blue']*(len(engines)-1))
    bx.bar_label(bars, [f" {r['images_per_s']:.0f} ({r['images_per_s']/base:.2f}x)" for r in engines], fontsize=9)
    bx.invert_yaxis()
    size = f", {engines[0]['size']} px" if engines else ''
    bx.set(xlabel=f'images/s, test folder to CSV{size} (2 CPU cores)', title='Prediction speed', xlim=(0, max(r['images_per_s'] for r in engines)*1.35))
    fig.tight_layout()
    Path(fname).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(fname, dpi=100)
    plt.close(fig)
    return fname


def main():
    p = bench_parser(__doc__, data=False)
    p.set_defaults(out=str(REPO/'nbs'/'images'))
    a = p.parse_args()
    print('\n'.join(results_table()))
    print(f"wrote {plot(Path(a.out)/PICTURE)}")


if __name__ == '__main__': main()
