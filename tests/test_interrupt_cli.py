"""Interrupting `seedling_train` loses nothing, and one run owns an output folder: Ctrl-C prints one line naming
the checkpoint and the exact `--resume` command (exit status 130); a lock left by a killed run does not block the
next run or its `--resume`; a lock held by a live run refuses a second one (also a case of test_bad_input.py)."""
import os, shlex, signal, subprocess, sys, time
from pathlib import Path
from conftest import BIN

LOCK = '.seedling.lock'
TINY = ['--size', '32', '--bs', '16', '--freeze_epochs', '1', '--epochs', '2', '--no_lr_find']  # seconds an epoch


def dead_pid() -> int:
    "The id of a process that has ended: what a lock left by `kill -9` holds."
    p = subprocess.Popen([sys.executable, '-c', 'pass']); p.wait()
    return p.pid


def start(d, cmd):
    "Start a console script from the working directory `d`, with Ctrl-C's default action (as in a terminal)."
    return subprocess.Popen([str(BIN/cmd[0]), *cmd[1:]], cwd=d, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, 'MPLBACKEND': 'Agg'},
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # a background job's shell ignores it


def test_ctrl_c_names_checkpoint_and_resume_command_and_stale_locks_do_not_block(tmp_path):
    out = 'my run é'
    (tmp_path/out).mkdir(); (tmp_path/out/LOCK).write_text(str(dead_pid()))  # a killed run's lock: this run proceeds
    cmd = ['seedling_train', '--out', out, *TINY]
    p = start(tmp_path, cmd)
    ck = tmp_path/out/'checkpoint.json'
    try:
        limit = time.time() + 900
        while not ck.exists() and p.poll() is None and time.time() < limit: time.sleep(0.2)
        assert ck.exists(), p.communicate()  # the first epoch is done: the second has begun
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=300)
    finally:
        if p.poll() is None: p.kill()
    assert 'Traceback' not in err, err[-3000:]
    assert p.returncode == 130, (p.returncode, err)
    lines = [l for l in err.splitlines() if not l.startswith('warning: ')]
    assert len(lines) == 1 and lines[0].startswith('interrupted: '), err
    assert f'{out}/checkpoint.json' in lines[0] and f'{out}/models/checkpoint.pth' in lines[0], lines[0]
    resume = shlex.split(lines[0].split('resume with: ')[1])
    assert resume == cmd + ['--resume'], resume
    assert (tmp_path/out/'models'/'checkpoint.pth').exists() and not (tmp_path/out/LOCK).exists()

    (tmp_path/out/LOCK).write_text(str(dead_pid()))  # as if killed with -9: the lock stays behind
    res = subprocess.run([str(BIN/resume[0]), *resume[1:]], cwd=tmp_path, capture_output=True, text=True, timeout=900,
                         env={**os.environ, 'MPLBACKEND': 'Agg'})
    assert res.returncode == 0, res.stderr[-3000:]
    assert (tmp_path/out/'model.pkl').exists() and (tmp_path/out/'metrics.json').exists()
    assert not (tmp_path/out/LOCK).exists() and not ck.exists()


def test_live_lock_refuses_and_keeps_the_folder(tmp_path):
    (tmp_path/'run').mkdir(); (tmp_path/'run'/LOCK).write_text(str(os.getpid()))  # this test's process: alive
    res = subprocess.run([str(BIN/'seedling_train'), '--out', 'run', *TINY], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert res.returncode == 2 and 'Traceback' not in res.stderr, res.stderr[-3000:]
    assert res.stderr.startswith('error: run is in use by another run') and str(os.getpid()) in res.stderr, res.stderr
    assert sorted(p.name for p in (tmp_path/'run').iterdir()) == [LOCK] and (tmp_path/'run'/LOCK).read_text() == str(os.getpid())
