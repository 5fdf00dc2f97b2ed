"""The fast.ai style, measured: `python tools/style_check.py` (CI runs it; exit 1 above the bar).

`chkstyle` (PyPI `fastaistyle`, the fast.ai style checker) needs fastcore >= 2.1, which the project's pin excludes, so
it lives in a venv of its own: `python3 -m venv .style-venv && .style-venv/bin/pip install fastaistyle`. The bar:
- at most fastcore's own rate of findings, 38 per 1,000 code lines, over `nbs/`, `tools/` and `bench/`;
- no `;` joining statements in exported code (`seedling_clf/`);
- no line over 160 characters in `seedling_clf/` (the style's hard limit; aim for about 140).
Where the checker is wrong about a line, `# chkstyle: ignore` on it, with the reason.
"""
import io, json, re, subprocess, sys, tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHKSTYLE = ROOT/'.style-venv'/'bin'/'chkstyle'
CHECKED = ('nbs', 'tools', 'bench')
MAX_PER_1000, MAX_LINE = 38, 160


def code_lines(folder:Path) -> int:
    "Non-blank code lines: of the notebooks' code cells and of the .py files under `folder`."
    n = 0
    for nb in folder.glob('*.ipynb'):
        cells = json.loads(nb.read_text())['cells']
        n += sum(1 for c in cells if c['cell_type'] == 'code' for l in ''.join(c['source']).splitlines() if l.strip())
    return n + sum(1 for f in folder.glob('*.py') for l in f.read_text().splitlines() if l.strip())


def findings(folder:Path) -> list:
    "chkstyle's findings for `folder`: one `(rule, location)` each."
    out = subprocess.run([str(CHKSTYLE), '--show-rule', str(folder)], capture_output=True, text=True, cwd=ROOT).stdout
    return re.findall(r'^# (\S+): \[([\w-]+)\]', out, re.M)


def semicolons(path:Path) -> list:
    "Line numbers in `path` where `;` separates statements."
    toks = tokenize.generate_tokens(io.StringIO(path.read_text()).readline)
    return [t.start[0] for t in toks if t.type == tokenize.OP and t.string == ';']


def long_lines(path:Path) -> list:
    "`(line number, length)` of the lines of `path` over `MAX_LINE` characters."
    return [(i, len(l)) for i, l in enumerate(path.read_text().splitlines(), 1) if len(l) > MAX_LINE]


def main():
    if not CHKSTYLE.exists(): sys.exit(f"{CHKSTYLE} is missing: python3 -m venv .style-venv && .style-venv/bin/pip install fastaistyle")
    problems, total, lines = [], 0, 0
    for d in CHECKED:
        f, n = findings(ROOT/d), code_lines(ROOT/d)
        total, lines = total + len(f), lines + n
        rules = sorted({r for _, r in f}, key=lambda r: -sum(x == r for _, x in f))
        print(f"{d}/: {len(f)} findings in {n} code lines ({1000*len(f)/max(n, 1):.1f} per 1,000)"
            + (': ' + ', '.join(f"{r} {sum(x == r for _, x in f)}" for r in rules) if f else ''))
    rate = 1000 * total / max(lines, 1)
    print(f"all: {total} findings in {lines} code lines: {rate:.1f} per 1,000 (bar: {MAX_PER_1000})")
    if rate > MAX_PER_1000: problems.append(f"{rate:.1f} findings per 1,000 code lines, over {MAX_PER_1000}: run {CHKSTYLE} {' '.join(CHECKED)}")
    pkg = [p for p in sorted((ROOT/'seedling_clf').glob('*.py')) if p.name != '_modidx.py']
    semi = [f"{p.name}:{i}" for p in pkg for i in semicolons(p)]
    long = [f"{p.name}:{i} ({n} characters)" for p in pkg for i, n in long_lines(p)]
    longest = max((len(l) for p in pkg for l in p.read_text().splitlines()), default=0)
    print(f"seedling_clf/: {len(semi)} ';' separators, {len(long)} lines over {MAX_LINE} characters, the longest {longest}")
    if semi: problems.append(f"';' joins statements in exported code: {', '.join(semi[:10])}")
    if long: problems.append(f"lines over {MAX_LINE} characters in exported code: {', '.join(long[:10])}")
    for p in problems: print(f"style: {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == '__main__': sys.exit(main())
