"The test harness itself: commands forked from the zygote (tests/zygote.py) give what the script on disk gives, and parallel workers share the cores."
import os
import pytest
import torch
from conftest import run
from seedling_clf.core import cpu_cores


@pytest.mark.parametrize('args', [['--help'], ['--out', 'o', '--size', 'banana'], ['--out', 'o', '--data', 'no such folder']])
def test_forked_command_matches_the_script_on_disk(args, tmp_path):
    forked, fresh = (run('seedling_train', *args, cwd=tmp_path, check=False, fresh=f) for f in (False, True))
    assert (forked.returncode, forked.stdout, forked.stderr) == (fresh.returncode, fresh.stdout, fresh.stderr)
    assert not (tmp_path/'o').exists()


def test_parallel_workers_share_the_cores():
    "Under pytest-xdist each worker, and each command it starts, gets its share of the cores in threads."
    workers = int(os.environ.get('PYTEST_XDIST_WORKER_COUNT', 1))
    if workers == 1: pytest.skip('one process: torch keeps its default')
    threads = max(1, cpu_cores() // workers)
    assert torch.get_num_threads() == threads and os.environ['OMP_NUM_THREADS'] == str(threads)
