"""The test command behind `make test`: checks that the library and README are what the notebooks make and that
notebooks are committed clean, runs every notebook (nbdev_test, smoke profile) and the pytest suite, and prints
one closing line `N passed, N failed` (nbdev_test prints no count of its own)."""
import os, subprocess, sys, tempfile, time, xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

root = Path(__file__).resolve().parent.parent
os.chdir(root)
bin_ = Path(sys.executable).parent
results = []  # (name, ok, seconds, detail)

def sh(*cmd, **kw): return subprocess.run(list(map(str, cmd)), capture_output=True, text=True, **kw)

def record(name, ok, t0, detail=''):
    results.append((name, ok, time.perf_counter() - t0, detail))
    print(f"{'PASS' if ok else 'FAIL'} {name} ({time.perf_counter() - t0:.0f} s){': ' + detail if detail and not ok else ''}", flush=True)

def changed(paths): return sh('git', 'status', '--porcelain', '--', *paths).stdout.strip()

# 1. the library is what the notebooks export; notebooks are clean; README comes from index.ipynb
in_git = sh('git', 'rev-parse', '--is-inside-work-tree').returncode == 0
for name, cmd, paths in [('nbdev_export changes nothing', [bin_ / 'nbdev_export'], ['friction_reasoning']),
                         ('notebooks are committed clean', [bin_ / 'nbdev_clean'], ['nbs']),
                         ('README.md made from index.ipynb', [sys.executable, '.ci/readme.py'], ['README.md'])]:
    t0 = time.perf_counter()
    before = changed(paths) if in_git else ''
    r = sh(*cmd)
    after = changed(paths) if in_git else ''
    record(name, r.returncode == 0 and before == after, t0, (r.stderr.strip()[-300:] or after))

# 2. every notebook, on the smoke profile (flagged slow/gpu/laptop cells skipped), two at a time. Notebooks 03-05
#    share one run folder (03 trains into it, 04 and 05 read its adapter), so they run in order, in one lane; the
#    others run in the second lane.
os.environ['FRICTION_RUN_DIR'] = tempfile.mkdtemp(prefix='friction-run-')
def run_nb(nb):
    t0 = time.perf_counter()
    r = sh(bin_ / 'nbdev_test', '--path', nb)
    record(f'notebook {nb.name}', r.returncode == 0, t0, (r.stdout + r.stderr).strip()[-1500:])
nbs = sorted((root / 'nbs').glob('*.ipynb'))
pipeline = [nb for nb in nbs if nb.name[:2] in ('03', '04', '05')]
lanes = [pipeline, [nb for nb in nbs if nb not in pipeline]]
with ThreadPoolExecutor(2) as ex: list(ex.map(lambda lane: [run_nb(nb) for nb in lane], lanes))

# 3. pytest: library and CLI behaviour that does not belong in a notebook, on two workers (pytest-xdist; each file
#    stays on one worker, so a module fixture is built once)
t0 = time.perf_counter()
xml = Path(tempfile.mkdtemp()) / 'pytest.xml'
r = subprocess.run([sys.executable, '-m', 'pytest', 'tests', '-q', '-p', 'no:cacheprovider', '-n', '2', '--dist', 'loadfile',
                    '--durations=15', f'--junitxml={xml}'])
n_tests = n_bad = n_skip = 0
if xml.exists():
    for case in ET.parse(xml).iter('testcase'):
        kids = {c.tag for c in case}
        if 'skipped' in kids: n_skip += 1; continue
        n_tests += 1; n_bad += bool(kids & {'failure', 'error'})
passed = sum(ok for _, ok, _, _ in results) + n_tests - n_bad
failed = sum(not ok for _, ok, _, _ in results) + n_bad + (r.returncode not in (0, 1, 5) or not xml.exists())
print(f"\nchecks and notebooks: {sum(ok for _, ok, _, _ in results)}/{len(results)} passed; "
      f"pytest: {n_tests - n_bad}/{n_tests} passed, {n_skip} skipped")
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
