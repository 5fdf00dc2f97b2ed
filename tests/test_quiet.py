"""Every command, started from its script on disk as the shell starts it, with Python's default warning settings: its
`--help` and a run on the bundled sample write nothing on stderr. (Other tests run commands with warnings silenced.)

The commands are the package's console scripts (its installed entry points), so a new command is checked without being
listed here; `RUNS` gives each the arguments of a short run, and a command without one fails the test.
"""
from importlib.metadata import entry_points
import pytest
from conftest import run
from seedling_clf.core import sample_path

COMMANDS = sorted(e.name for e in entry_points(group='console_scripts') if e.value.startswith('seedling_clf.'))
DEFAULT_WARNINGS = {'PYTHONWARNINGS': ''}  # conftest's commands run with warnings ignored: not these
SAMPLE, TEST = sample_path(), sample_path()/'test'
RUNS = {  # command -> arguments of a short run on the sample (MODEL and RUN: the tiny trained run's folder); seedling_train: test_readme
    'seedling_predict': ['--model', 'RUN', '--images', TEST, '--csv', 'sub.csv'],
    'seedling_audit': ['--out', 'audit'],
    'seedling_clean': ['--model', 'RUN/model.pkl', '--out', 'clean', '--folds', '2'],
    'seedling_eval': ['--model', 'RUN', '--out', 'eval'],
    'seedling_train_final': ['RUN', '--out', 'final'],
    'seedling_report': ['RUN', '--out', 'report.html', '--no_eval'],
    'seedling_baseline': ['--out', 'baseline', '--epochs', '1', '--size', '32'],
    'seedling_compare': ['--arch', 'constant', '--arch', 'linear', '--out', 'compare', '--size', '32', '--epochs', '1', '--freeze_epochs', '0'],
    'seedling_export': ['RUN', '--onnx', 'model.onnx'],
    'seedling_runs': ['RUN'],
    'seedling_explain': ['--model', 'RUN', '--images', TEST, '--out', 'explain'],
}


def test_every_command_is_covered():
    assert set(COMMANDS) - set(RUNS) == {'seedling_train'}, set(COMMANDS) ^ set(RUNS)


@pytest.mark.parametrize('tool', COMMANDS)
def test_help_is_quiet(tool):
    res = run(tool, '--help', fresh=True, env=DEFAULT_WARNINGS)
    assert res.stdout.startswith('usage: ') and res.stderr == '', res.stderr[-2000:]


@pytest.mark.parametrize('tool', sorted(RUNS))
def test_run_is_quiet(tool, trained_model, tmp_path):
    model = str(trained_model[0])
    args = [str(a).replace('RUN', model) if isinstance(a, str) else a for a in RUNS[tool]]
    res = run(tool, *args, fresh=True, env=DEFAULT_WARNINGS, cwd=tmp_path)
    assert res.stderr == '', f"{tool}: {res.stderr[-2000:]}"
