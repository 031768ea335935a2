"""Set-up: llama.cpp compiled once per machine into the cache (atomic, locked, keyed by version and CPU), bad input
in one line with its fix, readable set-up steps, `make run` free of root-only tools, and Colab keeping its own torch."""
import json, os, subprocess, sys, threading, time
from pathlib import Path
import pytest
from friction_reasoning import core, pipeline
from friction_reasoning.core import FrictionError

ROOT = Path(__file__).resolve().parent.parent

@pytest.fixture
def cache(tmp_path, monkeypatch):
    c = tmp_path / 'cache'; monkeypatch.setenv('FRICTION_CACHE', str(c)); return c

def fake_project(folder, fail=False):
    "A tiny stand-in for llama-cpp-python's source: pip builds a wheel of it in seconds (or fails, like a compile)."
    folder.mkdir(parents=True)
    (folder / 'setup.py').write_text("import sys\n" + ("sys.exit('compile error: simulated')\n" if fail else "") +
        "from setuptools import setup\nsetup(name='llama_cpp_python', version='0.3.36', py_modules=[])\n")
    return folder

def test_cache_entry_is_keyed_by_version_and_cpu(cache):
    d = pipeline.llama_cpp_wheel_dir()
    assert d.parent == cache / 'llama-cpp' / 'wheels' and d.name == f'{pipeline.LLAMA_CPP_VERSION}-{pipeline.cpu_key()}'
    assert pipeline.cpu_key() == pipeline.cpu_key() and pipeline.cpu_key().split('-')[0] in ('x86_64', 'aarch64', 'arm64', 'AMD64')

def test_build_once_atomic_and_reused(cache, tmp_path, monkeypatch):
    monkeypatch.setattr(pipeline, 'llama_cpp_source', lambda cache=None: [str(fake_project(tmp_path / 'src'))])
    w = pipeline.build_llama_cpp()
    assert w.parent == pipeline.llama_cpp_wheel_dir() and w.name.startswith('llama_cpp_python-0.3.36-')
    log_mtime = pipeline.llama_cpp_log().stat().st_mtime
    monkeypatch.setattr(pipeline, 'llama_cpp_source', lambda cache=None: pytest.fail('a cached entry is never rebuilt'))
    assert pipeline.build_llama_cpp() == w and pipeline.llama_cpp_log().stat().st_mtime == log_mtime
    assert not list(w.parent.parent.glob('.*.tmp-*')), 'no temporary folder is left'

def test_failed_build_leaves_no_entry_and_names_the_log(cache, tmp_path, monkeypatch):
    monkeypatch.setattr(pipeline, 'llama_cpp_source', lambda cache=None: [str(fake_project(tmp_path / 'src', fail=True))])
    with pytest.raises(FrictionError) as e: pipeline.build_llama_cpp()
    msg = str(e.value)
    assert 'compiling llama.cpp failed' in msg and str(pipeline.llama_cpp_log()) in msg and '\n' not in msg
    assert 'simulated' in pipeline.llama_cpp_log().read_text()
    assert pipeline.llama_cpp_wheel() is None and not pipeline.llama_cpp_wheel_dir().exists()
    assert not list(pipeline.llama_cpp_wheel_dir().parent.glob('.*.tmp-*'))

def test_half_built_entry_is_never_reused(cache):
    d = pipeline.llama_cpp_wheel_dir(); half = d.parent / f'.{d.name}.tmp-killed'
    half.mkdir(parents=True); (half / 'llama_cpp_python-0.3.36-py3-none-linux_x86_64.whl').write_text('half')
    assert pipeline.llama_cpp_wheel() is None and not pipeline.llama_cpp_building()

def test_a_second_process_waits_for_the_build_instead_of_repeating_it(cache, tmp_path, monkeypatch):
    "While one build holds the lock, `ensure_llama_cpp` waits, then installs the wheel that build made."
    monkeypatch.setattr('importlib.util.find_spec', lambda name, *a: None if name == 'llama_cpp' else __import__('importlib').machinery.PathFinder.find_spec(name))
    installed = []
    monkeypatch.setattr(pipeline, 'install_llama_cpp', installed.append)
    lock = pipeline._lock(); lock.acquire()
    assert pipeline.llama_cpp_building()
    assert pipeline.ensure_llama_cpp(wait=False) == 'skipped'  # the smoke profile does not wait
    def finish():
        time.sleep(1.5)
        d = pipeline.llama_cpp_wheel_dir(); d.mkdir(parents=True)
        (d / 'llama_cpp_python-0.3.36-py3-none-linux_x86_64.whl').write_text('w'); lock.release()
    threading.Thread(target=finish).start()
    t0 = time.monotonic()
    assert pipeline.ensure_llama_cpp(heartbeat=1) == 'cached' and time.monotonic() - t0 >= 1
    assert installed == [pipeline.llama_cpp_wheel()]

def test_unwritable_cache_is_one_line_with_the_fix(tmp_path, monkeypatch):
    blocker = tmp_path / 'file'; blocker.write_text('x')
    monkeypatch.setenv('FRICTION_CACHE', str(blocker / 'cache'))
    why = pipeline.llama_cpp_problem()
    assert why.startswith(f'cannot write to the cache {blocker}') and 'FRICTION_CACHE' in why and '\n' not in why
    with pytest.raises(FrictionError, match='cannot write to the cache'): pipeline.build_llama_cpp()

def test_no_compiler_says_what_still_works(cache, monkeypatch):
    monkeypatch.setenv('PATH', str(cache)); monkeypatch.delenv('CC', raising=False); monkeypatch.delenv('CXX', raising=False)
    why = pipeline.llama_cpp_problem()
    assert 'no C/C++ compiler' in why and 'apt-get install build-essential' in why
    assert 'GGUF f16/q8_0 export still works' in why and 'serving and K-quants are skipped' in why

def test_no_disk_space_names_the_need(cache, monkeypatch):
    monkeypatch.setattr(pipeline, '_free_gib', lambda path: 0.3)
    why = pipeline.llama_cpp_problem()
    assert 'only 0.3 GiB free' in why and 'about 2 GiB' in why and 'FRICTION_CACHE' in why

def test_the_source_is_pinned_by_sha256_and_a_failed_download_is_one_line(cache, monkeypatch):
    "pip checks the source archive's sha256 (a truncated download is refused); no index reachable: one line, the log."
    args = pipeline.llama_cpp_source()
    req = Path(args[args.index('-r') + 1]).read_text()
    assert '--require-hashes' in args and f'--hash=sha256:{pipeline.LLAMA_CPP_SDIST_SHA256}' in req
    for k, v in {'PIP_INDEX_URL': 'http://127.0.0.1:9/simple', 'PIP_RETRIES': '0', 'PIP_TIMEOUT': '2',
                 'PIP_FIND_LINKS': '', 'PIP_EXTRA_INDEX_URL': '', 'PIP_NO_CACHE_DIR': '1'}.items(): monkeypatch.setenv(k, v)
    with pytest.raises(FrictionError) as e: pipeline.build_llama_cpp()
    msg = str(e.value)
    assert '\n' not in msg and str(pipeline.llama_cpp_log()) in msg and 'llama-cpp-python' in msg, msg
    assert pipeline.llama_cpp_wheel() is None and not list(pipeline.llama_cpp_wheel_dir().parent.glob('.*.tmp-*'))

def steps(*args):
    return subprocess.run([sys.executable, str(ROOT / '.ci' / 'steps.py'), *map(str, args)], capture_output=True, text=True)

def test_a_step_says_what_and_how_long_and_keeps_the_noise_in_the_log(tmp_path):
    log = tmp_path / 'setup.log'
    r = steps('step', 'say hello', 'about 1 s', log, '--', sys.executable, '-c', "print('pip noise ' * 20)")
    assert r.returncode == 0 and r.stdout.startswith('-> say hello (usually about 1 s here) ...') and 'done in' in r.stdout
    assert 'pip noise' not in r.stdout and 'pip noise' in log.read_text()

def test_a_failed_step_is_one_line_with_the_fix_and_the_log(tmp_path):
    log = tmp_path / 'setup.log'
    r = steps('step', 'fill the disk', 'about 1 s', log, '--', sys.executable, '-c',
              "import sys; print('lots of output'); sys.exit('OSError: [Errno 28] No space left on device')")
    assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert 'setup failed: fill the disk' in r.stderr and 'No space left on device' in r.stderr
    assert 'free some disk space' in r.stderr and str(log) in r.stderr

def test_make_run_needs_no_root_and_no_test_tools():
    "`make run` installs the course and compiles llama.cpp as the user; apt, Chromium, Go and npm belong to `make test`."
    r = subprocess.run(['make', '-n', '-B', 'run'], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    for tool in ('apt-get', 'chromium', 'golang', 'npm', 'sudo', '[dev]'): assert tool not in r.stdout, tool
    assert 'friction run --profile laptop' in r.stdout and 'llama-start' in r.stdout
    t = subprocess.run(['make', '-n', '-B', 'test'], cwd=ROOT, capture_output=True, text=True).stdout
    assert 'npm ci' in t and 'chromium' in t and 'friction llama' in t

@pytest.mark.parametrize('nb', ['00_concept.ipynb', '02_dataset.ipynb'])
def test_colab_install_keeps_colabs_torch(nb):
    cell = next(''.join(c['source']) for c in json.loads((ROOT / 'nbs' / nb).read_text())['cells'] if 'google.colab' in ''.join(c['source']))
    assert "torch=={torch.__version__}" in cell and "'-c', '/tmp/keep-torch.txt'" in cell
    reqs = next(l for l in (ROOT / 'settings.ini').read_text().splitlines() if l.startswith('requirements'))
    assert 'torch>=' in reqs and 'torch==' not in reqs, 'an exact torch pin would replace Colab\'s CUDA torch'

def test_gpu_profiles_label_their_figures_as_estimates():
    for name in ('t4', 'gpu24'): assert 'estimate' in core.PROFILES[name].minutes

def test_the_set_up_step_can_import_the_pipeline_before_the_venv_exists():
    "`.ci/steps.py llama-start` runs with the system Python, before any package is installed: the standard library only."
    code = f"import sys; sys.path.insert(0, {str(ROOT)!r}); import friction_reasoning.pipeline as p; print(p.llama_cpp_wheel_dir())"
    r = subprocess.run([sys.executable, '-S', '-c', code], capture_output=True, text=True)  # -S: no site-packages
    assert r.returncode == 0 and 'llama-cpp' in r.stdout, r.stderr[-1500:]
