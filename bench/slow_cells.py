"""The notebooks' slow cells (`#| slow`: trainings of more than ~20 s on the bundled sample), run and timed.

`nbdev_test` skips them (settings.ini's `tst_flags`), so CI stays short; this benchmark runs each notebook that has
any with `nbdev_test --flags slow`, from a fresh kernel, and writes the outcome and the wall time of each to
bench/results/slow_cells.{json,md}. Exit status 1 if a notebook fails.

    python bench/slow_cells.py [NOTEBOOK ...] [--out DIR]
"""
import subprocess, sys, time
from pathlib import Path

from common import REPO, bench_parser, md_table, write_result

BIN = Path(sys.executable).parent


def slow_notebooks() -> list:
    "The notebooks of nbs/ with at least one cell flagged `#| slow` (the flag test of tools/execute_nbs.py)."
    sys.path.insert(0, str(REPO/'tools'))
    import nbformat
    from execute_nbs import is_flagged
    return [nb for nb in sorted((REPO/'nbs').glob('*.ipynb'))
        if any(c.cell_type == 'code' and is_flagged(c, ['slow']) for c in nbformat.read(nb, as_version=4).cells)]


def run_slow(nb:Path) -> dict:
    "`nbdev_test --flags slow` on `nb`: passed or not, wall seconds, the end of its output."
    start = time.time()
    res = subprocess.run([str(BIN/'nbdev_test'), '--flags', 'slow', '--path', str(nb)], cwd=REPO, capture_output=True, text=True)
    return dict(notebook=nb.relative_to(REPO).as_posix(), passed=res.returncode == 0, seconds=round(time.time() - start, 1),
        output_tail=(res.stdout + res.stderr)[-2000:])


def markdown(res) -> list:
    "The page: each notebook's outcome and time."
    rows = [[r['notebook'], 'passed' if r['passed'] else 'failed', f"{r['seconds']:.0f}"] for r in res['runs']]
    return ['# Slow notebook cells\n', f"`nbdev_test --flags slow` per notebook ({res['device']}):\n",
        *md_table(['notebook', 'result', 'wall time (s)'], rows), '', 'Command: `python bench/slow_cells.py`']


def main():
    p = bench_parser(__doc__, data=False)
    p.add_argument('notebooks', nargs='*', help='notebooks to run (default: every one with a slow cell)')
    a = p.parse_args()
    rows = []
    for nb in [Path(n).resolve() for n in a.notebooks] or slow_notebooks():
        rows.append(run_slow(nb))
        r = rows[-1]
        print(f"{r['notebook']}: {'passed' if r['passed'] else 'FAILED'} in {r['seconds']:.0f} s", flush=True)
        if not r['passed']: print(r['output_tail'])
    write_result('slow_cells', dict(runs=rows), markdown, a.out, quiet=True)
    sys.exit(0 if all(r['passed'] for r in rows) else 1)


if __name__ == '__main__': main()
