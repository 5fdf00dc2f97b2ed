"""The classifier app (nbs/app.ipynb) as a user gets it: served by Voila, driven in headless Chromium (Playwright).

The test starts `voila nbs/app.ipynb` on 127.0.0.1 (a free port) with `SEEDLING_APP_MODEL` set to the tiny run of the
`trained_model` fixture, uploads a bundled test image through the page's upload button, and checks that the predicted
species (the one `explain` gives in this process), three probability bars and the heatmap image appear. The screenshot
goes to tests/screenshots/app.png (ignored by git) and is copied to nbs/images/app.png, which the app's page and the
README show. Under CI (`CI` set) a missing piece fails instead of skipping, as in the other browser tests.
"""
import os, shutil, socket, subprocess, sys, time
from pathlib import Path
import pytest

REPO = Path(__file__).resolve().parents[1]
APP, SHOTS, DOCS_SHOT = REPO/'nbs'/'app.ipynb', REPO/'tests'/'screenshots', REPO/'nbs'/'images'/'app.png'
CHROMIUM = shutil.which('chromium') or '/usr/bin/chromium'

if not os.environ.get('CI'):
    pytest.importorskip('playwright.sync_api', reason='pip install -e ".[dev]" (playwright)')
    pytest.importorskip('voila', reason='pip install -e ".[dev]" (voila)')
    if not Path(CHROMIUM).exists(): pytest.skip('no chromium (apt-get install -y chromium)', allow_module_level=True)
from playwright.sync_api import sync_playwright
from test_jupyter_cleaner import free_port, wait_for, stop_server


@pytest.fixture
def voila(trained_model, tmp_path):
    "Voila serving the app with the tiny trained model; stopped afterwards."
    port, home = free_port(), tmp_path/'jupyter'
    env = {**os.environ, 'SEEDLING_APP_MODEL': str(trained_model[0]), 'MPLBACKEND': 'Agg',
           'PYTHONPATH': os.pathsep.join(filter(None, [str(REPO), os.environ.get('PYTHONPATH')])),
           'JUPYTER_CONFIG_DIR': str(home/'config'), 'JUPYTER_RUNTIME_DIR': str(home/'runtime')}
    log = open(tmp_path/'voila.log', 'w')
    cmd = [sys.executable, '-m', 'voila', str(APP), '--no-browser', f'--port={port}', '--Voila.ip=127.0.0.1', '--show_tracebacks=True']
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f'http://127.0.0.1:{port}'
    def up():
        if proc.poll() is not None: raise AssertionError(f"Voila exited:\n{(tmp_path/'voila.log').read_text()[-3000:]}")
        try:
            with socket.create_connection(('127.0.0.1', port), timeout=2): return True  # listening (a page request would start a kernel)
        except OSError: return False
    try:
        wait_for(up, 90, 'Voila to answer')
        yield url, tmp_path/'voila.log'
    finally:
        stop_server(proc)
        log.close()


def test_app_in_voila(voila, trained_model):
    from seedling_clf.explain import explain
    url, log = voila
    image = sorted((REPO/'seedling_clf'/'sample'/'test').glob('*.png'))[0]
    expected = explain(trained_model[0], [image], cpu=True)[0].pred
    SHOTS.mkdir(exist_ok=True)
    start = time.monotonic()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'])
        try:
            page = browser.new_page(viewport={'width': 1100, 'height': 700})
            page.set_default_timeout(180_000)
            page.goto(url, timeout=300_000)  # Voila answers once the notebook has run (imports and model load)
            page.locator('.widget-upload').wait_for()  # the notebook ran and its widgets rendered
            with page.expect_file_chooser() as chooser: page.locator('.widget-upload').click()
            chooser.value.set_files(str(image))
            page.locator('.prob-bar').nth(2).wait_for()
            page.wait_for_function("() => { const i = document.querySelector('img.heatmap'); return i && i.complete && i.naturalWidth > 0; }")
            assert page.locator('.species').inner_text().strip() == expected
            assert page.locator('.prob-bar').count() == 3 and page.locator('.prob-bar .widget-hprogress').count() == 3
            page.screenshot(path=SHOTS/'app.png')
        except Exception:
            page.screenshot(path=SHOTS/'app_failed.png')
            print(log.read_text()[-3000:])
            raise
        finally:
            browser.close()
    shutil.copy(SHOTS/'app.png', DOCS_SHOT)
    print(f"app test: {time.monotonic() - start:.0f} s in the browser; screenshot {DOCS_SHOT.relative_to(REPO)}")
