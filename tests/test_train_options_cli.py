"`seedling_train`'s training options, run as a user runs them on the bundled sample (32-48 px, 1 epoch per stage)."
import json, os, signal, subprocess, time
from pathlib import Path
import pandas as pd
import pytest
from conftest import run, BIN
from seedling_clf.core import sample_path
from test_cli import _expect_error


def test_sgdr_snapshots_ensemble_with_predict(tmp_path):
    out = tmp_path/'run'
    res = run('seedling_train', '--out', out, '--size', 32, '--bs', 16, '--freeze_epochs', 0, '--no_lr_find',
              '--schedule', 'sgdr', '--cycles', 2, '--cycle_len', 1, '--cycle_mult', 1)
    snaps = sorted((out/'snapshots').glob('*.pkl'))
    assert [p.name for p in snaps] == ['snapshot_0.pkl', 'snapshot_1.pkl']
    m = json.loads((out/'metrics.json').read_text())
    assert m['settings']['schedule'] == 'sgdr' and m['settings']['epochs'] == 2 and m['settings']['cycle_mult'] == 1
    assert m['snapshot_ensemble']['n_snapshots'] == 2 and len(m['snapshots']) == 2
    assert 0 <= m['snapshot_ensemble']['micro_f1'] <= 1
    assert len(pd.read_csv(out/'history.csv')) == 2
    assert 'snapshot ensemble (2)' in res.stdout
    csv = tmp_path/'sub.csv'
    pred = run('seedling_predict', '--model', snaps[0], '--model', snaps[1], '--images', sample_path()/'test', '--csv', csv)
    assert 'ensemble of 2' in pred.stdout
    assert len(pd.read_csv(csv)) == len(list((sample_path()/'test').iterdir()))


def test_progressive_resizing_cutmix_oversample(tmp_path):
    out = tmp_path/'run'
    run('seedling_train', '--out', out, '--bs', 16, '--freeze_epochs', 0, '--no_lr_find', '--sizes', '32,48',
        '--stage_epochs', '1,1', '--mix', 'cutmix', '--mix_alpha', 0.5, '--balance', 'oversample', '--monitor', 'accuracy')
    h = pd.read_csv(out/'history.csv')
    assert list(h.stage) == ['unfrozen_32', 'unfrozen_48'] and list(h['size']) == [32, 48]
    s = json.loads((out/'metrics.json').read_text())['settings']
    assert (s['sizes'], s['stage_epochs'], s['mix'], s['mix_alpha'], s['balance'], s['monitor']) == \
           ([32, 48], [1, 1], 'cutmix', 0.5, 'oversample', 'accuracy')
    m = json.loads((out/'metrics.json').read_text())
    assert (out/'models'/'best.pth').exists() and (out/'model.pkl').exists() and m['best_epoch']['stage'] in ('unfrozen_32', 'unfrozen_48')


def test_bad_training_options(tmp_path):
    "(The other checks of the options, e.g. --stage_epochs not matching --sizes, are tested in 03_train.)"
    _expect_error('seedling_train', '--out', tmp_path/'o', '--resume', names=['no checkpoint', str(tmp_path/'o'), '--resume'])
    _expect_error('seedling_train', '--out', tmp_path/'o', '--sizes', '64x128', names=['--sizes', '64,128'])
    _expect_error('seedling_train', '--out', tmp_path/'o', '--mix', 'mixpup', names=['Unknown mix', 'cutmix'])
    assert not (tmp_path/'o'/'model.pkl').exists()


@pytest.mark.parametrize('args,names', [
    (['--lr', 'abc'], ['--lr', "'abc'", '> 0']), (['--bs', '0'], ['--bs', '>= 1']), (['--valid_pct', '0'], ['--valid_pct', '> 0 and < 1']),
    (['--valid_pct', '1.5'], ['--valid_pct', '1.5']), (['--sizes', ''], ['--sizes', 'at least one', '64,128']),
    (['--epochs', '-1'], ['--epochs', '>= 0']), (['--seed', 'abc'], ['--seed', 'whole number']),
    (['--preset', 'huge'], ['--preset', 'fast, best']), (['--schedule', 'cosine'], ['--schedule', 'one_cycle, sgdr']),
    (['--balance', 'undersample'], ['--balance', 'oversample, smote']), (['--monitor', 'f1'], ['--monitor', 'valid_loss, accuracy']),
    (['--arch', 'effnet_b99'], ['--arch', 'effnet_b99', 'tf_efficientnet_lite0', 'mobilenetv2_100', '--weights timm'])])
def test_bad_option_one_line_no_folder(tmp_path, args, names):
    "Each option checked by `train_config`: one line naming the option and the fix, exit 2, and no output folder (from a relative --out)."
    res = run('seedling_train', '--out', 'o', *args, cwd=tmp_path, check=False)
    assert res.returncode == 2 and res.stderr.startswith('error: ') and res.stderr.count('\n') == 1, res.stderr
    for n in names: assert n in res.stderr, (n, res.stderr)
    assert not (tmp_path/'o').exists()


def test_help_lists_every_option():
    "The flags are `TrainConfig`'s fields, each with its docment; --out and --resume from `train_classifier`."
    from seedling_clf.recipe import config_fields
    out = ' '.join(run('seedling_train', '--help').stdout.split())
    for k, doc in config_fields().items(): assert f'--{k}' in out and ' '.join(doc.split())[:40] in out, k
    for o in ['--no_lr_find', '--out', '--resume', 'runs/seedling']: assert o in out, o


def test_killed_run_resumes_every_epoch(tmp_path):
    "SIGKILL in the middle of an epoch, then --resume with the same options: every planned epoch, complete outputs."
    args = [str(BIN/'seedling_train'), '--out', 'run', '--size', '32', '--bs', '8', '--freeze_epochs', '1', '--epochs', '3', '--no_lr_find']
    env = {**os.environ, 'MPLBACKEND': 'Agg', 'PYTHONWARNINGS': 'ignore'}
    p = subprocess.Popen(args, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ck, deadline = tmp_path/'run'/'checkpoint.json', time.time() + 1200
    while time.time() < deadline and p.poll() is None and not (ck.exists() and json.loads(ck.read_text())['stage'] == 'unfrozen'): time.sleep(0.05)
    time.sleep(0.5)  # into the next epoch
    assert p.poll() is None, 'the run ended before it could be killed'
    os.kill(p.pid, signal.SIGKILL); p.wait()
    done = json.loads(ck.read_text())['epochs_done']
    assert not (tmp_path/'run'/'metrics.json').exists()
    res = subprocess.run(args + ['--resume'], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    h, m = pd.read_csv(tmp_path/'run'/'history.csv'), json.loads((tmp_path/'run'/'metrics.json').read_text())
    assert list(h.stage) == ['frozen'] + ['unfrozen']*3 and h.valid_loss.notna().all()
    assert m['resumed_from'] == dict(stage='unfrozen', epochs_done=done) and [s['epochs'] for s in m['stages']] == [1, 3]
    assert 0 <= m['micro_f1'] <= 1 and not (tmp_path/'run'/'checkpoint.json').exists()
