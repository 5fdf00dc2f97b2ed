"""Prediction memory benchmark: peak RSS and images/s of `seedling_predict` on 1,000 and 10,000 images.

The images are copies of the bundled sample's test images in a temporary folder. Each count is predicted by the
console script in a process of its own, as a user runs it; its peak resident memory comes from the kernel
(`os.wait4`'s rusage). images/s is given twice: over the whole run (start-up and model loading included) and
for the prediction alone (the run's time minus that of a 12-image run). Memory must stay flat: the peak at the
largest count within 1.2x of the smallest. Without --model a tiny model is trained on the bundled sample first
(`seedling_train --size 32`, one epoch each stage, into the temporary folder): the figures are about the input
pipeline's memory, which does not depend on the model's quality.

Writes bench/results/predict_memory.{json,md}.

    python bench/predict_memory.py [--model MODEL] [--counts 1000,10000] [--bs 64]
"""
import os, shutil, subprocess, sys, tempfile, time
from pathlib import Path

from common import bench_parser, rel, md_table, write_result
from seedling_clf.core import sample_path

BIN = Path(sys.executable).parent
MAX_RATIO = 1.2  # the peak RSS at the largest count, relative to the smallest


def run_measured(args, cwd) -> tuple:
    "Run a console script; return (wall seconds, peak RSS in MiB, exit status, stderr)."
    start = time.time()
    p = subprocess.Popen([str(BIN/args[0]), *map(str, args[1:])], cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        env={**os.environ, 'MPLBACKEND': 'Agg'})
    err = p.stderr.read().decode(errors='replace')
    _, status, usage = os.wait4(p.pid, 0)
    return time.time() - start, usage.ru_maxrss/1024, os.waitstatus_to_exitcode(status), err


def image_folder(dst:Path, n:int) -> Path:
    "`n` copies of the bundled test images under `dst` (cycled, renamed)."
    src = sorted((sample_path()/'test').iterdir())
    dst.mkdir(parents=True)
    for i in range(n): shutil.copy(src[i % len(src)], dst/f'{i:05d}_{src[i % len(src)].name}')
    return dst


def tiny_model(tmp:Path) -> Path:
    "A model trained on the bundled sample at 32 px, one epoch per stage: the input pipeline's memory does not depend on its quality."
    out = tmp/'model run'
    args = ['seedling_train', '--out', out, '--size', 32, '--bs', 16, '--epochs', 1, '--freeze_epochs', 1, '--no_lr_find']
    t, rss, rc, err = run_measured(args, tmp)
    if rc: sys.exit(f"training the tiny model failed:\n{err[-2000:]}")
    print(f"trained a tiny model in {t:.0f} s: {out/'model.pkl'}", flush=True)
    return out/'model.pkl'


def measure(model, counts, bs, tmp:Path) -> list:
    "`seedling_predict` on 12 images (start-up and loading), then on each count: wall time, peak RSS, images/s."
    rows = []
    for n in [12, *counts]:
        imgs = image_folder(tmp/f'images_{n}', n)
        t, rss, rc, err = run_measured(['seedling_predict', '--model', model, '--images', imgs, '--csv', tmp/f'sub_{n}.csv', '--bs', bs], tmp)
        if rc: sys.exit(f"seedling_predict on {n} images failed:\n{err[-2000:]}")
        rows.append(dict(images=n, wall_s=round(t, 1), peak_rss_mib=round(rss), images_per_s=round(n/t, 1)))
        shutil.rmtree(imgs)
    base = rows.pop(0)
    for r in rows: r['predict_images_per_s'] = round((r['images'] - base['images'])/max(r['wall_s'] - base['wall_s'], 1e-3), 1)
    return [base, *rows]


def markdown(res) -> list:
    "The page: memory and speed per count, and whether the memory stays flat."
    rows, base = res['rows'], res['startup']
    table = [[r['images'], r['peak_rss_mib'], r['images_per_s'], r['predict_images_per_s'], r['wall_s']] for r in rows]
    return ["# seedling_predict memory", "", f"`{res['command']}` ({res['model']}, --bs {res['bs']}, {res['cpus']} CPUs)", "",
        *md_table(['images', 'peak RSS (MiB)', 'images/s overall', 'images/s predicting', 'wall (s)'], table, align='---:'),
        "", f"Peak RSS at {rows[-1]['images']} images is {res['rss_ratio']:.2f}x that at {rows[0]['images']} (limit {MAX_RATIO}x): "
        + ("flat." if res['flat'] else "NOT flat."), f"A 12-image run (start-up and model loading): {base['wall_s']} s, {base['peak_rss_mib']} MiB."]


def main():
    p = bench_parser(__doc__, data=False)
    p.add_argument('--model', help='model.pkl to predict with (default: train a tiny one on the bundled sample)')
    p.add_argument('--counts', default='1000,10000', help='comma-separated image counts')
    p.add_argument('--bs', type=int, default=64)
    a = p.parse_args()
    counts = [int(c) for c in a.counts.split(',')]
    with tempfile.TemporaryDirectory() as tmp:
        model = Path(a.model).resolve() if a.model else tiny_model(Path(tmp))
        base, *rows = measure(model, counts, a.bs, Path(tmp))
    for r in rows:
        print(f"{r['images']:6d} images: peak RSS {r['peak_rss_mib']:5d} MiB  {r['images_per_s']:6.1f} images/s overall, "
            f"{r['predict_images_per_s']:6.1f} predicting  ({r['wall_s']} s)", flush=True)
    ratio = rows[-1]['peak_rss_mib']/rows[0]['peak_rss_mib']
    res = dict(rows=rows, startup=base, rss_ratio=round(ratio, 3), max_ratio=MAX_RATIO, flat=ratio <= MAX_RATIO, bs=a.bs,
        model=str(Path(a.model)) if a.model else 'tiny (seedling_train --size 32 on the bundled sample)',
        command='python bench/predict_memory.py' + (f' --model {a.model}' if a.model else '') + f' --counts {a.counts}',
        cpus=os.cpu_count(), time=time.strftime('%Y-%m-%dT%H:%M:%S'))
    write_result('predict_memory', res, markdown, a.out, quiet=True)
    print(f"peak RSS ratio {ratio:.2f} (limit {MAX_RATIO}); wrote {rel(Path(a.out)/'predict_memory.md')}, predict_memory.json")
    if not res['flat']: sys.exit(1)


if __name__ == '__main__': main()
