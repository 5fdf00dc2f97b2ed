"Baselines and the backbone comparison, as a user runs them: seedling_baseline and seedling_compare on the bundled sample."
import json
import pandas as pd
from conftest import run
from seedling_clf.core import sample_path

SPECIES = sorted(p.name for p in (sample_path()/'train').iterdir() if p.is_dir())
RUN_FILES = ['model.pkl', 'metrics.json', 'history.csv', 'confusion_matrix.png']


def test_linear_baseline_writes_model_and_metrics(tmp_path):
    out = tmp_path/'linear'
    res = run('seedling_baseline', '--kind', 'linear', '--data', sample_path(), '--out', out, '--size', 32, '--epochs', 1, '--bs', 16, '--seed', 3)
    for f in RUN_FILES: assert (out/f).stat().st_size > 0, f
    m = json.loads((out/'metrics.json').read_text())
    assert sorted(m['per_class_f1']) == SPECIES
    assert (m['n_train'], m['n_valid']) == (96, 24)
    assert (m['settings']['kind'], m['settings']['size'], m['settings']['seed'], m['settings']['epochs']) == ('linear', 32, 3, 1)
    assert m['n_params'] == 3*32*32*12 + 12
    assert 0 <= m['micro_f1'] <= 1 and abs(m['micro_f1'] - m['accuracy']) < 1e-9
    assert 'linear baseline, validation: micro-F1' in res.stdout


def test_constant_baseline_ignores_the_image(tmp_path):
    "The exported constant baseline, reloaded in another process, gives every image the same probabilities."
    run('seedling_baseline', '--kind', 'constant', '--out', tmp_path, '--size', 32, '--epochs', 1, '--bs', 16, '--lr', 0.05)
    for f in RUN_FILES: assert (tmp_path/f).stat().st_size > 0, f
    m = json.loads((tmp_path/'metrics.json').read_text())
    assert m['lr'] == 0.05 and m['settings']['kind'] == 'constant'
    from fastai.learner import load_learner
    learn = load_learner(tmp_path/'model.pkl')
    files = sorted((sample_path()/'test').iterdir())[:3]
    probs = [learn.predict(f)[2] for f in files]
    for p in probs[1:]: assert (p - probs[0]).abs().max() < 1e-6


def test_bad_kind_exits_2_naming_choices(tmp_path):
    res = run('seedling_baseline', '--kind', 'knn', '--out', tmp_path/'o', check=False)
    assert res.returncode == 2, (res.returncode, res.stdout, res.stderr)
    assert res.stderr.startswith('error: ') and 'Traceback' not in res.stderr, res.stderr
    for k in ['knn', 'linear', 'constant', 'small_cnn']: assert k in res.stderr, (k, res.stderr)
    assert not (tmp_path/'o').exists()


def test_compare_writes_table_and_runs(tmp_path):
    res = run('seedling_compare', '--arch', 'small_cnn', '--arch', 'mobilenetv2_100', '--data', sample_path(), '--out', tmp_path,
              '--size', 32, '--epochs', 1, '--freeze_epochs', 0, '--bs', 16, '--no_lr_find')
    df = pd.read_csv(tmp_path/'compare.csv')
    assert df.arch.tolist() == ['small_cnn', 'mobilenetv2_100']
    for c in ['micro_f1', 'macro_f1', 'min_class_f1']: assert df[c].between(0, 1).all(), c
    assert (df.min_class_f1 <= df.macro_f1).all() and (df.wall_time_s > 0).all()
    assert df.params_m[0] < 1.5 < df.params_m[1]  # the small CNN is much smaller than mobilenetv2 with its head
    md = (tmp_path/'compare.md').read_text()
    assert '| arch |' in md and '| small_cnn | baseline |' in md and '| mobilenetv2_100 | backbone |' in md
    assert '| mobilenetv2_100 | backbone |' in res.stdout
    for a in df.arch:
        for f in RUN_FILES: assert (tmp_path/a/f).exists(), (a, f)
    assert not (tmp_path/'mobilenetv2_100'/'lr_find.png').exists()  # --no_lr_find reached train_classifier


def test_compare_bad_arch_exits_2(tmp_path):
    res = run('seedling_compare', '--arch', 'small_cnn', '--arch', 'effnet_b99', '--out', tmp_path/'o', check=False)
    assert res.returncode == 2 and res.stderr.startswith('error: '), res.stderr
    assert 'effnet_b99' in res.stderr and 'small_cnn' in res.stderr
    assert not (tmp_path/'o').exists()
