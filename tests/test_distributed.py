"Data-parallel `seedling_train` under Accelerate's launcher: two CPU processes (gloo; `--multi_gpu` makes Accelerate start them with torchrun) on the bundled sample at 32 px."
import json, os, shutil, socket, subprocess
from pathlib import Path
import pytest
from conftest import BIN

pytest.importorskip('accelerate')


def free_port() -> int:
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); return s.getsockname()[1]


def test_two_processes_split_each_epoch_and_write_once(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # relative paths, as a user types them
    env = {**os.environ, 'MPLBACKEND': 'Agg', 'PYTHONWARNINGS': 'ignore', 'SEEDLING_RECORD_INDICES': 'seen', 'OMP_NUM_THREADS': '1'}
    cmd = [str(BIN/'accelerate'), 'launch', '--multi_gpu', '--num_processes', '2', '--num_machines', '1', '--mixed_precision', 'no',
           '--dynamo_backend', 'no', '--main_process_port', str(free_port()),
           str(BIN/'seedling_train'), '--out', 'run', '--size', '32', '--bs', '8', '--epochs', '1', '--freeze_epochs', '1']
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-6000:]
    assert res.stdout.count('validation: micro-F1') == 1  # rank 0 reports
    rows = {r: [json.loads(l) for l in Path(f'seen/rank{r}.jsonl').read_text().splitlines()] for r in (0, 1)}
    assert [(o['stage'], o['epoch']) for o in rows[0]] == [('frozen', 0), ('unfrozen', 0)] == [(o['stage'], o['epoch']) for o in rows[1]]
    for a, b in zip(rows[0], rows[1]):  # each epoch: two disjoint halves that together are the whole training set
        assert len(a['idxs']) == len(b['idxs']) == a['n_items'] // 2
        assert not set(a['idxs']) & set(b['idxs'])
        assert sorted(a['idxs'] + b['idxs']) == list(range(a['n_items']))
    files = sorted(p.relative_to('run').as_posix() for p in Path('run').rglob('*') if p.is_file())
    assert files.count('model.pkl') == 1 and files.count('metrics.json') == 1 and 'history.csv' in files, files
    assert not [p for p in Path('.').iterdir() if p.name not in ('run', 'seen')]  # nothing written elsewhere
    m = json.loads(Path('run/metrics.json').read_text())
    assert m['n_train'] == 2 * len(rows[0][0]['idxs']) and 0 <= m['micro_f1'] <= 1
