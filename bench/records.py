"""Run-record benchmark: the time to hash the data for `run.json`, and the time cost of `--deterministic`.

1. The data manifest that `write_run_record` writes (`data_manifest` + `manifest_hash`: size and SHA-256 of
   every labelled image) over the full data, three times: the first may read from disk, the others from the
   page cache. (Listing and checking the images is not counted: a run has done that already.) This says
   whether a (path, size, mtime) cache would be worth having.
2. `--deterministic` per training step: the `fast` preset's unfrozen tf_efficientnet_lite0 on batches of 32
   full-data images at 128 px, one step (forward, backward, optimizer) at a time, alternating torch's default
   and deterministic algorithms so that both see the same load on a shared machine; medians.
3. With `--train`: the same one-epoch `seedling_train` command on the full data (128 px, no head-only epoch,
   no lr_find), without and with `--deterministic`, once each, then `seedling_runs` over these runs and
   `seedling_runs --compare`.
Writes bench/results/records.{json,md}; the runs go to bench/runs/records/.

    python bench/records.py [--data DIR] [--steps 8] [--train]
"""
import subprocess, time

from common import REPO, RUNS, bench_parser, bench_data, rel, write_result, seedling_train_cmd
import numpy as np
from seedling_clf.core import train_folder
from seedling_clf.data import labelled_images
from seedling_clf.records import data_manifest, manifest_hash, runs_table, compare_runs, read_run_record


def time_manifest(data, repeats=3) -> dict:
    "Seconds to hash and sum up the manifest of every labelled image of `data`, `repeats` times."
    files = labelled_images(data)
    times = []
    for _ in range(repeats):
        start = time.time()
        man = data_manifest(files, train_folder(data))
        h = manifest_hash(man)
        times.append(round(time.time() - start, 2))
    return dict(n_images=len(man), megabytes=round(man['size'].sum()/1e6, 1), seconds=times, sha256=h)


def time_steps(data, steps=8, size=128, bs=32) -> dict:
    "Median seconds of one training step with torch's default and with deterministic algorithms, interleaved."
    import torch
    from seedling_clf.data import image_files, seedling_block
    from seedling_clf.models import seedling_learner
    files = image_files(train_folder(data))
    dls = seedling_block(size).dataloaders(files[::max(1, len(files)//(4*bs))][:4*bs], bs=bs, num_workers=0)
    learn = seedling_learner(dls, 'tf_efficientnet_lite0')
    learn.unfreeze()
    learn.create_opt()
    learn.model.train()
    xb, yb = dls.one_batch()

    def step():
        t = time.perf_counter()
        learn.loss_func(learn.model(xb), yb).backward()
        learn.opt.step()
        learn.opt.zero_grad()
        return time.perf_counter() - t

    step()  # warm-up
    times = {'default': [], 'deterministic': []}
    for _ in range(steps):
        for k in times:
            torch.use_deterministic_algorithms(k == 'deterministic')
            times[k].append(step())
    torch.use_deterministic_algorithms(False)
    med = {k: round(float(np.median(v)), 3) for k, v in times.items()}
    return dict(size=size, bs=bs, steps=steps, median_s=med, ratio=round(med['deterministic']/med['default'], 3))


def train(data, out, *flags) -> dict:
    "Run the benchmark's one-epoch seedling_train command into `out`, from the repository with relative paths, as a user would; its record."
    args = ['--data', rel(data), '--out', rel(out), '--epochs', '1', '--freeze_epochs', '0', '--sizes', '128', '--no_lr_find', *flags]
    print(' '.join(['seedling_train', *args]), flush=True)
    subprocess.run(seedling_train_cmd() + args, check=True, cwd=REPO)
    return read_run_record(out)


def time_training(data) -> dict:
    "One epoch without and with `--deterministic`: each run's time and figures, and `seedling_runs`' table and comparison of them."
    runs = RUNS/'records'
    recs = {name: train(data, runs/name, *flags) for name, flags in [('default', []), ('deterministic', ['--deterministic'])]}
    res = {n: dict(wall_time_s=r['wall_time_s'], micro_f1=r['metrics']['micro_f1'], macro_f1=r['metrics']['macro_f1'],
        split_sha256=r['split']['sha256'], run=rel(runs/n)) for n, r in recs.items()}
    ratio = round(recs['deterministic']['wall_time_s'] / recs['default']['wall_time_s'], 3)
    table = runs_table(runs).to_string(index=False, float_format=lambda v: f"{v:.4f}")
    diff = compare_runs(runs/'default', runs/'deterministic').to_string(index=False)
    print(table, diff, f"--deterministic: {ratio:.2f}x the wall time", sep='\n\n')
    return dict(deterministic=res, deterministic_time_ratio=ratio, runs_table=table, runs_compare=diff)


def markdown(res) -> list:
    "The page: the manifest's time, a training step's, and (with `--train`) an epoch's, without and with `--deterministic`."
    m, st = res['manifest'], res['steps']
    md = [f"# Run records\n\nManifest (size + SHA-256 of every image) of {m['n_images']} images, {m['megabytes']} MB: "
        f"{', '.join(f'{s:.2f}' for s in m['seconds'])} s (three passes; {res['device']}).\n",
        f"One training step of the unfrozen tf_efficientnet_lite0 on {st['bs']} full-data images at {st['size']} px, "
        f"alternating the two modes (median of {st['steps']} each): {st['median_s']['default']:.3f} s with torch's default algorithms, "
        f"{st['median_s']['deterministic']:.3f} s with deterministic ones ({st['ratio']:.2f}x).\n"]
    if 'deterministic' not in res: return md
    d, runs = res['deterministic'], rel(RUNS/'records')
    return md + [f"One epoch at 128 px on the full data (no head-only epoch, no lr_find), once each ({res['device']}): "
        f"{d['default']['wall_time_s']:.0f} s without `--deterministic`, {d['deterministic']['wall_time_s']:.0f} s with it "
        f"({res['deterministic_time_ratio']:.2f}x).\n", f"`seedling_runs {runs}`:\n\n```\n{res['runs_table']}\n```\n",
        f"`seedling_runs --compare {runs}/default {runs}/deterministic`:\n\n```\n{res['runs_compare']}\n```\n"]


def main():
    p = bench_parser(__doc__)
    p.add_argument('--steps', type=int, default=8, help='training steps timed in each mode')
    p.add_argument('--train', action='store_true', help='also time one epoch without and with --deterministic')
    a = p.parse_args()
    data = bench_data(a)
    if data is None: return
    res = dict(data=data, manifest=time_manifest(data))
    m = res['manifest']
    print(f"manifest of {m['n_images']} images ({m['megabytes']} MB): {', '.join(f'{s:.2f}' for s in m['seconds'])} s", flush=True)
    st = res['steps'] = time_steps(data, a.steps)
    print(f"one training step, {st['bs']} images at {st['size']} px (median of {st['steps']}): {st['median_s']['default']:.3f} s, "
        f"deterministic {st['median_s']['deterministic']:.3f} s ({st['ratio']:.2f}x)", flush=True)
    if a.train: res.update(time_training(data))
    write_result('records', res, markdown, a.out, quiet=True)
    print(f"wrote {rel(a.out)}/records.json and records.md")


if __name__ == '__main__': main()
