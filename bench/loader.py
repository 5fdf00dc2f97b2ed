"""Data loading alone: passes over the training images, decoding every epoch (fastai's way) against `ItemCacheDL`.

`seedling_dls(..., cache_mb=0)` opens, decodes and resizes every image in every epoch, as fastai does; the default
keeps each decoded, resized item after its first use (`ItemCacheDL`), so from the second epoch on only the batch
augmentation runs. Times `--epochs` passes of the training loader (batches made and moved to the device, no model)
for each; the first cached pass is the one that fills the cache. On a GPU host the loader uses its worker processes
(`loader_settings`), whose cache the main process fills first, in threads.

    python bench/loader.py [--data DIR] [--size 128] [--bs 32] [--epochs 3]

Writes bench/results/loader.{json,md}.
"""
import time

from common import bench_parser, bench_data, md_table, write_result
from seedling_clf.data import seedling_dls

LOADERS = (('decoded every epoch (cache_mb=0)', 0), ('ItemCacheDL (default)', None))


def pass_times(dl, epochs) -> list:
    "Seconds of each of `epochs` full passes over `dl`."
    times = []
    for _ in range(epochs):
        t0 = time.perf_counter()
        for _ in dl: pass
        times.append(round(time.perf_counter() - t0, 2))
    return times


def markdown(res) -> list:
    "The page: each loader's seconds and images/s per pass."
    rows = [[k, v['workers'], ', '.join(map(str, v['seconds'])), ', '.join(map(str, v['images_per_s']))] for k, v in res['runs'].items()]
    return ["# Data loading", "", f"Passes over the training loader of `{res['data']}` at {res['size']} px, batch size {res['bs']} (decoding, resizing, "
        f"collation, batch augmentation and the copy to the device; no model), {res['device']}.", "",
        *md_table(['loader', 'workers', 'seconds per pass', 'images/s per pass'], rows),
        "", f"Command: `python bench/loader.py --size {res['size']} --bs {res['bs']} --epochs {res['epochs']}`"]


def main():
    p = bench_parser(__doc__)
    p.add_argument('--size', type=int, default=128)
    p.add_argument('--bs', type=int, default=32)
    p.add_argument('--epochs', type=int, default=3)
    a = p.parse_args()
    data = bench_data(a)
    if data is None: return
    rows = {}
    for name, cache_mb in LOADERS:
        dl = seedling_dls(data, size=a.size, bs=a.bs, **({} if cache_mb is None else dict(cache_mb=cache_mb))).train
        secs = pass_times(dl, a.epochs)
        n = len(dl) * a.bs
        rows[name] = dict(seconds=secs, images_per_s=[round(n/s, 1) for s in secs], workers=dl.fake_l.num_workers, device=str(dl.device))
        print(name, rows[name], flush=True)
    write_result('loader', dict(data=data, size=a.size, bs=a.bs, epochs=a.epochs, runs=rows), markdown, a.out)


if __name__ == '__main__': main()
