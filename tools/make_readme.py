"""Write README.md from nbs/index.ipynb (`--check`: only say whether it is up to date).

nbdev's own `nbdev_readme` renders the notebook with Quarto. Where Quarto is installed, that is the
command to use; this script gives the same Markdown (prose as is, code cells as fenced Python, cell
directives and hidden cells left out) without it, so the README can be kept in step anywhere.
"""
import json, re, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_text(nb_path=ROOT/'nbs'/'index.ipynb'):
    cells = json.loads(Path(nb_path).read_text())['cells']
    parts = []
    for c in cells:
        src = ''.join(c['source'])
        if c['cell_type'] == 'markdown': parts.append(src.strip())
        elif c['cell_type'] == 'code':
            lines = src.splitlines()
            if any(re.match(r'#\|\s*(hide|exec_doc)', l) for l in lines): continue
            code = '\n'.join(l for l in lines if not l.startswith('#|')).strip()
            if code: parts.append(f"```python\n{code}\n```")
    return '\n\n'.join(p for p in parts if p) + '\n'


if __name__ == '__main__':
    text, readme = readme_text(), ROOT/'README.md'
    if '--check' in sys.argv:
        ok = readme.exists() and readme.read_text() == text
        print('README.md is up to date' if ok else 'README.md differs from nbs/index.ipynb: run python tools/make_readme.py')
        sys.exit(0 if ok else 1)
    readme.write_text(text)
    print(f'wrote {readme}')
