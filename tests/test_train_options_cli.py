"`seedling_train`'s training options, run as a user runs them on the bundled sample (32-48 px, 1 epoch per stage)."
import json
from pathlib import Path
import pandas as pd
from conftest import run
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
    assert (out/'models'/'best.pth').exists() and (out/'model.pkl').exists()


def test_bad_training_options(tmp_path):
    "(The other checks of the options, e.g. --stage_epochs not matching --sizes, are tested in 03_train.)"
    _expect_error('seedling_train', '--out', tmp_path/'o', '--resume', names=['no checkpoint', str(tmp_path/'o'), '--resume'])
    _expect_error('seedling_train', '--out', tmp_path/'o', '--sizes', '64x128', names=['--sizes', '64,128'])
    _expect_error('seedling_train', '--out', tmp_path/'o', '--mix', 'mixpup', names=['Unknown mix', 'cutmix'])
    assert not (tmp_path/'o'/'model.pkl').exists()


def test_help_lists_training_options():
    out = run('seedling_train', '--help').stdout
    for o in ['--schedule', '--cycles', '--cycle_len', '--cycle_mult', '--mix', '--mix_alpha', '--sizes', '--stage_epochs',
              '--lr_find_per_stage', '--monitor', '--resume', 'oversample']:
        assert o in out, o
