"`seedling_train --head_from_features --balance ...`: the head stage from cached backbone features, from the shell."
import json
import pandas as pd
from conftest import run


def test_train_head_from_features_with_smote(tmp_path):
    out = tmp_path/'run'
    res = run('seedling_train', '--out', out, '--size', 32, '--bs', 16, '--epochs', 1, '--no_lr_find',
              '--head_from_features', '--balance', 'smote', '--head_epochs', 4)
    m = json.loads((out/'metrics.json').read_text())
    assert m['settings']['head_from_features'] is True and m['settings']['balance'] == 'smote'
    assert m['head_stage']['epochs'] == 4 and m['head_stage']['n_train'] == 96  # the sample is balanced already
    assert m['head_stage']['bn_blocks'] == 1  # the last block's batch-norm trained with the head (SMOTE on its input maps)
    h = pd.read_csv(out/'history.csv')
    assert list(h.stage) == ['features']*4 + ['unfrozen']  # no frozen fastai epoch
    assert (out/'model.pkl').stat().st_size > 0 and 'validation: micro-F1' in res.stdout


def test_train_balance_weights_without_features(tmp_path):
    out = tmp_path/'run'
    run('seedling_train', '--out', out, '--size', 32, '--bs', 16, '--epochs', 0, '--freeze_epochs', 1, '--no_lr_find',
        '--balance', 'weights')
    m = json.loads((out/'metrics.json').read_text())
    assert m['settings']['balance'] == 'weights' and m['settings']['head_from_features'] is False and m['head_stage'] is None
    assert list(pd.read_csv(out/'history.csv').stage) == ['frozen']


def test_balance_errors(tmp_path):
    for args, names in [(['--balance', 'smote'], '--head_from_features'), (['--balance', 'undersample'], 'Unknown balance'),
                        (['--bn_blocks', '1'], '--head_from_features'), (['--head_from_features', '--bn_blocks', '9'], 'pick 1 to')]:
        res = run('seedling_train', '--out', tmp_path/'run', '--size', 32, *args, check=False)
        assert res.returncode == 2 and names in res.stderr and 'Traceback' not in res.stderr, res.stderr
        assert not (tmp_path/'run'/'model.pkl').exists()


def test_audit_tsne_of_features(tmp_path):
    "`seedling_audit --tsne`: the t-SNE plot of a dataset's backbone features, from the command line."
    res = run('seedling_audit', '--out', tmp_path/'audit', '--tsne', '--arch', 'mobilenetv2_100')
    assert (tmp_path/'audit'/'tsne.png').stat().st_size > 10_000 and 'tsne.png' in res.stdout
