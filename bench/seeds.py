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
    python bench/seeds.py --table                                       # bench/results/seeds.md again, from the json

Writes bench/results/seeds/<name>.json (every run's figures and recipe, as its run.json records it) and regenerates
bench/results/seeds.md (one row per recipe), warning where a row's command no longer gives the recipe its runs
trained with (a preset changed since: write the options out in the command). Run folders go to bench/runs/seeds/<name>/seed<S>/ (ignored by git).
"""
import json, shlex, shutil, subprocess, sys, time
from dataclasses import asdict
from pathlib import Path

from common import RESULTS, RUNS, WEAK_CLASS, bench_parser, bench_data, rel, mean_std, mean_sd, md_table, write_result, seedling_train_cmd


def run_seed(data, out, preset, seed, extra) -> dict:
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
    from seedling_clf.recipe import train_config, parse_config_args
    trained = next((r['recipe'] for r in res['runs'] if 'recipe' in r), None)  # kept since runs record it; else the run folder's record
    rec = RUNS/'seeds'/res['name']/f"seed{res['runs'][0]['seed']}"/'run.json'
    if trained is None and rec.exists(): trained = json.loads(rec.read_text())['recipe']
    if trained is None: return {}
    today = asdict(train_config(**{k: v for k, v in parse_config_args(shlex.split(res['command'])[1:]).items() if k != 'data'}))
    return {k: (trained[k], today[k]) for k in today if k in trained and k not in ('data', 'seed', 'preset') and trained[k] != today[k]}  # a preset's name is not a setting


def summary(runs) -> dict:
    "Mean and (sample) standard deviation of each figure over the runs."
    keys = ['micro_f1', 'macro_f1', 'weak_f1', 'wall_time_s'] + [k for k in ('tta_micro_f1', 'tta_weak_f1') if all(k in r for r in runs)]
    return {k: mean_std(r[k] for r in runs) for k in keys}


def table_row(r) -> list:
    "A recipe's row of seeds.md, warning where its command no longer gives the recipe its runs trained with."
    s = r['summary']
    drift = command_drift(r)
    if drift: print(f"warning: {r['name']}.json: its command no longer gives the recipe it ran (trained, today): {drift}. "
        "Fix: write the options out in its command.", file=sys.stderr)
    pm = lambda k, d=4: mean_sd(s[k], d) if k in s else '—'
    devices = ' / '.join(dict.fromkeys(o['device'] for o in r['runs']))
    return [r['name'], f"`{r['command']}`", ','.join(str(o['seed']) for o in r['runs']), devices,
        pm('micro_f1'), pm('macro_f1'), pm('weak_f1', 3), pm('tta_micro_f1'), pm('tta_weak_f1', 3), pm('wall_time_s', 0)]


def table(out=RESULTS):
    "`out`/seeds.md from every recipe's json in `out`/seeds."
    rows = [table_row(json.loads(f.read_text())) for f in sorted((Path(out)/'seeds').glob('*.json'))]
    md = ["# Recipes over seeds", "",
        "Validation figures, mean ± standard deviation over the seeds (each a different stratified split and "
        "initialisation); wall time of the whole `seedling_train` command. Written by `bench/seeds.py`.", "",
        "With TTA: the mean over each image's flips and quarter turns, as `seedling_predict --tta` predicts (— where the run did not score it).", ""]
    md += md_table(['recipe', 'command', 'seeds', 'device', 'micro-F1', 'macro-F1', f'{WEAK_CLASS} F1', 'micro-F1 with TTA',
        f'{WEAK_CLASS} F1 with TTA', 'wall time (s)'], rows)
    write_result('seeds', md=md, out=out, quiet=True)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    extra = argv[argv.index('--')+1:] if '--' in argv else []
    p = bench_parser(__doc__)
    p.add_argument('--name', help="the recipe's name in the results")
    p.add_argument('--preset', default='fast')
    p.add_argument('--seeds', default='0,1,2')
    p.add_argument('--add', action='store_true', help="keep the recipe's earlier runs of other seeds (a seed that did not fit another day)")
    p.add_argument('--table', action='store_true', help='only write seeds.md again, from the json of every recipe')
    a = p.parse_args(argv[:argv.index('--')] if '--' in argv else argv)
    if a.table: return table(a.out)
    if not a.name: p.error('--name is required (or --table)')
    data = bench_data(a)
    if data is None: return
    seeds, earlier = [int(o) for o in a.seeds.split(',')], Path(a.out)/'seeds'/f'{a.name}.json'
    runs = [r for r in json.loads(earlier.read_text())['runs'] if r['seed'] not in seeds] if a.add and earlier.exists() else []
    command = ' '.join(['seedling_train', '--data', rel(data), '--preset', a.preset, *extra])
    for s in seeds:
        runs.append(run_seed(data, RUNS/'seeds'/a.name/f'seed{s}', a.preset, s, extra))
        print(f"{a.name} seed {s}: " + ', '.join(f"{k} {v}" for k, v in runs[-1].items() if k != 'seed'), flush=True)
        res = write_result(f'seeds/{a.name}', dict(name=a.name, command=command, runs=runs, summary=summary(runs)), out=a.out)  # after every seed: a cut run keeps its seeds
        table(a.out)
    print(json.dumps(res['summary'], indent=1))


if __name__ == '__main__': main()
