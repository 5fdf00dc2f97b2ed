"The safe model format, ONNX export and the ONNX engine, as a user runs them: console scripts from a temporary working directory."
import json, os, shutil, subprocess, sys
from pathlib import Path
import pandas as pd
import pytest

pytestmark = pytest.mark.xdist_group('serve_cli')  # its tests share module-scoped runs: keep them on one pytest-xdist worker
from conftest import BIN, run
from seedling_clf.core import sample_path


def tool(name, *args, check=True):
    "Run a console script; before it is registered (pip install -e .), run its function the same way."
    if (BIN/name).exists(): return run(name, *args, check=check)
    module = dict(seedling_export='seedling_clf.serve', seedling_eval='seedling_clf.evaluation').get(name, 'seedling_clf.cli')
    code = (f"from fastcore.script import anno_parser; from {module} import {name} as f; f = f.__wrapped__; "
            f"a = vars(anno_parser(f, prog={name!r}).parse_args()); a.pop('pdb'); a.pop('xtra'); f(**a)")
    res = subprocess.run([sys.executable, '-c', code, *map(str, args)], capture_output=True, text=True, timeout=600,
                         env={**os.environ, 'MPLBACKEND': 'Agg', 'PYTHONWARNINGS': 'ignore'})
    if check and res.returncode: raise AssertionError(f"{name} {args} exited {res.returncode}\n{res.stdout}\n{res.stderr}")
    return res


def user_error(res, *words):
    "The run failed as bad input should: exit status 2, one `error:` line naming `words`, no traceback."
    assert res.returncode == 2, (res.returncode, res.stdout, res.stderr)
    assert res.stderr.startswith('error: ') and 'Traceback' not in res.stderr, res.stderr
    for w in words: assert w in res.stderr, (w, res.stderr)


@pytest.fixture(scope='module')
def serve_run(tmp_path_factory):
    "A tiny run of `seedling_train` on the bundled sample (32 px, one head epoch, no lr_find): cheap on a busy CPU."
    out = tmp_path_factory.mktemp('serve_run')
    run('seedling_train', '--out', out, '--size', 32, '--bs', 16, '--epochs', 0, '--freeze_epochs', 1, '--no_lr_find')
    return out


@pytest.fixture
def workdir(serve_run, tmp_path, monkeypatch):
    "A temporary working directory holding `run/` (a copy of the trained run) and `test/` (the sample's test images)."
    shutil.copytree(serve_run, tmp_path/'run')
    shutil.copytree(sample_path()/'test', tmp_path/'test')
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize('name', ['seedling_predict', 'seedling_eval', 'seedling_export'])
def test_help_says_pickles_run_code(name):
    out = ' '.join(tool(name, '--help').stdout.split())
    assert 'model.pkl (a pickle: loading one runs code' in out, out


def test_training_writes_the_safe_pair(serve_run):
    out = serve_run
    meta = json.loads((out/'model.json').read_text())
    assert (out/'model.safetensors').stat().st_size > 1e6
    assert meta['arch'] == 'tf_efficientnet_lite0' and meta['format_version'] >= 1
    assert meta['classes'] == sorted(p.name for p in (sample_path()/'train').iterdir() if p.is_dir())
    prep = meta['preprocessing']
    assert prep['size'] == [32, 32] and prep['resize_method'] == 'squish' and len(prep['mean']) == 3
    assert {'torch', 'timm', 'fastai', 'safetensors'} <= set(meta['versions'])


def test_run_folder_loads_the_safe_pair_without_unpickling(workdir):
    "A run folder with both formats: the safe pair is used, and a booby-trapped model.pkl next to it never runs."
    shutil.copy(Path('run')/'model.pkl', 'real.pkl')
    tool('seedling_predict', '--model', 'real.pkl', '--images', 'test', '--csv', 'pickle.csv')
    trap = ("import pickle, os\nclass Boom:\n    def __reduce__(self): return (os.mkdir, ('unpickled',))\n"
            "open('run/model.pkl', 'wb').write(pickle.dumps(Boom()))")
    subprocess.run([sys.executable, '-c', trap], check=True)
    res = tool('seedling_predict', '--model', 'run', '--images', 'test', '--csv', 'safe.csv', '--check', '--cpu')
    assert not Path('unpickled').exists(), "the run folder's model.pkl was unpickled"
    assert 'checked safe.csv' in res.stdout
    assert pd.read_csv('safe.csv').equals(pd.read_csv('pickle.csv'))
    tool('seedling_predict', '--model', 'run/model.json', '--images', 'test', '--csv', 'json.csv')
    assert pd.read_csv('json.csv').equals(pd.read_csv('pickle.csv'))
    res = tool('seedling_eval', '--model', 'run', '--out', 'eval', '--cpu')
    assert json.loads(Path('eval/eval.json').read_text())['models'] == [str(Path('run')/'model.json')]
    assert not Path('unpickled').exists()


def test_export_onnx_and_predict_with_onnx_runtime(workdir):
    res = tool('seedling_predict', '--model', 'run', '--images', 'test', '--engine', 'onnx', check=False)
    user_error(res, 'run/model.onnx', 'seedling_export')
    res = tool('seedling_export', 'run', '--onnx', 'run/model.onnx')
    assert 'opset' in res.stdout and Path('run/model.onnx').stat().st_size > 1e6
    meta = json.loads(Path('run/model.json').read_text())
    assert meta['onnx']['opset'] >= 17 and meta['onnx']['batch_axis'] == 'dynamic'
    tool('seedling_predict', '--model', 'run', '--images', 'test', '--csv', 'torch.csv')
    res = tool('seedling_predict', '--model', 'run', '--images', 'test', '--engine', 'onnx', '--csv', 'onnx.csv', '--check', '--bs', 5)
    assert 'onnx' in res.stdout and 'checked onnx.csv' in res.stdout
    assert pd.read_csv('onnx.csv').equals(pd.read_csv('torch.csv'))
    res = tool('seedling_predict', '--model', 'run/model.onnx', '--images', 'test', '--engine', 'onnx', '--tta', '--n_tta', 4, '--csv', 'tta.csv')
    assert 'TTA x4' in res.stdout and len(pd.read_csv('tta.csv')) == 12
    user_error(tool('seedling_predict', '--model', 'run', '--model', 'run', '--images', 'test', '--engine', 'onnx', check=False), 'one --model')


def test_broken_safe_pair_is_a_clear_error(workdir):
    meta = json.loads(Path('run/model.json').read_text())
    Path('run/model.json').write_text(json.dumps({**meta, 'arch': 'resnet18'}))
    user_error(tool('seedling_predict', '--model', 'run', '--images', 'test', check=False), 'run/model.safetensors', 'resnet18')
    del meta['classes']; Path('run/model.json').write_text(json.dumps(meta))
    user_error(tool('seedling_eval', '--model', 'run/model.json', check=False), 'run/model.json', 'class names')
    user_error(tool('seedling_export', 'run', '--onnx', 'x.onnx', check=False), 'run/model.json')
