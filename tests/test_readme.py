"README.md is generated from nbs/index.ipynb and bench/results/*.json; this keeps them in step, and the README a front page."
import json, os, re, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT/'README.md'
MAX_CHARS, MAX_CELL = 8000, 80
sys.path.insert(0, str(ROOT/'tools'))
from make_readme import TABLE_START, TABLE_END, PLACEHOLDER


def results_rows(text):
    "The rows of the README's results table (the lines between its markers that start with '|'), as lists of cells."
    block = text[text.index(TABLE_START):text.index(TABLE_END)]
    return [[c.strip() for c in l.strip().strip('|').split('|')] for l in block.splitlines() if l.startswith('|')]


def test_readme_matches_index_notebook_and_results():
    out = subprocess.run([sys.executable, str(ROOT/'tools'/'make_readme.py'), '--check'], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stdout + out.stderr


def test_readme_is_a_front_page():
    text = README.read_text()
    assert len(text) <= MAX_CHARS, f"README.md has {len(text):,} characters, more than {MAX_CHARS:,}: move detail to bench/results/*.md or the docs"
    assert PLACEHOLDER not in text


def test_results_table_one_short_number_per_cell():
    rows = results_rows(README.read_text())
    assert len(rows) >= 4, rows
    long = [c for r in rows for c in r if len(c) > MAX_CELL]
    assert not long, f"results cells over {MAX_CELL} characters: {long}"
    for r in rows[2:]:
        assert len(r) == len(rows[0]), r
        for c in r[1:]: assert re.fullmatch(r'—|\d+(\.\d+)?', c), f"not one number: {c!r} in {r}"


def test_results_table_rows_link_to_their_results():
    text = README.read_text()
    rows = results_rows(text)[2:]
    refs = dict(re.findall(r'^\[([\w-]+)\]:\s*(\S+)$', text, re.M))
    for r in rows:
        ref = re.fullmatch(r'\[.+\]\[([\w-]+)\]', r[0])
        assert ref and ref[1] in refs, f"row {r[0]!r} does not link to a results page"
    paths = re.findall(r'(bench/results/[\w./-]+\.(?:md|json|png|csv))', text)
    assert paths and not [p for p in paths if not (ROOT/p).exists()], f"links to missing results: {[p for p in paths if not (ROOT/p).exists()]}"


def test_picture_is_there():
    pics = re.findall(r'!\[[^\]]*\]\(([^)\s]+)\)', README.read_text())
    assert pics and all((ROOT/p).is_file() for p in pics), pics
    nb = ''.join(''.join(c['source']) for c in json.loads((ROOT/'nbs'/'index.ipynb').read_text())['cells'])
    assert all(f"]({p.removeprefix('nbs/')})" in nb for p in pics), 'the docs page (nbs/index.ipynb) shows the picture from nbs/images/'


def test_setup_commands():
    from readme_commands import readme_commands
    cmds = readme_commands(README)
    assert len(cmds) == 2 and cmds[0].startswith('python3 -m venv .venv') and cmds[1].startswith('.venv/bin/nbdev_test'), cmds


def test_first_command_training_log_is_readable(tmp_path):
    """The training the README's first command runs (its last `&&` part, `.venv/bin/seedling_train ...` as printed), with
    stdout piped as in CI, `| tee` or `nohup`: one line per epoch and per step, no progress-bar redraws, under 10 KB."""
    from readme_commands import readme_commands
    train = readme_commands(README)[0].split('&&')[-1].split()
    assert Path(train[0]).name == 'seedling_train', train
    res = subprocess.run([str(Path(sys.executable).with_name('seedling_train')), *train[1:]], capture_output=True, text=True, cwd=tmp_path,
                         env={**os.environ, 'MPLBACKEND': 'Agg', 'PYTHONWARNINGS': ''}, timeout=900)
    assert res.returncode == 0 and res.stderr == '', res.stderr[-2000:]  # nothing on stderr: no warnings either
    log, m = res.stdout, json.loads((tmp_path/'runs'/'sample'/'metrics.json').read_text())
    assert len(log.encode()) < 10_000 and '\r' not in log and '█' not in log, (len(log.encode()), log[:500])
    epochs = [l for l in log.splitlines() if re.match(r'\S+ epoch \d+/\d+: train_loss ', l)]
    assert len(epochs) == sum(s['epochs'] for s in m['stages']), log
    for step in ['lr_find: valley', 'stage frozen:', 'evaluation: micro-F1', 'export: model.pkl']: assert step in log, (step, log)
