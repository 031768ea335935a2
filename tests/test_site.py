"""The course website and the talk slides, tested as a person would meet them.

Builds `_docs/` with the README's command (`.ci/docs.py`, behind `make docs`; set FRICTION_DOCS_BUILT=1 to test the
site already there), serves it on 127.0.0.1 and opens the home page, a notebook page, the workshop guide and the
slides in headless Chromium (Debian's `chromium`): the screenshot is not blank, the navigation is there, and the page
makes no request to another host (every other host is made unresolvable, and Chromium's net log is read for
requests the page started). Without a browser the browser tests are skipped, except in CI, where they fail.
Static checks: a page per notebook, an API entry (signature, source link) for every exported function, no load
from another host in any built file, no broken internal link or anchor.
"""
import functools, http.server, importlib.util, json, os, re, shutil, subprocess, sys, tempfile, threading
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit
import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / '_docs'
SLIDES = DOCS / 'slides' / 'talk.html'
CHROMIUM = next((p for p in map(shutil.which, ('chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable')) if p), None)
NOTEBOOK_PAGE = '00_concept.html'

spec = importlib.util.spec_from_file_location('docs_build', ROOT / '.ci' / 'docs.py')
docs_build = importlib.util.module_from_spec(spec); spec.loader.exec_module(docs_build)


@pytest.fixture(scope='session')
def site():
    "The built site: made by `.ci/docs.py` (as `make docs` does) unless FRICTION_DOCS_BUILT=1."
    if not (os.environ.get('FRICTION_DOCS_BUILT') and (DOCS / 'index.html').exists()):
        r = subprocess.run([sys.executable, str(ROOT / '.ci' / 'docs.py')], capture_output=True, text=True,
                           cwd=ROOT, timeout=900, stdin=subprocess.DEVNULL)
        assert r.returncode == 0, f'the docs build failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}'
    return DOCS


# ---------------------------------------------------------------- what the build wrote

def test_a_page_per_notebook_the_guide_and_the_slides(site):
    want = ['index.html', 'workshop.html', 'slides/talk.html'] + [p.with_suffix('.html').name for p in (ROOT / 'nbs').glob('*.ipynb')]
    missing = [w for w in want if not (site / w).is_file()]
    assert not missing, f'the site lacks {missing}'
    nav = (site / 'index.html').read_text(encoding='utf-8')
    for nb in sorted((ROOT / 'nbs').glob('0*.ipynb')):  # the sidebar lists the notebooks in course order
        assert f'href="{nb.stem}.html"' in nav, f'the home page does not link {nb.stem}.html'
    order = [nav.index(f'href="{nb.stem}.html"') for nb in sorted((ROOT / 'nbs').glob('0*.ipynb'))]
    assert order == sorted(order), 'the notebooks are not listed in course order'


def exported_symbols():
    "(module, page, name) for every public function and class the library exports, from nbdev's index."
    from friction_reasoning import _modidx
    pages = {}
    for nb in (ROOT / 'nbs').glob('*.ipynb'):
        src = '\n'.join(''.join(c['source']) for c in json.loads(nb.read_text(encoding='utf-8'))['cells'])
        m = re.search(r'^#\|\s*default_exp\s+([\w.]+)', src, re.M)
        if m: pages[f'friction_reasoning.{m.group(1)}'] = nb.with_suffix('.html').name
    out = []
    for mod, syms in _modidx.d['syms'].items():
        try: public = set(getattr(importlib.import_module(mod), '__all__', []))
        except Exception: continue  # a module being rewritten right now; nbdev_export's own check covers it
        out += [(mod, pages.get(mod), k.rsplit('.', 1)[1]) for k in syms
                if k.count('.') == mod.count('.') + 1 and k.rsplit('.', 1)[1] in public]
    return out


def test_api_reference_for_every_exported_function(site):
    syms = exported_symbols()
    assert len(syms) >= 10, syms
    problems = []
    for mod, page, name in syms:
        if page is None: problems.append(f'{mod}: no notebook has `#| default_exp` for it'); continue
        html = (site / page).read_text(encoding='utf-8')
        m = re.search(rf'<h[34] id="{re.escape(name.lower())}"', html)
        if not m: problems.append(f'{page}: no API entry for {name}'); continue
        entry = html[max(0, m.start() - 600): m.start() + 4000]
        src = f'/blob/main/friction_reasoning/{mod.split(".")[-1]}.py#L'
        if src not in entry: problems.append(f'{page}: {name} has no source link ({src})')
        if not re.search(rf'(def|class)</span>\s*<span class="\w+">{re.escape(name)}</span>', entry):
            problems.append(f'{page}: {name} shows no signature')
    assert not problems, '\n'.join(problems)


def shown_outputs(nb_path):
    "(plots, tables) a notebook shows: PNG/SVG outputs and HTML tables of cells not hidden, and markdown tables."
    plots = tables = 0
    for c in json.loads(nb_path.read_text(encoding='utf-8'))['cells']:
        src = ''.join(c['source'])
        if c['cell_type'] == 'markdown': tables += len(re.findall(r'^\|?\s*:?-{3,}:?\s*\|', src, re.M)); continue
        if re.search(r'^#\|\s*(hide|include:\s*false|output:\s*false)', src, re.M): continue
        for o in c.get('outputs', []):
            d = o.get('data', {})
            plots += 'image/png' in d or 'image/svg+xml' in d
            tables += len(re.findall(r'<table', ''.join(d.get('text/html', ''))))
    return plots, tables


@pytest.mark.parametrize('nb', sorted((ROOT / 'nbs').glob('*.ipynb')), ids=lambda p: p.stem)
def test_plots_and_tables_of_the_notebook_are_on_its_page(site, nb):
    plots, tables = shown_outputs(nb)
    html = (site / nb.with_suffix('.html').name).read_text(encoding='utf-8')
    shown = len(re.findall(r'<img\b[^>]*src="data:image/(?:png|svg)', html)) + len(re.findall(r'<svg\b', html))
    assert shown >= plots, f'{nb.name} has {plots} plots in its outputs, its page shows {shown}'
    assert html.count('<table') >= tables, f'{nb.name} has {tables} tables, its page shows {html.count("<table")}'


def test_no_file_loads_anything_from_another_host(site):
    assert docs_build.external_loads(site) == []


def test_the_load_scanner_catches_loads(tmp_path):
    (tmp_path / 'a.html').write_text('<link rel="stylesheet" href="https://cdn.example.org/x.css">'
                                     '<a href="https://github.com/x">a link is fine</a><img src="//img.example.org/y.png">'
                                     '<link href="https://cdn.example.org/late-rel.css" rel="stylesheet">')
    (tmp_path / 'b.css').write_text('@import url("https://fonts.example.org/css"); body{background:url(/local.png)}')
    (tmp_path / 'c.html').write_text('<script src="http://127.0.0.1:8000/ok.js"></script><link rel="canonical" href="https://example.org/">'
                                     '<div style="background: url(https://bg.example.org/z.jpg)"></div>')
    (tmp_path / 'd.js').write_text('import("https://esm.example.org/m.js"); const s = "https://just.a.string/";')
    found = docs_build.external_loads(tmp_path)
    assert sorted(found) == ['a.html: //img.example.org/y.png', 'a.html: https://cdn.example.org/late-rel.css',
                             'a.html: https://cdn.example.org/x.css', 'b.css: https://fonts.example.org/css',
                             'c.html: https://bg.example.org/z.jpg', 'd.js: https://esm.example.org/m.js'], found


class Links(HTMLParser):
    "Every href/src of a page, and every id it defines."
    def __init__(self):
        super().__init__(); self.refs, self.ids = [], set()
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get('id'): self.ids.add(a['id'])
        if tag == 'a' and a.get('name'): self.ids.add(a['name'])
        for k in ('href', 'src'):
            if a.get(k) and not (tag == 'link' and 'canonical' in (a.get('rel') or '')): self.refs.append((tag, a[k]))


@functools.lru_cache(maxsize=None)
def parsed(path):
    p = Links(); p.feed(Path(path).read_text(encoding='utf-8', errors='replace')); return p


def test_no_broken_internal_link(site):
    broken = []
    for page in sorted(site.rglob('*.html')):
        for tag, ref in parsed(page).refs:
            u = urlsplit(ref)
            if u.scheme or u.netloc or ref.startswith(('data:', 'mailto:', 'javascript:')): continue
            target = page if not u.path else ((site / u.path.lstrip('/')) if u.path.startswith('/') else page.parent / unquote(u.path))
            if target.is_dir(): target = target / 'index.html'
            if not target.exists(): broken.append(f'{page.relative_to(site)}: <{tag}> {ref} (no such file)'); continue
            if u.fragment and target.suffix == '.html' and unquote(u.fragment) not in parsed(target.resolve()).ids:
                broken.append(f'{page.relative_to(site)}: <{tag}> {ref} (no id "{u.fragment}" there)')
    assert not broken, f'{len(broken)} broken internal links:\n' + '\n'.join(broken[:40])


def test_slides_are_one_self_contained_file_with_speaker_notes(site):
    html = SLIDES.read_text(encoding='utf-8')
    assert not re.findall(r'<(?:script|link|img)\b[^>]*\b(?:src|href|data-src)="(?!data:|\$\{)[^"#]+"', html), 'the slides load other files'
    slides = len(re.findall(r'<section id=', html))
    notes = len(re.findall(r'<aside class="notes">', html))
    assert slides >= 15 and notes >= 10, (slides, notes)
    for must in ('Tilburg Tech Tuesdays XXL', 'Fontys ICT', 'Fresheads', 'QLoRA', 'Ollama', 'scorecard'):
        assert must in html, f'the talk does not mention {must}'
    info = ROOT / 'slides' / 'figures' / 'figures.json'
    if info.exists():  # the run's plots are embedded, labelled with the profile and the hardware that made them
        fig = json.loads(info.read_text())
        flat = ' '.join(html.split())
        assert f"Profile <code>{fig['profile']}</code> · {fig['hardware']}" in flat, 'the plots are not labelled'
        if fig['profile'] == 'smoke': assert 'not results of a real model' in flat
        assert len(re.findall(r'<img\b[^>]*\b(?:data-)?src="data:image/png;base64,', html)) >= len(fig['files'])


def test_workshop_guide_covers_the_session(site):
    text = re.sub(r'<[^>]+>', ' ', (site / 'workshop.html').read_text(encoding='utf-8'))
    for must in ('Before the session', 'HF_TOKEN', 'make run', 'Ollama', 'No GPU', 'smoke', 'Colab',
                 'CUDA out of memory', 'bf16', 'bitsandbytes', 'chat template', 'OPENAI_API_KEY', 'RateLimitError',
                 'nbdev_export', 'Colab reset'):
        assert must.lower() in text.lower(), f'the workshop guide does not cover {must!r}'
    assert not (ROOT / 'nbs' / 'workshop.ipynb').exists(), 'the guide is a page, not a notebook make test would run'


# ---------------------------------------------------------------- in a browser

@pytest.fixture(scope='session')
def browser():
    if CHROMIUM: return CHROMIUM
    if os.environ.get('CI'): pytest.fail('chromium is not installed (make setup installs it with apt-get as root)')
    pytest.skip('no chromium on this machine (apt-get install chromium)')


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a): pass


@pytest.fixture(scope='session')
def serve():
    "serve(folder) -> base URL of an HTTP server on 127.0.0.1 for that folder (stopped after the session)."
    servers = []
    def start(folder):
        srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), functools.partial(Quiet, directory=str(folder)))
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
        return f'http://127.0.0.1:{srv.server_address[1]}/'
    yield start
    for s in servers: s.shutdown(); s.server_close()


def chromium(exe, url, out_dir, *action):
    "Run headless Chromium on `url` with every non-local host unresolvable; return (stdout, the page's requests)."
    profile = tempfile.mkdtemp(prefix='chromium-')
    netlog = Path(out_dir) / f'net-{len(list(Path(out_dir).glob("net-*")))}.json'
    cmd = [exe, '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
           '--disable-component-update', '--disable-sync', '--disable-quic', '--no-first-run', '--no-default-browser-check',
           '--hide-scrollbars', f'--user-data-dir={profile}', '--window-size=1280,900',
           '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1', f'--log-net-log={netlog}',
           '--virtual-time-budget=5000', *action, url]
    try: r = subprocess.run(cmd, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    finally: shutil.rmtree(profile, ignore_errors=True)
    assert r.returncode == 0, f'chromium failed on {url}:\n{r.stderr[-2000:]}'
    return r.stdout, page_requests(netlog, url)


def page_requests(netlog, url):
    "URLs the page itself requested (Chromium's own background requests have no page origin as initiator)."
    raw = Path(netlog).read_text(encoding='utf-8')
    try: log = json.loads(raw)
    except json.JSONDecodeError: log = json.loads(raw.rstrip().rstrip(',') + ']}')  # cut short when the browser exits
    origin = '{0.scheme}://{0.netloc}'.format(urlsplit(url))
    start = log['constants']['logEventTypes']['URL_REQUEST_START_JOB']
    return sorted({e['params']['url'] for e in log['events'] if e['type'] == start
                   and e.get('params', {}).get('initiator') == origin})


def other_hosts(requests):
    return [u for u in requests if urlsplit(u).hostname not in ('127.0.0.1', None) and not u.startswith('data:')]


def not_blank(png):
    "True when a screenshot shows something: enough pixels differ from the background colour."
    from PIL import Image, ImageStat
    im = Image.open(png).convert('L')
    bg = max(im.getcolors(256 * 256), key=lambda c: c[0])[1]
    busy = sum(n for n, v in im.getcolors(256 * 256) if abs(v - bg) > 40) / (im.width * im.height)
    return ImageStat.Stat(im).stddev[0] > 8 and busy > 0.01


PAGES = {'home page': 'index.html', 'notebook page': NOTEBOOK_PAGE, 'workshop guide': 'workshop.html',
         'slides': 'slides/talk.html#/2'}


@pytest.mark.parametrize('what', list(PAGES))
def test_page_renders_in_a_browser(what, site, browser, serve, tmp_path):
    url = serve(site) + PAGES[what]
    png = tmp_path / 'shot.png'
    _, req_shot = chromium(browser, url, tmp_path, f'--screenshot={png}')
    assert png.exists() and not_blank(png), f'{what}: the screenshot is blank ({png})'
    dom, req_dom = chromium(browser, url, tmp_path, '--dump-dom')
    if what == 'slides':  # reveal.js ran: slides, controls, speaker notes, all from the one file
        assert re.search(r'<div class="reveal[^"]*\bready\b', dom), 'reveal.js did not start'
        assert '<aside class="controls"' in dom and '<aside class="notes">' in dom
        assert req_shot == [] and req_dom == [], f'the slides requested {req_shot + req_dom}'
    else:  # the site's navigation: navbar with the guide and the slides, sidebar with every notebook
        assert re.search(r'<nav class="navbar', dom), f'{what}: no navbar'
        for link in ('workshop.html', 'slides/talk.html'): assert f'href="{link}"' in dom, f'{what}: navbar lacks {link}'
        side = dom[dom.index('id="quarto-sidebar"'):]
        for nb in sorted((ROOT / 'nbs').glob('0*.ipynb')): assert f'{nb.stem}.html' in side, f'{what}: sidebar lacks {nb.stem}'
        assert any(u.endswith('.css') for u in req_dom), f'{what}: the net log shows no stylesheet request: {req_dom}'
    assert other_hosts(req_shot + req_dom) == [], f'{what}: requests to other hosts: {other_hosts(req_shot + req_dom)}'


def test_the_browser_check_sees_requests_to_other_hosts(browser, serve, tmp_path):
    page = tmp_path / 'site'; page.mkdir()
    (page / 'bad.html').write_text('<html><body><h1>hello</h1><img src="https://images.example.org/x.png">'
                                   '<link rel="stylesheet" href="local.css"></body></html>')
    (page / 'local.css').write_text('h1 { color: red }')
    _, req = chromium(browser, serve(page) + 'bad.html', tmp_path, '--dump-dom')
    assert other_hosts(req) == ['https://images.example.org/x.png'], req
    assert any(u.endswith('/local.css') for u in req), req
