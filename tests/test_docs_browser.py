"""The documentation preview (tools/docs_preview.py) read in headless Chromium: every page, as a reader gets it.

Set `SEEDLING_DOCS_PREVIEW` to a built preview folder (`.ci/run` builds `_docs_preview/` first) or the test builds
one in a temporary folder. Screenshots go to `_docs_preview_shots/` (ignored), one full-page PNG per page, and a
line per page (height, images, symbols, links) is printed: `pytest tests/test_docs_browser.py -s` shows them.
Without Chromium the test is skipped, except in CI (`CI` set), where that is a failure.
"""
import importlib, json, os, re, sys
from pathlib import Path
from urllib.parse import unquote, urlparse
import pytest

pytestmark = pytest.mark.xdist_group('docs_browser')  # its tests share module-scoped runs: keep them on one pytest-xdist worker

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT/'_docs_preview_shots'
sys.path.insert(0, str(ROOT/'tools'))


def title_cell(nb_path):
    "The title and the whole description (every `>` line, joined) of a notebook's title cell."
    md = next(''.join(c['source']) for c in json.loads(Path(nb_path).read_text())['cells'] if c['cell_type'] == 'markdown')
    title = re.search(r'^#\s+(.+)$', md, re.M)[1].strip()
    desc = ' '.join(l.lstrip('>').strip() for l in md.splitlines() if l.startswith('>'))
    return title, desc


def documented_symbols(page):
    "Each exported symbol whose doc page is `page` (nbdev's `_modidx`) with the signature `show_doc` writes for it."
    from fastcore.docments import _fmt_sig
    from nbdev.showdoc import BasicMarkdownRenderer
    from seedling_clf._modidx import d
    syms = {}
    for mod_name, entries in d['syms'].items():
        mod = importlib.import_module(mod_name)
        for name in getattr(mod, '__all__', []):
            url = entries.get(f'{mod_name}.{name}', ('',))[0]
            if url.split('#')[0] != page: continue
            r = BasicMarkdownRenderer(getattr(mod, name))
            syms[name] = f"{r.nm} {_fmt_sig(r.sig)}" if r.sig else r.nm
    return syms


def squeeze(s): return re.sub(r'\s+', '', s)


def unqualified(s):
    """`s` without what differs between a page and the package for the same signature: module paths (a notebook's page
    names its own classes `__main__.X`, the package `seedling_clf.train.X`), the links nbdev adds to names in backticks,
    and the addresses in an object's repr."""
    s = re.sub(r'\[(`[^`\]]+`)\]\([^)]*\)', r'\1', s)
    s = re.sub(r'at0x[0-9a-f]+', 'at0x', s)
    return re.sub(r'\b[A-Za-z_][\w.]*\.([A-Za-z_]\w*)', r'\1', s)


def pages():
    "(notebook, page) for every notebook, the page named as nbdev names it (`00_core.ipynb` -> `core.html`)."
    from nbdev.doclinks import _nbpath2html
    return [(nb, _nbpath2html(nb).name) for nb in sorted((ROOT/'nbs').glob('*.ipynb'))]


@pytest.fixture(scope='module')
def preview(tmp_path_factory):
    "A built preview folder: `$SEEDLING_DOCS_PREVIEW`, else one built now."
    if os.environ.get('SEEDLING_DOCS_PREVIEW'): return Path(os.environ['SEEDLING_DOCS_PREVIEW']).resolve()
    from docs_preview import build
    out = tmp_path_factory.mktemp('docs_preview')
    build(out)
    return out


@pytest.fixture(scope='module')
def browser():
    from seedling_clf.report import chromium
    exe = chromium()
    if exe is None:
        if os.environ.get('CI'): pytest.fail('CI is set and Chromium is missing: apt-get install -y chromium')
        pytest.skip('chromium is not installed (apt-get install -y chromium)')
    pw = pytest.importorskip('playwright.sync_api')
    flags = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
             '--disable-component-update', '--disable-sync']
    with pw.sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=flags)   # Playwright's own browser download is never used
        yield b
        b.close()


def test_every_notebook_has_a_page(preview):
    missing = [page for _, page in pages() if not (preview/page).exists()]
    assert not missing, f"no preview page for {missing}"


def home_pictures():
    "(alt text, path) of each picture the home page (nbs/index.ipynb, the README's source) shows from nbs/images/."
    md = '\n'.join(''.join(c['source']) for c in json.loads((ROOT/'nbs'/'index.ipynb').read_text())['cells'] if c['cell_type'] == 'markdown')
    return re.findall(r'!\[([^\]]*)\]\((images/[^)\s]+)\)', md)


def test_home_page_picture(preview, browser):
    "The front page's picture (bench/front_page.py draws it into nbs/images/) is copied into the preview and loads in Chromium."
    pics = home_pictures()
    assert pics, "nbs/index.ipynb shows no picture from images/"
    pg = browser.new_page(viewport={'width': 1280, 'height': 900})
    pg.goto((preview/'index.html').as_uri(), wait_until='load')
    imgs = pg.evaluate("() => [...document.images].map(i => ({alt: i.alt, src: i.getAttribute('src') ?? '', width: i.naturalWidth}))")
    pg.close()
    for alt, path in pics:
        shown = [i for i in imgs if i['alt'] == alt]
        assert shown, f"index.html has no picture {alt!r} ({path}); pictures: {[i['alt'] for i in imgs]}"
        assert all(i['width'] > 0 for i in shown), f"{path} did not load on the home page"
        assert any(i['src'].startswith('data:image/') or i['src'].endswith(path) for i in shown), shown
        assert (preview/path).is_file() or all(i['src'].startswith('data:') for i in shown), f"{path} was not copied into the preview"


PAGE_JS = """() => ({
  title: document.title,
  header: document.querySelector('header.page-header')?.innerText ?? '',
  text: document.body.innerText,
  images: [...document.images].map(i => ({src: i.src.slice(0, 80), ok: i.complete && i.naturalWidth > 0})),
  links: [...document.querySelectorAll('a[href]')].map(a => a.href),
  ids: [...document.querySelectorAll('[id]')].map(e => e.id),
  errors: [...document.querySelectorAll('[data-mime-type="application/vnd.jupyter.stderr"]')].map(e => e.innerText)
           .filter(t => /Traceback|\\w+Error\\b/.test(t)),
  height: document.documentElement.scrollHeight,
})"""


@pytest.mark.parametrize('nb,page', pages(), ids=[p for _, p in pages()])
def test_page_in_chromium(preview, browser, nb, page):
    if not (preview/page).exists(): pytest.fail(f"{page} was not built")
    pg = browser.new_page(viewport={'width': 1280, 'height': 900})
    problems = []
    pg.on('pageerror', lambda e: problems.append(f'script error: {e}'))
    pg.on('requestfailed', lambda r: problems.append(f'request failed: {r.url[:100]}'))
    pg.goto((preview/page).as_uri(), wait_until='load')
    info = pg.evaluate(PAGE_JS)
    SHOTS.mkdir(exist_ok=True)
    pg.screenshot(path=str(SHOTS/f'{Path(page).stem}.png'), full_page=True)
    pg.close()

    title, desc = title_cell(nb)
    assert info['title'] == title and title in info['header'], f"{page}: title {title!r} not at the top"
    assert squeeze(desc.replace('`', '')) in squeeze(info['header']), f"{page}: the description is cut or missing: {desc!r}"
    syms = documented_symbols(page)
    text = unqualified(squeeze(info['text']))
    undocumented = [n for n, sig in syms.items() if unqualified(squeeze(sig)) not in text]
    assert not undocumented, f"{page}: no signature on the page for {undocumented}"
    broken = [i['src'] for i in info['images'] if not i['ok']]
    assert not broken, f"{page}: images that did not load: {broken}"
    assert 'Traceback (most recent call last)' not in info['text'] and not info['errors'], f"{page}: error output {info['errors']}"
    assert not problems, f"{page}: {problems}"
    for href in info['links']:
        u = urlparse(href)
        if u.scheme != 'file': continue
        target = Path(unquote(u.path))
        assert target.is_file(), f"{page}: link to a missing page {href}"
        if u.fragment and target.suffix == '.html':
            ids = set(re.findall(r'\bid="([^"]+)"', target.read_text(encoding='utf-8')))
            assert u.fragment in ids, f"{page}: link to a missing anchor {href}"
    print(f"\n{page}: {info['height']} px high, {len(info['images'])} images loaded, {len(syms)} symbols with their "
          f"signatures, {sum(l.startswith('file:') for l in info['links'])} internal links")
