import hashlib, os, shutil, subprocess, sys
from pathlib import Path
import pytest

from seedling_clf.core import sample_path

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


def run(tool, *args, check=True, timeout=600):
    "Run a console script of this environment; return the CompletedProcess (text output)."
    env = {**os.environ, 'MPLBACKEND': 'Agg', 'PYTHONWARNINGS': 'ignore'}
    res = subprocess.run([str(BIN/tool), *map(str, args)], capture_output=True, text=True, timeout=timeout, env=env)
    if check and res.returncode != 0:
        raise AssertionError(f"{tool} {' '.join(map(str, args))} exited {res.returncode}\n{res.stdout}\n{res.stderr}")
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


@pytest.fixture(scope='session')
def trained_model(tmp_path_factory):
    "A tiny model trained once by `seedling_train` on the bundled sample (64 px, one epoch per stage)."
    out = tmp_path_factory.mktemp('run')
    res = run('seedling_train', '--out', out, '--size', 64, '--bs', 16, '--epochs', 1, '--freeze_epochs', 1)
    return out, res
