"""Write README.md from nbs/index.ipynb, its results table filled in from bench/results/*.json (`--check`: only say whether both are up to date).

nbdev's own `nbdev_readme` renders the notebook with Quarto. Where Quarto is installed, that is the
command to use; this script gives the same Markdown (prose as is, code cells as fenced Python, cell
directives and hidden cells left out) without it, so the README can be kept in step anywhere.

The results table sits in index.ipynb between `TABLE_START` and `TABLE_END` (a line `{{results_table}}` marks where a new
one goes): this script writes it there from `results_table()` in bench/front_page.py, whose `ROWS` say which rows, so the
docs' home page and the README show what the results hold, and `--check` fails when a result changed and the table did not.
The docs' pictures (`images/...`, beside the notebook) are `nbs/images/...` from the README.
"""
import configparser, json, re, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
INDEX, README = ROOT/'nbs'/'index.ipynb', ROOT/'README.md'
PLACEHOLDER = '{{results_table}}'
TABLE_START = '<!-- results: written by tools/make_readme.py (rows: bench/front_page.py) -->'
TABLE_END = '<!-- end of results -->'


def repo_url() -> str:
    "Where the repository's files are read on the web: settings.ini's `git_url` and `branch`."
    cfg = configparser.ConfigParser()
    cfg.read(ROOT/'settings.ini')
    return f"{cfg['DEFAULT']['git_url']}/blob/{cfg['DEFAULT']['branch']}"


def results_block() -> str:
    "The results table between its markers, each row linked to its results page on the web (the docs' pages have no bench/)."
    sys.path.insert(0, str(ROOT/'bench'))
    from front_page import results_table
    url = repo_url()
    return '\n'.join([TABLE_START, *results_table(link=lambda page: f'{url}/bench/results/{page}.md'), TABLE_END])


def fill(md:str, block:str) -> str:
    "Markdown `md` with its results table, or the placeholder line, replaced by `block`."
    table = re.compile(re.escape(TABLE_START) + '.*?' + re.escape(TABLE_END), re.S)
    return table.sub(lambda _: block, md) if table.search(md) else md.replace(PLACEHOLDER, block)


def filled(nb_path=INDEX) -> tuple:
    "The notebook's text as it is, and as it is with the results table the results give today (nbdev_clean's JSON layout)."
    text = Path(nb_path).read_text()
    nb, block = json.loads(text), results_block()
    for c in nb['cells']:
        if c['cell_type'] == 'markdown': c['source'] = fill(''.join(c['source']), block).splitlines(keepends=True)
    return text, json.dumps(nb, indent=1, ensure_ascii=False) + '\n'


def readme_text(nb) -> str:
    "The README from notebook `nb` (a path or its JSON text): markdown as is, code as fenced Python, hidden cells left out."
    cells = json.loads(nb if isinstance(nb, str) else Path(nb).read_text())['cells']
    parts = []
    for c in cells:
        src = ''.join(c['source'])
        if c['cell_type'] == 'markdown': parts.append(src.strip())
        elif c['cell_type'] == 'code':
            lines = src.splitlines()
            if any(re.match(r'#\|\s*(hide|exec_doc)', l) for l in lines): continue
            code = '\n'.join(l for l in lines if not l.startswith('#|')).strip()
            if code: parts.append(f"```python\n{code}\n```")
    return re.sub(r'\]\(images/', '](nbs/images/', '\n\n'.join(p for p in parts if p) + '\n')


def main():
    before, after = filled()
    text = readme_text(after)
    if '--check' in sys.argv:
        stale = ([] if before == after else ['nbs/index.ipynb (its results table)']) + ([] if README.exists() and README.read_text() == text else ['README.md'])
        print(f"{' and '.join(stale)} out of date: run python tools/make_readme.py" if stale else 'README.md and the results table are up to date')
        sys.exit(1 if stale else 0)
    if after != before:
        INDEX.write_text(after)
        print(f'wrote {INDEX.relative_to(ROOT)} (the results table)')
    README.write_text(text)
    print(f'wrote {README.relative_to(ROOT)}')


if __name__ == '__main__': main()
