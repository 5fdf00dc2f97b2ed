"""A recipe over three seeds: mean and standard deviation of validation micro-F1, macro-F1, Black-grass F1 and wall time.

Plain, and with the TTA `seedling_predict --tta` applies (metrics.json's "tta", when the run scored it).

One seed on one split moves validation micro-F1 by about 0.01 here, so a claim about a recipe is a 3-seed mean. Each
seed is a different stratified split and initialisation (`seedling_train --seed S`). Every run goes through the
command users run (`seedling_train`, as a subprocess), so the wall time includes start-up, lr_find, training,
evaluation and export. Anything after `--` is passed to `seedling_train` unchanged (the recipe's overrides).

    python bench/seeds.py --name fast                                   # the fast preset, seeds 0, 1, 2
    python bench/seeds.py --name fast_150 -- --sizes 96,150 --stage_epochs 4,4
    python bench/seeds.py --name best --preset best --data .gpu_data/plant-seedlings-150
    python bench/seeds.py --name best --preset best --seeds 2 --add                    # a third seed, kept with seeds 0 and 1

Writes bench/results/seeds/<name>.json (every run's figures and recipe, as its run.json records it) and regenerates
bench/results/seeds.md (one row per recipe), warning where a row's command no longer gives the recipe its runs
trained with (a preset changed since: write the options out in the command). Run folders go to bench/runs/seeds/<name>/seed<S>/ (ignored by git).
"""
import argparse, json, shlex, shutil, statistics, subprocess, sys, time
from dataclasses import asdict
from pathlib import Path
from common import rel, seedling_train_cmd

ROOT = Path(__file__).resolve().parents[1]
RESULTS, RUNS = ROOT/'bench'/'results', ROOT/'bench'/'runs'/'seeds'
FULL_DATA = ROOT.parent/'shared'/'data'/'plant-seedlings-150'  # this workplace's copy of the Kaggle data
WEAK_CLASS = 'Black-grass'



def run_seed(data, out, preset, seed, extra):
    "Train one seed through `seedling_train`; its figures from metrics.json, and the process's wall time."
    if out.exists(): shutil.rmtree(out)
    cmd = seedling_train_cmd() + ['--data', str(data), '--out', str(out), '--preset', preset, '--seed', str(seed), *extra]
    start = time.time()
    subprocess.run(cmd, check=True)
    m = json.loads((out/'metrics.json').read_text())
    tta = dict(tta_micro_f1=m['tta']['micro_f1'], tta_weak_f1=m['tta']['per_class_f1'][WEAK_CLASS], n_tta=m['tta']['n_tta']) if 'tta' in m else {}
    recipe = {k: v for k, v in json.loads((out/'run.json').read_text())['recipe'].items() if k not in ('data', 'seed')}
    return dict(seed=seed, micro_f1=m['micro_f1'], macro_f1=m['macro_f1'], weak_f1=m['per_class_f1'][WEAK_CLASS],
                wall_time_s=round(time.time() - start, 1), device=m.get('device'), **tta, recipe=recipe)


def command_drift(res) -> dict:
    "Options whose value the recipe's recorded command gives today (presets change) differs from what its runs trained with: {option: (trained, today)}."
    from seedling_clf.train import train_config, parse_train_args
    trained = next((r['recipe'] for r in res['runs'] if 'recipe' in r), None)  # kept since runs record it; else the run folder's record
    rec = RUNS/res['name']/f"seed{res['runs'][0]['seed']}"/'run.json'
    if trained is None and rec.exists(): trained = json.loads(rec.read_text())['recipe']
    if trained is None: return {}
    today = asdict(train_config(**{k: v for k, v in parse_train_args(shlex.split(res['command'])[1:]).items() if k != 'data'}))
    return {k: (trained[k], today[k]) for k in today if k in trained and k not in ('data', 'seed', 'preset') and trained[k] != today[k]}  # a preset's name is not a setting


def summary(runs):
    "Mean and (sample) standard deviation of each figure over the runs."
    keys = ['micro_f1', 'macro_f1', 'weak_f1', 'wall_time_s'] + [k for k in ('tta_micro_f1', 'tta_weak_f1') if all(k in r for r in runs)]
    sd = lambda v: statistics.stdev(v) if len(v) > 1 else 0.
    return {k: dict(mean=statistics.mean(r[k] for r in runs), std=sd([r[k] for r in runs])) for k in keys}


def table():
    "bench/results/seeds.md from every recipe's json."
    rows = ["# Recipes over seeds", "",
            "Validation figures, mean ± standard deviation over the seeds (each a different stratified split and "
            "initialisation); wall time of the whole `seedling_train` command. Written by `bench/seeds.py`.", "",
            "With TTA: the mean over each image's flips and quarter turns, as `seedling_predict --tta` predicts (— where the run did not score it).", "",
            f"| recipe | command | seeds | device | micro-F1 | macro-F1 | {WEAK_CLASS} F1 | micro-F1 with TTA | {WEAK_CLASS} F1 with TTA | wall time (s) |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    for f in sorted((RESULTS/'seeds').glob('*.json')):
        r = json.loads(f.read_text()); s = r['summary']
        drift = command_drift(r)
        if drift: print(f"warning: {f.name}: its command no longer gives the recipe it ran (trained, today): {drift}. Fix: write the options out in its command.", file=sys.stderr)
        pm = lambda k, d=4: f"{s[k]['mean']:.{d}f} ± {s[k]['std']:.{d}f}" if k in s else '—'
        rows.append(f"| {r['name']} | `{r['command']}` | {','.join(str(o['seed']) for o in r['runs'])} | {' / '.join(dict.fromkeys(o['device'] for o in r['runs']))} "
                    f"| {pm('micro_f1')} | {pm('macro_f1')} | {pm('weak_f1', 3)} | {pm('tta_micro_f1')} | {pm('tta_weak_f1', 3)} | {pm('wall_time_s', 0)} |")
    (RESULTS/'seeds.md').write_text('\n'.join(rows) + '\n')


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    extra = argv[argv.index('--')+1:] if '--' in argv else []
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--name', required=True, help="the recipe's name in the results")
    p.add_argument('--preset', default='fast')
    p.add_argument('--seeds', default='0,1,2')
    p.add_argument('--data', default=str(FULL_DATA))
    p.add_argument('--add', action='store_true', help="keep the recipe's earlier runs of other seeds (a seed that did not fit another day)")
    a = p.parse_args(argv[:argv.index('--')] if '--' in argv else argv)
    seeds, earlier = [int(o) for o in a.seeds.split(',')], RESULTS/'seeds'/f'{a.name}.json'
    runs = [r for r in json.loads(earlier.read_text())['runs'] if r['seed'] not in seeds] if a.add and earlier.exists() else []
    command = ' '.join(['seedling_train', '--data', rel(a.data), '--preset', a.preset, *extra])
    (RESULTS/'seeds').mkdir(parents=True, exist_ok=True)
    for s in seeds:
        runs.append(run_seed(Path(a.data), RUNS/a.name/f'seed{s}', a.preset, s, extra))
        print(f"{a.name} seed {s}: " + ', '.join(f"{k} {v}" for k, v in runs[-1].items() if k != 'seed'), flush=True)
        res = dict(name=a.name, command=command, runs=runs, summary=summary(runs))
        (RESULTS/'seeds'/f'{a.name}.json').write_text(json.dumps(res, indent=2) + '\n')  # after every seed: a cut run keeps its seeds
        table()
    print(json.dumps(res['summary'], indent=1))


if __name__ == '__main__':
    main()
