"""Run-record benchmark: the time to hash the data for `run.json`, and the time cost of `--deterministic`.

1. The data manifest that `write_run_record` writes (`data_manifest` + `manifest_hash`: size and SHA-256 of
   every labelled image) over the full data, three times: the first may read from disk, the others from the
   page cache. This says whether a (path, size, mtime) cache would be worth having.
2. With `--train`: the same one-epoch `seedling_train` command on the full data (128 px, no head-only epoch,
   no lr_find), without and with `--deterministic`, once each (on a shared CPU the two wall times carry the
   noise of whatever else runs), then `seedling_runs` over these runs and `seedling_runs --compare`.
Writes bench/results/records.{json,md}; the runs go to bench/runs/records/.

    python bench/records.py [--data DIR] [--train]
"""
import argparse, json, subprocess, sys, time, warnings
from pathlib import Path

warnings.simplefilter('ignore')
from seedling_clf.core import full_data_path, run_info, save_json, train_folder
from seedling_clf.data import labelled_images
from seedling_clf.records import data_manifest, manifest_hash, runs_table, compare_runs, read_run_record

HERE = Path(__file__).parent
REPO = HERE.parent
BIN = Path(sys.executable).parent


def rel(p): return Path(p).resolve().relative_to(REPO).as_posix() if Path(p).resolve().is_relative_to(REPO) else str(p)


def time_manifest(data, repeats=3):
    "Seconds to list, hash and sum up the manifest of every labelled image of `data`, `repeats` times."
    times = []
    for _ in range(repeats):
        start = time.time()
        files = labelled_images(data)
        man = data_manifest(files, train_folder(data)); h = manifest_hash(man)
        times.append(round(time.time() - start, 2))
    return dict(n_images=len(man), megabytes=round(man['size'].sum()/1e6, 1), seconds=times, sha256=h)


def train(data, out, *flags):
    "Run the benchmark's one-epoch seedling_train command into `out`; its record."
    cmd = [str(BIN/'seedling_train'), '--data', str(data), '--out', str(out), '--epochs', '1', '--freeze_epochs', '0',
           '--sizes', '128', '--no_lr_find', *flags]
    print(' '.join(cmd[1:]), flush=True)
    subprocess.run(cmd, check=True)
    return read_run_record(out)


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--data', default=None, help='dataset root (train/); default: the full data')
    p.add_argument('--train', action='store_true', help='also time one epoch without and with --deterministic')
    a = p.parse_args()
    data = Path(a.data) if a.data else full_data_path()
    if data is None: print('full data not found (set SEEDLING_DATA): nothing to benchmark'); return
    res = dict(data=str(data), manifest=time_manifest(data), **run_info())
    m = res['manifest']
    print(f"manifest of {m['n_images']} images ({m['megabytes']} MB): {', '.join(f'{s:.2f}' for s in m['seconds'])} s", flush=True)
    md = [f"# Run records\n\nManifest (size + SHA-256 of every image) of {m['n_images']} images, {m['megabytes']} MB: "
          f"{', '.join(f'{s:.2f}' for s in m['seconds'])} s (three passes; {res['device']}).\n"]
    if a.train:
        runs = HERE/'runs'/'records'
        recs = {name: train(data, runs/name, *flags) for name, flags in [('default', []), ('deterministic', ['--deterministic'])]}
        res['deterministic'] = {n: dict(wall_time_s=r['wall_time_s'], micro_f1=r['metrics']['micro_f1'], macro_f1=r['metrics']['macro_f1'],
                                        split_sha256=r['split']['sha256'], run=rel(runs/n)) for n, r in recs.items()}
        d, t = res['deterministic'], recs['deterministic']['wall_time_s'] / recs['default']['wall_time_s']
        res['deterministic_time_ratio'] = round(t, 3)
        table = runs_table(runs).to_string(index=False, float_format=lambda v: f"{v:.4f}")
        diff = compare_runs(runs/'default', runs/'deterministic').to_string(index=False)
        print(table, diff, f"--deterministic: {t:.2f}x the wall time", sep='\n\n')
        md += [f"One epoch at 128 px on the full data (no head-only epoch, no lr_find), once each on a shared CPU: "
               f"{d['default']['wall_time_s']:.0f} s without `--deterministic`, {d['deterministic']['wall_time_s']:.0f} s with it "
               f"({t:.2f}x).\n", f"`seedling_runs {rel(runs)}`:\n\n```\n{table}\n```\n",
               f"`seedling_runs --compare {rel(runs/'default')} {rel(runs/'deterministic')}`:\n\n```\n{diff}\n```\n"]
    (HERE/'results').mkdir(exist_ok=True)
    save_json(res, HERE/'results'/'records.json')
    (HERE/'results'/'records.md').write_text('\n'.join(md))
    print(f"wrote {rel(HERE/'results'/'records.json')} and records.md")


if __name__ == '__main__': main()
