"""Execute notebooks in place, top to bottom in a fresh kernel, and store the outputs a reader should see.

`python tools/execute_nbs.py nbs/00_core.ipynb nbs/02_data.ipynb ...` (no argument: every notebook in nbs/).
Each notebook runs in a new `python3` kernel with nbs/ as its working directory and this checkout's package first
on the path, as `nbdev_test` runs it. A notebook whose cell fails is left as it was (the error is printed, exit 1).
Cells flagged with one of settings.ini's `tst_flags` (`#| slow`) run too unless `--skip_flagged` says otherwise.

The stored outputs are kept small and renderable, so the docs show them and the repository stays light:
paths of this machine (the checkout, temp folders) are made neutral, fastprogress's HTML progress bars, the warnings that installed packages raise, and widget views (which need a live kernel; store a static rendering or a
screenshot for those instead) are dropped, carriage-return progress lines in text output are reduced to their last
state, long text is cut to `--max_lines`, and an output over `--max_kb` is replaced by a note. Plots use the inline
backend's defaults (72 dpi). Then the notebook goes through `nbdev_clean`, which keeps outputs (`clear_all = False`).
"""
import argparse, json, os, re, sys, time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbdev.config import get_config
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT/'nbs'
WIDGET = 'application/vnd.jupyter.widget-view+json'


def is_progress_bar(out) -> bool:
    "A fastprogress bar (HTML with a `<progress>` element, its `<style>` block, or the blank left by a finished bar) or a widget view."
    data = out.get('data', {})
    html = ''.join(data.get('text/html', ''))
    return WIDGET in data or '<progress' in html or ('text/html' in data and not re.sub(r'(?s)<style>.*?</style>', '', html).strip())


def squeeze_text(text:str, max_lines:int) -> str:
    "`text` with each carriage-return-updated line at its last state, cut to `max_lines` lines."
    lines = [l.rsplit('\r', 1)[-1] for l in text.split('\n')]
    if len(lines) > max_lines: lines = lines[:max_lines//2] + [f'... ({len(lines) - max_lines} lines cut)'] + lines[-max_lines//2:]
    return '\n'.join(lines)


def drop_library_warnings(text:str) -> str:
    "stderr `text` without the warnings raised inside installed packages (`.../site-packages/...: FutureWarning: ...`)."
    records = re.split(r'(?m)^(?=\S+:\d+: \w*Warning: )', text)
    return ''.join(r for r in records if not re.match(r'\S*site-packages\S*:\d+: \w*Warning: ', r))


def out_size(out) -> int: return len(json.dumps(out))


MACHINE_PATHS = [(re.compile(re.escape(str(ROOT)) + r'/?'), ''),              # this checkout: paths read from the repo root
    (re.compile(r'/tmp/ipykernel_\d+/\d+\.py'), '<cell>'),      # the code of a cell
    (re.compile(r'/tmp/tmp[\w.-]+'), '<tmp>')]                   # a tempfile folder of a test cell


def scrub_paths(text:str) -> str:
    "`text` with this machine's paths (the checkout, temp folders, kernel cell files) replaced by neutral ones."
    for pat, repl in MACHINE_PATHS: text = pat.sub(repl, text)
    return text


def scrub_output(out):
    "An output whose text fields (stream text, plain/HTML/markdown data, tracebacks) carry no path of this machine."
    if 'text' in out: out['text'] = scrub_paths(out['text'])
    for k in ('text/plain', 'text/html', 'text/markdown'):
        if k in out.get('data', {}): out['data'][k] = scrub_paths(''.join(out['data'][k]))
    return out


def machine_paths_left(nb) -> list:
    "The stored outputs' lines that still name a folder of this machine (checked after `small_outputs`)."
    text = json.dumps([c.get('outputs', []) for c in nb.cells])
    return sorted(set(re.findall(r'[^"\\]{0,60}(?:/tmp/|/home/|/root/|/work/)[^"\\]{0,60}', text)))


def small_outputs(nb, max_lines:int=60, max_kb:int=300):
    "Drop what a static page cannot show and cap what is too big (see the module's docstring)."
    nb.metadata.pop('widgets', None)
    for c in nb.cells:
        if c.cell_type != 'code': continue
        outs = []
        for o in c.outputs:
            if is_progress_bar(o): continue
            o = scrub_output(o)
            if o.output_type == 'stream':
                o.text = squeeze_text(drop_library_warnings(o.text) if o.name == 'stderr' else o.text, max_lines)
                if not o.text.strip(): continue
            if out_size(o) > max_kb*1024:
                o = nbformat.v4.new_output('stream', name='stdout', text=f'(an output of {out_size(o)//1024} KB was not stored)')
            outs.append(o)
        c.outputs = outs
    return nb


def is_flagged(cell, flags) -> bool:
    "Whether a code cell carries one of `flags` as an nbdev directive (`#| slow`)."
    return any(re.fullmatch(rf'#\|\s*({"|".join(map(re.escape, flags))})\s*', l.strip()) for l in cell.source.splitlines()) if flags else False


def execute(path:Path, timeout:int=600, skip_flagged:bool=False, **kw) -> float:
    "Run notebook `path` in a fresh kernel (cwd = its folder); store small outputs; the seconds it took. `skip_flagged`: flagged cells keep their source and outputs but do not run."
    path = Path(path).resolve()
    nb = nbformat.read(path, as_version=4)
    flags = get_config(path=ROOT).tst_flags.split() if skip_flagged else []  # what `nbdev_test` skips unless asked for
    skipped = {i: (c.source, c.outputs) for i, c in enumerate(nb.cells) if c.cell_type == 'code' and is_flagged(c, flags)}
    for i in skipped: nb.cells[i].source = ''
    env = {**os.environ, 'PYTHONPATH': os.pathsep.join([str(ROOT), os.environ.get('PYTHONPATH', '')]).rstrip(os.pathsep)}
    env.pop('MPLBACKEND', None)   # the kernel's inline backend draws the plots into the notebook; Agg would not
    start = time.time()
    NotebookClient(nb, timeout=timeout, kernel_name='python3', resources={'metadata': {'path': str(path.parent)}}).execute(env=env)
    for i, (source, outputs) in skipped.items(): nb.cells[i].source, nb.cells[i].outputs = source, outputs
    nbformat.write(small_outputs(nb, **kw), path)
    if left := machine_paths_left(nb): print(f"{path.name}: outputs still name folders of this machine:", *left, sep='\n  ')
    from nbdev.clean import nbdev_clean
    nbdev_clean.__wrapped__(fname=str(path))   # not its command-line parser
    return time.time() - start


if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('notebooks', nargs='*', help='notebooks to execute (default: every notebook in nbs/)')
    ap.add_argument('--timeout', type=int, default=600, help='seconds one cell may run')
    ap.add_argument('--max_lines', type=int, default=60, help='lines of text kept per output')
    ap.add_argument('--max_kb', type=int, default=300, help='largest output stored, in KB')
    ap.add_argument('--skip_flagged', action='store_true', help="don't run the cells flagged with settings.ini's tst_flags (#| slow)")
    a = ap.parse_args()
    failed = []
    for p in a.notebooks or sorted(NBS.glob('*.ipynb')):
        try: print(f"{p}: executed in {execute(p, a.timeout, a.skip_flagged, max_lines=a.max_lines, max_kb=a.max_kb):.0f} s, "
            f"{Path(p).stat().st_size//1024} KB", flush=True)
        except CellExecutionError as e:
            failed.append(str(p))
            print(f"{p}: FAILED, left unchanged\n{str(e)[-3000:]}", flush=True)
    sys.exit(1 if failed else 0)
