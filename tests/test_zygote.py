"The test helper that starts console scripts from a zygote (tests/zygote.py) gives what the script on disk gives."
import pytest
from conftest import run


@pytest.mark.parametrize('args', [['--help'], ['--out', 'o', '--size', 'banana'], ['--out', 'o', '--data', 'no such folder']])
def test_forked_command_matches_the_script_on_disk(args, tmp_path):
    forked, fresh = (run('seedling_train', *args, cwd=tmp_path, check=False, fresh=f) for f in (False, True))
    assert (forked.returncode, forked.stdout, forked.stderr) == (fresh.returncode, fresh.stdout, fresh.stderr)
    assert not (tmp_path/'o').exists()
