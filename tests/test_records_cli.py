"Run records, `seedling_runs`, `--deterministic` and `--mlflow`, run as a user runs them: from a temporary working directory with relative paths (bundled sample, 32 px, one epoch)."
import hashlib, importlib.util, json, os, shutil
from pathlib import Path
import pandas as pd
import pytest

pytestmark = pytest.mark.xdist_group('records_cli')  # its tests share module-scoped runs: keep them on one pytest-xdist worker
from PIL import Image
from conftest import run
from seedling_clf.core import sample_path
from test_cli import _expect_error

TINY = ['--size', 32, '--bs', 16, '--epochs', 1, '--freeze_epochs', 0, '--no_lr_find']
HAS_MLFLOW = importlib.util.find_spec('mlflow') is not None  # the dev extra installs it
MLFLOW_URI = 'sqlite:///mlflow.db'


def record(run_dir): return json.loads((Path(run_dir)/'run.json').read_text())


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
    "The same seedling_train command three times in one working directory: a plain, b and c with --deterministic (c also --mlflow)."
    work, before = tmp_path_factory.mktemp('work'), os.getcwd()
    os.chdir(work)
    try:
        run('seedling_train', '--out', 'runs/a', *TINY)
        run('seedling_train', '--out', 'runs/b', *TINY, '--deterministic')
        run('seedling_train', '--out', 'runs/c', *TINY, '--deterministic', *(['--mlflow', MLFLOW_URI] if HAS_MLFLOW else []))
        yield work
    finally: os.chdir(before)


def test_same_seed_same_split_and_metrics(runs):
    a, b, c = (record(f'runs/{n}') for n in 'abc')
    assert a['split']['sha256'] == b['split']['sha256'] == c['split']['sha256']
    assert a['data']['sha256'] == b['data']['sha256'] and a['data']['n_images'] == len(pd.read_csv('runs/a/data_manifest.csv'))
    for k in ['micro_f1', 'macro_f1', 'accuracy']:
        assert abs(a['metrics'][k] - b['metrics'][k]) <= 0.005, (k, a['metrics'][k], b['metrics'][k])
        assert b['metrics'][k] == c['metrics'][k], k  # --deterministic: identical
    assert pd.read_csv('runs/b/history.csv').valid_loss.tolist() == pd.read_csv('runs/c/history.csv').valid_loss.tolist()
    # the record holds the resolved recipe, the command line and the model files' hashes
    assert {'arch', 'lr', 'lr_mult', 'schedule', 'mix', 'balance', 'monitor', 'seed', 'valid_pct'} <= set(a['recipe'])
    assert a['recipe']['deterministic'] is False and b['recipe']['deterministic'] is True
    assert a['command'][1:3] == ['--out', 'runs/a']
    assert a['models']['model.pkl'] == hashlib.sha256(Path('runs/a/model.pkl').read_bytes()).hexdigest()
    assert {'model.pkl', 'model.safetensors'} <= set(a['models'])  # (models/best.pth too, with --monitor)
    assert a['code']['git'] is None or len(a['code']['git']['commit']) == 40
    assert a['environment']['device'] and a['environment']['packages']['torch']


def test_seedling_runs_table_and_compare(runs):
    out = run('seedling_runs', 'runs', '--sort', 'micro_f1').stdout.splitlines()
    assert out[0].split()[:4] == ['run', 'date', 'preset', 'arch'], out[0]
    assert sorted(l.split()[0] for l in out[1:]) == ['a', 'b', 'c'], out  # relative to the folder listed
    assert all(record('runs/a')['data']['sha256'][:8] in l for l in out[1:])
    diff = run('seedling_runs', '--compare', 'runs/a', 'runs/b').stdout
    assert 'recipe.deterministic' in diff and '--deterministic' in diff, diff
    assert ' data ' not in diff and ' split ' not in diff, diff  # same images, same split
    _expect_error('seedling_runs', 'runs', '--sort', 'f1', names=['--sort', 'micro_f1'])
    _expect_error('seedling_runs', 'nowhere', names=['nowhere', 'does not exist'])


def test_record_round_trips_into_the_report(runs):
    run('seedling_report', 'runs/b', '--no_eval')
    page, rec = Path('runs/b/report.html').read_text(), record('runs/b')
    for v in [rec['data']['sha256'], rec['split']['sha256'], rec['models']['model.pkl'], rec['start'], rec['environment']['device']]:
        assert v in page, v
    assert 'seedling_train --out runs/b' in page and '--deterministic' in page


@pytest.mark.skipif(not HAS_MLFLOW, reason='the mlflow extra is not installed')
def test_mlflow_tracking_store(runs):
    import mlflow
    client = mlflow.MlflowClient(tracking_uri=MLFLOW_URI)
    (r,) = client.search_runs([client.get_experiment_by_name('seedling_clf').experiment_id])
    rec, hist = record('runs/c'), pd.read_csv('runs/c/history.csv')
    assert r.info.status == 'FINISHED'
    assert (r.data.params['arch'], r.data.params['seed'], r.data.params['deterministic']) == (rec['recipe']['arch'], '42', 'True')
    assert r.data.metrics['valid_loss'] == pytest.approx(hist.valid_loss.iloc[-1])
    assert r.data.metrics['final_micro_f1'] == pytest.approx(rec['metrics']['micro_f1'])
    assert r.data.tags['data_sha256'] == rec['data']['sha256']
    arts = {a.path for a in client.list_artifacts(r.info.run_id)}
    assert {'run.json', 'data_manifest.csv', 'metrics.json', 'history.csv', 'losses.png', 'confusion_matrix.png', 'model'} <= arts, arts
    assert {a.path for a in client.list_artifacts(r.info.run_id, 'model')} == {'model/model.pkl', 'model/model.safetensors'}


def test_mlflow_missing_is_a_clear_error(tmp_path, monkeypatch):
    "Without the extra: a stand-in `mlflow` package that fails to import, first on the path."
    monkeypatch.chdir(tmp_path)
    (tmp_path/'shim'/'mlflow').mkdir(parents=True)
    (tmp_path/'shim'/'mlflow'/'__init__.py').write_text("raise ModuleNotFoundError(\"No module named 'mlflow'\")\n")
    monkeypatch.setenv('PYTHONPATH', os.pathsep.join([str(tmp_path/'shim'), os.environ.get('PYTHONPATH', '')]))
    _expect_error('seedling_train', '--out', 'runs/x', *TINY, '--mlflow', MLFLOW_URI, names=['--mlflow', 'pip install', 'seedling_clf[mlflow]'],
                  fresh=True)  # a new interpreter, so that PYTHONPATH's stand-in is what `import mlflow` finds
    assert not Path('runs/x/model.pkl').exists()


def test_changed_image_changes_data_hash_and_predict_checks_model(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shutil.copytree(sample_path()/'train', 'data/train'); shutil.copytree(sample_path()/'test', 'data/test')
    base = ['--data', 'data', '--kind', 'linear', '--size', 32, '--epochs', 1]
    run('seedling_baseline', '--out', 'runs/before', *base)
    changed = sorted(Path('data/train').rglob('*.png'))[0]
    im = Image.open(changed).convert('RGB'); im.putpixel((0, 0), tuple(255 - v for v in im.getpixel((0, 0)))); im.save(changed)
    run('seedling_baseline', '--out', 'runs/after', *base)
    before, after = record('runs/before'), record('runs/after')
    assert before['data']['sha256'] != after['data']['sha256'] and before['split']['sha256'] == after['split']['sha256']
    diff = run('seedling_runs', '--compare', 'runs/before', 'runs/after').stdout
    assert f"image {changed.relative_to('data/train').as_posix()}" in diff, diff
    # a model file that is not the one its run recorded is refused; the recorded one loads
    run('seedling_predict', '--model', 'runs/before/model.pkl', '--images', 'data/test', '--csv', 'sub.csv')
    shutil.copy('runs/before/model.pkl', 'runs/after/model.pkl')
    _expect_error('seedling_predict', '--model', 'runs/after/model.pkl', '--images', 'data/test',
                  names=['runs/after/model.pkl', 'run.json', 'does not match', 'retrain'])


def test_final_retrain_writes_a_record(runs):
    run('seedling_train_final', 'runs/a', '--out', 'runs/a_final')
    a, final = record('runs/a'), record('runs/a_final')
    assert final['recipe']['train_on_all'] is True
    assert json.loads(Path('runs/a_final/metrics.json').read_text())['validated']['run'] == 'runs/a'
    assert final['data']['sha256'] == a['data']['sha256']  # the same images, all of them in training
    assert (final['split']['n_train'], final['split']['n_valid']) == (a['data']['n_images'], 0)
    assert final['models']['model.pkl'] == hashlib.sha256(Path('runs/a_final/model.pkl').read_bytes()).hexdigest()
