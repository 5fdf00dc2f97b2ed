"Evaluation, TTA, ensembles, the submission check, the final model and the HTML report, as a user runs them."
import base64, json, os, re, shutil
from pathlib import Path
import pandas as pd
import pytest

pytestmark = pytest.mark.xdist_group('evaluate_cli')  # its tests share module-scoped runs: keep them on one pytest-xdist worker
import torch
from conftest import run, tree_state
from seedling_clf.core import sample_path, SeedlingError

tool = run  # the console scripts, run as a user runs them


@pytest.fixture(scope='module')
def second_model(tmp_path_factory):
    "Another tiny model (32 px, another seed), for ensembles."
    out = tmp_path_factory.mktemp('run2')
    run('seedling_train', '--out', out, '--size', 32, '--bs', 16, '--epochs', 0, '--freeze_epochs', 1, '--seed', 1, '--no_lr_find')
    return out/'model.pkl'


@pytest.mark.parametrize('name,opts', [('seedling_eval', ['--model', '--data', '--valid_pct', '--tta', '--vote', '--out']),
                                       ('seedling_report', ['run', '--out', '--no_eval', '--screenshot_png']),
                                       ('seedling_train_final', ['run', '--data', '--out']),
                                       ('seedling_predict', ['--model', '--tta', '--n_tta', '--vote', '--check'])])
def test_help(name, opts):
    out = tool(name, '--help').stdout
    for o in opts: assert o in out, (name, o)


def test_tta_after_reload(trained_model):
    from seedling_clf.inference import load_model, predict_probs, test_images
    model = load_model(trained_model[0]/'model.pkl')
    files = test_images(sample_path()/'test')
    plain = predict_probs(model, files)
    aug = predict_probs(model, files, tta=True, n_tta=3)
    assert aug.shape == plain.shape and torch.allclose(aug.sum(1), torch.ones(len(files)), atol=1e-4)
    assert (aug - plain).abs().max() > 1e-3
    assert torch.allclose(predict_probs(model, files, tta=True, n_tta=3), aug)


def test_predict_ensemble_is_mean_of_members(trained_model, second_model, tmp_path):
    from seedling_clf.inference import load_model, predict_probs, test_images
    a, b = trained_model[0]/'model.pkl', second_model
    images = tmp_path/'test'; shutil.copytree(sample_path()/'test', images)
    before = tree_state(images)
    res = tool('seedling_predict', '--model', a, '--model', b, '--images', images, '--csv', tmp_path/'sub.csv', '--check')
    assert 'ensemble of 2 (mean)' in res.stdout and 'checked' in res.stdout
    files = test_images(images)
    ms = [load_model(m) for m in (a, b)]
    mean = (predict_probs(ms[0], files) + predict_probs(ms[1], files))/2
    sub = pd.read_csv(tmp_path/'sub.csv')
    assert list(sub.file) == [f.name for f in files]
    assert list(sub.species) == [ms[0].dls.vocab[i] for i in mean.argmax(1)]
    res = tool('seedling_predict', '--model', a, '--model', b, '--images', images, '--csv', tmp_path/'sub2.csv',
               '--tta', '--n_tta', 2, '--vote', 'majority', '--check')
    assert 'TTA x2' in res.stdout and len(pd.read_csv(tmp_path/'sub2.csv')) == 12
    assert tree_state(images) == before


def test_predict_bad_vote_and_missing_model(tmp_path):
    res = tool('seedling_predict', '--model', tmp_path/'none.pkl', '--images', sample_path()/'test', check=False)
    assert res.returncode == 2 and 'none.pkl' in res.stderr and 'Traceback' not in res.stderr
    res = tool('seedling_predict', '--model', tmp_path/'none.pkl', '--vote', 'median', check=False)
    assert res.returncode == 2 and 'median' in res.stderr


def _lines(tmp_path):
    files = sorted(p.name for p in (sample_path()/'test').iterdir())
    return ['file,species'] + [f"{f},Maize" for f in files]


def test_check_submission_good_and_broken(tmp_path):
    from seedling_clf.inference import check_submission
    test = sample_path()/'test'
    good = tmp_path/'good.csv'; good.write_text('\n'.join(_lines(tmp_path)) + '\n')
    assert check_submission(good, test)['n_rows'] == 12
    ls = _lines(tmp_path)
    cases = {'header': (['file,label'] + ls[1:], ["line 1: header is 'file,label'"]),
             'missing': (ls[:-2], [f"{ls[-1].split(',')[0]}: image in", f"{ls[-2].split(',')[0]}: image in"]),
             'duplicate': (ls + [ls[3]], [f"line 14: {ls[3].split(',')[0]} listed again (first on line 4)"]),
             'unknown': (ls[:2] + [ls[2].replace('Maize', 'Corn')] + ls[3:], ["line 3: unknown species 'Corn'"]),
             'extra': (ls + ['other.png,Maize'], ["line 14: 'other.png' is not an image"]),
             'several': (['file,label'] + ls[2:] + ['x.png,Corn'], ["header", "has no row", "'x.png' is not an image", "unknown species 'Corn'"])}
    for name, (rows, msgs) in cases.items():
        f = tmp_path/f'{name}.csv'; f.write_text('\n'.join(rows) + '\n')
        with pytest.raises(SeedlingError) as e: check_submission(f, test)
        for m in msgs: assert m in str(e.value), (name, m, str(e.value))
        assert str(f) in str(e.value)


def test_eval_cli_writes_metrics_and_plots(trained_model, tmp_path):
    out = tmp_path/'eval'
    res = tool('seedling_eval', '--model', trained_model[0]/'model.pkl', '--valid_pct', 0.2, '--out', out)
    assert '24 images: accuracy' in res.stdout
    ev = json.loads((out/'eval.json').read_text())
    m = json.loads((trained_model[0]/'metrics.json').read_text())
    assert abs(ev['micro_f1'] - m['micro_f1']) < 1e-6  # the same split, the same model: the same score
    assert sorted(ev['per_class']) == sorted(m['per_class_f1'])
    assert sum(map(sum, ev['confusion_matrix'])) == 24 and len(ev['top_losses']) == 9
    for f in ['confusion_matrix.png', 'per_class.png', 'top_losses.png']: assert (out/f).read_bytes()[:4] == b'\x89PNG'


def test_eval_bad_input(tmp_path):
    res = tool('seedling_eval', '--out', tmp_path/'o', check=False)
    assert res.returncode == 2 and 'Pass --model' in res.stderr
    res = tool('seedling_eval', '--model', tmp_path/'x.pkl', '--out', tmp_path/'o', check=False)
    assert res.returncode == 2 and 'x.pkl does not exist' in res.stderr


def _copy_run(trained_model, tmp_path):
    run_dir = tmp_path/'run'; shutil.copytree(trained_model[0], run_dir)
    return run_dir


def test_report_html_is_self_contained(trained_model, tmp_path):
    run_dir = _copy_run(trained_model, tmp_path)
    res = tool('seedling_report', run_dir)
    page = run_dir/'report.html'
    assert str(page) in res.stdout
    h = page.read_text()
    for sec in ['Metrics', 'Settings', 'Data audit', 'Learning-rate finder', 'Training curves', 'Confusion matrix',
                'Per-class scores', 'Top losses', 'Most confused pair']:
        assert f'>{sec}</h2>' in h, sec
    srcs = re.findall(r'<img src="([^"]*)"', h)
    assert len(srcs) == 7 + (run_dir/'eval'/'confused_pair.png').exists()  # the pair's heatmaps when the model confused two classes
    for s in srcs:
        assert s.startswith('data:image/png;base64,')
        assert base64.b64decode(s.split(',', 1)[1])[:4] == b'\x89PNG'
    assert not re.findall(r'(?:src|href)="(?!data:image/png;base64,|#)', h) and '<script' not in h
    settings = json.loads((run_dir/'metrics.json').read_text())['settings']
    for k in ['arch', 'size', 'seed', 'epochs', 'bs']: assert f'<td>{k}</td><td>{settings[k]}</td>' in h, k
    assert 'seedling_train --data' in h and 'class="missing"' not in h


def test_report_missing_run(tmp_path):
    res = tool('seedling_report', tmp_path/'nope', check=False)
    assert res.returncode == 2 and 'metrics.json not found' in res.stderr


@pytest.fixture(scope='session')
def chromium_exe():
    "Chromium's executable; a skip without it, but a failure when `CI` is set (CI must run the browser tests)."
    from seedling_clf.report import chromium
    if chromium() is None:
        if os.environ.get('CI'): pytest.fail('CI is set and Chromium is missing: apt-get install -y chromium')
        pytest.skip('chromium is not installed')
    return chromium()


def test_report_screenshot_in_chromium(chromium_exe, trained_model, tmp_path):
    run_dir = _copy_run(trained_model, tmp_path)
    tool('seedling_report', run_dir, '--no_eval', '--screenshot_png', tmp_path/'shot.png')
    from PIL import Image
    im = Image.open(tmp_path/'shot.png')
    assert im.size == (1200, 4000)
    colours = im.convert('RGB').resize((60, 200)).getcolors(12000)
    assert len(colours) > 50  # text and plots were drawn, not a blank page


def test_train_final_uses_all_data(trained_model, tmp_path):
    run_dir = _copy_run(trained_model, tmp_path)
    res = tool('seedling_train_final', run_dir, '--out', tmp_path/'final')
    assert 'trained on all 120 images (1 + 1 epochs' in res.stdout
    m = json.loads((tmp_path/'final'/'metrics.json').read_text())
    assert m['n_train'] == 120 and m['n_valid'] == 0 and m['settings']['train_on_all'] is True
    sub = tmp_path/'sub.csv'
    tool('seedling_predict', '--model', tmp_path/'final'/'model.pkl', '--images', sample_path()/'test', '--csv', sub, '--check')
    page = tool('seedling_report', tmp_path/'final')
    assert 'Final model: trained on all 120' in (tmp_path/'final'/'report.html').read_text()
