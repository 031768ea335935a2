"""The course website, built offline: `make docs` (= `.venv/bin/python .ci/docs.py`) writes `_docs/`.

GitHub's runners build the same site with Quarto (`.github/workflows/deploy.yaml`, `nbdev_docs`). Quarto cannot be
installed here, so this script does the same two steps with pure-Python tools:

1. nbdev's own notebook processing (`nbs/` -> `_proc/`): frontmatter, `show_doc` for every exported function
   (signature, docments table, source link), hidden cells removed. One difference from `nbdev_docs`: a cell that
   mixes imports with other code has only its imports run here (nbdev runs all of it, which fails when the code
   needs earlier cells). `tests/test_notebooks.py` names such cells, because they break the Quarto build.
2. `smalldocs render _proc` (reads `nbs/_quarto.yml`, `nbdev.yml`, `sidebar.yml`) -> `_docs/`.

Then it makes every page offline: KaTeX comes from `node_modules/` (npm, pinned in package.json), not a CDN, and the
build fails if any page still loads a script, style, font or image from another host. Last, the talk slides are
rendered into `_docs/slides/talk.html` (see slides/build.py).

    python .ci/docs.py              # site + slides
    python .ci/docs.py --no-slides  # site only
"""
import argparse, ast, os, re, shutil, subprocess, sys, time
from pathlib import Path

root = Path(__file__).resolve().parent.parent
NBS, PROC, DOCS = root / 'nbs', root / '_proc', root / '_docs'
NODE = root / 'node_modules'
KATEX_CDN = re.compile(r'https://cdn\.jsdelivr\.net/npm/katex@[0-9.]+/dist')

# A load from another host: src/href/data/srcset of script, link, img, iframe, source, video, audio, embed, object;
# url() and @import in CSS; import/importScripts in JS. Links people click (<a href>) load nothing and are fine.
LOAD_TAG = re.compile(r'<(script|link|img|iframe|source|video|audio|embed|object|track|input)\b[^>]*>', re.I)
LOAD_ATTR = re.compile(r'\b(?:src|href|data|srcset|poster)\s*=\s*["\']?\s*((?:https?:)?//[^"\'\s>,]+)', re.I)
CSS_URL = re.compile(r'(?:url\(\s*["\']?|@import\s+["\'])((?:https?:)?//[^"\')\s]+)', re.I)
LOCAL = re.compile(r'^(?:https?:)?//(?:127\.0\.0\.1|localhost|\[::1\])(?:[:/]|$)', re.I)


def external_loads(folder: Path  # a built site
                   ) -> list[str]:  # 'file: url' for every load from another host
    "Scan every HTML, CSS and JS file for resources that a browser would fetch from another host."
    found = []
    for f in sorted(folder.rglob('*')):
        if f.suffix not in ('.html', '.css', '.js', '.mjs', '.svg') or not f.is_file(): continue
        text = f.read_text(encoding='utf-8', errors='replace')
        urls = []
        if f.suffix in ('.html', '.svg'):
            for m in LOAD_TAG.finditer(text):
                tag = m.group(0)
                # a <link> loads only as stylesheet, icon, preload or manifest (not canonical, alternate, license)
                if m.group(1).lower() == 'link' and not re.search(r'\brel\s*=\s*["\']?[^"\'>]*\b(stylesheet|icon|preload|modulepreload|manifest)', tag, re.I): continue
                urls += LOAD_ATTR.findall(tag)
            for block in re.findall(r'<style\b[^>]*>(.*?)</style>', text, re.S | re.I): urls += CSS_URL.findall(block)
            urls += [u for st in re.findall(r'style\s*=\s*"([^"]*)"', text) for u in CSS_URL.findall(st)]
        elif f.suffix == '.css': urls += CSS_URL.findall(text)
        else: urls += re.findall(r'(?:import\s*\(|from\s+|importScripts\()\s*["\']((?:https?:)?//[^"\']+)', text)
        found += [f'{f.relative_to(folder)}: {u}' for u in urls if not LOCAL.match(u)]
    return found


def lenient_exec():
    "nbdev's `exec_show_docs`, except that a cell mixing imports and other code runs its imports only."
    from nbdev import processors as P

    class exec_show_docs(P.exec_show_docs):
        def __call__(self, cell):
            trees = cell.parsed_() if cell.cell_type == 'code' and cell.source else None
            mixed = (trees and not (cell.directives_.keys() & {'export', 'exports', 'exporti', 'exec_doc'})
                     and not P._show_docs(trees) and P._ast_contains(trees, (ast.Import, ast.ImportFrom)))
            if not mixed: return super().__call__(cell)
            imports = [n for n in trees if isinstance(n, (ast.Import, ast.ImportFrom))]
            if not self.nb.has_docs_ or not hasattr(self, 'k') or not imports: return
            self.k.run_cell('\n'.join(ast.unparse(n) for n in imports))
            if self.k.exc: raise RuntimeError(f'imports of cell {cell.idx_} fail:\n{cell.source}') from self.k.exc

    class Filter(P.FilterDefaults):
        def base_procs(self): return [exec_show_docs if p is P.exec_show_docs else p for p in super().base_procs()]
    return Filter


def process_notebooks(only=None  # notebook names to process (default: every one, as nbdev does)
                      ) -> Path:  # the `_proc` folder
    "nbs/ -> _proc/: notebooks through nbdev's processors, every other file copied."
    import warnings
    from execnb.nbio import read_nb, write_nb
    from nbdev.quarto import refresh_quarto_yml, nbdev_sidebar
    refresh_quarto_yml()                 # nbs/nbdev.yml from settings.ini (title, repo url, output-dir)
    nbdev_sidebar.__wrapped__()          # nbs/sidebar.yml, one entry per notebook in course order
    if PROC.exists(): shutil.rmtree(PROC)
    Filter = lenient_exec()
    os.environ['IN_TEST'] = '1'          # as nbdev does: notebooks know they are not run by a person
    for src in sorted(NBS.rglob('*')):
        rel = src.relative_to(NBS)
        if not src.is_file() or any(p.startswith(('.', '_proc', '_docs')) for p in rel.parts[:-1]) or rel.name.startswith('.'): continue
        dst = PROC / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.suffix != '.ipynb': shutil.copy2(src, dst); continue
        if only and src.name not in only: continue
        t0 = time.perf_counter()
        nb = read_nb(src)
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')  # nbdev warns about every mixed cell; tests/test_notebooks.py reports them
            try: Filter()(nb)
            except Exception as e:
                sys.exit(f'docs: error: {rel}: {e}\n  cause: {e.__cause__!r}')
        write_nb(nb, dst)
        print(f'  processed {rel} ({time.perf_counter() - t0:.1f} s)', flush=True)
    os.environ.pop('IN_TEST', None)
    return PROC


def render(proc: Path) -> Path:
    "smalldocs renders _proc (its _quarto.yml) into _proc/_docs; the site then moves to _docs/."
    from smalldocs.site import build
    from smalldocs.config import BuildError, ConfigError
    try: site = build(str(proc), quiet=True)
    except (BuildError, ConfigError) as e: sys.exit(f'docs: error: smalldocs: {e}')
    known = ('output-file is not read', 'keep-md is ignored', 'commonmark is not built', 'broken link /slides/talk.html')
    for w in site.warnings:  # Quarto-only settings smalldocs skips, and the slides that are added after rendering
        if not any(k in w for k in known): print(f'  smalldocs warning: {w}')
    out = proc / '_docs'
    if not (out / 'index.html').exists(): sys.exit(f'docs: error: smalldocs wrote no {out}/index.html')
    if DOCS.exists(): shutil.rmtree(DOCS)
    shutil.move(str(out), DOCS)
    return DOCS


def hosted_pages(proc: Path) -> dict:
    "Hosted-site page names (nbdev's `output-file`, used in its doc links) -> the names smalldocs wrote."
    out = {}
    for nb in proc.glob('*.ipynb'):
        m = re.search(r'output-file:\s*([^\s"\\]+)', nb.read_text(encoding='utf-8'))
        if m: out[m.group(1)] = nb.with_suffix('.html').name
    return out


DOCLINK = re.compile(r'<a href="([^"#:]*\.html)?#([^"]+)">(<code>[^<]*</code>)</a>')


def unlink_dangling_doclinks(docs: Path):
    "nbdev links every backticked name it indexes, private ones too; where the page has no such entry, keep the code."
    ids = {p.resolve(): set(re.findall(r'\bid="([^"]+)"', p.read_text(encoding='utf-8'))) for p in docs.rglob('*.html')}
    for page in ids:
        text = page.read_text(encoding='utf-8')
        def fix(m):
            target = (page.parent / m.group(1)).resolve() if m.group(1) else page
            return m.group(0) if m.group(2) in ids.get(target, {m.group(2)}) else m.group(3)
        new = DOCLINK.sub(fix, text)
        if new != text: page.write_text(new, encoding='utf-8')


def make_offline(docs: Path, proc: Path = PROC):
    "Links to the hosted docs become local; KaTeX comes from node_modules/; fail on any load from another host."
    from nbdev.config import get_config
    cfg = get_config()
    hosted = re.compile(re.escape(f"{cfg.doc_host}{cfg.doc_baseurl}".rstrip('/') + '/') + r'([\w.-]+\.html)')
    pages = hosted_pages(proc)
    katex = NODE / 'katex' / 'dist'
    used = False
    for page in docs.rglob('*.html'):
        text = orig = page.read_text(encoding='utf-8')
        up = '../' * (len(page.relative_to(docs).parts) - 1)
        text = hosted.sub(lambda m: up + pages[m.group(1)] if m.group(1) in pages else m.group(0), text)
        if KATEX_CDN.search(text):
            used = True
            text = KATEX_CDN.sub(f'{up}site_libs/katex', text)
        if text != orig: page.write_text(text, encoding='utf-8')
    unlink_dangling_doclinks(docs)
    if used:
        if not katex.exists(): sys.exit('docs: error: maths needs KaTeX from npm: run `npm ci` (make docs does)')
        dest = docs / 'site_libs' / 'katex'
        shutil.copytree(katex, dest, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns('*.mjs', 'katex.js', 'katex.css', '*.ttf', '*.woff'))
    bad = external_loads(docs)
    if bad: sys.exit('docs: error: pages load from other hosts (the site must work offline):\n  ' + '\n  '.join(bad[:30]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--no-slides', action='store_true', help='build the site only')
    ap.add_argument('--only', nargs='*', help='process only these notebooks (quick previews; others are left out)')
    a = ap.parse_args()
    os.chdir(root)
    t0 = time.perf_counter()
    print('docs: nbdev processing nbs/ -> _proc/', flush=True)
    render(process_notebooks(a.only))
    make_offline(DOCS, PROC)
    (DOCS / '.nojekyll').touch()
    if not a.no_slides:
        r = subprocess.run([sys.executable, str(root / 'slides' / 'build.py'), '--out', str(DOCS / 'slides' / 'talk.html')])
        if r.returncode: sys.exit(r.returncode)
    pages = sorted(p.relative_to(DOCS).as_posix() for p in DOCS.glob('*.html'))
    print(f'docs: wrote {DOCS.relative_to(root)}/ ({len(pages)} pages: {", ".join(pages)}) in {time.perf_counter() - t0:.0f} s')


if __name__ == '__main__': main()
