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


def test_int8_export_refuses_a_loss_and_serves_what_it_checked(workdir):
    "`seedling_export --int8` writes the int8 model only when it keeps the float model's accuracy; `seedling_predict --int8` serves it."
    user_error(tool('seedling_export', 'run', '--int8', check=False), '--onnx')
    user_error(tool('seedling_predict', '--model', 'run', '--images', 'test', '--int8', check=False), '--engine onnx')
    user_error(tool('seedling_export', 'run', '--onnx', 'run/model.onnx', '--int8', '--max_loss', 1, check=False), '32 x 32 px', '64 px')
    assert not Path('run/model.int8.onnx').exists()  # ONNX Runtime's int8 depthwise kernels refuse the 2 x 2 maps of a 32 px model
    shutil.rmtree('run')
    run('seedling_train', '--out', 'run', '--size', 64, '--bs', 16, '--epochs', 0, '--freeze_epochs', 1, '--no_lr_find')
    user_error(tool('seedling_export', 'run', '--onnx', 'run/model.onnx', '--int8', '--max_loss', -1, check=False), '--max_loss', 'Nothing int8')
    user_error(tool('seedling_predict', '--model', 'run', '--images', 'test', '--engine', 'onnx', '--int8', check=False), 'no int8 version')
    user_error(tool('seedling_export', 'run', '--onnx', 'run/model.onnx', '--int8', '--calibration', 'median', check=False), 'median', 'percentile')
    user_error(tool('seedling_export', 'run', '--onnx', 'run/model.onnx', '--int8', '--calib', 5, check=False), '--calib 12')
    res = tool('seedling_export', 'run', '--onnx', 'run/model.onnx', '--int8', '--calib', 24, '--max_loss', 1)  # a one-epoch model: any loss goes
    assert 'run/model.int8.onnx' in res.stdout and 'validation' in res.stdout, res.stdout
    assert Path('run/model.int8.onnx').stat().st_size < Path('run/model.onnx').stat().st_size / 2
    o = json.loads(Path('run/model.int8.json').read_text())['onnx']
    assert o['precision'] == 'int8' and o['quantization']['n_images'] == 24 and set(o['validation']) == {'float', 'int8'}
    assert json.loads(Path('run/model.json').read_text())['onnx']['int8'] == 'model.int8.onnx'
    tool('seedling_predict', '--model', 'run', '--images', 'test', '--engine', 'onnx', '--csv', 'float.csv')
    res = tool('seedling_predict', '--model', 'run', '--images', 'test', '--engine', 'onnx', '--int8', '--csv', 'int8.csv', '--check')
    assert 'onnx int8 model.int8.onnx' in res.stdout and 'checked int8.csv' in res.stdout, res.stdout
    f32, q = pd.read_csv('float.csv'), pd.read_csv('int8.csv')
    assert list(q.file) == list(f32.file) and set(q.species) <= set(json.loads(Path('run/model.json').read_text())['classes'])


def test_bf16_predicts_what_float32_does(workdir):
    tool('seedling_predict', '--model', 'run', '--images', 'test', '--csv', 'f32.csv', '--cpu')
    res = tool('seedling_predict', '--model', 'run', '--images', 'test', '--csv', 'bf16.csv', '--cpu', '--bf16')
    assert 'torch bf16' in res.stdout, res.stdout
    user_error(tool('seedling_predict', '--model', 'run', '--images', 'test', '--engine', 'onnx', '--bf16', check=False), '--bf16', '--int8')
    f32, low = pd.read_csv('f32.csv'), pd.read_csv('bf16.csv')
    assert list(low.file) == list(f32.file) and (low.species == f32.species).mean() >= 0.75  # bfloat16 rounding may flip a near tie
