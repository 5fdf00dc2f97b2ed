"`seedling_explain` as a user runs it: from a temporary working directory with relative paths, its bad inputs, and the safe pair against the pickle."
import shutil
from pathlib import Path
import numpy as np
import pandas as pd
import pytest

pytestmark = pytest.mark.xdist_group('explain_cli')  # its tests share the module-scoped folder: keep them on one worker
from conftest import run, tree_state
from seedling_clf.core import sample_path

COLUMNS = ['file', 'predicted', 'prob', 'runner_up', 'runner_up_prob', 'explained', 'heatmap']


@pytest.fixture
def workdir(trained_model, tmp_path, monkeypatch):
    "A temporary working directory with `run/` (a copy of the tiny trained run) and `images/` (the sample's test images, 4 in a sub-folder)."
    shutil.copytree(trained_model[0], tmp_path/'run')
    files = sorted((sample_path()/'test').glob('*.png'))
    (tmp_path/'images'/'nested'/'deeper').mkdir(parents=True)
    for i, f in enumerate(files): shutil.copy(f, tmp_path/'images'/('nested/deeper' if i < 4 else '')/f.name)
    (tmp_path/'empty').mkdir()
    monkeypatch.chdir(tmp_path)
    return tmp_path


def user_error(res, *words):
    "Bad input as it should fail: exit status 2 and exactly one line on stderr, `error: ...` naming `words`; nothing on stdout."
    assert res.returncode == 2, (res.returncode, res.stdout, res.stderr)
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('error: '), res.stderr
    for w in words: assert w in lines[0], (w, lines[0])
    assert not res.stdout.strip(), res.stdout


def test_explain_with_relative_paths(workdir):
    before = tree_state(workdir)
    res = run('seedling_explain', '--model', 'run', '--images', 'images', '--out', 'out', '--bs', 5)
    assert 'wrote 12 heatmaps and out/explain.csv' in res.stdout, res.stdout
    df = pd.read_csv('out/explain.csv')
    assert list(df.columns) == COLUMNS and len(df) == 12
    assert sum(f.startswith('nested/deeper/') for f in df.file) == 4
    assert (df.explained == df.predicted).all() and (df.prob >= df.runner_up_prob).all()
    assert all(Path('out', p).is_file() and p == f.replace('.png', '_gradcam.png') for f, p in zip(df.file, df.heatmap))
    assert sorted(p.relative_to('out').as_posix() for p in Path('out').rglob('*.png')) == sorted(df.heatmap)
    assert {k: v for k, v in tree_state(workdir).items() if not k.startswith('out/')} == before


def test_target_explains_that_species(workdir):
    run('seedling_explain', '--model', 'run/model.json', '--images', 'images/nested', '--out', 'charlock', '--target', 'Charlock', '--cpu')
    df = pd.read_csv('charlock/explain.csv')
    assert len(df) == 4 and (df.explained == 'Charlock').all()


@pytest.mark.parametrize('args,words', [
    (['--model', 'no_such_run', '--images', 'images', '--out', 'out'], ['no_such_run', 'does not exist']),
    (['--model', 'run', '--images', 'empty', '--out', 'out'], ['No images', 'empty']),
    (['--model', 'run', '--images', 'images', '--out', 'out', '--target', 'Dandelion'], ["'Dandelion'", 'Black-grass, Charlock', 'Fix:']),
    (['--model', 'run', '--images', 'images', '--out', 'images/heatmaps'], ['inside --images']),
    (['--images', 'images', '--out', 'out'], ['--model']),
], ids=['missing_model', 'empty_folder', 'unknown_target', 'out_inside_images', 'no_model'])
def test_bad_input(workdir, args, words):
    before = tree_state(workdir)
    res = run('seedling_explain', *args, check=False)
    user_error(res, *words)
    assert tree_state(workdir) == before, 'a failed run changed or wrote files'
    assert not Path(args[args.index('--out') + 1]).exists(), 'a failed run made its output folder'


def test_safe_pair_and_pickle_give_the_same_heatmaps(trained_model):
    from seedling_clf.explain import explain
    files = sorted((sample_path()/'test').glob('*.png'))
    safe, pickled = explain(trained_model[0], files, cpu=True), explain(trained_model[0]/'model.pkl', files, cpu=True)
    assert [e.pred for e in safe] == [e.pred for e in pickled]
    np.testing.assert_allclose(np.stack([e.heatmap for e in safe]), np.stack([e.heatmap for e in pickled]), atol=1e-3)
    np.testing.assert_allclose([e.prob for e in safe], [e.prob for e in pickled], atol=1e-4)
    assert safe[0].heatmap.shape == safe[0].image.shape[:2] == (64, 64)
