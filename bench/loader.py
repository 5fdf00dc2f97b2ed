"""Data loading alone: passes over the training images, decoding every epoch (fastai's way) against `ItemCacheDL`.

`seedling_dls(..., cache_mb=0)` opens, decodes and resizes every image in every epoch, as fastai does; the default
keeps each decoded, resized item after its first use (`ItemCacheDL`), so from the second epoch on only the batch
augmentation runs. Times `--epochs` passes of the training loader (batches made and moved to the device, no model)
for each; the first cached pass is the one that fills the cache. On a GPU host the loader uses its worker processes
(`loader_settings`), whose cache the main process fills first, in threads.

    python bench/loader.py [--data DIR] [--size 128] [--bs 32] [--epochs 3]

Writes bench/results/loader.{json,md}.
"""
import argparse, json, time, warnings
from pathlib import Path

warnings.simplefilter('ignore')
from seedling_clf.core import run_info, save_json
from seedling_clf.data import seedling_dls
from common import full_data_path, rel, relative_paths

HERE = Path(__file__).parent


def pass_times(dl, epochs) -> list:
    "Seconds of each of `epochs` full passes over `dl`."
    times = []
    for _ in range(epochs):
        t0 = time.perf_counter()
        for _ in dl: pass
        times.append(round(time.perf_counter() - t0, 2))
    return times


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--data', default=None); p.add_argument('--size', type=int, default=128)
    p.add_argument('--bs', type=int, default=32); p.add_argument('--epochs', type=int, default=3)
    a = p.parse_args()
    data = Path(a.data) if a.data else full_data_path()
    if data is None: print('full data not found (set SEEDLING_DATA): nothing to benchmark'); return
    rows = {}
    for name, cache_mb in (('decoded every epoch (cache_mb=0)', 0), ('ItemCacheDL (default)', None)):
        dl = seedling_dls(data, size=a.size, bs=a.bs, **({} if cache_mb is None else dict(cache_mb=cache_mb))).train
        secs = pass_times(dl, a.epochs)
        n = len(dl) * a.bs
        rows[name] = dict(seconds=secs, images_per_s=[round(n/s, 1) for s in secs], workers=dl.fake_l.num_workers, device=str(dl.device))
        print(name, rows[name], flush=True)
    res = dict(data=rel(data), size=a.size, bs=a.bs, runs=rows, **run_info())
    save_json(relative_paths(res), HERE/'results'/'loader.json')
    md = ["# Data loading", "", f"Passes over the training loader of `{res['data']}` at {a.size} px, batch size {a.bs} (decoding, resizing, "
          f"collation, batch augmentation and the copy to the device; no model), {res['device']}.", "",
          "| loader | workers | seconds per pass | images/s per pass |", "|---|---|---|---|"]
    md += [f"| {k} | {v['workers']} | {', '.join(map(str, v['seconds']))} | {', '.join(map(str, v['images_per_s']))} |" for k, v in rows.items()]
    md += ["", f"Command: `python bench/loader.py --size {a.size} --bs {a.bs} --epochs {a.epochs}`"]
    (HERE/'results'/'loader.md').write_text('\n'.join(md) + '\n')
    print('\n'.join(md))


if __name__ == '__main__': main()
