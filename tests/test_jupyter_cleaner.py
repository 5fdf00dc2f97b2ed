"""The cleaner as a user drives it: JupyterLab in headless Chromium (Playwright), on a copy of the bundled sample.

`nbdev_test` runs cells without a front end, so a widget that never renders or a choice that never reaches
the kernel would pass there. This test starts JupyterLab on 127.0.0.1 (a free port, a token, a temporary
root), opens the cleanup walkthrough (tests/fixtures/cleanup_walkthrough.ipynb), runs all its cells, makes
two decisions by selecting options in the page, and checks what the apply and undo cells do to the files.
Screenshots of each step go to tests/screenshots/ (ignored by git).
"""
import json, os, secrets, shutil, signal, socket, subprocess, sys, time, urllib.request
from pathlib import Path
from types import SimpleNamespace
import pytest
from conftest import tree_state

REPO = Path(__file__).resolve().parents[1]
WALKTHROUGH = REPO/'tests'/'fixtures'/'cleanup_walkthrough.ipynb'
SHOTS = REPO/'tests'/'screenshots'
CHROMIUM = shutil.which('chromium') or '/usr/bin/chromium'
BUDGET_S = 480  # the whole browser session; each wait below also has its own limit
EXCLUDED_CLASS, RELABEL_TO = 'Black-grass', 'Charlock'
LOG = '.seedling_clean/log.jsonl'

# Under CI (.ci/run sets CI) a missing piece fails instead of skipping, as in the docs' and the report's browser tests.
if not os.environ.get('CI'):
    pytest.importorskip('playwright.sync_api', reason='pip install -e ".[dev]" (playwright)')
    pytest.importorskip('jupyterlab', reason='pip install -e ".[dev]" (jupyterlab)')
    if not Path(CHROMIUM).exists(): pytest.skip('no chromium (apt-get install -y chromium)', allow_module_level=True)
from playwright.sync_api import sync_playwright


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); return s.getsockname()[1]


def wait_for(check, timeout:float, what:str, every:float=0.5):
    "Call `check` until it returns something truthy; fail naming `what` after `timeout` seconds."
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if res := check(): return res
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def stop_server(proc:subprocess.Popen):
    "Stop the JupyterLab server we started, by its process id: SIGTERM (it shuts its kernels down), then SIGKILL its group."
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try: proc.wait(20)
        except subprocess.TimeoutExpired: pass
    try: os.killpg(proc.pid, signal.SIGKILL)  # anything left in the server's own process group (kernels)
    except ProcessLookupError: pass
    proc.wait(10)


def lab_env(home:Path) -> dict:
    "The server's environment: this checkout importable, and Jupyter's config, settings and workspaces in `home`."
    settings = home/'settings'/'@jupyterlab'/'notebook-extension'
    settings.mkdir(parents=True)
    # every cell in the DOM, so the test sees all prompts and outputs without scrolling
    (settings/'tracker.jupyterlab-settings').write_text(json.dumps({'windowingMode': 'none'}))
    # no "get notified about Jupyter news?" toast over the outputs, no update check
    apputils = home/'settings'/'@jupyterlab'/'apputils-extension'; apputils.mkdir(parents=True)
    (apputils/'notification.jupyterlab-settings').write_text(json.dumps({'fetchNews': 'false', 'checkForUpdates': False}))
    return {**os.environ, 'MPLBACKEND': 'Agg', 'PYTHONPATH': os.pathsep.join(filter(None, [str(REPO), os.environ.get('PYTHONPATH')])),
            'JUPYTER_CONFIG_DIR': str(home/'config'), 'JUPYTER_RUNTIME_DIR': str(home/'runtime'),
            'JUPYTERLAB_SETTINGS_DIR': str(home/'settings'), 'JUPYTERLAB_WORKSPACES_DIR': str(home/'workspaces')}


@pytest.fixture
def lab(sample_copy, tmp_path):
    "JupyterLab serving `tmp_path` (the sample copy in data/, the walkthrough as cleanup.ipynb); stopped afterwards."
    shutil.copy(WALKTHROUGH, tmp_path/'cleanup.ipynb')
    port, token = free_port(), secrets.token_hex(16)
    log = open(tmp_path/'jupyter.log', 'w')
    cmd = [sys.executable, '-m', 'jupyterlab', '--no-browser', '--ServerApp.ip=127.0.0.1', f'--ServerApp.port={port}',
           '--ServerApp.port_retries=0', f'--IdentityProvider.token={token}', f'--ServerApp.root_dir={tmp_path}',
           '--LabApp.expose_app_in_browser=True', '--LabApp.news_url=None',
           '--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate', '--ServerApp.terminals_enabled=False']
    if os.geteuid() == 0: cmd.append('--allow-root')  # CI containers run as root
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=lab_env(tmp_path/'jupyter'), stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    url = f'http://127.0.0.1:{port}'
    def up():
        if proc.poll() is not None: raise AssertionError(f"JupyterLab exited:\n{(tmp_path/'jupyter.log').read_text()[-3000:]}")
        try: return urllib.request.urlopen(f'{url}/api/status?token={token}', timeout=2).status == 200
        except OSError: return False
    try:
        wait_for(up, 90, 'JupyterLab to answer')
        yield SimpleNamespace(url=url, token=token, data=sample_copy/'train', log=tmp_path/'jupyter.log')
    finally:
        stop_server(proc); log.close()


# The notebook's state, read from JupyterLab's own model (exposed by --LabApp.expose_app_in_browser).
NB_STATE = """() => {
  const nb = window.jupyterapp.shell.currentWidget;
  const kernel = nb.sessionContext.session && nb.sessionContext.session.kernel;
  const cells = [...nb.content.widgets].filter(c => c.model.type === 'code').map(c => ({
    source: c.model.sharedModel.getSource(), count: c.model.executionCount,
    busy: c.node.querySelector('.jp-InputPrompt').textContent.includes('*'), outputs: c.model.outputs.toJSON()}));
  return {kernel: kernel ? kernel.status : null, cells};
}"""


class Notebook:
    "The open notebook of a JupyterLab page: run cells through Lab's commands, read cells from its model."
    def __init__(self, page, deadline): self.page, self.deadline = page, deadline
    def state(self): return self.page.evaluate(NB_STATE)
    def left(self): return max(1, self.deadline - time.monotonic())

    def errors(self, cells=None) -> list:
        "Error outputs (and tracebacks on stderr) of `cells` (default: all code cells)."
        res = []
        for c in cells or self.state()['cells']:
            for o in c['outputs']:
                if o['output_type'] == 'error': res.append(f"{o['ename']}: {o['evalue']} in\n{c['source']}")
                elif o['output_type'] == 'stream' and o['name'] == 'stderr' and ('Traceback' in str(o['text']) or 'Error' in str(o['text'])):
                    res.append(f"stderr: {o['text']} in\n{c['source']}")
        return res

    def wait_idle(self, what:str, done=lambda cells: True):
        "Wait until the kernel is idle, no cell is queued or running, and `done(cells)`; stop at the first error output."
        def check():
            s = self.state()
            if self.errors(s['cells']): return s
            return s if s['kernel'] == 'idle' and not any(c['busy'] for c in s['cells']) and done(s['cells']) else None
        s = wait_for(check, self.left(), what, every=1)
        assert not self.errors(s['cells']), '\n'.join(self.errors(s['cells']))
        return s['cells']

    def run_all(self):
        self.page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
        return self.wait_idle('all cells to run', lambda cells: all(c['count'] is not None for c in cells))

    def run_cell(self, contains:str):
        "Run the one code cell whose source contains `contains`; its outputs."
        cells = self.state()['cells']
        i, = [k for k, c in enumerate(cells) if contains in c['source']]
        before = cells[i]['count']
        self.page.evaluate("""i => { const nb = window.jupyterapp.shell.currentWidget;
            const cell = [...nb.content.widgets].filter(c => c.model.type === 'code')[i];
            nb.content.activeCellIndex = nb.content.widgets.indexOf(cell);
            return window.jupyterapp.commands.execute('notebook:run-cell'); }""", i)
        return self.wait_idle(f'the cell with {contains!r} to run', lambda cells: cells[i]['count'] not in (None, before))[i]['outputs']


def thumbnails(page):
    "The cleaner's thumbnails: one box per image, holding the image, its dropdown and its caption."
    return page.locator('.widget-vbox:has(> .widget-output):has(> .widget-dropdown)')


def code_cell(page, contains:str):
    "The code cell (input and outputs) whose source contains `contains`."
    return page.locator('.jp-CodeCell').filter(has=page.locator('.jp-InputArea', has_text=contains))


def cleaner_output(page):
    "The output area that holds the cleaner (the thumbnails' own output areas hold no captions)."
    return page.locator('.jp-OutputArea-output:has(.widget-html-content [title])').first


def show_label(page, label:str):
    "Select `label` in the cleaner's label filter and wait until the thumbnails are that class's."
    page.locator('select:has(option:text-is("<All classes>"))').select_option(label=label)
    page.wait_for_function("""label => { const t = [...document.querySelectorAll('.widget-vbox > .widget-output')]
        .map(i => i.parentElement.querySelector('.widget-html-content [title]')); return t.length > 0 && t.every(x => x && x.title.startsWith(label + '/')); }""",
        arg=label)
    return thumbnails(page)


def test_cleaner_in_jupyterlab(lab):
    SHOTS.mkdir(exist_ok=True)
    before, start = tree_state(lab.data), time.monotonic()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'])
        try:
            page = browser.new_page(viewport={'width': 1400, 'height': 1100})
            page.set_default_timeout(120_000)
            page.goto(f'{lab.url}/lab/tree/cleanup.ipynb?token={lab.token}')
            page.wait_for_function("""() => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
                return w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel
                    && w.sessionContext.session.kernel.status === 'idle'; }""")
            nb = Notebook(page, start + BUDGET_S)
            nb.run_all()
            page.screenshot(path=SHOTS/'1_after_run_all.png', full_page=True)

            # The cleaner rendered, thumbnails and all (the default view: flagged suspects of every class)
            thumbs = thumbnails(page)
            thumbs.first.wait_for()
            assert page.evaluate("""() => { const ims = [...document.querySelectorAll('.widget-vbox > .widget-output img')];
                return ims.length > 0 && ims.every(i => i.complete && i.naturalWidth > 0); }"""), 'thumbnails not shown'
            thumbs.first.scroll_into_view_if_needed()
            cleaner_output(page).screenshot(path=SHOTS/'2_cleaner_suspects.png')

            # Two decisions, made as a user makes them: all images of one class, then a dropdown per thumbnail
            page.locator('select:has(option:text-is("All images"))').select_option(label='All images')
            thumbs = show_label(page, EXCLUDED_CLASS)
            thumbs.nth(0).locator('select').select_option(label='<Exclude>')
            thumbs.nth(1).locator('select').select_option(label=RELABEL_TO)
            files = [thumbs.nth(k).locator('.widget-html-content [title]').get_attribute('title') for k in (0, 1)]
            cleaner_output(page).screenshot(path=SHOTS/'3_two_decisions.png')

            # ... which survive a switch of the label filter and back
            show_label(page, RELABEL_TO)
            thumbs = show_label(page, EXCLUDED_CLASS)
            assert [thumbs.nth(k).locator('.widget-html-content [title]').get_attribute('title') for k in (0, 1)] == files
            picked = [thumbs.nth(k).locator('select').evaluate('s => s.options[s.selectedIndex].text') for k in (0, 1, 2)]
            assert picked == ['<Exclude>', RELABEL_TO, '<Keep>'], picked
            cleaner_output(page).screenshot(path=SHOTS/'4_after_filter_switch.png')

            # The apply cell moves exactly those two files: one to the quarantine, one to its new class
            nb.run_cell('cleaner.apply()')
            code_cell(page, 'cleaner.apply()').screenshot(path=SHOTS/'5_apply_cell.png')
            after = tree_state(lab.data)
            excluded, relabelled = files
            moved = {excluded: f'.seedling_clean/quarantine/{excluded}', relabelled: f'{RELABEL_TO}/{Path(relabelled).name}'}
            assert set(before) - set(after) == set(moved)
            assert set(after) - set(before) == set(moved.values()) | {LOG}
            assert all(after[dst] == before[src] for src, dst in moved.items())
            assert all(after[f] == h for f, h in before.items() if f not in moved)

            # The undo cell restores every file, byte for byte (the log stays, saying what happened)
            nb.run_cell('undo_moves(')
            code_cell(page, 'undo_moves(').screenshot(path=SHOTS/'6_undo_cell.png')
            restored = tree_state(lab.data)
            assert [json.loads(l)['op'] for l in (lab.data/LOG).read_text().splitlines()] == ['move', 'move', 'undo', 'undo']
            del restored[LOG]
            assert restored == before
        finally:
            browser.close()
    print(f"browser test: {time.monotonic() - start:.0f} s; screenshots in {SHOTS.relative_to(REPO)}")
