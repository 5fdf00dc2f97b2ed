"""glibc's malloc left as it is against `keep_freed_memory` (00_core): training, validation and TTA on the CPU.

Each setting runs in a fresh Python (`SEEDLING_MALLOC=default`, then `keep`): the fast preset's learner at 150 px,
unfrozen, trains one epoch (its validation pass included, as in `seedling_train`), then evaluates with 8-view TTA on
the validation images. For each: wall seconds, the process's CPU seconds in user and kernel mode, minor page faults,
and the peak resident memory; the validation figures show the numbers are the same.

    python bench/malloc.py [--data DIR] [--seed 0]

Writes bench/results/malloc.{json,md}.
"""
import argparse, json, os, resource, subprocess, sys, time, warnings
from pathlib import Path

warnings.simplefilter('ignore')
from common import full_data_path, rel, relative_paths

HERE = Path(__file__).parent
SETTINGS = {'default': "glibc's malloc as it is (`SEEDLING_MALLOC=default`)", 'keep': '`keep_freed_memory` (the library\'s default)'}


class Usage:
    "Wall time, user and system CPU seconds and minor page faults of this process between `start` and `stop`."
    def start(self): self.t, self.r = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF); return self
    def stop(self) -> dict:
        r = resource.getrusage(resource.RUSAGE_SELF)
        return dict(seconds=round(time.perf_counter() - self.t, 1), user_s=round(r.ru_utime - self.r.ru_utime, 1),
                    sys_s=round(r.ru_stime - self.r.ru_stime, 1), page_faults=r.ru_minflt - self.r.ru_minflt)


def child(data, seed):
    "One setting, in this process: prints its figures as JSON."
    from seedling_clf.core import scratch_dir
    from seedling_clf.train import train_config, run_dls, run_learner, evaluate
    cfg = train_config('fast', data=data, seed=seed)
    learn = run_learner(cfg, run_dls(cfg, 150), scratch_dir('seedling_bench_malloc_'))
    learn.unfreeze()
    res, u = {}, Usage().start()
    with learn.no_bar(): learn.fit(1, 1e-3)
    res['epoch'] = u.stop()
    u = Usage().start()
    with learn.no_bar(): m = evaluate(learn, n_tta=8)
    res['tta'] = u.stop()
    res.update(batches=len(learn.dls.train), n_valid=len(learn.dls.valid_ds), peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024, micro_f1=m['micro_f1'], tta_micro_f1=m['tta']['micro_f1'])
    print(json.dumps(res))


def run_setting(name, a, data) -> dict:
    cmd = [sys.executable, __file__, '--child', '--data', str(data), '--seed', str(a.seed)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, env={**os.environ, 'SEEDLING_MALLOC': name}).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--data', default=None)
    p.add_argument('--seed', type=int, default=0); p.add_argument('--child', action='store_true')
    a = p.parse_args()
    data = Path(a.data) if a.data else full_data_path()
    if data is None: print('full data not found (set SEEDLING_DATA): nothing to benchmark'); return
    if a.child: return child(data, a.seed)
    from seedling_clf.core import run_info, save_json
    rows = {}
    for name in SETTINGS:
        rows[name] = run_setting(name, a, data); print(name, rows[name], flush=True)
    res = dict(data=rel(data), seed=a.seed, runs=rows, **run_info())
    save_json(relative_paths(res), HERE/'results'/'malloc.json')
    md = ["# Memory allocation on the CPU", "",
          f"The fast preset's tf_efficientnet_lite0 at 150 px, batch 32, on `{res['data']}` (seed {a.seed}'s split), {res['device']}: "
          f"one unfrozen training epoch as `seedling_train` runs it ({rows['keep']['batches']} batches, then the validation pass), then evaluation with 8-view TTA "
          f"of the {rows['keep']['n_valid']} validation images (one forward pass of 256 images per batch). Each setting in a fresh process. CPU seconds are the process's own (its data-loader worker not counted).", "",
          "| malloc | phase | wall s | user CPU s | kernel CPU s | page faults |", "|---|---|---|---|---|---|"]
    for name, r in rows.items():
        md += [f"| {SETTINGS[name]} | {ph} | {r[ph]['seconds']} | {r[ph]['user_s']} | {r[ph]['sys_s']} | {r[ph]['page_faults']:,} |" for ph in ('epoch', 'tta')]
    md += ["", "| malloc | peak memory (MB) | validation micro-F1 | with TTA |", "|---|---|---|---|"]
    md += [f"| {SETTINGS[n]} | {r['peak_rss_mb']:,} | {r['micro_f1']:.4f} | {r['tta_micro_f1']:.4f} |" for n, r in rows.items()]
    d, k = rows['default'], rows['keep']
    md += ["", f"The epoch {d['epoch']['seconds'] / k['epoch']['seconds']:.2f}x and TTA {d['tta']['seconds'] / k['tta']['seconds']:.2f}x as fast with `keep_freed_memory`; "
           + ("the validation figures after the same epoch are the same to the digit either way." if (d['micro_f1'], d['tta_micro_f1']) == (k['micro_f1'], k['tta_micro_f1'])
            else "**the validation figures differ**: the two settings did not compute the same numbers."), "",
           f"Command: `python bench/malloc.py --seed {a.seed}`"]
    (HERE/'results'/'malloc.md').write_text('\n'.join(md) + '\n')
    print('\n'.join(md))


if __name__ == '__main__': main()
