"""glibc's malloc left as it is against `keep_freed_memory` (00_core): training, validation and TTA on the CPU.

Each setting runs in a fresh Python (`SEEDLING_MALLOC=default`, then `keep`): the fast preset's learner at 150 px,
unfrozen, trains one epoch (its validation pass included, as in `seedling_train`), then evaluates with 8-view TTA on
the validation images. For each: wall seconds, the process's CPU seconds in user and kernel mode, minor page faults,
and the peak resident memory; the validation figures show the numbers are the same.

    python bench/malloc.py [--data DIR] [--seed 0]

Writes bench/results/malloc.{json,md}.
"""
import json, os, resource, subprocess, sys, time

from common import bench_parser, bench_data, md_table, write_result

SETTINGS = {'default': "glibc's malloc as it is (`SEEDLING_MALLOC=default`)", 'keep': "`keep_freed_memory` (the library's default)"}
PHASES = ('epoch', 'tta')


class Usage:
    "Wall time, user and system CPU seconds and minor page faults of this process between `start` and `stop`."
    def start(self):
        self.t, self.r = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
        return self

    def stop(self) -> dict:
        r = resource.getrusage(resource.RUSAGE_SELF)
        return dict(seconds=round(time.perf_counter() - self.t, 1), user_s=round(r.ru_utime - self.r.ru_utime, 1),
            sys_s=round(r.ru_stime - self.r.ru_stime, 1), page_faults=r.ru_minflt - self.r.ru_minflt)


def child(data, seed):
    "One setting, in this process: prints its figures as JSON."
    from seedling_clf.core import scratch_dir
    from seedling_clf.recipe import train_config
    from seedling_clf.fit import recipe_dls, recipe_learner
    from seedling_clf.inference import score_learner
    cfg = train_config('fast', data=data, seed=seed)
    learn = recipe_learner(cfg, recipe_dls(cfg, cfg.sizes[-1]), scratch_dir('seedling_bench_malloc_'))
    learn.unfreeze()
    res, u = {}, Usage().start()
    with learn.no_bar(): learn.fit(1, 1e-3)
    res['epoch'] = u.stop()
    u = Usage().start()
    with learn.no_bar(): m = score_learner(learn, n_tta=8)
    res['tta'] = u.stop()
    res.update(batches=len(learn.dls.train), n_valid=len(learn.dls.valid_ds), peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
        micro_f1=m['micro_f1'], tta_micro_f1=m['tta']['micro_f1'])
    print(json.dumps(res))


def run_setting(name, a, data) -> dict:
    "One setting in a fresh Python (`SEEDLING_MALLOC=name`): its figures."
    cmd = [sys.executable, __file__, '--child', '--data', str(data), '--seed', str(a.seed)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, env={**os.environ, 'SEEDLING_MALLOC': name}).stdout
    return json.loads(out.strip().splitlines()[-1])


def markdown(res) -> list:
    "The page: each setting's time, CPU and page faults per phase, then its memory and figures."
    rows, d, k = res['runs'], res['runs']['default'], res['runs']['keep']
    md = ["# Memory allocation on the CPU", "",
        f"The fast preset's tf_efficientnet_lite0 at 150 px, batch 32, on `{res['data']}` (seed {res['seed']}'s split), {res['device']}: "
        f"one unfrozen training epoch as `seedling_train` runs it ({k['batches']} batches, then the validation pass), then evaluation with 8-view TTA "
        f"of the {k['n_valid']} validation images (one forward pass of 256 images per batch). Each setting in a fresh process. "
        "CPU seconds are the process's own (its data-loader worker not counted).", ""]
    md += md_table(['malloc', 'phase', 'wall s', 'user CPU s', 'kernel CPU s', 'page faults'],
        [[SETTINGS[n], ph, r[ph]['seconds'], r[ph]['user_s'], r[ph]['sys_s'], f"{r[ph]['page_faults']:,}"] for n, r in rows.items() for ph in PHASES])
    md += [""] + md_table(['malloc', 'peak memory (MB)', 'validation micro-F1', 'with TTA'],
        [[SETTINGS[n], f"{r['peak_rss_mb']:,}", f"{r['micro_f1']:.4f}", f"{r['tta_micro_f1']:.4f}"] for n, r in rows.items()])
    same = (d['micro_f1'], d['tta_micro_f1']) == (k['micro_f1'], k['tta_micro_f1'])
    verdict = ("the validation figures after the same epoch are the same to the digit either way." if same
        else "**the validation figures differ**: the two settings did not compute the same numbers.")
    speed = f"The epoch {d['epoch']['seconds'] / k['epoch']['seconds']:.2f}x and TTA {d['tta']['seconds'] / k['tta']['seconds']:.2f}x as fast"
    return md + ["", f"{speed} with `keep_freed_memory`; {verdict}", "", f"Command: `python bench/malloc.py --seed {res['seed']}`"]


def main():
    p = bench_parser(__doc__)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--child', action='store_true', help='run one setting in this process (what the benchmark starts)')
    a = p.parse_args()
    data = bench_data(a)
    if data is None: return
    if a.child: return child(data, a.seed)
    rows = {}
    for name in SETTINGS:
        rows[name] = run_setting(name, a, data)
        print(name, rows[name], flush=True)
    write_result('malloc', dict(data=data, seed=a.seed, runs=rows), markdown, a.out)


if __name__ == '__main__': main()
