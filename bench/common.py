"What the benchmark scripts share: where the full data is (the library itself knows only the bundled sample), paths relative to the repository, the training command, a steady-state timer."
import os, sys, tempfile
from pathlib import Path

def full_data_path() -> Path|None:
    "The full plant-seedlings data if present: `$SEEDLING_DATA`, else `shared/data/plant-seedlings-150` in or above the current folder or this one."
    if os.environ.get('SEEDLING_DATA'): return Path(os.environ['SEEDLING_DATA'])
    for d in [Path.cwd(), *Path.cwd().parents, Path(__file__).resolve().parent, *Path(__file__).resolve().parents]:
        p = d/'shared'/'data'/'plant-seedlings-150'
        if (p/'train').is_dir(): return p
    return None

REPO = Path(__file__).resolve().parents[1]


def rel(p) -> str:
    "`p` relative to the repository (`../shared/...` for the data beside it): results carry no path of this machine."
    return Path(os.path.relpath(Path(p).resolve(), REPO)).as_posix()


def relative_paths(obj):
    "`obj` (a results dict, list, ...) with every string that is an absolute path of this machine made `rel`."
    if isinstance(obj, dict): return {k: relative_paths(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)): return [relative_paths(v) for v in obj]
    return rel(obj) if isinstance(obj, str) and os.path.isabs(obj) and os.path.exists(obj) else obj


def second_of_two(f) -> float:
    "Seconds of the second of two calls of `f` (the GPU synchronised): a steady state, without the first call's start-up (workers, cuDNN plans, new batch shapes)."
    import time, torch
    sync = torch.cuda.synchronize if torch.cuda.is_available() else (lambda: None)
    f(); sync(); t = time.perf_counter(); f(); sync()
    return time.perf_counter() - t


def seedling_train_cmd() -> list:
    "`seedling_train` as a user runs it: the console script beside this Python (a venv's bin), else one written as pip writes it (where the package is only on `PYTHONPATH`, as on a lent GPU)."
    exe = Path(sys.executable).with_name('seedling_train')
    if exe.exists(): return [str(exe)]
    script = Path(tempfile.gettempdir())/f'seedling_train_cli_{os.getpid()}.py'  # `python -c` would hide the arguments from call_parse; one per process, as benchmarks run side by side
    script.write_text("import sys\nfrom seedling_clf.cli import seedling_train\nsys.exit(seedling_train())\n")
    return [sys.executable, str(script)]
