import atexit, hashlib, json, os, shutil, subprocess, sys, tempfile
from pathlib import Path
import pytest
from filelock import FileLock

from fastcore.xtras import set_num_threads
from seedling_clf.core import sample_path, cpu_cores
from zygote import Zygote

BIN = Path(sys.executable).parent


@pytest.fixture(autouse=True)
def same_working_directory():
    "A test that changes the working directory and leaves it changed fails, and the directory is put back: later tests (the docs preview's relative `$SEEDLING_DOCS_PREVIEW`) resolve paths from it."
    before = os.getcwd()
    yield
    after = os.getcwd()
    if after != before:
        os.chdir(before)
        pytest.fail(f"the test left the working directory at {after}; use monkeypatch.chdir")


def pytest_configure(config):
    """Parallel workers share the cores: with pytest-xdist's 2 workers on 2 cores, torch's default of a thread per core
    put 4 busy threads on 2 cores: beside other busy processes, the tiny training's epoch took 15 s with 2 threads and
    6 s with 1 (measured one after the other).
    fastcore's `set_num_threads` sets torch's and the environment's (which the commands started here inherit)."""
    workers = int(os.environ.get('PYTEST_XDIST_WORKER_COUNT', 1))
    if workers > 1: set_num_threads(max(1, cpu_cores() // workers))


ENV = {'MPLBACKEND': 'Agg', 'PYTHONWARNINGS': 'ignore'}  # the commands' environment, on top of this process's
_zygote = None


def zygote():
    "This worker's `Zygote` (started on first use, closed at exit): it imports the console scripts once."
    global _zygote
    if _zygote is None:
        _zygote = Zygote({**os.environ, **ENV})
        atexit.register(_zygote.close)
    return _zygote


def run(tool, *args, check=True, timeout=600, cwd=None, env=None, fresh=False):
    """Run a console script of this environment from `cwd` (default: the current directory) with `env` added to the
    environment; return the `CompletedProcess` (text output). It runs in a process of its own, forked from this worker's
    zygote, or, with `fresh`, started from the script on disk (`.venv/bin/...`) as the shell does."""
    args, cwd, env = list(map(str, args)), cwd or os.getcwd(), {**os.environ, **ENV, **(env or {})}
    if fresh: res = subprocess.run([str(BIN/tool), *args], capture_output=True, text=True, timeout=timeout, env=env, cwd=cwd)
    else:
        with tempfile.TemporaryDirectory() as tmp: res = zygote().run([tool, *args], cwd, env, timeout, tmp)
    if check and res.returncode != 0:
        raise AssertionError(f"{tool} {' '.join(args)} exited {res.returncode}\n{res.stdout}\n{res.stderr}")
    return res


def tree_state(folder):
    "Every file under `folder` with the MD5 of its bytes: compare before and after to prove nothing changed."
    folder = Path(folder)
    return {p.relative_to(folder).as_posix(): hashlib.md5(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob('*')) if p.is_file()}


@pytest.fixture
def sample_copy(tmp_path):
    "A private copy of the bundled sample (train/ and test/)."
    dst = tmp_path/'data'
    shutil.copytree(sample_path()/'train', dst/'train')
    shutil.copytree(sample_path()/'test', dst/'test')
    return dst


def untrained_formats(d:Path) -> Path:
    "`d` with one untrained 32 px model in the formats `seedling_train` writes: model.pkl and the safe pair (model.safetensors + model.json)."
    from seedling_clf.data import seedling_dls
    from seedling_clf.models import seedling_learner
    from seedling_clf.model_file import save_safe
    learn = seedling_learner(seedling_dls(size=32, bs=16))
    learn.export(d/'model.pkl')
    save_safe(learn, d)
    return d


def shared_run(tmp_path_factory, name, *args):
    """`seedling_train --out <folder> *args`, run once for the whole test session: the pytest-xdist workers share the
    folder (the first to ask trains it under a file lock, the others wait and reuse it). Tests read it, never write
    to it. Returns the folder and the command's `CompletedProcess`."""
    root = tmp_path_factory.getbasetemp().parent  # every worker's base folder sits in this one
    out, log = root/name, root/f'{name}.json'
    with FileLock(root/f'{name}.lock'):
        if not log.exists():
            res = run('seedling_train', '--out', out, *args)
            log.write_text(json.dumps(dict(args=res.args, returncode=res.returncode, stdout=res.stdout, stderr=res.stderr)))
    return out, subprocess.CompletedProcess(**json.loads(log.read_text()))


@pytest.fixture(scope='session')
def trained_model(tmp_path_factory):
    "A tiny model trained once by `seedling_train` on the bundled sample (64 px, one epoch per stage)."
    return shared_run(tmp_path_factory, 'trained_model', '--size', 64, '--bs', 16, '--epochs', 1, '--freeze_epochs', 1)
