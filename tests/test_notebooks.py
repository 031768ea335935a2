"""What a student meets when opening a course notebook in Colab or JupyterLab, checked without running it.

Every course notebook (nbs/00_* ... nbs/05_*) must carry: the *Open in Colab* badge pointing at itself (image
served from the repository, not another host), its learning goals at the top, a first code cell that installs the
course only inside Colab (guarded by 'google.colab', so it is skipped locally and in tests), the profile pick that
says what the run will cost, and at its end a Recap and an Exercise whose solution is collapsible (<details>).

The last test guards the website: nbdev's docs build (Quarto on GitHub's runners) runs every cell that contains an
import; a cell that mixes an import with code needing earlier, unrun cells breaks that build.
"""
import ast, builtins, importlib, json, re
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent
NBS = ROOT / 'nbs'
COURSE = sorted(NBS.glob('0[0-5]_*.ipynb'))
REPO = 'https://colab.research.google.com/github/fontys-ict/friction_reasoning/blob/main/nbs/'


def cells(nb_path):
    "(cell_type, source) of every cell."
    nb = json.loads(nb_path.read_text(encoding='utf-8'))
    return [(c['cell_type'], ''.join(c['source']) if isinstance(c['source'], list) else c['source']) for c in nb['cells']]


def markdown(nb_path): return [s for t, s in cells(nb_path) if t == 'markdown']
def code(nb_path): return [s for t, s in cells(nb_path) if t == 'code']


def test_there_are_six_course_notebooks():
    assert [p.name[:2] for p in COURSE] == ['00', '01', '02', '03', '04', '05'], [p.name for p in COURSE]


@pytest.mark.parametrize('nb', COURSE, ids=lambda p: p.stem)
def test_colab_badge_points_at_this_notebook(nb):
    badge = re.compile(r'\[!\[Open In Colab\]\((?P<img>[^)]+)\)\]\((?P<url>[^)]+)\)')
    found = [m for s in markdown(nb)[:3] for m in badge.finditer(s)]
    assert found, f'{nb.name}: no "Open In Colab" badge in its first markdown cells'
    m = found[0]
    assert m['url'] == REPO + nb.name, f"{nb.name}: the badge opens {m['url']}, not this notebook"
    assert not re.match(r'(https?:)?//', m['img']), f"{nb.name}: the badge image loads from another host: {m['img']}"
    assert (nb.parent / m['img']).is_file(), f"{nb.name}: badge image {m['img']} is missing"


@pytest.mark.parametrize('nb', COURSE, ids=lambda p: p.stem)
def test_learning_goals_at_the_top(nb):
    top = '\n'.join(markdown(nb)[:3])
    assert re.search(r'learning goals', top, re.I), f'{nb.name}: no learning goals in its first markdown cells'
    goals = re.findall(r'^\s*\d+\.\s+\S', top.split('earning goals', 1)[1], re.M)
    assert len(goals) >= 2, f'{nb.name}: the learning goals should be a numbered list (found {len(goals)} items)'


@pytest.mark.parametrize('nb', COURSE, ids=lambda p: p.stem)
def test_colab_install_cell_is_guarded_and_first(nb):
    srcs = [s for s in code(nb) if not s.lstrip().startswith('#| default_exp')]
    assert srcs, f'{nb.name}: no code cells'
    first = srcs[0]
    tree = ast.parse('\n'.join(l for l in first.splitlines() if not l.lstrip().startswith(('%', '!'))))
    guards = [n for n in ast.walk(tree) if isinstance(n, ast.If) and 'google.colab' in ast.unparse(n.test)]
    assert guards, f"{nb.name}: the first code cell must install only inside Colab (an `if` on 'google.colab')"
    inside = '\n'.join(ast.unparse(s) for g in guards for s in g.body)
    assert 'pip' in inside and 'install' in inside, f'{nb.name}: the Colab cell should pip install the course'
    outside = [s for s in tree.body if not isinstance(s, (ast.If, ast.Import, ast.ImportFrom))]
    assert not any('pip' in ast.unparse(s) for s in outside), f'{nb.name}: pip runs outside the Colab guard'


@pytest.mark.parametrize('nb', COURSE, ids=lambda p: p.stem)
def test_profile_is_picked_near_the_top(nb):
    srcs = [s for s in code(nb) if not s.lstrip().startswith('#| default_exp')][:3]
    assert any('pick_profile(' in s for s in srcs), (f'{nb.name}: one of the first code cells must call pick_profile() '
                                                    '(it picks the profile for this machine and prints its time cost)')


def heading_index(mds, word):
    "Index of the first markdown cell with a level-2 heading starting with `word`, or None."
    return next((i for i, s in enumerate(mds) if re.search(rf'^##\s+{word}', s, re.M | re.I)), None)


@pytest.mark.parametrize('nb', COURSE, ids=lambda p: p.stem)
def test_ends_with_recap_and_exercise_with_collapsible_solution(nb):
    mds = markdown(nb)
    recap, exercise = heading_index(mds, 'Recap'), heading_index(mds, 'Exercise')
    missing = [w for w, i in [('## Recap', recap), ('## Exercise', exercise)] if i is None]
    assert not missing, f'{nb.name}: missing {" and ".join(missing)}'
    tail = '\n'.join(mds[exercise:])
    assert re.search(r'<details>\s*<summary>[^<]*Solution', tail, re.I) and '</details>' in tail, \
        f'{nb.name}: the exercise needs a collapsible solution: <details><summary>Solution</summary> ... </details>'
    # "ends with": nothing the library exports comes after the recap
    kinds = cells(nb)
    start = [i for i, (t, s) in enumerate(kinds) if t == 'markdown' and re.search(r'^##\s+Recap', s, re.M | re.I)][0]
    late = [i for i, (t, s) in enumerate(kinds[start:], start) if t == 'code' and re.match(r'\s*#\|\s*export', s)]
    assert not late, f'{nb.name}: exported cells {late} come after the Recap; the recap and exercise close the notebook'


# ---- the docs build (nbdev on GitHub runs every cell that has an import, and only those) ----

IPY_NAMES = {'display', 'get_ipython', 'show_doc', 'In', 'Out', 'exit', 'quit', '__file__'}


def directives(src):
    return {l[2:].strip().split(':')[0].split()[0] for l in src.splitlines() if l.startswith('#|') and l[2:].strip()}


def names_defined(tree):
    """Names a cell binds in the notebook's namespace: assignments, defs, imports, loop and comprehension targets
    (not the locals inside a function's body)."""
    out = set()
    def visit(n):
        if isinstance(n, ast.Name) and isinstance(n.ctx, (ast.Store, ast.Del)): out.add(n.id)
        elif isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)): out.add(n.name); return
        elif isinstance(n, ast.Lambda): return
        elif isinstance(n, (ast.Import, ast.ImportFrom)):
            for a in n.names:
                if a.name == '*': out.update(star_names(n.module))
                else: out.add((a.asname or a.name).split('.')[0])
        elif isinstance(n, ast.ExceptHandler) and n.name: out.add(n.name)
        for c in ast.iter_child_nodes(n): visit(c)
    visit(tree)
    return out


def star_names(module):
    try: m = importlib.import_module(module)
    except Exception: return set()
    return set(getattr(m, '__all__', [k for k in vars(m) if not k.startswith('_')]))


def names_used_now(tree):
    "Names a cell reads when it runs (function bodies are read later, when called, so they do not count)."
    used = set()
    def visit(n):
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for d in n.decorator_list + n.args.defaults + [d for d in n.args.kw_defaults if d]: visit(d)
            return
        if isinstance(n, ast.Lambda): return
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load): used.add(n.id)
        for c in ast.iter_child_nodes(n): visit(c)
    visit(tree)
    return used


def docs_build_failures(nb):
    "Cells the docs build would run that read names only unrun cells define: [(cell index, first line, names)]."
    known, bad = set(dir(builtins)) | IPY_NAMES, []
    for i, (t, src) in enumerate(cells(nb)):
        if t != 'code' or not src.strip(): continue
        try: tree = ast.parse('\n'.join(l for l in src.splitlines() if not l.lstrip().startswith(('%', '!'))))
        except SyntaxError: continue
        d = directives(src)
        if 'eval' in d and re.search(r'#\|\s*eval:\s*false', src, re.I): continue
        has_import = any(isinstance(n, (ast.Import, ast.ImportFrom)) for n in ast.walk(tree))
        runs = bool(d & {'export', 'exports', 'exporti', 'exec_doc'}) or has_import or re.search(r'^show_doc', src, re.M)
        if not runs: continue
        free = names_used_now(tree) - known - names_defined(tree)
        if free: bad.append((i, next(l for l in src.splitlines() if l.strip() and not l.startswith('#|'))[:60], sorted(free)))
        known |= names_defined(tree)
    return bad


@pytest.mark.parametrize('nb', [*COURSE, NBS / 'index.ipynb'], ids=lambda p: p.stem)
def test_cells_the_docs_build_runs_stand_alone(nb):
    bad = docs_build_failures(nb)
    assert not bad, (f'{nb.name}: nbdev_docs (the Quarto site build) runs every cell with an import, and only those; '
                     f'these cells read names that only unrun cells define: '
                     + '; '.join(f'cell {i} ({first!r}) uses {", ".join(n)}' for i, first, n in bad)
                     + '. Fix: move the import into a cell of imports only, or into the exported code.')
