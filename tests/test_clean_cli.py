"`seedling_clean` run as a user runs it: rank, edit the CSV, apply, undo; and refusals that move nothing."
import json, shutil
from pathlib import Path
import pandas as pd
import pytest

pytestmark = pytest.mark.xdist_group('clean_cli')  # its tests share module-scoped runs: keep them on one pytest-xdist worker
from conftest import run, tree_state
from seedling_clf.core import sample_path

CLEAN_DIR = '.seedling_clean'


def dataset_state(folder):
    "`tree_state` without the cleaning log: the images and their bytes."
    return {k: v for k, v in tree_state(folder).items() if not k.endswith(f'{CLEAN_DIR}/log.jsonl')}


@pytest.fixture(scope='session')
def model_file(tmp_path_factory):
    "An exported learner on the sample (64 px, untrained head: `seedling_clean` only uses its body)."
    from seedling_clf.data import seedling_dls
    from seedling_clf.models import seedling_learner
    fn = tmp_path_factory.mktemp('model')/'model.pkl'
    seedling_learner(seedling_dls(size=64, bs=16)).export(fn)
    return fn


@pytest.fixture(scope='session')
def ranked(model_file, tmp_path_factory):
    "`seedling_clean --model` run once on a copy of the sample: (data copy, out folder, completed process)."
    root = tmp_path_factory.mktemp('ranked')
    data = root/'data'; shutil.copytree(sample_path()/'train', data/'train')
    out = root/'clean'
    res = run('seedling_clean', '--model', model_file, '--data', data, '--out', out, '--bs', 32, '--folds', 4, '--top', 12)
    return data, out, res


@pytest.fixture
def fresh(ranked, tmp_path):
    "A private copy of the ranked data and of its suspects.csv (with a clean.json pointing at the copy)."
    data, out, _ = ranked
    d = tmp_path/'data'; shutil.copytree(data/'train', d/'train')
    o = tmp_path/'clean'; o.mkdir()
    shutil.copy(out/'suspects.csv', o/'suspects.csv')
    meta = json.loads((out/'clean.json').read_text()); meta['data'] = str((d/'train').resolve())
    (o/'clean.json').write_text(json.dumps(meta))
    return d, o


def _expect_error(*args, names):
    res = run('seedling_clean', *args, check=False)
    assert res.returncode == 2, (res.returncode, res.stdout, res.stderr)
    assert res.stderr.startswith('error: ') and 'Traceback' not in res.stderr, res.stderr
    for n in names: assert str(n) in res.stderr, (n, res.stderr)
    return res.stderr


def _decide(csv, decisions):
    "Fill in the decision column as a person would in a spreadsheet (row index -> decision); return the table."
    t = pd.read_csv(csv, dtype=str, keep_default_na=False)
    for i, d in decisions.items(): t.loc[i, 'decision'] = d
    t.to_csv(csv, index=False)
    return t


def test_help():
    out = run('seedling_clean', '--help').stdout
    for o in ['--model', '--data', '--out', '--folds', '--wrong', '--torn_low', '--torn_high', '--apply', '--undo', '--dry_run']:
        assert o in out, o


def test_rank_writes_csv_plot_and_meta(ranked):
    data, out, res = ranked
    t = pd.read_csv(out/'suspects.csv', dtype=str, keep_default_na=False)
    assert len(t) == 96 and set(t.decision) == {''}  # the training side of seedling_train's default split
    for c in ['file', 'label', 'predicted', 'prob', 'reason', 'decision', 'loss', 'md5']: assert c in t.columns
    assert {f.split('/')[0] for f in t.file} == {p.name for p in (sample_path()/'train').iterdir()}
    assert all((data/'train'/f).is_file() for f in t.file)
    flagged = t.reason != ''
    assert not (flagged.astype(int).diff().fillna(0) > 0).any()  # flagged rows first
    assert (out/'suspects.png').stat().st_size > 0
    meta = json.loads((out/'clean.json').read_text())
    assert meta['n_images'] == 96 and meta['folds'] == 4 and meta['flagged'] == int(flagged.sum())
    assert meta['data'] == str((data/'train').resolve())
    assert '96 images ranked' in res.stdout


def test_rank_leaves_validation_images_alone(ranked):
    "Excluding validation images would change what the model is judged on: they are not ranked unless asked for."
    from seedling_clf.data import labelled_images, stratified_splitter
    data, out, _ = ranked
    files = labelled_images(data)
    valid = {f.relative_to(data/'train').as_posix() for f in files[stratified_splitter()(files)[1]]}
    ranked_files = set(pd.read_csv(out/'suspects.csv', dtype=str).file)
    assert len(valid) == 24 and not ranked_files & valid
    assert 'include_valid' in run('seedling_clean', '--help').stdout


def test_apply_then_undo_restores_every_path_and_byte(fresh):
    d, o = fresh
    before = dataset_state(d)
    row1 = pd.read_csv(o/'suspects.csv', dtype=str).file[1]
    t = _decide(o/'suspects.csv', {0: 'exclude', 1: 'Maize' if not row1.startswith('Maize/') else 'Charlock'})
    res = run('seedling_clean', '--apply', o/'suspects.csv', '--dry_run')
    assert 'would move 2 file(s)' in res.stdout and dataset_state(d) == before and not (d/'train'/CLEAN_DIR).exists()
    res = run('seedling_clean', '--apply', o/'suspects.csv')  # the dataset comes from clean.json beside the CSV
    assert 'moved 2 file(s)' in res.stdout
    ex, rl = t.file[0], t.file[1]
    assert not (d/'train'/ex).exists() and (d/'train'/CLEAN_DIR/'quarantine'/ex).is_file()
    assert (d/'train'/t.decision[1]/Path(rl).name).is_file() and not (d/'train'/rl).exists()
    after = dataset_state(d)
    assert sorted(after.values()) == sorted(before.values())  # the same bytes, two of them elsewhere
    log = [json.loads(l) for l in (d/'train'/CLEAN_DIR/'log.jsonl').read_text().splitlines()]
    assert [(e['src'], e['md5']) for e in log] == [(ex, t.md5[0]), (rl, t.md5[1])]
    # the quarantined image is not trained on
    from seedling_clf.data import labelled_images
    files = labelled_images(d)
    assert len(files) == 119 and not any(CLEAN_DIR in str(f) for f in files)
    res = run('seedling_clean', '--undo', '--data', d)
    assert 'moved back 2 file(s)' in res.stdout
    assert dataset_state(d) == before
    assert len((d/'train'/CLEAN_DIR/'log.jsonl').read_text().splitlines()) == 4  # appended, never rewritten


def test_clash_missing_file_or_unknown_class_moves_nothing(fresh):
    d, o = fresh
    t = pd.read_csv(o/'suspects.csv', dtype=str, keep_default_na=False)
    target = next(c for c in sorted({f.split('/')[0] for f in t.file}) if not t.file[1].startswith(c + '/'))
    clash = d/'train'/target/Path(t.file[1]).name
    shutil.copy(d/'train'/t.file[2], clash)
    (d/'train'/t.file[3]).unlink()
    before = dataset_state(d)
    _decide(o/'suspects.csv', {0: 'exclude', 1: target, 3: 'exclude', 4: 'Tomato'})
    _expect_error('--apply', o/'suspects.csv',  # every problem listed at once
                  names=['Nothing was moved', '3 problem(s)', 'name clash', clash, 'missing', d/'train'/t.file[3], 'Tomato', 'row 6'])
    assert dataset_state(d) == before and not (d/'train'/CLEAN_DIR).exists()


def test_bad_input(fresh, tmp_path):
    d, o = fresh
    _expect_error('--apply', tmp_path/'nope.csv', names=['nope.csv', 'does not exist'])
    shutil.copy(o/'suspects.csv', tmp_path/'alone.csv')
    _expect_error('--apply', tmp_path/'alone.csv', names=['alone.csv', '--data'])
    _expect_error('--data', d, names=['--model', '--apply', '--undo'])
