"""The notebooks' slow cells (`#| slow`: trainings of more than ~20 s on the bundled sample), run and timed.

`nbdev_test` skips them (settings.ini's `tst_flags`), so CI stays short; this benchmark runs each notebook that has
any with `nbdev_test --flags slow`, from a fresh kernel, and writes the outcome and the wall time of each to
bench/results/slow_cells.{json,md}. Exit status 1 if a notebook fails.

    python bench/slow_cells.py [NOTEBOOK ...]
"""
import subprocess, sys, time
from pathlib import Path

HERE = Path(__file__).parent
ROOT = HERE.parent
BIN = Path(sys.executable).parent


def slow_notebooks() -> list:
    "The notebooks of nbs/ with at least one cell flagged `#| slow` (the flag test of tools/execute_nbs.py)."
    sys.path.insert(0, str(ROOT/'tools'))
    import nbformat
    from execute_nbs import is_flagged
    return [nb for nb in sorted((ROOT/'nbs').glob('*.ipynb'))
            if any(c.cell_type == 'code' and is_flagged(c, ['slow']) for c in nbformat.read(nb, as_version=4).cells)]


def run_slow(nb:Path) -> dict:
    "`nbdev_test --flags slow` on `nb`: passed or not, wall seconds, the end of its output."
    start = time.time()
    res = subprocess.run([str(BIN/'nbdev_test'), '--flags', 'slow', '--path', str(nb)], cwd=ROOT, capture_output=True, text=True)
    return dict(notebook=nb.relative_to(ROOT).as_posix(), passed=res.returncode == 0, seconds=round(time.time() - start, 1),
                output_tail=(res.stdout + res.stderr)[-2000:])


def main():
    sys.path.insert(0, str(ROOT))
    from seedling_clf.core import run_info, save_json
    nbs = [Path(a).resolve() for a in sys.argv[1:]] or slow_notebooks()
    rows = []
    for nb in nbs:
        rows.append(run_slow(nb)); r = rows[-1]
        print(f"{r['notebook']}: {'passed' if r['passed'] else 'FAILED'} in {r['seconds']:.0f} s", flush=True)
        if not r['passed']: print(r['output_tail'])
    save_json(dict(runs=rows, **run_info()), HERE/'results'/'slow_cells.json')
    md = ['# Slow notebook cells\n', f"`nbdev_test --flags slow` per notebook ({run_info()['device']}):\n",
          '| notebook | result | wall time (s) |', '|---|---|---|'] + [f"| {r['notebook']} | {'passed' if r['passed'] else 'failed'} | {r['seconds']:.0f} |" for r in rows]
    (HERE/'results'/'slow_cells.md').write_text('\n'.join(md) + '\n\nCommand: `python bench/slow_cells.py`\n')
    sys.exit(0 if all(r['passed'] for r in rows) else 1)


if __name__ == '__main__': main()
