"The command-line tools, run as a user runs them: end to end on the bundled sample, and on bad input."
import json, shutil
from pathlib import Path
import pandas as pd
import pytest
from conftest import run, tree_state
from seedling_clf.core import sample_path

SPECIES = sorted(p.name for p in (sample_path()/'train').iterdir() if p.is_dir())


@pytest.mark.parametrize('tool,opts', [('seedling_train', ['--data', '--out', '--arch', '--size', '--epochs', '--bs', '--seed']),
                                       ('seedling_predict', ['--model', '--images', '--csv']),
                                       ('seedling_audit', ['--data', '--out'])])
def test_help(tool, opts):
    out = run(tool, '--help', fresh=True).stdout  # the script on disk, started as the shell starts it
    for o in opts: assert o in out, (tool, o)


def test_train_writes_model_metrics_and_plots(trained_model):
    out, res = trained_model
    for f in ['model.pkl', 'metrics.json', 'lr_find.png', 'confusion_matrix.png', 'history.csv', 'losses.png']:
        assert (out/f).stat().st_size > 0, f
    m = json.loads((out/'metrics.json').read_text())
    for k in ['accuracy', 'micro_f1', 'macro_f1', 'wall_time_s']: assert 0 <= m[k] <= (1 if k != 'wall_time_s' else 1e6)
    assert sorted(m['per_class_f1']) == SPECIES
    assert m['settings']['data'] == str(sample_path()/'train')  # no --data: the bundled sample
    assert m['n_train'] == 96 and m['n_valid'] == 24
    assert 'validation: micro-F1' in res.stdout
    assert m['tta']['n_tta'] == 8 and sorted(m['tta']['per_class_f1']) == SPECIES  # the figures seedling_predict --tta gives
    assert f"with TTA x8 (seedling_predict --tta): micro-F1 {m['tta']['micro_f1']:.4f}" in res.stdout
    assert '100.00%' in res.stdout + res.stderr or 'epoch' in res.stdout  # fastprogress reported the epochs


def test_predict_writes_submission_without_training_data(trained_model, tmp_path):
    out, _ = trained_model
    model = tmp_path/'elsewhere'/'model.pkl'; model.parent.mkdir()
    shutil.copy(out/'model.pkl', model)
    images = tmp_path/'test'; shutil.copytree(sample_path()/'test', images)
    before = tree_state(images)
    csv = tmp_path/'sub.csv'
    run('seedling_predict', '--model', model, '--images', images, '--csv', csv)
    sub = pd.read_csv(csv)
    assert list(sub.columns) == ['file', 'species']
    assert sorted(sub.file) == sorted(p.name for p in images.iterdir())
    assert set(sub.species) <= set(SPECIES)
    assert csv.read_text().splitlines()[0] == 'file,species'
    assert tree_state(images) == before


def test_train_on_given_data_with_non_image_files(sample_copy, tmp_path):
    (sample_copy/'train'/'Maize'/'notes.txt').write_text('greenhouse 2')
    before = tree_state(sample_copy)
    res = run('seedling_train', '--data', sample_copy, '--out', tmp_path/'run', '--size', 32, '--bs', 16,
              '--epochs', 0, '--freeze_epochs', 1, '--no_lr_find')
    assert 'notes.txt' in res.stderr and 'not images' in res.stderr
    assert (tmp_path/'run'/'model.pkl').exists()
    assert tree_state(sample_copy) == before


def _expect_error(tool, *args, names, **kwargs):
    res = run(tool, *args, check=False, **kwargs)
    assert res.returncode == 2, (res.returncode, res.stdout, res.stderr)
    assert 'Traceback' not in res.stderr, res.stderr
    assert res.stderr.startswith('error: '), res.stderr
    for n in names: assert str(n) in res.stderr, (n, res.stderr)
    return res.stderr


def test_train_bad_data_folders(tmp_path, sample_copy):
    _expect_error('seedling_train', '--data', tmp_path/'missing', '--out', tmp_path/'o', names=['missing', 'does not exist'])
    (tmp_path/'empty').mkdir()
    _expect_error('seedling_train', '--data', tmp_path/'empty', '--out', tmp_path/'o', names=['empty', 'No images'])
    one = tmp_path/'one'/'train'; shutil.copytree(sample_copy/'train'/'Maize', one/'Maize')
    _expect_error('seedling_train', '--data', tmp_path/'one', '--out', tmp_path/'o', names=['Only one class', 'Maize'])
    assert not (tmp_path/'o'/'model.pkl').exists()


@pytest.mark.parametrize('kind', ['zero-byte', 'truncated', 'not-an-image'])
def test_train_bad_image_is_named_and_kept(sample_copy, tmp_path, kind):
    bad = sample_copy/'train'/'Charlock'/'bad.png'
    good = next((sample_copy/'train'/'Charlock').glob('*.png')).read_bytes()
    bad.write_bytes({'zero-byte': b'', 'truncated': good[:len(good)//3], 'not-an-image': b'hello, not a PNG'}[kind])
    before = tree_state(sample_copy)
    err = _expect_error('seedling_train', '--data', sample_copy, '--out', tmp_path/'o', names=[bad, '--skip_bad'])
    assert tree_state(sample_copy) == before
    res = run('seedling_train', '--data', sample_copy, '--out', tmp_path/'o', '--size', 32, '--bs', 16,
              '--epochs', 0, '--freeze_epochs', 1, '--no_lr_find', '--skip_bad')
    assert 'bad.png' in res.stderr and (tmp_path/'o'/'model.pkl').exists()
    assert tree_state(sample_copy) == before


def test_predict_bad_input(trained_model, tmp_path):
    out, _ = trained_model
    (tmp_path/'empty').mkdir()
    _expect_error('seedling_predict', '--model', out/'model.pkl', '--images', tmp_path/'empty', '--csv', tmp_path/'s.csv',
                  names=['No images', 'empty'])
    _expect_error('seedling_predict', '--model', out/'model.pkl', '--images', tmp_path/'nope', '--csv', tmp_path/'s.csv',
                  names=['nope', 'does not exist'])
    fake = tmp_path/'model.pkl'; fake.write_text('not a model')
    _expect_error('seedling_predict', '--model', fake, '--images', sample_path()/'test', '--csv', tmp_path/'s.csv',
                  names=[fake, 'not an exported model'])
    assert fake.read_text() == 'not a model'
    images = tmp_path/'imgs'; shutil.copytree(sample_path()/'test', images)
    (images/'broken.png').write_bytes(b'')
    _expect_error('seedling_predict', '--model', out/'model.pkl', '--images', images, '--csv', tmp_path/'s.csv',
                  names=[images/'broken.png'])
    assert not (tmp_path/'s.csv').exists()


def test_audit_cli(tmp_path):
    res = run('seedling_audit', '--out', tmp_path)
    assert '120 images in 12 classes' in res.stdout and 'duplicates: 1' in res.stdout
    assert json.loads((tmp_path/'audit.json').read_text())['class_counts']['Maize'] == 10


def test_relative_data_is_found_by_the_report_from_another_folder(sample_copy, tmp_path, monkeypatch):
    "Trained from one folder with a relative --data and --out (spaces, accents), reported from another: the run names its data absolutely."
    work, elsewhere = tmp_path/'my work é', tmp_path/'elsewhere'
    work.mkdir(); elsewhere.mkdir(); shutil.move(sample_copy, work/'my data é')
    monkeypatch.chdir(work)
    run('seedling_train', '--data', 'my data é', '--out', 'runs/r é', '--size', 32, '--bs', 16, '--epochs', 0, '--freeze_epochs', 1, '--no_lr_find')
    data = json.loads(Path('runs/r é/metrics.json').read_text())['settings']['data']
    assert Path(data).is_absolute() and Path(data).resolve() == (work/'my data é'/'train').resolve(), data
    monkeypatch.chdir(elsewhere)
    res = run('seedling_report', '../my work é/runs/r é')
    page = (work/'runs'/'r é'/'report.html').read_text()
    assert '>Top losses</h2>' in page and '>Per-class scores</h2>' in page, res.stdout  # evaluated on the recorded data
