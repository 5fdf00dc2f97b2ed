"""What the benchmark scripts share: their options, where the full data is, the recipe's split, and one way to write a result.

A result is `bench/results/NAME.json` (the figures, the machine it ran on, paths relative to the repository) and
`NAME.md` (the page a reader opens), both from `write_result`, with tables from `md_table` and spreads from `mean_sd`.
A page's part from the heading `HISTORY` on is written by hand (settings tried before, caveats) and kept when the script
writes the page again. Importing this module picks matplotlib's Agg backend and silences warnings. The package's names
are imported inside the functions here, so that `tools/make_readme.py` can read results without importing torch, and a
renamed package function is one line to change.
"""
import argparse, os, statistics, sys, tempfile, warnings
from pathlib import Path

os.environ.setdefault('MPLBACKEND', 'Agg')  # figures go to files, on any machine: import this module before matplotlib
warnings.simplefilter('ignore')  # the scripts print their figures, not the libraries' warnings

REPO = Path(__file__).resolve().parents[1]
RESULTS, RUNS = REPO/'bench'/'results', REPO/'bench'/'runs'
GPU_DATA = REPO/'.gpu_data'/'plant-seedlings-150'  # the training images as JPEG, carried to a lent GPU (bench/gpu_carry.sh)
WEAK_CLASS = 'Black-grass'  # the weakest class, reported beside micro-F1
HISTORY = '## History and caveats'  # a page's hand-written part, kept by `write_result`
NO_DATA = 'full data not found (set SEEDLING_DATA): nothing to benchmark'


def full_data_path() -> Path|None:
    "The full plant-seedlings data if present: `$SEEDLING_DATA`, else `shared/data/plant-seedlings-150` in or above the current folder or this one."
    if os.environ.get('SEEDLING_DATA'): return Path(os.environ['SEEDLING_DATA'])
    for d in [Path.cwd(), *Path.cwd().parents, Path(__file__).resolve().parent, *Path(__file__).resolve().parents]:
        p = d/'shared'/'data'/'plant-seedlings-150'
        if (p/'train').is_dir(): return p
    return None


def bench_parser(doc:str, data:bool=True) -> argparse.ArgumentParser:
    "A script's parser: its docstring's first line, and the options every benchmark takes (`--data` unless `data` is false, `--out`)."
    shared = argparse.ArgumentParser(add_help=False)
    if data: shared.add_argument('--data', default=None, help='dataset root (train/<species>/, test/); default: the full data')
    shared.add_argument('--out', default=str(RESULTS), help='where the results go (default: bench/results)')
    return argparse.ArgumentParser(description=doc.split('\n')[0], parents=[shared])


def bench_data(a) -> Path|None:
    "`--data`, else the full data; `None`, said on stdout, when there is neither."
    data = Path(a.data) if a.data else full_data_path()
    if data is None: print(NO_DATA)
    return data


def recipe(preset:str='fast', **overrides):
    "The recipe `seedling_train --preset` trains (`train_config`, checked): its `valid_pct`, seed, sizes and learning rates are the benchmarks' too."
    from seedling_clf.recipe import train_config
    return train_config(preset, **overrides)


def recipe_splitter(seed:int=None, preset:str='fast'):
    "The splitter `seedling_train --seed` uses: stratified, the preset's `valid_pct`, and its seed unless `seed` is given."
    from seedling_clf.data import stratified_splitter
    cfg = recipe(preset)
    return stratified_splitter(cfg.valid_pct, cfg.seed if seed is None else seed)


def recipe_split(files, seed:int=None, preset:str='fast') -> tuple:
    "Training and validation indices of `files` as `seedling_train --seed` splits them."
    return recipe_splitter(seed, preset)(files)


def valid_files(data, seed:int=None, preset:str='fast'):
    "The labelled images of `data` that `seedling_train --seed` keeps for validation."
    from seedling_clf.evaluation import evaluation_files
    cfg = recipe(preset)
    return evaluation_files(data, cfg.valid_pct, cfg.seed if seed is None else seed)


def rel(p) -> str:
    "`p` relative to the repository (`../shared/...` for the data beside it): results carry no path of this machine."
    return Path(os.path.relpath(Path(p).resolve(), REPO)).as_posix()


def relative_paths(obj):
    "`obj` (a results dict, list, ...) with every string that is an absolute path of this machine made `rel`."
    if isinstance(obj, dict): return {k: relative_paths(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)): return [relative_paths(v) for v in obj]
    if isinstance(obj, Path): obj = str(obj.absolute())
    return rel(obj) if isinstance(obj, str) and os.path.isabs(obj) and os.path.exists(obj) else obj


def mean_std(values) -> dict:
    "Mean and sample standard deviation of `values` (0 for one value)."
    values = list(values)
    return dict(mean=statistics.mean(values), std=statistics.stdev(values) if len(values) > 1 else 0.)


def mean_sd(x, d:int=4) -> str:
    "'mean ± sd' with `d` decimals, of a `mean_std` dict or of a list of values (one value: its mean alone)."
    if isinstance(x, dict): return f"{x['mean']:.{d}f} ± {x['std']:.{d}f}"
    x = list(x)
    return f"{statistics.mean(x):.{d}f}" if len(x) == 1 else mean_sd(mean_std(x), d)


def md_table(header:list, rows:list, align:str='---') -> list:
    "A Markdown table's lines: `header`, then one line per row (`None` shown empty); `align` is each column's rule (`---:` right)."
    cell = lambda v: '' if v is None else str(v)
    return ['| ' + ' | '.join(map(str, header)) + ' |', '|' + f'{align}|' * len(header)] + ['| ' + ' | '.join(map(cell, r)) + ' |' for r in rows]


def history(md:Path) -> str:
    "The hand-written part of the page `md` (from the `HISTORY` heading on), or ''."
    text = md.read_text() if md.exists() else ''
    i = text.find('\n' + HISTORY)
    return text[i:] if i >= 0 else ''


def write_result(name:str, res:dict=None, md=None, out=RESULTS, quiet:bool=False) -> dict:
    """Write `out/NAME.json` (`res`, with the machine it ran on from `run_info` where `res` does not say, and paths made
    relative) and `out/NAME.md` (`md`: lines, text, or a function of the written result), keeping the page's `HISTORY`."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if res is not None:
        from seedling_clf.core import run_info, save_json
        res = relative_paths({**res, **{k: v for k, v in run_info().items() if k not in res}})
        save_json(res, out/f'{name}.json')
    if md is None: return res
    md = md(res) if callable(md) else md
    text = (md if isinstance(md, str) else '\n'.join(md)).rstrip('\n') + '\n'
    page = out/f'{name}.md'
    page.write_text(text + history(page))
    if not quiet: print(text)
    return res


def second_of_two(f) -> float:
    "Seconds of the second of two calls of `f` (the GPU synchronised): a steady state, without the first call's start-up (workers, cuDNN plans, new batch shapes)."
    import time, torch
    sync = torch.cuda.synchronize if torch.cuda.is_available() else (lambda: None)
    f()
    sync()
    t = time.perf_counter()
    f()
    sync()
    return time.perf_counter() - t


def seedling_train_cmd() -> list:
    "`seedling_train` as a user runs it: the console script beside this Python (a venv's bin), else one written as pip writes it (where the package is only on `PYTHONPATH`, as on a lent GPU)."
    exe = Path(sys.executable).with_name('seedling_train')
    if exe.exists(): return [str(exe)]
    script = Path(tempfile.gettempdir())/f'seedling_train_cli_{os.getpid()}.py'  # `python -c` would hide the arguments from call_parse; one per process, as benchmarks run side by side
    script.write_text("import sys\nfrom seedling_clf.cli import seedling_train\nsys.exit(seedling_train())\n")
    return [sys.executable, str(script)]
